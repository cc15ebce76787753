/* SPDX-License-Identifier: MIT */
/*
 * The guest's serial console on the host side: where COM1's output goes
 * (stdout, a file, nowhere) and where its input comes from (stdin). On a
 * terminal, stdin is put in raw mode and Ctrl-A x quits (Ctrl-A Ctrl-A sends
 * a Ctrl-A); from a pipe or file, input is passed through as it is.
 *
 * Output goes through a bounded buffer the I/O thread drains without ever
 * blocking; what a stalled reader leaves no room for is dropped and counted
 * (docs/architecture.md, "The console").
 */
#ifndef HEARTH_CONSOLE_H
#define HEARTH_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "hearth/config.h"
#include "hearth/dev.h"
#include "hearth/exit.h"
#include "hearth/loop.h"

struct console;

/* Opens the output (creating the file for file:PATH). 0 or -errno with a
 * reason in @err. Nothing is created when this fails. */
int console_open(struct console **out, const struct vm_config *cfg, char *err, size_t errlen);
/* The uart_cfg.tx callback (a vCPU thread): buffers @ch and wakes the I/O
 * thread; never blocks. Output is discarded with --console none. */
void console_tx(void *opaque, uint8_t ch);
/* Starts feeding stdin to @uart from the loop; puts a tty in raw mode.
 * The escape sequence calls ctl->stop(VM_STOP_SIGNAL, SIGINT). 0 or -errno. */
int console_attach(struct console *c, struct loop *l, struct uart *uart, const struct vm_ctl *ctl);
/* The uart_cfg.rx_drained callback (any thread). */
void console_rx_drained(void *opaque);
/* Once the vCPUs are gone (I/O thread): writes out what is still buffered,
 * waiting while the reader takes it, but giving up (and counting the rest
 * as dropped) after 2 s in which it took nothing or 10 s in all. Logs the
 * total dropped, if any. */
void console_flush(struct console *c);
/* Bytes of guest output written out and dropped so far (any thread). */
void console_counts(struct console *c, uint64_t *written, uint64_t *dropped);
/* Restores the terminal and closes the output. @keep_file false removes a
 * console file created by console_open (failed start-up). */
void console_close(struct console *c, int keep_file);

#endif
