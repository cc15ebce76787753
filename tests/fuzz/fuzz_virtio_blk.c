// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the virtqueue and virtio-blk request path against
 * arbitrary ring contents. The input becomes guest RAM (descriptor table,
 * avail ring, indirect tables, headers, all of it), the first byte picks
 * the negotiated ring features and the disk size; then chains are popped,
 * parsed and pushed back as the device would. ASan/UBSan catch the rest.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hearth/virtio.h"

#define RAM   (64 * 1024)
#define QSZ   16
#define DESC  0x0000
#define AVAIL 0x0100
#define USED  0x0200

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	static struct guest_mem gm;
	static struct vq_elem e;
	static struct blk_req r;
	static int ready;
	struct vq q = { 0 };
	uint8_t *ram;

	if (!ready) {
		if (gm_create(&gm, RAM, false))
			return 0;
		ready = 1;
	}
	if (len < 1)
		return 0;
	ram = gm_ptr(&gm, 0, RAM);
	memset(ram, 0, RAM);
	memcpy(ram, in + 1, len - 1 < RAM ? len - 1 : RAM);
	q.size = QSZ;
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	q.event_idx = in[0] & 1;
	q.indirect = in[0] & 2;
	if (vq_enable(&q, &gm, 256))
		return 0;
	for (int i = 0; i < 2 * QSZ; i++) {
		int ret = vq_pop(&q, &gm, &e);

		if (ret <= 0)
			break;
		int st = virtio_blk_parse(&e, (uint64_t)(in[0] >> 2) * 8, in[0] & 0x80, ~0ULL, &r);
		if (r.status)
			*r.status = (uint8_t)st;
		/* what a device then touches: every data buffer it was given */
		for (unsigned k = 0; st == VIRTIO_BLK_S_OK && k < r.n; k++)
			memset(r.iov[k].iov_base, 0xa5, r.iov[k].iov_len);
		vq_push(&q, e.head, r.status ? r.used_len : 0);
		vq_should_notify(&q);
	}
	return 0;
}
