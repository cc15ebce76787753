// SPDX-License-Identifier: MIT
/*
 * --config FILE: a JSON object with the command line's options as keys
 * (without the dashes) is turned into command-line arguments, so the file
 * and the command line share one parser and one set of error messages.
 * The command line wins: its options come after the file's, and any --disk
 * on the command line replaces the file's "disks".
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/config.h"

enum kind { STR, INT, STR_OR_INT, FLAG };

/* The options a --config file may set, spelled as the control API's GET
 * /v1/vm shows them: the option's name with '_' for '-'. The dashed
 * spelling of the command line (and of earlier files) is accepted too. */
static const struct {
	const char *key;
	enum kind kind;
} keys[] = {
	{ "kernel", STR },
	{ "initrd", STR },
	{ "cmdline", STR },
	{ "cpus", INT },
	{ "memory", STR_OR_INT },
	{ "hugepages", FLAG },
	{ "console", STR },
	{ "timeout", STR },
	{ "exit_port", STR_OR_INT },
	{ "cpu_template", STR },
	{ "cpu_features", STR },
	{ "log_level", STR },
	{ "io_poll", INT },
	{ "shutdown_timeout", STR_OR_INT },
	{ "api_socket", STR },
	{ "log_file", STR },
	{ "ready_on", STR },
	{ "seccomp", STR },
	{ "event_loop", STR },
	{ "jail", FLAG },
	{ "jail_uid", INT },
	{ "jail_gid", INT },
	{ "jail_cgroup", STR },
	{ "jail_cpus", STR_OR_INT },
	{ "jail_memory", STR_OR_INT },
	{ "jail_pids", INT },
	{ "jail_nofile", INT },
	{ "jail_fsize", STR_OR_INT },
	{ "jail_memlock", STR_OR_INT },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Whether @key names @name, with '-' for any '_' */
static bool key_is(const char *key, const char *name)
{
	for (; *name; key++, name++)
		if (*key != *name && !(*name == '_' && *key == '-'))
			return false;
	return *key == '\0';
}

static int push(struct config_args *a, const char *s)
{
	char *d;

	if (a->n == a->cap) {
		int cap = a->cap ? 2 * a->cap : 16;
		char **v = realloc(a->v, (size_t)cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	d = strdup(s);
	if (!d)
		return -ENOMEM;
	a->v[a->n++] = d;
	return 0;
}

static int push_opt(struct config_args *a, const char *key, const char *val)
{
	char opt[40];

	snprintf(opt, sizeof(opt), "--%s", key);
	for (char *c = opt; *c; c++) /* the command line's spelling */
		if (*c == '_')
			*c = '-';
	return push(a, opt) || (val && push(a, val)) ? -ENOMEM : 0;
}

static const char *type_name(enum kind k)
{
	return k == INT	   ? "a number"
	       : k == FLAG ? "true or false"
	       : k == STR  ? "a string"
			   : "a string or a number";
}

static int disk_arg(json_object *d, int i, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t used = 0;
	int has_path = 0;

	if (!json_object_is_type(d, json_type_object))
		return config_error(err, errlen, "disks[%d] must be an object", i);
	out[0] = '\0';
	json_object_object_foreach(d, k, v)
	{
		const char *s = NULL;
		char piece[CONFIG_DISK_PATH_MAX + 16];

		if (!strcmp(k, "path") || !strcmp(k, "serial") || !strcmp(k, "url") ||
		    !strcmp(k, "secret") || !strcmp(k, "timeout") || !strcmp(k, "engine") ||
		    !strcmp(k, "initiator")) {
			if (!json_object_is_type(v, json_type_string))
				return config_error(err, errlen, "disks[%d].%s must be a string", i,
						    k);
			s = json_object_get_string(v);
			if (strchr(s, ','))
				return config_error(err, errlen,
						    "disks[%d].%s must not contain a comma", i, k);
			has_path |= !strcmp(k, "path") || !strcmp(k, "url");
			snprintf(piece, sizeof(piece), "%s%s=%s", used ? "," : "", k, s);
		} else if (!strcmp(k, "readonly") || !strcmp(k, "direct") ||
			   !strcmp(k, "discard")) {
			if (!json_object_is_type(v, json_type_boolean))
				return config_error(err, errlen,
						    "disks[%d].%s must be true or false", i, k);
			snprintf(piece, sizeof(piece), "%s%s=%s", used ? "," : "", k,
				 json_object_get_boolean(v) ? "on" : "off");
		} else {
			return config_error(
				err, errlen,
				"disks[%d]: unknown key '%s' (path, url, readonly, direct, "
				"discard, serial, secret, timeout, engine, initiator)",
				i, k);
		}
		if (used + strlen(piece) >= outlen)
			return config_error(err, errlen, "disks[%d] is too long", i);
		memcpy(out + used, piece, strlen(piece) + 1);
		used += strlen(piece);
	}
	if (!has_path)
		return config_error(err, errlen, "disks[%d].path or disks[%d].url is required", i,
				    i);
	return 0;
}

/* nets[i] = {"tap": NAME, "mac": "XX:..."} as --net's value */
static int net_arg(json_object *o, int i, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t used = 0;
	bool has_tap = false;

	if (!json_object_is_type(o, json_type_object))
		return config_error(err, errlen, "nets[%d] must be an object", i);
	out[0] = '\0';
	json_object_object_foreach(o, k, v)
	{
		const char *s;
		int n;

		if (strcmp(k, "tap") && strcmp(k, "mac"))
			return config_error(err, errlen, "nets[%d]: unknown key '%s' (tap, mac)", i,
					    k);
		if (!json_object_is_type(v, json_type_string))
			return config_error(err, errlen, "nets[%d].%s must be a string", i, k);
		s = json_object_get_string(v);
		if (strchr(s, ','))
			return config_error(err, errlen, "nets[%d].%s must not contain a comma", i,
					    k);
		has_tap |= !strcmp(k, "tap");
		n = snprintf(out + used, outlen - used, "%s%s=%s", used ? "," : "", k, s);
		if (n < 0 || (size_t)n >= outlen - used)
			return config_error(err, errlen, "nets[%d] is too long", i);
		used += (size_t)n;
	}
	if (!has_tap)
		return config_error(err, errlen, "nets[%d].tap is required", i);
	return 0;
}

int config_json_args(const char *json, struct config_args *out, bool with_disks, char *err,
		     size_t errlen)
{
	json_tokener *tok = json_tokener_new();
	json_object *root;
	enum json_tokener_error jerr;
	bool seen[NKEYS] = { false };
	int ret = 0;

	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT); /* no trailing commas, comments... */
	root = json_tokener_parse_ex(tok, json, (int)strlen(json) + 1);
	jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (!root || jerr != json_tokener_success) {
		json_object_put(root);
		return config_error(
			err, errlen, "not valid JSON: %s",
			json_tokener_error_desc(jerr != json_tokener_success
							? jerr
							: json_tokener_error_parse_eof));
	}
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return config_error(err, errlen, "the top level must be an object");
	}
	json_object_object_foreach(root, key, val)
	{
		size_t i;

		if (!strcmp(key, "disks")) {
			if (!json_object_is_type(val, json_type_array)) {
				ret = config_error(err, errlen, "disks must be an array");
				break;
			}
			for (int d = 0;
			     with_disks && !ret && d < (int)json_object_array_length(val); d++) {
				char arg[CONFIG_DISK_PATH_MAX + 128];

				ret = disk_arg(json_object_array_get_idx(val, (size_t)d), d, arg,
					       sizeof(arg), err, errlen);
				if (!ret)
					ret = push_opt(out, "disk", arg);
			}
			if (ret)
				break;
			continue;
		}
		if (!strcmp(key, "nets")) {
			if (!json_object_is_type(val, json_type_array)) {
				ret = config_error(err, errlen, "nets must be an array");
				break;
			}
			for (int d = 0; !ret && d < (int)json_object_array_length(val); d++) {
				char arg[128];

				ret = net_arg(json_object_array_get_idx(val, (size_t)d), d, arg,
					      sizeof(arg), err, errlen);
				if (!ret)
					ret = push_opt(out, "net", arg);
			}
			if (ret)
				break;
			continue;
		}
		for (i = 0; i < NKEYS && !key_is(key, keys[i].key); i++)
			;
		if (i == NKEYS) {
			ret = config_error(err, errlen, "unknown key '%s'", key);
			break;
		}
		if (seen[i]) { /* JSON keys are unique, but not across spellings */
			ret = config_error(err, errlen, "'%s': the key %s is given twice", key,
					   keys[i].key);
			break;
		}
		seen[i] = true;
		enum kind k = keys[i].kind;
		json_type t = json_object_get_type(val);
		if ((k == STR && t != json_type_string) || (k == INT && t != json_type_int) ||
		    (k == FLAG && t != json_type_boolean) ||
		    (k == STR_OR_INT && t != json_type_string && t != json_type_int)) {
			ret = config_error(err, errlen, "'%s' must be %s", key, type_name(k));
			break;
		}
		if (k == FLAG) {
			if (json_object_get_boolean(val))
				ret = push_opt(out, keys[i].key, NULL);
		} else {
			ret = push_opt(out, keys[i].key, json_object_get_string(val));
		}
		if (ret)
			break;
	}
	json_object_put(root);
	return ret;
}

void config_args_free(struct config_args *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	*a = (struct config_args){ 0 };
}

static char *read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		snprintf(err, errlen, "--config: cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *b;

			cap = cap ? 2 * cap : 8192;
			if (cap > (1u << 20)) {
				snprintf(err, errlen, "--config: '%s' is larger than 1 MiB", path);
				break;
			}
			b = realloc(buf, cap);
			if (!b)
				break;
			buf = b;
		}
		size_t n = fread(buf + len, 1, 4096, f);
		len += n;
		if (n < 4096) {
			fclose(f);
			buf[len] = '\0';
			return buf;
		}
	}
	fclose(f);
	free(buf);
	return NULL;
}

int config_load(struct vm_config *cfg, int argc, char *const argv[], struct config_args *keep,
		char *err, size_t errlen)
{
	const char *file = NULL;
	bool cli_disks = false, cli_nets = false;
	int ret = 0;

	*keep = (struct config_args){ 0 };
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			file = argv[++i];
		else if (!strncmp(argv[i], "--config=", 9))
			file = argv[i] + 9;
		else if (!strcmp(argv[i], "--config"))
			return config_error(err, errlen, "option '--config' needs a value");
		else if (!strcmp(argv[i], "--disk") || !strncmp(argv[i], "--disk=", 7))
			cli_disks = true;
		else if (!strcmp(argv[i], "--net") || !strncmp(argv[i], "--net=", 6))
			cli_nets = true;
	}
	if (file) {
		char why[300];
		char *json = read_file(file, err, errlen);

		if (!json)
			return -EINVAL;
		ret = config_json_args(json, keep, !cli_disks, why, sizeof(why));
		free(json);
		if (!ret && cli_nets) { /* the command line's NICs replace the file's */
			int w = 0;

			/* the file's arguments: the flags alone, the rest in pairs */
			for (int i = 0; i < keep->n; i++) {
				bool pair = strcmp(keep->v[i], "--hugepages") &&
					    strcmp(keep->v[i], "--jail") && i + 1 < keep->n;

				if (pair && !strcmp(keep->v[i], "--net")) {
					free(keep->v[i]);
					free(keep->v[++i]);
					continue;
				}
				keep->v[w++] = keep->v[i];
				if (pair)
					keep->v[w++] = keep->v[++i];
			}
			keep->n = w;
		}
		if (ret) {
			config_args_free(keep);
			return config_error(err, errlen, "--config %s: %s", file, why);
		}
	}
	for (int i = 0; i < argc && !ret; i++) {
		if (!strcmp(argv[i], "--config")) {
			i++;
			continue;
		}
		if (!strncmp(argv[i], "--config=", 9))
			continue;
		ret = push(keep, argv[i]);
	}
	if (ret) {
		config_args_free(keep);
		return config_error(err, errlen, "out of memory");
	}
	ret = config_parse(cfg, keep->n, keep->v, err, errlen);
	return ret;
}
