/* SPDX-License-Identifier: MIT */
/*
 * The guest's serial console on the host side: where COM1's output goes
 * (stdout, a file, nowhere) and where its input comes from (stdin). On a
 * terminal, stdin is put in raw mode and Ctrl-A x quits (Ctrl-A Ctrl-A sends
 * a Ctrl-A); from a pipe or file, input is passed through as it is.
 */
#ifndef HEARTH_CONSOLE_H
#define HEARTH_CONSOLE_H

#include <stddef.h>

#include "hearth/config.h"
#include "hearth/dev.h"
#include "hearth/exit.h"
#include "hearth/loop.h"

struct console;

/* Opens the output (creating the file for file:PATH). 0 or -errno with a
 * reason in @err. Nothing is created when this fails. */
int console_open(struct console **out, const struct vm_config *cfg, char *err, size_t errlen);
/* The fd guest output is written to, or -1 to discard it. */
int console_out_fd(const struct console *c);
/* Starts feeding stdin to @uart from the loop; puts a tty in raw mode.
 * The escape sequence calls ctl->stop(VM_STOP_SIGNAL, SIGINT). 0 or -errno. */
int console_attach(struct console *c, struct loop *l, struct uart *uart, const struct vm_ctl *ctl);
/* The uart_cfg.rx_drained callback (any thread). */
void console_rx_drained(void *opaque);
/* Restores the terminal and closes the output. @keep_file false removes a
 * console file created by console_open (failed start-up). */
void console_close(struct console *c, int keep_file);

#endif
