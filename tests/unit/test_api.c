// SPDX-License-Identifier: MIT
/* The control API without KVM: routing and JSON against a fake VM, the
 * HTTP connection fed hostile bytes (whole, split, oversized), the ctl
 * client's response parsing, and the listening socket's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hearth/api.h"
#include "hearth/config.h"
#include "hearth/virtio_net.h"

/* ---- a fake VM ---- */
struct fake {
	enum api_state state;
	int pauses, resumes, shutdowns, stops, snapshots;
	char dir[API_MAX_BODY];
};

static enum api_state f_state(void *o)
{
	return ((struct fake *)o)->state;
}

static int f_pause(void *o, char *why, size_t len)
{
	struct fake *f = o;

	if (f->state != API_RUNNING) {
		snprintf(why, len, "not running");
		return 409;
	}
	f->state = API_PAUSED;
	f->pauses++;
	return 0;
}

static int f_resume(void *o, char *why, size_t len)
{
	struct fake *f = o;

	if (f->state != API_PAUSED) {
		snprintf(why, len, "not paused");
		return 409;
	}
	f->state = API_RUNNING;
	f->resumes++;
	return 0;
}

static int f_shutdown(void *o, char *why, size_t len)
{
	((struct fake *)o)->shutdowns++;
	((struct fake *)o)->state = API_SHUTTING_DOWN;
	return 0;
}

static int f_stop(void *o, char *why, size_t len)
{
	snprintf(why, len, "stop broke");
	((struct fake *)o)->stops++;
	return 7; /* not an HTTP status: must become a 500 */
}

static struct json_object *f_config(void *o)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "cpus", json_object_new_int(2));
	return j;
}

static struct json_object *f_metrics(void *o)
{
	struct json_object *j = json_object_new_object();

	json_object_object_add(j, "uptime_ms", json_object_new_int(5));
	return j;
}

static int f_snapshot(void *o, const char *dir, char *why, size_t len)
{
	struct fake *f = o;

	f->snapshots++;
	snprintf(f->dir, sizeof(f->dir), "%s", dir);
	if (f->state != API_PAUSED) {
		snprintf(why, len, "pause first");
		return 409;
	}
	return 0;
}

static struct fake fake;
static const struct api_vm_ops ops = { &fake,  f_state,	 f_pause,   f_resume,  f_shutdown,
				       f_stop, f_config, f_metrics, f_snapshot };

static int setup(void **state)
{
	fake = (struct fake){ .state = API_RUNNING };
	return 0;
}

/* The "error" string of @r's body; fails the test if it has none. */
static const char *error_of(const struct api_reply *r)
{
	static char msg[256];
	struct json_object *o, *e;

	assert_non_null(r->body);
	o = json_tokener_parse(r->body);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "error", &e));
	assert_int_equal(json_object_object_length(o), 1);
	snprintf(msg, sizeof(msg), "%s", json_object_get_string(e));
	json_object_put(o);
	return msg;
}

static void route(const char *m, const char *p, const char *body, struct api_reply *r)
{
	api_route(&ops, m, p, body, body ? strlen(body) : 0, r);
}

static void get_vm(void **state)
{
	struct api_reply r;
	struct json_object *o, *v;

	route("GET", "/v1/vm", NULL, &r);
	assert_int_equal(r.status, 200);
	o = json_tokener_parse(r.body);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "state", &v));
	assert_string_equal(json_object_get_string(v), "running");
	assert_true(json_object_object_get_ex(o, "version", &v));
	assert_string_equal(json_object_get_string(v), HEARTH_VERSION);
	assert_true(json_object_object_get_ex(o, "config", &v));
	assert_true(json_object_object_get_ex(v, "cpus", &v));
	assert_int_equal(json_object_get_int(v), 2);
	json_object_put(o);
	api_reply_free(&r);

	fake.state = API_SHUTTING_DOWN;
	route("GET", "/v1/vm", NULL, &r);
	assert_non_null(strstr(r.body, "\"state\":\"shutting-down\""));
	api_reply_free(&r);

	route("GET", "/v1/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"uptime_ms\":5"));
	api_reply_free(&r);
}

static void actions(void **state)
{
	struct api_reply r;

	route("PUT", "/v1/vm/pause", NULL, &r);
	assert_int_equal(r.status, 204);
	assert_null(r.body);
	route("PUT", "/v1/vm/pause", "{}", &r);
	assert_int_equal(r.status, 409);
	assert_string_equal(error_of(&r), "not running");
	api_reply_free(&r);
	route("PUT", "/v1/vm/resume", " { } \n", &r);
	assert_int_equal(r.status, 204);
	route("PUT", "/v1/vm/resume", NULL, &r);
	assert_int_equal(r.status, 409);
	api_reply_free(&r);
	route("PUT", "/v1/vm/shutdown", NULL, &r);
	assert_int_equal(r.status, 204);
	route("PUT", "/v1/vm/stop", NULL, &r);
	assert_int_equal(r.status, 500);
	assert_string_equal(error_of(&r), "stop broke");
	api_reply_free(&r);
	assert_int_equal(fake.pauses, 1);
	assert_int_equal(fake.resumes, 1);
	assert_int_equal(fake.shutdowns, 1);
	assert_int_equal(fake.stops, 1);
}

/* PUT /v1/vm/snapshot {"path": DIR}: the one field, a non-empty string */
static void snapshot(void **state)
{
	static const char *const bad[] = {
		NULL,
		"{}",
		"{\"path\":\"\"}",
		"{\"path\":7}",
		"{\"path\":null}",
		"{\"path\":[\"/a\"]}",
		"{\"path\":\"/a\",\"diff\":true}",
		"{\"dir\":\"/a\"}",
		"{\"path\":\"/a\\u0000b\"}", /* a NUL inside the string */
	};
	struct api_reply r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		route("PUT", "/v1/vm/snapshot", bad[i], &r);
		assert_int_equal(r.status, 400);
		assert_true(strlen(error_of(&r)) > 0);
		api_reply_free(&r);
	}
	assert_int_equal(fake.snapshots, 0);
	route("GET", "/v1/vm/snapshot", NULL, &r);
	assert_int_equal(r.status, 405);
	api_reply_free(&r);
	/* the VM's answer passes through: 409 while running, 204 when paused */
	route("PUT", "/v1/vm/snapshot", "{\"path\":\"/srv/snap 1\"}", &r);
	assert_int_equal(r.status, 409);
	assert_string_equal(error_of(&r), "pause first");
	api_reply_free(&r);
	fake.state = API_PAUSED;
	route("PUT", "/v1/vm/snapshot", " {\"path\" : \"/srv/snap \\\"2\\\"\"} ", &r);
	assert_int_equal(r.status, 204);
	assert_string_equal(fake.dir, "/srv/snap \"2\"");
	assert_int_equal(fake.snapshots, 2);
}

static void errors(void **state)
{
	static const struct {
		const char *method, *path, *body;
		int status;
		const char *allow;
	} cases[] = {
		{ "GET", "/", NULL, 404, NULL },
		{ "GET", "/v1/vm/", NULL, 404, NULL },
		{ "GET", "/v1/VM", NULL, 404, NULL },
		{ "PUT", "/v1/vm/pause/", NULL, 404, NULL },
		{ "GET", "/v1/vm/paus", NULL, 404, NULL },
		{ "POST", "/v1/vm", NULL, 405, "GET" },
		{ "PUT", "/v1/metrics", NULL, 405, "GET" },
		{ "HEAD", "/v1/vm", NULL, 405, "GET" },
		{ "GET", "/v1/vm/stop", NULL, 405, "PUT" },
		{ "POST", "/v1/vm/pause", NULL, 405, "PUT" },
		{ "GET", "/v1/vm", "{}", 400, NULL },
		{ "PUT", "/v1/vm/pause", "{", 400, NULL },
		{ "PUT", "/v1/vm/pause", "{}}", 400, NULL },
		{ "PUT", "/v1/vm/pause", "null", 400, NULL },
		{ "PUT", "/v1/vm/pause", "[]", 400, NULL },
		{ "PUT", "/v1/vm/pause", "\"x\"", 400, NULL },
		{ "PUT", "/v1/vm/pause", "{\"a\":1}", 400, NULL },
		{ "PUT", "/v1/vm/pause", "{\"a\":", 400, NULL },
		{ "PUT", "/v1/vm/pause", "\xff\xfe", 400, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_reply r;

		route(cases[i].method, cases[i].path, cases[i].body, &r);
		assert_int_equal(r.status, cases[i].status);
		assert_true(strlen(error_of(&r)) > 0);
		if (cases[i].allow)
			assert_string_equal(r.allow, cases[i].allow);
		else
			assert_null(r.allow);
		api_reply_free(&r);
	}
	/* none of it reached the VM */
	assert_int_equal(fake.pauses + fake.resumes + fake.shutdowns + fake.stops, 0);
	/* a body with a NUL inside is not valid JSON either */
	struct api_reply r;

	api_route(&ops, "PUT", "/v1/vm/pause", "{}\0x", 4, &r);
	assert_int_equal(r.status, 400);
	api_reply_free(&r);
	/* nor is one with NULs after it: a NUL is not JSON whitespace */
	api_route(&ops, "PUT", "/v1/vm/pause", "{}\0\0", 4, &r);
	assert_int_equal(r.status, 400);
	api_reply_free(&r);
	assert_int_equal(fake.pauses, 0);
}

static void format(void **state)
{
	struct api_reply r = { 204, NULL, NULL };
	size_t len;
	char *s = api_format_reply(&r, &len);

	assert_non_null(s);
	assert_int_equal(len, strlen("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"));
	assert_memory_equal(s, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", len);
	free(s);
	r = (struct api_reply){ 0 };
	api_reply_error(&r, 405, "no");
	r.allow = "PUT";
	s = api_format_reply(&r, &len);
	assert_non_null(s);
	assert_non_null(strstr(s, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(s, "\r\nAllow: PUT\r\n"));
	assert_non_null(strstr(s, "\r\nContent-Length: 15\r\n")); /* {"error":"no"}\n */
	assert_memory_equal(s + len - 15, "{\"error\":\"no\"}\n", 15);
	free(s);
	api_reply_free(&r);
}

/* ---- the HTTP connection ---- */

/* Feeds @req in pieces of @step bytes; returns the reply's status (0 if
 * the connection just closed) and leaves the reply in @out. */
static int feed(const char *req, size_t len, size_t step, char **out)
{
	struct api_conn *c = api_conn_new();
	size_t outlen, off = 0;
	int ret = 0, status = 0;

	assert_non_null(c);
	*out = NULL;
	while (ret == 0) {
		size_t n = len - off < step ? len - off : step;

		ret = api_conn_feed(c, &ops, req + off, n, out, &outlen);
		if (n == 0)
			break;
		off += n;
	}
	if (ret == 1) {
		assert_int_equal(sscanf(*out, "HTTP/1.1 %d ", &status), 1);
		assert_int_equal(strlen(*out), outlen);
		/* nothing more is taken on a finished connection */
		assert_int_equal(api_conn_feed(c, &ops, "GET", 3, out, &outlen), -1);
	}
	api_conn_free(c);
	return status;
}

static int feed_str(const char *req, size_t step)
{
	char *out;
	int st = feed(req, strlen(req), step, &out);

	free(out);
	return st;
}

static void http_requests(void **state)
{
	static const char get[] = "GET /v1/vm HTTP/1.1\r\nHost: localhost\r\n\r\n";
	char *out;

	/* whole, and split at every byte */
	assert_int_equal(feed_str(get, sizeof(get)), 200);
	assert_int_equal(feed_str(get, 1), 200);
	assert_int_equal(feed(get, strlen(get), 1, &out), 200);
	assert_non_null(strstr(out, "\"state\":\"running\""));
	free(out);
	/* absolute-form target, a query, HTTP/1.0 */
	assert_int_equal(feed_str("GET http://localhost/v1/metrics HTTP/1.1\r\n\r\n", 7), 200);
	assert_int_equal(feed_str("GET /v1/vm?x=1 HTTP/1.0\r\n\r\n", 100), 200);
	/* a PUT with a body in pieces */
	assert_int_equal(feed_str("PUT /v1/vm/pause HTTP/1.1\r\nContent-Length: 4\r\n\r\n{ }\n", 3),
			 204);
	assert_int_equal(fake.pauses, 1);
	/* chunked */
	assert_int_equal(feed_str("PUT /v1/vm/resume HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "1\r\n{\r\n1\r\n}\r\n0\r\n\r\n",
				  5),
			 204);
	/* pipelined: only the first is answered */
	assert_int_equal(
		feed_str("PUT /v1/vm/pause HTTP/1.1\r\n\r\nPUT /v1/vm/resume HTTP/1.1\r\n\r\n",
			 1000),
		204);
	assert_int_equal(fake.pauses, 2);
	assert_int_equal(fake.resumes, 1);
}

static void http_hostile(void **state)
{
	static char big[20000];
	char *out;

	assert_int_equal(feed_str("garbage\r\n\r\n", 100), 400);
	assert_int_equal(feed_str("GET /v1/vm HTTP/2.0\r\n\r\n", 100), 400);
	assert_int_equal(feed_str("GET /v1/vm HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 100), 400);
	assert_int_equal(
		feed_str("GET /v1/vm HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
			 100),
		400);
	assert_int_equal(feed_str("GET \x01 HTTP/1.1\r\n\r\n", 100), 400);
	assert_int_equal(feed_str("GET * HTTP/1.1\r\n\r\n", 100),
			 404); /* asterisk-form: no such endpoint */
	assert_int_equal(
		feed_str("GET /v1/vm HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 100),
		400);
	/* body limits: by Content-Length at once, and while chunks arrive */
	assert_int_equal(feed_str("PUT /v1/vm/pause HTTP/1.1\r\nContent-Length: 4097\r\n\r\n", 100),
			 413);
	snprintf(big, sizeof(big),
		 "PUT /v1/vm/pause HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 600; i++)
		strcat(big, "8\r\n        \r\n");
	assert_int_equal(feed_str(big, 512), 413);
	/* target and header limits */
	snprintf(big, sizeof(big), "GET /%0300d HTTP/1.1\r\n\r\n", 0);
	assert_int_equal(feed_str(big, 64), 414);
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "GET /v1/vm HTTP/1.1\r\nX: ", 24);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(feed_str(big, 4096), 431);
	/* the peer leaves mid-request or without a byte: just closed */
	assert_int_equal(feed("GET /v1", 7, 7, &out), 0);
	assert_null(out);
	assert_int_equal(feed("", 0, 1, &out), 0);
	assert_int_equal(fake.pauses, 0);
}

/* ---- the ctl client's side ---- */

static void responses(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
	static const char nc[] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
	static const char eof[] =
		"HTTP/1.1 409 Conflict\r\nConnection: close\r\n\r\n{\"error\":\"x\"}";
	int status;
	char *body;
	size_t len;

	assert_int_equal(ctl_parse_response(ok, strlen(ok), &status, &body, &len), 0);
	assert_int_equal(status, 200);
	assert_string_equal(body, "{}");
	free(body);
	assert_int_equal(ctl_parse_response(nc, strlen(nc), &status, &body, &len), 0);
	assert_int_equal(status, 204);
	assert_int_equal(len, 0);
	free(body);
	assert_int_equal(ctl_parse_response(eof, strlen(eof), &status, &body, &len), 0);
	assert_int_equal(status, 409);
	assert_string_equal(body, "{\"error\":\"x\"}");
	free(body);
	/* truncated, or not HTTP */
	assert_int_equal(ctl_parse_response(ok, strlen(ok) - 1, &status, &body, &len), -1);
	assert_int_equal(ctl_parse_response("SSH-2.0\r\n", 9, &status, &body, &len), -1);
	assert_int_equal(ctl_parse_response("", 0, &status, &body, &len), -1);
	/* what our server writes, it reads */
	struct api_reply r = { 0 };
	size_t n;
	char *s;

	api_reply_error(&r, 409, "busy");
	s = api_format_reply(&r, &n);
	assert_int_equal(ctl_parse_response(s, n, &status, &body, &len), 0);
	assert_int_equal(status, 409);
	assert_string_equal(body, "{\"error\":\"busy\"}\n");
	free(body);
	free(s);
	api_reply_free(&r);
}

static void config_json(void **state)
{
	static struct vm_config cfg;
	struct json_object *o, *v, *d;
	uint8_t macs[2][6];
	char derived[18];

	config_defaults(&cfg);
	cfg.kernel = "k";
	cfg.console = CONSOLE_FILE;
	cfg.console_path = "c.log";
	cfg.n_disks = 2;
	strcpy(cfg.disks[0].file.path, "d.img");
	cfg.disks[0].readonly = true;
	/* an iSCSI disk: its URL as stored, without the CHAP password */
	cfg.disks[1].kind = DISK_ISCSI;
	strcpy(cfg.disks[1].iscsi.url, "iscsi://u@h/iqn.x:y/1");
	strcpy(cfg.disks[1].iscsi.url_password, "s3cret");
	strcpy(cfg.disks[1].iscsi.initiator, "iqn.2026-01.example:i");
	cfg.disks[0].file.engine = DISK_ENGINE_SYNC;
	cfg.event_loop = EVENT_LOOP_EPOLL;
	cfg.n_nets = 2;
	strcpy(cfg.nets[0].tap, "tap0");
	memcpy(cfg.nets[0].mac, "\x52\x54\x00\x12\x34\x56", 6);
	cfg.nets[0].has_mac = true;
	strcpy(cfg.nets[1].tap, "tap1");
	/* the MACs as the VM resolves them for its NICs */
	virtio_net_mac_of("tap0", cfg.nets[0].mac, macs[0]);
	virtio_net_mac_of("tap1", NULL, macs[1]);
	snprintf(derived, sizeof(derived), "%02x:%02x:%02x:%02x:%02x:%02x", macs[1][0], macs[1][1],
		 macs[1][2], macs[1][3], macs[1][4], macs[1][5]);
	o = api_config_json(&cfg, (const uint8_t(*)[6])macs);
	assert_null(strstr(json_object_to_json_string(o), "s3cret"));
	assert_true(json_object_object_get_ex(o, "nets", &d));
	assert_int_equal(json_object_array_length(d), 2);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(d, 0), "mac", &v));
	assert_string_equal(json_object_get_string(v), "52:54:00:12:34:56");
	assert_true(json_object_object_get_ex(json_object_array_get_idx(d, 1), "mac", &v));
	assert_string_equal(json_object_get_string(v), derived);
	assert_true(json_object_object_get_ex(o, "disks", &d));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(d, 1), "url", &v));
	assert_string_equal(json_object_get_string(v), "iscsi://u@h/iqn.x:y/1");
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "console", &v));
	assert_string_equal(json_object_get_string(v), "file:c.log");
	assert_true(json_object_object_get_ex(o, "memory", &v));
	assert_int_equal(json_object_get_uint64(v), CONFIG_DEFAULT_MEMORY);
	assert_true(json_object_object_get_ex(o, "api_socket", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "disks", &d));
	assert_int_equal(json_object_array_length(d), 2);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(d, 0), "readonly", &v));
	assert_true(json_object_get_boolean(v));
	/* the options that were environment variables, under the names
	 * --config takes them by */
	assert_true(json_object_object_get_ex(o, "event_loop", &v));
	assert_string_equal(json_object_get_string(v), "epoll");
	assert_true(json_object_object_get_ex(json_object_array_get_idx(d, 0), "engine", &v));
	assert_string_equal(json_object_get_string(v), "sync");
	assert_false(json_object_object_get_ex(json_object_array_get_idx(d, 0), "initiator", &v));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(d, 1), "initiator", &v));
	assert_string_equal(json_object_get_string(v), "iqn.2026-01.example:i");
	assert_false(json_object_object_get_ex(json_object_array_get_idx(d, 1), "engine", &v));
	json_object_put(o);
}

/* ---- metrics JSON ---- */

static void metrics_json(void **state)
{
	static struct api_vcpu_counts v[2];
	struct api_net_counts nc = { .rx_frames = 6, .rx_bad_bufs = 2 };
	struct api_dev_counts d[2] = {
		{ .id = "vda",
		  .type = "virtio-blk",
		  .requests = 5,
		  .bytes = 4096,
		  .errors = 1,
		  .kicks = 7,
		  .interrupts = 3 },
		{ .id = "net0", .type = "virtio-net", .net = &nc },
	};
	struct api_console_counts con = { .written = 1000, .dropped = 24 };
	struct json_object *o, *x, *e;

	v[0].id = 0;
	v[1].id = 1;
	v[0].exits[KVM_EXIT_IO] = 10;
	v[0].exits[KVM_EXIT_HLT] = 2;
	v[0].has_cpu_time = true;
	v[0].cpu_time_us = 1234;
	v[1].exits[KVM_EXIT_MMIO] = 1;
	v[1].exits[API_EXIT_REASONS - 1] = 4; /* a reason without a name */
	o = api_metrics_json(v, 2, d, 2, &con, "epoll", 32, 9);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "vcpus", &x));
	assert_int_equal(json_object_array_length(x), 2);
	e = json_object_array_get_idx(x, 0);
	assert_true(json_object_object_get_ex(e, "exits_total", &e));
	assert_int_equal(json_object_get_uint64(e), 12);
	e = json_object_array_get_idx(x, 0);
	assert_true(json_object_object_get_ex(e, "exits", &e));
	assert_int_equal(json_object_object_length(e), 2); /* only reasons seen */
	assert_true(json_object_object_get_ex(e, "io", &e));
	assert_int_equal(json_object_get_uint64(e), 10);
	e = json_object_array_get_idx(x, 0);
	assert_true(json_object_object_get_ex(e, "cpu_time_us", &e));
	assert_int_equal(json_object_get_uint64(e), 1234);
	e = json_object_array_get_idx(x, 1);
	assert_false(json_object_object_get_ex(e, "cpu_time_us", NULL)); /* never started */
	assert_true(json_object_object_get_ex(e, "exits", &e));
	assert_true(json_object_object_get_ex(e, "reason_63", &e));
	assert_int_equal(json_object_get_uint64(e), 4);
	assert_true(json_object_object_get_ex(o, "devices", &x));
	e = json_object_array_get_idx(x, 1); /* a NIC's own counters */
	assert_true(json_object_object_get_ex(e, "rx_bad_buffers", &e));
	assert_int_equal(json_object_get_uint64(e), 2);
	e = json_object_array_get_idx(x, 0); /* not a NIC: none */
	assert_false(json_object_object_get_ex(e, "rx_frames", NULL));
	x = json_object_array_get_idx(x, 0);
	assert_true(json_object_object_get_ex(x, "kicks", &e));
	assert_int_equal(json_object_get_uint64(e), 7);
	assert_true(json_object_object_get_ex(x, "interrupts", &e));
	assert_int_equal(json_object_get_uint64(e), 3);
	assert_true(json_object_object_get_ex(x, "errors", &e));
	assert_int_equal(json_object_get_uint64(e), 1);
	assert_true(json_object_object_get_ex(o, "console", &x));
	assert_true(json_object_object_get_ex(x, "written_bytes", &e));
	assert_int_equal(json_object_get_uint64(e), 1000);
	assert_true(json_object_object_get_ex(x, "dropped_bytes", &e));
	assert_int_equal(json_object_get_uint64(e), 24);
	assert_true(json_object_object_get_ex(o, "io_thread", &x));
	assert_true(json_object_object_get_ex(x, "api_requests", &e));
	assert_int_equal(json_object_get_uint64(e), 9);
	assert_true(json_object_object_get_ex(x, "cpu_system_us", NULL));
	json_object_put(o);
}

/* ---- the listening socket ---- */

static void listen_rules(void **state)
{
	char dir[] = "/tmp/hearth-api-XXXXXX", path[128], err[256];
	struct stat st;
	int fd, fd2;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	fd = api_listen_path(path, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	/* in use */
	assert_int_equal(api_listen_path(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "in use"));
	/* stale (nobody listens any more): replaced */
	close(fd);
	fd2 = api_listen_path(path, err, sizeof(err));
	assert_true(fd2 >= 0);
	close(fd2);
	unlink(path);
	/* not a socket */
	close(creat(path, 0600));
	assert_int_equal(api_listen_path(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));
	unlink(path);
	rmdir(dir);
	/* socket activation only for our pid */
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", "1", 1);
	assert_int_equal(api_listen_activated(err, sizeof(err)), -1);
	snprintf(path, sizeof(path), "%d", (int)getpid());
	setenv("LISTEN_PID", path, 1);
	setenv("LISTEN_FDS", "3", 1);
	assert_int_equal(api_listen_activated(err, sizeof(err)), -2);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(get_vm, setup),
		cmocka_unit_test_setup(actions, setup),
		cmocka_unit_test_setup(errors, setup),
		cmocka_unit_test_setup(format, setup),
		cmocka_unit_test_setup(http_requests, setup),
		cmocka_unit_test_setup(http_hostile, setup),
		cmocka_unit_test_setup(responses, setup),
		cmocka_unit_test_setup(config_json, setup),
		cmocka_unit_test_setup(snapshot, setup),
		cmocka_unit_test_setup(listen_rules, setup),
		cmocka_unit_test_setup(metrics_json, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
