// SPDX-License-Identifier: MIT
/*
 * One control API connection: request bytes go through http_parser (the
 * Node.js parser Debian ships as libhttp-parser); the request line, the
 * body and the limits are ours. The first complete request is answered and
 * the connection ends; anything after it is ignored.
 */
#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/api.h"

#define API_MAX_HEADER 8192 /* request line + headers */

struct api_conn {
	http_parser p;
	char url[API_MAX_URL + 1];
	size_t url_len;
	char body[API_MAX_BODY];
	size_t body_len;
	int early; /* a limit was hit: answer this status at once */
	bool done; /* a whole request arrived */
};

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct api_conn *c = p->data;

	if (len > API_MAX_URL - c->url_len) {
		c->early = 414;
		return -1;
	}
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct api_conn *c = p->data;

	/* content_length is ULLONG_MAX when the request has none (chunked) */
	if (p->content_length != UINT64_MAX && p->content_length > API_MAX_BODY) {
		c->early = 413;
		return -1;
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct api_conn *c = p->data;

	if (len > API_MAX_BODY - c->body_len) {
		c->early = 413;
		return -1;
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct api_conn *c = p->data;

	c->done = true;
	http_parser_pause(p, 1); /* one request per connection */
	return 0;
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

struct api_conn *api_conn_new(void)
{
	struct api_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	http_parser_set_max_header_size(API_MAX_HEADER); /* process-wide, idempotent */
	http_parser_init(&c->p, HTTP_REQUEST);
	c->p.data = c;
	return c;
}

void api_conn_free(struct api_conn *c)
{
	free(c);
}

/* The path of the request target: origin-form "/v1/vm?x" or absolute-form
 * "http://localhost/v1/vm". Returns false if it is neither. */
static bool target_path(struct api_conn *c, char *path, size_t size)
{
	struct http_parser_url u;
	size_t off, len;

	http_parser_url_init(&u);
	if (http_parser_parse_url(c->url, c->url_len, 0, &u) || !(u.field_set & (1 << UF_PATH)))
		return false;
	off = u.field_data[UF_PATH].off;
	len = u.field_data[UF_PATH].len;
	if (len >= size)
		return false;
	memcpy(path, c->url + off, len);
	path[len] = '\0';
	return true;
}

static void answer(struct api_conn *c, const struct api_vm_ops *ops, struct api_reply *r)
{
	char path[API_MAX_URL + 1], why[160];
	enum http_errno e = HTTP_PARSER_ERRNO(&c->p);

	if (c->early == 413) {
		api_reply_error(r, 413, "request body too large (at most 4096 bytes)");
	} else if (c->early == 414) {
		api_reply_error(r, 414, "request target too long");
	} else if (c->early == 431) {
		api_reply_error(r, 431, "request headers too large");
	} else if (!c->done) {
		strcpy(why, "malformed request: ");
		strncat(why, http_errno_description(e), sizeof(why) - strlen(why) - 1);
		api_reply_error(r, 400, why);
	} else if (!target_path(c, path, sizeof(path))) {
		api_reply_error(r, 400, "malformed request target");
	} else if (c->p.http_major != 1) {
		api_reply_error(r, 400, "only HTTP/1.x is spoken here");
	} else {
		api_route(ops, http_method_str((enum http_method)c->p.method), path, c->body,
			  c->body_len, r);
	}
}

int api_conn_feed(struct api_conn *c, const struct api_vm_ops *ops, const char *data, size_t len,
		  char **out, size_t *outlen)
{
	struct api_reply r = { 0 };
	enum http_errno e;

	if (c->done || c->early || len == 0)
		return -1; /* finished, or the peer left before a whole request */
	http_parser_execute(&c->p, &settings, data, len);
	e = HTTP_PARSER_ERRNO(&c->p);
	if (!c->done && !c->early && e == HPE_OK)
		return 0; /* more to come */
	if (e == HPE_HEADER_OVERFLOW)
		c->early = 431;
	answer(c, ops, &r);
	*out = api_format_reply(&r, outlen);
	api_reply_free(&r);
	c->done = true;
	return *out ? 1 : -1;
}
