// SPDX-License-Identifier: MIT
/*
 * `hearth ctl SOCKET COMMAND`: one request to a running hearth's control
 * API; the JSON answer on stdout, exit 0 on 2xx (docs/api.md).
 */
#include <errno.h>
#include <http_parser.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hearth/api.h"
#include "hearth/exit.h"

#define CTL_MAX_RESPONSE (1 << 20)

static const char ctl_usage[] =
	"usage: hearth ctl SOCKET COMMAND\n"
	"  SOCKET   the path given to hearth run --api-socket\n"
	"  COMMAND  status | pause | resume | shutdown | stop | metrics |\n"
	"           snapshot DIR (of a paused guest; docs/snapshot.md)\n"
	"Exit status: 0 the request succeeded, 1 the API refused it (e.g. 409),\n"
	"2 no hearth answers on SOCKET, 125 bad usage.\n";

static const struct {
	const char *cmd, *method, *path;
} cmds[] = {
	{ "status", "GET", "/v1/vm" },
	{ "metrics", "GET", "/v1/metrics" },
	{ "pause", "PUT", "/v1/vm/pause" },
	{ "resume", "PUT", "/v1/vm/resume" },
	{ "shutdown", "PUT", "/v1/vm/shutdown" },
	{ "stop", "PUT", "/v1/vm/stop" },
};

struct resp {
	char *body;
	size_t len;
	bool complete, oom;
};

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct resp *r = p->data;
	char *b = realloc(r->body, r->len + len + 1);

	if (!b) {
		r->oom = true;
		return -1;
	}
	memcpy(b + r->len, at, len);
	r->len += len;
	b[r->len] = '\0';
	r->body = b;
	return 0;
}

static int on_complete(http_parser *p)
{
	((struct resp *)p->data)->complete = true;
	return 0;
}

int ctl_parse_response(const char *buf, size_t len, int *status, char **body, size_t *body_len)
{
	static const http_parser_settings s = { .on_body = on_body,
						.on_message_complete = on_complete };
	struct resp r = { 0 };
	http_parser p;
	size_t n;

	http_parser_init(&p, HTTP_RESPONSE);
	p.data = &r;
	n = http_parser_execute(&p, &s, buf, len);
	if (n == len && HTTP_PARSER_ERRNO(&p) == HPE_OK)
		http_parser_execute(&p, &s, NULL,
				    0); /* end of stream: ends a body without length */
	if (!r.complete || r.oom) {
		free(r.body);
		return -1;
	}
	if (!r.body)
		r.body = calloc(1, 1);
	if (!r.body)
		return -1;
	*status = (int)p.status_code;
	*body = r.body;
	*body_len = r.len;
	return 0;
}

/* Sends the request and reads the whole answer (the server closes). */
static char *exchange(const char *sock, const char *method, const char *path, const char *body,
		      size_t *len, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/* a snapshot writes guest RAM before it answers */
	struct timeval tv = { .tv_sec = body ? 600 : 30 };
	char req[API_MAX_BODY + 256], *buf = NULL;
	size_t have = 0, cap = 0, blen = body ? strlen(body) : 0;
	int fd, n;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "'%s': socket path too long", sock);
		return NULL;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, errlen, "cannot reach hearth on '%s': %s", sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n"
		     "%sConnection: close\r\n\r\n%s",
		     method, path, blen, body ? "Content-Type: application/json\r\n" : "",
		     body ? body : "");
	if (n < 0 || (size_t)n >= sizeof(req)) {
		snprintf(err, errlen, "the request is too long");
		close(fd);
		return NULL;
	}
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(err, errlen, "cannot send to '%s': %s", sock, strerror(errno));
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t got;

		if (have == cap) {
			char *b =
				cap < CTL_MAX_RESPONSE ? realloc(buf, cap ? 2 * cap : 4096) : NULL;

			if (!b) {
				snprintf(err, errlen, "the answer from '%s' is too large", sock);
				break;
			}
			buf = b;
			cap = cap ? 2 * cap : 4096;
		}
		got = recv(fd, buf + have, cap - have, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errlen, "no answer from '%s': %s", sock, strerror(errno));
			break;
		}
		if (got == 0) {
			close(fd);
			*len = have;
			return buf;
		}
		have += (size_t)got;
	}
	close(fd);
	free(buf);
	return NULL;
}

/* {"path": DIR} with DIR made absolute against the current directory: the
 * server's is another. NULL when it does not fit a request. */
static char *snapshot_body(const char *dir)
{
	struct json_object *o = json_object_new_object();
	char cwd[4096], abs[API_MAX_BODY], *out = NULL;
	int n = 0;

	if (dir[0] == '/')
		n = snprintf(abs, sizeof(abs), "%s", dir);
	else if (getcwd(cwd, sizeof(cwd)))
		n = snprintf(abs, sizeof(abs), "%s/%s", cwd, dir);
	else
		n = -1;
	if (o && n > 0 && (size_t)n < sizeof(abs) - 64) {
		json_object_object_add(o, "path", json_object_new_string(abs));
		out = strdup(json_object_to_json_string_ext(
			o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	json_object_put(o);
	return out;
}

/* One request; a 503 to a snapshot (a disk's requests still in flight) is
 * asked again, 50 times 0.1 s at most */
static char *request(const char *sock, const char *method, const char *path, const char *body,
		     size_t *len, char *err, size_t errlen)
{
	for (unsigned tries = 0;; tries++) {
		char *raw = exchange(sock, method, path, body, len, err, errlen), *b;
		size_t blen;
		int status;

		if (!raw || !body || tries >= 50 ||
		    ctl_parse_response(raw, *len, &status, &b, &blen))
			return raw;
		free(b);
		if (status != 503)
			return raw;
		free(raw);
		usleep(100 * 1000);
	}
}

int ctl_main(int argc, char **argv)
{
	const char *method = NULL, *path = NULL;
	char err[256], *raw, *body, *req_body = NULL;
	size_t len, blen;
	int status;
	struct json_object *o;

	if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		fputs(ctl_usage, stdout);
		return 0;
	}
	for (size_t i = 0; argc == 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].cmd)) {
			method = cmds[i].method;
			path = cmds[i].path;
		}
	if (argc == 3 && !strcmp(argv[1], "snapshot")) {
		if (!argv[2][0]) {
			fprintf(stderr, "hearth ctl: snapshot needs a directory\n");
			return HEARTH_EXIT_USAGE;
		}
		req_body = snapshot_body(argv[2]);
		if (!req_body) {
			fprintf(stderr, "hearth ctl: snapshot: the directory's path is too long\n");
			return HEARTH_EXIT_USAGE;
		}
		method = "PUT";
		path = "/v1/vm/snapshot";
	}
	if (!method) {
		if (argc == 2 && !strcmp(argv[1], "snapshot"))
			fprintf(stderr, "hearth ctl: snapshot needs a directory\n");
		else if (argc == 2)
			fprintf(stderr, "hearth ctl: unknown command '%s'\n", argv[1]);
		else
			fprintf(stderr, "hearth ctl: expected SOCKET COMMAND\n");
		fputs(ctl_usage, stderr);
		return HEARTH_EXIT_USAGE;
	}
	raw = request(argv[0], method, path, req_body, &len, err, sizeof(err));
	free(req_body);
	if (!raw) {
		fprintf(stderr, "hearth ctl: %s\n", err);
		return HEARTH_CTL_EXIT_UNREACHABLE;
	}
	if (ctl_parse_response(raw, len, &status, &body, &blen)) {
		free(raw);
		fprintf(stderr, "hearth ctl: '%s' did not answer with HTTP\n", argv[0]);
		return HEARTH_CTL_EXIT_UNREACHABLE;
	}
	free(raw);
	o = blen ? json_tokener_parse(body) : NULL;
	if (status >= 200 && status < 300) {
		if (o)
			puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		else if (blen)
			fwrite(body, 1, blen, stdout);
	} else {
		struct json_object *e = NULL;

		fprintf(stderr, "hearth ctl: %s: %d %s\n", argv[1], status,
			o && json_object_object_get_ex(o, "error", &e) ? json_object_get_string(e)
								       : "(no reason given)");
	}
	json_object_put(o);
	free(body);
	return status >= 200 && status < 300 ? 0 : HEARTH_CTL_EXIT_ERROR;
}
