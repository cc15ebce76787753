/* SPDX-License-Identifier: MIT */
/*
 * The control API (docs/api.md): HTTP/1.1 with JSON bodies on a unix
 * socket, served by the I/O thread. Three layers, each testable alone:
 *
 *  - api_route(): method + path + body -> status + JSON body, calling the
 *    VM through struct api_vm_ops (no sockets, no KVM);
 *  - struct api_conn: bytes in -> one reply out, parsed with http_parser;
 *  - struct api_server: the listening socket and its connections on the
 *    I/O thread's loop.
 *
 * One request per connection: every reply carries "Connection: close".
 */
#ifndef HEARTH_API_H
#define HEARTH_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hearth/config.h"

struct json_object;
struct loop;

#define API_MAX_BODY 4096 /* request bodies beyond this: 413 */
#define API_MAX_URL  256  /* request targets beyond this: 414 */
#define API_MAX_CONN 8	  /* connections at once; a new one evicts the oldest */

enum api_state { API_RUNNING, API_PAUSED, API_SHUTTING_DOWN };

/* What the API may ask of the VM; every call runs on the I/O thread. The
 * actions return 0, or an HTTP status (409 when the state does not allow
 * it, 500/503 when hearth failed) with a one-line reason in @why. */
struct api_vm_ops {
	void *opaque;
	enum api_state (*state)(void *opaque);
	int (*pause)(void *opaque, char *why, size_t len);
	int (*resume)(void *opaque, char *why, size_t len);
	int (*shutdown)(void *opaque, char *why, size_t len);
	int (*stop)(void *opaque, char *why, size_t len);
	/* New JSON objects, owned by the caller; NULL on allocation failure. */
	struct json_object *(*config)(void *opaque);
	struct json_object *(*metrics)(void *opaque);
	/* PUT /v1/vm/snapshot {"path": DIR}: a snapshot of the paused guest
	 * into DIR (docs/snapshot.md); 503 means "ask again" */
	int (*snapshot)(void *opaque, const char *dir, char *why, size_t len);
};

struct api_reply {
	int status;	   /* HTTP status */
	char *body;	   /* JSON text (malloc'd) or NULL for none */
	const char *allow; /* the Allow header of a 405, else NULL */
};

/* Routes one request. @body may be NULL when @body_len is 0. Never fails:
 * allocation failures become a 500 without a body. */
void api_route(const struct api_vm_ops *ops, const char *method, const char *path, const char *body,
	       size_t body_len, struct api_reply *r);
void api_reply_free(struct api_reply *r);
/* {"error":"@msg"} as a reply with @status. */
void api_reply_error(struct api_reply *r, int status, const char *msg);

const char *api_state_name(enum api_state s);
/* The effective configuration as the API shows it (a new object); @macs
 * holds the MAC each of @cfg's NICs got (cfg->n_nets entries). */
struct json_object *api_config_json(const struct vm_config *cfg, const uint8_t (*macs)[6]);

/* Plain counters the VM fills in for the metrics, so the API needs no
 * device's or vCPU's internals. */
#define API_EXIT_REASONS 64 /* KVM exit reasons counted, by number */
struct api_vcpu_counts {
	unsigned id;
	uint64_t exits[API_EXIT_REASONS];
	bool has_cpu_time; /* the thread runs: cpu_time_us is its CPU time */
	uint64_t cpu_time_us;
};
/* A NIC's own counters (virtio_net.h's struct virtio_net_stats). */
struct api_net_counts {
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
	uint64_t rx_dropped, rx_bad_bufs, tx_bad, tx_errors;
};
/* One device's counters: requests, bytes and errors as virtio.h's
 * struct virtio_counts, kicks and interrupts as virtio_pci.h's. */
struct api_dev_counts {
	char id[8];
	const char *type;
	uint64_t requests, bytes, errors;
	uint64_t kicks, interrupts;
	const struct api_net_counts *net; /* a NIC's own counters, or NULL */
};
/* The serial console's output counters (console.h). */
struct api_console_counts {
	uint64_t written, dropped; /* bytes */
};
/*
 * GET /v1/metrics's body (metrics.c), called on the I/O thread: the
 * @nvcpus vCPUs' exits by reason and CPU time, the @n devices, the
 * console's output, and the calling thread's own CPU time as the I/O
 * thread's. NULL on allocation failure.
 */
struct json_object *api_metrics_json(const struct api_vcpu_counts *vcpus, unsigned nvcpus,
				     const struct api_dev_counts *devs, unsigned n,
				     const struct api_console_counts *console, const char *backend,
				     unsigned poll_us, uint64_t requests);

/* The whole HTTP response for @r (status line, headers, body); malloc'd,
 * NULL on allocation failure. */
char *api_format_reply(const struct api_reply *r, size_t *len);

/* ---- one connection (http.c) ---- */
struct api_conn;
struct api_conn *api_conn_new(void);
void api_conn_free(struct api_conn *c);
/*
 * Feeds bytes received on the connection (@len 0: the peer closed). Returns
 * 1 when the reply is ready in @out/@outlen (malloc'd; the connection is
 * done), 0 when more bytes are needed, -1 when the connection must just be
 * closed (the peer left before a complete request).
 */
int api_conn_feed(struct api_conn *c, const struct api_vm_ops *ops, const char *data, size_t len,
		  char **out, size_t *outlen);

/* ---- the server (server.c) ---- */
struct api_server;
/*
 * Creates, binds (mode 0600, set before the socket exists on the
 * filesystem) and listens on the unix socket @path. A stale socket nobody
 * listens on is replaced; a live one, or any other file, is refused.
 * Returns the fd, or -1 with a one-line reason in @err.
 */
int api_listen_path(const char *path, char *err, size_t errlen);
/*
 * systemd socket activation: when $LISTEN_PID is this process and
 * $LISTEN_FDS is 1, checks that fd 3 is a listening unix stream socket and
 * returns 3 (and unsets the variables); returns -1 when not activated, or
 * -2 with a one-line reason in @err when the passed socket is unusable.
 */
int api_listen_activated(char *err, size_t errlen);
/* Serves @fd on @loop, taking it over (closed on failure too). @unlink_path
 * (may be NULL) is removed when the server is destroyed (or fails), if it
 * is still our socket. 0 or -errno. */
int api_server_create(struct api_server **out, struct loop *loop, int fd, const char *unlink_path,
		      const struct api_vm_ops *ops);
void api_server_destroy(struct api_server *s);
/* Requests served, for the metrics. */
uint64_t api_server_requests(const struct api_server *s);

/* ---- `hearth ctl` (ctl.c) ---- */
int ctl_main(int argc, char **argv);
/* Parses a whole HTTP response (@len bytes, the connection then closed):
 * 0 with the status and the body (malloc'd, NUL-terminated, may be empty),
 * or -1 when it is not a complete HTTP response. */
int ctl_parse_response(const char *buf, size_t len, int *status, char **body, size_t *body_len);

#endif
