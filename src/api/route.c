// SPDX-License-Identifier: MIT
/* The control API's routing and JSON: no sockets, no KVM (unit-tested). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/api.h"

const char *api_state_name(enum api_state s)
{
	switch (s) {
	case API_RUNNING: return "running";
	case API_PAUSED: return "paused";
	case API_SHUTTING_DOWN: return "shutting-down";
	}
	return "unknown";
}

void api_reply_free(struct api_reply *r)
{
	free(r->body);
	r->body = NULL;
}

static void reply_json(struct api_reply *r, int status, struct json_object *o)
{
	const char *s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;

	r->status = status;
	r->body = s ? strdup(s) : NULL;
	if (!r->body)
		r->status = 500;
	json_object_put(o);
}

void api_reply_error(struct api_reply *r, int status, const char *msg)
{
	struct json_object *o = json_object_new_object();

	if (o)
		json_object_object_add(o, "error", json_object_new_string(msg));
	reply_json(r, status, o);
}

static struct json_object *vm_info(const struct api_vm_ops *ops)
{
	struct json_object *o = json_object_new_object(), *cfg = ops->config(ops->opaque);

	if (!o || !cfg) {
		json_object_put(o);
		json_object_put(cfg);
		return NULL;
	}
	json_object_object_add(o, "state",
			       json_object_new_string(api_state_name(ops->state(ops->opaque))));
	json_object_object_add(o, "config", cfg);
	json_object_object_add(o, "version", json_object_new_string(HEARTH_VERSION));
	return o;
}

/*
 * A PUT body is optional; when present it must be a JSON object. Its only
 * field may be @field (NULL: none), a non-empty string without NUL bytes,
 * copied to @val (@vallen bytes; may be NULL when @field is). Returns NULL
 * or the reason.
 */
static const char *check_body(const char *body, size_t len, const char *field, char *val,
			      size_t vallen, char *why, size_t whylen)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error e;
	const char *bad = NULL;
	size_t end;

	if (len == 0)
		return NULL;
	tok = json_tokener_new();
	if (!tok)
		return "out of memory";
	o = json_tokener_parse_ex(tok, body, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	while (e == json_tokener_success && end < len && body[end] && strchr(" \t\r\n", body[end]))
		end++;
	if (e != json_tokener_success) {
		snprintf(why, whylen, "invalid JSON body: %s",
			 e == json_tokener_continue ? "unexpected end of data"
						    : json_tokener_error_desc(e));
		bad = why;
	} else if (end != len) {
		bad = "invalid JSON body: trailing data after the value";
	} else if (!json_object_is_type(o, json_type_object)) {
		bad = "the body must be a JSON object";
	} else {
		json_object_object_foreach(o, key, v)
		{
			const char *str = json_object_get_string(v);
			size_t n = str ? strlen(str) : 0;

			if (!field || strcmp(key, field)) {
				snprintf(why, whylen, "unknown field '%.64s' in the body", key);
				bad = why;
				break;
			}
			if (!json_object_is_type(v, json_type_string) || n == 0 ||
			    n != (size_t)json_object_get_string_len(v) || n >= vallen) {
				snprintf(why, whylen,
					 "'%s' must be a non-empty string of at most %zu bytes",
					 field, vallen - 1);
				bad = why;
				break;
			}
			memcpy(val, str, n + 1);
		}
	}
	json_object_put(o);
	json_tokener_free(tok);
	return bad;
}

struct action {
	const char *path;
	const char *field; /* the body's one field (a string), or NULL */
	bool required;
	int (*fn)(const struct api_vm_ops *ops, const char *arg, char *why, size_t len);
};

static int do_pause(const struct api_vm_ops *o, const char *a, char *w, size_t n)
{
	(void)a;
	return o->pause(o->opaque, w, n);
}
static int do_resume(const struct api_vm_ops *o, const char *a, char *w, size_t n)
{
	(void)a;
	return o->resume(o->opaque, w, n);
}
static int do_shutdown(const struct api_vm_ops *o, const char *a, char *w, size_t n)
{
	(void)a;
	return o->shutdown(o->opaque, w, n);
}
static int do_stop(const struct api_vm_ops *o, const char *a, char *w, size_t n)
{
	(void)a;
	return o->stop(o->opaque, w, n);
}
static int do_snapshot(const struct api_vm_ops *o, const char *dir, char *w, size_t n)
{
	if (!o->snapshot) {
		snprintf(w, n, "snapshots are not available here");
		return 500;
	}
	return o->snapshot(o->opaque, dir, w, n);
}

static const struct action actions[] = {
	{ "/v1/vm/pause", NULL, false, do_pause },
	{ "/v1/vm/resume", NULL, false, do_resume },
	{ "/v1/vm/shutdown", NULL, false, do_shutdown },
	{ "/v1/vm/stop", NULL, false, do_stop },
	{ "/v1/vm/snapshot", "path", true, do_snapshot },
};

void api_route(const struct api_vm_ops *ops, const char *method, const char *path, const char *body,
	       size_t body_len, struct api_reply *r)
{
	bool get = !strcmp(method, "GET"), put = !strcmp(method, "PUT");
	char why[512], arg[API_MAX_BODY] = "";
	const char *bad;

	*r = (struct api_reply){ 0 };
	if (!strcmp(path, "/v1/vm") || !strcmp(path, "/v1/metrics")) {
		if (!get) {
			r->allow = "GET";
			api_reply_error(r, 405, "method not allowed: use GET");
		} else if (body_len) {
			api_reply_error(r, 400, "GET takes no body");
		} else if (!strcmp(path, "/v1/vm")) {
			reply_json(r, 200, vm_info(ops));
		} else {
			reply_json(r, 200, ops->metrics(ops->opaque));
		}
		return;
	}
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		int st;

		if (strcmp(path, actions[i].path))
			continue;
		if (!put) {
			r->allow = "PUT";
			api_reply_error(r, 405, "method not allowed: use PUT");
			return;
		}
		bad = check_body(body, body_len, actions[i].field, arg, sizeof(arg), why,
				 sizeof(why));
		if (!bad && actions[i].required && !arg[0]) {
			snprintf(why, sizeof(why), "the body needs '%s'", actions[i].field);
			bad = why;
		}
		if (bad) {
			api_reply_error(r, 400, bad);
			return;
		}
		why[0] = '\0';
		st = actions[i].fn(ops, arg, why, sizeof(why));
		if (st == 0)
			r->status = 204;
		else
			api_reply_error(r, st >= 400 && st < 600 ? st : 500,
					why[0] ? why : "the action failed");
		return;
	}
	snprintf(why, sizeof(why), "no such endpoint: %.100s", path);
	api_reply_error(r, 404, why);
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

char *api_format_reply(const struct api_reply *r, size_t *len)
{
	bool has_body = r->status != 204 && r->body;
	size_t blen = has_body ? strlen(r->body) + 1 : 0; /* + '\n' so curl's output ends a line */
	char head[256], allow[64] = "", clen[48] = "", *out;
	int n;

	if (r->allow)
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", r->allow);
	if (r->status != 204)
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", blen);
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n%s%sConnection: close\r\n%s\r\n",
		     r->status, reason_phrase(r->status),
		     has_body ? "Content-Type: application/json\r\n" : "", clen, allow);
	if (n < 0 || (size_t)n >= sizeof(head))
		return NULL;
	out = malloc((size_t)n + blen + 1);
	if (!out)
		return NULL;
	memcpy(out, head, (size_t)n);
	if (has_body) {
		memcpy(out + n, r->body, blen - 1);
		out[(size_t)n + blen - 1] = '\n';
	}
	*len = (size_t)n + blen;
	out[*len] = '\0'; /* not sent; for callers that print it */
	return out;
}

/* ---- the effective configuration ---- */

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

struct json_object *api_config_json(const struct vm_config *cfg, const uint8_t (*macs)[6])
{
	struct json_object *o = json_object_new_object(), *disks = json_object_new_array();
	char console[CONFIG_SOCKET_PATH_MAX + 4200];

	if (!o || !disks) {
		json_object_put(o);
		json_object_put(disks);
		return NULL;
	}
	add_str(o, "kernel", cfg->kernel);
	add_str(o, "initrd", cfg->initrd);
	add_str(o, "cmdline", cfg->cmdline);
	add_u64(o, "cpus", cfg->cpus);
	add_u64(o, "memory", cfg->memory);
	json_object_object_add(o, "hugepages", json_object_new_boolean(cfg->hugepages));
	switch (cfg->console) {
	case CONSOLE_STDIO: snprintf(console, sizeof(console), "stdio"); break;
	case CONSOLE_NONE: snprintf(console, sizeof(console), "none"); break;
	case CONSOLE_FILE:
		snprintf(console, sizeof(console), "file:%s",
			 cfg->console_path ? cfg->console_path : "");
		break;
	}
	add_str(o, "console", console);
	add_u64(o, "timeout_ms", cfg->timeout_ms);
	add_u64(o, "shutdown_timeout_ms", cfg->shutdown_timeout_ms);
	add_u64(o, "exit_port", cfg->exit_port);
	if (cfg->qemu_exit)
		add_u64(o, "qemu_exit_port", cfg->qemu_exit_port);
	add_str(o, "cpu_template", cfg->cpu_template == CPU_TEMPLATE_MINIMAL ? "minimal" : "host");
	add_u64(o, "io_poll_us", cfg->io_poll_us);
	add_str(o, "event_loop", cfg->event_loop == EVENT_LOOP_EPOLL ? "epoll" : "io_uring");
	add_str(o, "api_socket", cfg->api_socket);
	add_str(o, "log_file", cfg->log_file);
	add_str(o, "ready_on", cfg->ready_on_marker ? "marker" : "start");
	add_str(o, "seccomp", cfg->no_seccomp ? "off" : "on");
	json_object_object_add(o, "jail", json_object_new_boolean(cfg->jail.enabled));
	for (unsigned i = 0; i < cfg->n_disks; i++) {
		const struct disk_config *d = &cfg->disks[i];
		struct json_object *j = json_object_new_object();

		if (!j)
			continue;
		switch (d->kind) {
		case DISK_ISCSI:
			/* the URL is kept without its CHAP password */
			add_str(j, "url", d->iscsi.url);
			add_u64(j, "timeout_ms", d->iscsi.timeout_ms);
			if (d->iscsi.initiator[0])
				add_str(j, "initiator", d->iscsi.initiator);
			break;
		case DISK_FILE:
			add_str(j, "path", d->file.path);
			add_str(j, "engine", config_disk_engine_names[d->file.engine]);
			break;
		}
		json_object_object_add(j, "readonly", json_object_new_boolean(d->readonly));
		json_object_object_add(
			j, "direct",
			json_object_new_boolean(d->kind == DISK_FILE && d->file.direct));
		json_object_object_add(j, "discard", json_object_new_boolean(d->discard));
		add_str(j, "serial", d->serial);
		json_object_array_add(disks, j);
	}
	json_object_object_add(o, "disks", disks);
	if (cfg->n_nets) {
		struct json_object *nets = json_object_new_array();

		for (unsigned i = 0; nets && i < cfg->n_nets; i++) {
			const struct net_config *c = &cfg->nets[i];
			struct json_object *j = json_object_new_object();
			const uint8_t *m = macs[i]; /* as the device got it */
			char mac[18];

			if (!j)
				continue;
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
				 m[2], m[3], m[4], m[5]);
			add_str(j, "tap", c->tap);
			add_str(j, "mac", mac);
			json_object_array_add(nets, j);
		}
		json_object_object_add(o, "nets", nets);
	}
	return o;
}
