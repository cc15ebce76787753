// SPDX-License-Identifier: MIT
/*
 * virtio-blk request validation: well-formed requests come out ready to
 * perform; everything a hostile driver can get wrong is answered with the
 * right status, and nothing is performed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "hearth/virtio.h"

#define SECTORS 1024				      /* a 512 KiB disk */
#define ALL	(1ULL << 9 | 1ULL << 13 | 1ULL << 14) /* FLUSH, DISCARD, WRITE_ZEROES */

static uint8_t hdr[32], data[8192], status[4];
static struct vq_elem e;
static struct blk_req r;

static void header(uint32_t type, uint64_t sector)
{
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
}

/* out: header (@hlen bytes) [+ @out_data]; in: [@in_data] + status byte */
static void chain(size_t hlen, size_t out_data, size_t in_data)
{
	memset(&e, 0, sizeof(e));
	e.iov[e.n_out++] = (struct iovec){ hdr, hlen };
	e.out_len = hlen;
	if (out_data) {
		e.iov[e.n_out++] = (struct iovec){ data, out_data };
		e.out_len += out_data;
	}
	if (in_data) {
		e.iov[e.n_out + e.n_in++] = (struct iovec){ data, in_data };
		e.in_len += in_data;
	}
	e.iov[e.n_out + e.n_in++] = (struct iovec){ status, 1 };
	e.in_len += 1;
}

static void reads_and_writes(void **state)
{
	(void)state;
	header(VIRTIO_BLK_T_IN, 8);
	chain(16, 0, 4096);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, 0, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.type, VIRTIO_BLK_T_IN);
	assert_int_equal(r.sector, 8);
	assert_int_equal(r.len, 4096);
	assert_int_equal(r.n, 1);
	assert_ptr_equal(r.iov[0].iov_base, data);
	assert_ptr_equal(r.status, status);
	assert_int_equal(r.used_len, 4097);

	header(VIRTIO_BLK_T_OUT, SECTORS - 8); /* the last 4 KiB */
	chain(16, 4096, 0);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, 0, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.len, 4096);
	assert_int_equal(r.used_len, 1);

	/* header and data in one buffer */
	header(VIRTIO_BLK_T_OUT, 0);
	chain(16 + 512, 0, 0);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, 0, &r), VIRTIO_BLK_S_OK);
	assert_ptr_equal(r.iov[0].iov_base, hdr + 16);
	assert_int_equal(r.iov[0].iov_len, 512);
}

static void bad_requests(void **state)
{
	(void)state;
	/* no writable byte at all: nothing to answer with */
	header(VIRTIO_BLK_T_IN, 0);
	memset(&e, 0, sizeof(e));
	e.iov[0] = (struct iovec){ hdr, 16 };
	e.n_out = 1;
	e.out_len = 16;
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, 0, &r), VIRTIO_BLK_S_IOERR);
	assert_null(r.status);

	/* short header */
	chain(8, 0, 512);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, 0, &r), VIRTIO_BLK_S_IOERR);
	assert_ptr_equal(r.status, status);

	/* data in the wrong direction, or in both */
	header(VIRTIO_BLK_T_IN, 0);
	chain(16, 512, 0);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, 0, &r), VIRTIO_BLK_S_IOERR);
	header(VIRTIO_BLK_T_OUT, 0);
	chain(16, 512, 512);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, 0, &r), VIRTIO_BLK_S_IOERR);

	/* not whole sectors */
	header(VIRTIO_BLK_T_IN, 0);
	chain(16, 0, 100);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, 0, &r), VIRTIO_BLK_S_IOERR);

	/* past the end, straddling it, wrapping */
	static const uint64_t sectors[] = { SECTORS, SECTORS - 1, UINT64_MAX, UINT64_MAX - 7 };
	for (size_t i = 0; i < sizeof(sectors) / sizeof(sectors[0]); i++) {
		header(VIRTIO_BLK_T_IN, sectors[i]);
		chain(16, 0, 1024);
		assert_int_equal(virtio_blk_parse(&e, SECTORS, false, 0, &r), VIRTIO_BLK_S_IOERR);
	}

	/* writes to a read-only disk */
	header(VIRTIO_BLK_T_OUT, 0);
	chain(16, 512, 0);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, true, ALL, &r), VIRTIO_BLK_S_IOERR);

	/* unknown type */
	header(77, 0);
	chain(16, 0, 0);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, ALL, &r), VIRTIO_BLK_S_UNSUPP);

	/* more data buffers than seg_max */
	header(VIRTIO_BLK_T_IN, 0);
	memset(&e, 0, sizeof(e));
	e.iov[e.n_out++] = (struct iovec){ hdr, 16 };
	e.out_len = 16;
	for (unsigned i = 0; i < VIRTIO_BLK_SEG_MAX + 1; i++) {
		e.iov[e.n_out + e.n_in++] = (struct iovec){ data, 512 };
		e.in_len += 512;
	}
	e.iov[e.n_out + e.n_in++] = (struct iovec){ status, 1 };
	e.in_len += 1;
	assert_int_equal(virtio_blk_parse(&e, 1 << 20, false, 0, &r), VIRTIO_BLK_S_IOERR);
}

static void flush_id_discard(void **state)
{
	uint64_t sector;
	uint32_t num, flags;

	(void)state;
	header(VIRTIO_BLK_T_FLUSH, 0);
	chain(16, 0, 0);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, 0, &r), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, ALL, &r), VIRTIO_BLK_S_OK);

	header(VIRTIO_BLK_T_GET_ID, 0);
	chain(16, 0, 19);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, 0, &r), VIRTIO_BLK_S_IOERR);
	chain(16, 0, 20);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, 0, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.used_len, 21);

	/* one discard segment after the header */
	header(VIRTIO_BLK_T_DISCARD, 0);
	sector = 16;
	num = 32;
	flags = 0;
	memcpy(hdr + 16, &sector, 8);
	memcpy(hdr + 24, &num, 4);
	memcpy(hdr + 28, &flags, 4);
	chain(32, 0, 0);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, 0, &r), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, true, ALL, &r), VIRTIO_BLK_S_IOERR);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, ALL, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.sector, 16);
	assert_int_equal(r.len, 32 * 512);
	/* past the end; unmap flag on a discard; two segments */
	sector = SECTORS - 8;
	memcpy(hdr + 16, &sector, 8);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, ALL, &r), VIRTIO_BLK_S_IOERR);
	sector = 0;
	flags = 1;
	memcpy(hdr + 16, &sector, 8);
	memcpy(hdr + 28, &flags, 4);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, ALL, &r), VIRTIO_BLK_S_UNSUPP);
	hdr[0] = VIRTIO_BLK_T_WRITE_ZEROES;
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, ALL, &r), VIRTIO_BLK_S_OK);
	chain(16, 32, 0);
	assert_int_equal(virtio_blk_parse(&e, SECTORS, false, ALL, &r), VIRTIO_BLK_S_IOERR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_and_writes),
		cmocka_unit_test(bad_requests),
		cmocka_unit_test(flush_id_discard),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
