// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the control API's request path (http_parser, our
 * limits, routing, JSON bodies) against arbitrary bytes from a client. The
 * first byte splits the input into two reads, as a socket may deliver it;
 * the VM is a fake whose actions only count. Then the ctl client's
 * response parser gets the same bytes. ASan/UBSan catch the rest.
 */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

static int calls;

static enum api_state f_state(void *o)
{
	return API_RUNNING;
}

static int f_action(void *o, char *why, size_t len)
{
	calls++;
	return calls % 3 ? 0 : 409;
}

static struct json_object *f_obj(void *o)
{
	return json_object_new_object();
}

/* the route hands a snapshot a non-empty path shorter than a body, or
 * nothing at all */
static int f_snapshot(void *o, const char *dir, char *why, size_t len)
{
	if (!dir[0] || strlen(dir) >= API_MAX_BODY)
		abort();
	calls++;
	return calls % 3 ? 0 : 503;
}

static const struct api_vm_ops ops = { NULL,	 f_state, f_action, f_action,  f_action,
				       f_action, f_obj,	  f_obj,    f_snapshot };

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	struct api_conn *c;
	char *out = NULL, *body = NULL;
	size_t outlen, split, blen;
	int ret, status;

	if (len < 1)
		return 0;
	split = in[0] % len;
	in++;
	len--;
	c = api_conn_new();
	if (!c)
		return 0;
	ret = api_conn_feed(c, &ops, (const char *)in, split < len ? split : len, &out, &outlen);
	if (ret == 0 && split < len)
		ret = api_conn_feed(c, &ops, (const char *)in + split, len - split, &out, &outlen);
	if (ret == 0)
		ret = api_conn_feed(c, &ops, "", 0, &out, &outlen);
	if (ret == 1 && (!out || outlen < 12 || memcmp(out, "HTTP/1.1 ", 9)))
		abort(); /* every answer is a status line */
	free(out);
	api_conn_free(c);
	if (ctl_parse_response((const char *)in, len, &status, &body, &blen) == 0)
		free(body);
	return 0;
}
