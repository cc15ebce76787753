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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hearth/blkio.h"
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

/* IN chain: the header, then @n data buffers that all name @data with
 * lengths @lens[i], then the status byte: one guest buffer many times */
static void repeated(const uint64_t *lens, unsigned n)
{
	memset(&e, 0, sizeof(e));
	e.iov[e.n_out++] = (struct iovec){ hdr, 16 };
	e.out_len = 16;
	for (unsigned i = 0; i < n; i++) {
		e.iov[e.n_out + e.n_in++] = (struct iovec){ data, lens[i] };
		e.in_len += lens[i];
	}
	e.iov[e.n_out + e.n_in++] = (struct iovec){ status, 1 };
	e.in_len += 1;
}

/* Lengths a hostile chain can add up: each descriptor holds up to 4 GiB
 * and one guest buffer may be named by every one of them. What seg_max and
 * size_max offer (VIRTIO_BLK_REQ_MAX) is the most a request may carry. */
static void hostile_lengths(void **state)
{
	uint64_t lens[VIRTIO_BLK_SEG_MAX];
	const uint64_t huge = 1ULL << 40; /* sectors: room for any length */

	(void)state;
	/* 0x100010000 bytes: 16 x 256 MiB + 64 KiB. Cut to 32 bits this was
	 * 64 KiB on the wire and a whole success for the guest. */
	for (unsigned i = 0; i < 16; i++)
		lens[i] = 0x10000000;
	lens[16] = 0x10000;
	header(VIRTIO_BLK_T_IN, 0);
	repeated(lens, 17);
	assert_int_equal(e.in_len - 1, 0x100010000ULL);
	assert_int_equal(virtio_blk_parse(&e, huge, false, 0, &r), VIRTIO_BLK_S_IOERR);
	/* the same as a write */
	header(VIRTIO_BLK_T_OUT, 0);
	memset(&e, 0, sizeof(e));
	e.iov[e.n_out++] = (struct iovec){ hdr, 16 };
	e.out_len = 16;
	for (unsigned i = 0; i < 17; i++) {
		e.iov[e.n_out++] = (struct iovec){ data, lens[i] };
		e.out_len += lens[i];
	}
	e.iov[e.n_out + e.n_in++] = (struct iovec){ status, 1 };
	e.in_len = 1;
	assert_int_equal(virtio_blk_parse(&e, huge, false, 0, &r), VIRTIO_BLK_S_IOERR);

	/* 128 buffers of 4 GiB - 512: under seg_max, far over the limit */
	for (unsigned i = 0; i < VIRTIO_BLK_SEG_MAX; i++)
		lens[i] = 0xfffffe00;
	header(VIRTIO_BLK_T_IN, 0);
	repeated(lens, VIRTIO_BLK_SEG_MAX);
	assert_int_equal(virtio_blk_parse(&e, huge, false, 0, &r), VIRTIO_BLK_S_IOERR);

	/* exactly seg_max x size_max is taken, one sector more is not */
	for (unsigned i = 0; i < VIRTIO_BLK_SEG_MAX; i++)
		lens[i] = VIRTIO_BLK_SIZE_MAX;
	repeated(lens, VIRTIO_BLK_SEG_MAX);
	assert_int_equal(virtio_blk_parse(&e, huge, false, 0, &r), VIRTIO_BLK_S_OK);
	assert_int_equal(r.len, VIRTIO_BLK_REQ_MAX);
	assert_int_equal(r.used_len, VIRTIO_BLK_REQ_MAX + 1);
	lens[0] += 512;
	repeated(lens, VIRTIO_BLK_SEG_MAX);
	assert_int_equal(virtio_blk_parse(&e, huge, false, 0, &r), VIRTIO_BLK_S_IOERR);
	assert_true(VIRTIO_BLK_REQ_MAX <= BLKIO_MAX_BYTES);
}

/* The block engines refuse what they cannot carry whole, whoever asks:
 * a length over BLKIO_MAX_BYTES or one the vector does not hold. */
static void engine_lengths(void **state)
{
	static const char *const engines[] = { "sync", "libaio", "io_uring" };
	char path[] = "/tmp/hearth-unit-blk.XXXXXX", err[200];
	struct iovec v[BLKIO_MAX_SEGS + 1];
	int fd = mkstemp(path);
	/* real room behind the buffer: an engine that took the request
	 * anyway reads into it rather than past a small array */
	void *buf = mmap(NULL, 0x10000000, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	(void)state;
	assert_true(fd >= 0);
	assert_true(buf != MAP_FAILED);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	for (unsigned i = 0; i < BLKIO_MAX_SEGS + 1; i++)
		v[i] = (struct iovec){ buf, i < 16 ? 0x10000000 : 0x10000 };
	for (unsigned k = 0; k < 3; k++) {
		struct blkio_file_opts o = { .path = path, .engine = engines[k] };
		struct blkio *b;

		assert_int_equal(blkio_file_open(&b, &o, err, sizeof(err)), 0);
		/* 0x100010000 bytes from one buffer named 17 times */
		assert_int_equal(blkio_queue(b, BLKIO_READ, v, 17, 0, 0x100010000ULL, NULL),
				 -EINVAL);
		assert_int_equal(blkio_queue(b, BLKIO_WRITE, v, 17, 0, 0x100010000ULL, NULL),
				 -EINVAL);
		/* cut to 32 bits, the length would say 64 KiB of a 4 GiB vector */
		assert_int_equal(blkio_queue(b, BLKIO_WRITE, v, 17, 0, 0x10000, NULL), -EINVAL);
		/* a vector shorter or longer than the length */
		v[0].iov_len = 4096;
		assert_int_equal(blkio_queue(b, BLKIO_READ, v, 1, 0, 8192, NULL), -EINVAL);
		assert_int_equal(blkio_queue(b, BLKIO_READ, v, 1, 0, 512, NULL), -EINVAL);
		assert_int_equal(blkio_queue(b, BLKIO_READ, v, BLKIO_MAX_SEGS + 1, 0, 4096, NULL),
				 -EINVAL);
		v[0].iov_len = 0x10000000;
		blkio_close(b);
	}
	unlink(path);
	munmap(buf, 0x10000000);
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
		cmocka_unit_test(reads_and_writes), cmocka_unit_test(bad_requests),
		cmocka_unit_test(flush_id_discard), cmocka_unit_test(hostile_lengths),
		cmocka_unit_test(engine_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
