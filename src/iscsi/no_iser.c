// SPDX-License-Identifier: MIT
/*
 * Linked into the static hearth binary only. libiscsi's static archive
 * reaches its iSER transport from context creation, and iSER needs the RDMA
 * libraries, which Debian ships as shared objects only. hearth speaks iSCSI
 * over TCP: defining the iSER entry point here keeps the archive's RDMA code
 * (and its libraries) out, and refuses iSER if anything ever asks for it.
 */
struct iscsi_context;

int iscsi_init_iser_transport(struct iscsi_context *iscsi);

int iscsi_init_iser_transport(struct iscsi_context *iscsi)
{
	(void)iscsi;
	return -1;
}
