/* SPDX-License-Identifier: MIT */
/*
 * A small encoder for ACPI Machine Language (ACPI 6.4, chapter 20), enough
 * for hearth's DSDT: names, integers, strings, packages, buffers, devices
 * and scopes, and the resource descriptors of a _CRS (chapter 6.4).
 *
 * Every function appends to a caller-supplied buffer. The first error
 * (no room, a bad name, a length AML cannot encode) sticks in a->err and
 * makes every later call a no-op, so a caller checks once at the end.
 * Objects with a PkgLength (scopes, devices, packages, buffers) are opened
 * with one call, which returns a mark, and closed with aml_close(mark);
 * the PkgLength is then written in its shortest encoding.
 */
#ifndef HEARTH_AML_H
#define HEARTH_AML_H

#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t room, len;
	int err; /* 0, -ENOSPC, -EINVAL */
};

/* Starts an empty encoding into @buf (@room bytes). */
void aml_init(struct aml *a, uint8_t *buf, size_t room);

/* Raw bytes. */
void aml_bytes(struct aml *a, const void *p, size_t n);

/*
 * A NameString: an optional leading '\' (root) or '^'s, then 1 to 255
 * segments separated by '.', each 1-4 characters of A-Z, 0-9 or '_' (not
 * starting with a digit), padded with '_' to 4. -EINVAL otherwise.
 */
void aml_name(struct aml *a, const char *path);

/* An integer in its shortest form (ZeroOp, OneOp, OnesOp, Byte..QWord). */
void aml_int(struct aml *a, uint64_t v);

/* A String (printable ASCII, no NUL inside). */
void aml_string(struct aml *a, const char *s);

/* The 32-bit compressed EISA ID of "PNP0A03"-style @id (3 upper-case
 * letters, 4 hex digits), as the integer EISAID() yields. */
void aml_eisaid(struct aml *a, const char *id);

/* Name (@path, <object>): the object follows from the next call. */
void aml_name_decl(struct aml *a, const char *path);

/* Opens Scope (@path) / Device (@path) / Package (@n elements) /
 * Buffer (size computed at close); returns the mark for aml_close(). */
size_t aml_scope(struct aml *a, const char *path);
size_t aml_device(struct aml *a, const char *path);
size_t aml_package(struct aml *a, unsigned n);
size_t aml_buffer(struct aml *a);

/* Closes the object opened at @mark: writes its PkgLength (and a buffer's
 * size), moving the contents down if the length takes fewer than 4 bytes. */
void aml_close(struct aml *a, size_t mark);

/* ---- resource descriptors, inside aml_buffer() ... aml_close() ---- */

/* IO (Decode16, @base, @base, 1, @len): a fixed range of @len ports. */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len);
/* IRQNoFlags () { @irq }: an ISA IRQ, edge-triggered, active high. */
void aml_res_irq(struct aml *a, unsigned irq);
/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, ...)
 * for buses @min..@max. */
void aml_res_bus(struct aml *a, uint16_t min, uint16_t max);
/* DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
 * NonCacheable, ReadWrite, ...) window @min..@max (inclusive). */
void aml_res_mem32(struct aml *a, uint32_t min, uint32_t max);
/* EndTag with a zero checksum ("treated as correct"). */
void aml_res_end(struct aml *a);

#endif
