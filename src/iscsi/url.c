// SPDX-License-Identifier: MIT
/*
 * iscsi:// URLs and CHAP credentials: pure parsing, no I/O but the secret
 * file. Strict on purpose: every byte is checked against the character set
 * of its field, lengths against RFC 3720's limits, and the password never
 * reaches an error message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hearth/iscsi.h"

#define SCHEME "iscsi://"

static int bad(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen,
		 "bad iSCSI URL: %s (expected iscsi://[user[%%password]@]host[:port]/"
		 "target/lun)",
		 what);
	return -EINVAL;
}

/* A byte allowed in a CHAP name or secret given in the URL. */
static bool cred_char(char c)
{
	return c > 0x20 && c < 0x7f && c != '@' && c != '%' && c != '/' && c != ',';
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* iqn./eui./naa. names: RFC 3722 leaves lower-case letters, digits, '-',
 * '.' and ':' after stringprep; upper case is accepted and kept. */
static bool target_char(char c)
{
	return host_char(c) || c == ':';
}

int iscsi_url_parse(const char *s, struct iscsi_addr *u, char *err, size_t errlen)
{
	const char *p, *at, *slash, *host, *hend, *t, *tend;
	size_t n;

	memset(u, 0, sizeof(*u));
	u->port = ISCSI_DEFAULT_PORT;
	if (!s || strncmp(s, SCHEME, strlen(SCHEME)))
		return bad(err, errlen, "it must start with iscsi://");
	if (strlen(s) >= ISCSI_URL_MAX)
		return bad(err, errlen, "too long");
	p = s + strlen(SCHEME);
	/* userinfo: up to an '@' before the first '/' */
	slash = strchr(p, '/');
	if (!slash)
		return bad(err, errlen, "no /target/lun");
	at = memchr(p, '@', (size_t)(slash - p));
	if (at) {
		const char *pct = memchr(p, '%', (size_t)(at - p));
		const char *uend = pct ? pct : at;

		n = (size_t)(uend - p);
		if (n == 0 || n > ISCSI_CRED_MAX)
			return bad(err, errlen, "empty or too long user name");
		for (size_t i = 0; i < n; i++)
			if (!cred_char(p[i]))
				return bad(err, errlen, "the user name has a forbidden character");
		memcpy(u->user, p, n);
		if (pct) {
			n = (size_t)(at - pct - 1);
			if (n == 0 || n > ISCSI_CRED_MAX)
				return bad(err, errlen, "empty or too long password");
			for (size_t i = 0; i < n; i++)
				if (!cred_char(pct[1 + i]))
					return bad(err, errlen,
						   "the password has a forbidden character "
						   "(give it through the environment or a "
						   "secret file)");
			memcpy(u->password, pct + 1, n);
		}
		p = at + 1;
		if (memchr(p, '@', (size_t)(slash - p)))
			return bad(err, errlen, "more than one '@'");
	}
	/* host */
	host = p;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(slash - p));

		if (!close || close == p + 1)
			return bad(err, errlen, "unterminated or empty IPv6 address");
		for (const char *q = p + 1; q < close; q++)
			if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') ||
			      (*q >= 'A' && *q <= 'F') || *q == ':' || *q == '.'))
				return bad(err, errlen, "bad IPv6 address");
		hend = close + 1;
	} else {
		for (hend = p; hend < slash && *hend != ':'; hend++)
			if (!host_char(*hend))
				return bad(err, errlen, "the host has a forbidden character");
		if (hend == p)
			return bad(err, errlen, "no host");
	}
	n = (size_t)(hend - host);
	if (n > sizeof(u->host) - 1 || (*host != '[' && n > ISCSI_HOST_MAX))
		return bad(err, errlen, "host name too long");
	memcpy(u->host, host, n);
	if (hend < slash) {
		unsigned long port = 0;

		if (*hend != ':' || hend + 1 == slash || slash - hend - 1 > 5)
			return bad(err, errlen, "bad port");
		for (const char *q = hend + 1; q < slash; q++) {
			if (*q < '0' || *q > '9')
				return bad(err, errlen, "bad port");
			port = port * 10 + (unsigned long)(*q - '0');
		}
		if (port == 0 || port > 65535)
			return bad(err, errlen, "port out of range (1-65535)");
		u->port = (uint16_t)port;
	}
	/* /target/lun */
	t = slash + 1;
	tend = strchr(t, '/');
	if (!tend)
		return bad(err, errlen, "no /lun after the target");
	n = (size_t)(tend - t);
	if (n == 0 || n > ISCSI_TARGET_MAX)
		return bad(err, errlen, "empty or too long target name");
	for (size_t i = 0; i < n; i++)
		if (!target_char(t[i]))
			return bad(err, errlen, "the target name has a forbidden character");
	memcpy(u->target, t, n);
	{
		const char *l = tend + 1;
		unsigned long lun = 0;

		if (!*l || strlen(l) > 5)
			return bad(err, errlen, "missing or bad LUN");
		for (const char *q = l; *q; q++) {
			if (*q < '0' || *q > '9')
				return bad(err, errlen, "the LUN must be a decimal number");
			lun = lun * 10 + (unsigned long)(*q - '0');
		}
		if (lun > ISCSI_LUN_MAX)
			return bad(err, errlen, "LUN out of range (0-16383)");
		u->lun = (unsigned)lun;
	}
	return 0;
}

void iscsi_url_redact(const char *s, char *out, size_t outlen)
{
	const char *p, *slash, *at, *pct;

	if (!outlen)
		return;
	if (strncmp(s, SCHEME, strlen(SCHEME))) {
		snprintf(out, outlen, "%s", "(not an iscsi:// URL)");
		return;
	}
	p = s + strlen(SCHEME);
	slash = strchr(p, '/');
	at = slash ? memchr(p, '@', (size_t)(slash - p)) : strchr(p, '@');
	pct = at ? memchr(p, '%', (size_t)(at - p)) : NULL;
	if (!pct) {
		snprintf(out, outlen, "%s", s);
		return;
	}
	snprintf(out, outlen, "%.*s%%***%s", (int)(pct - s), s, at);
}

void iscsi_url_split(const char *s, char *url, char *pw)
{
	const char *p = s + strlen(SCHEME), *slash, *at, *pct;
	size_t n = strnlen(s, ISCSI_URL_MAX - 1);

	pw[0] = '\0';
	memcpy(url, s, n);
	url[n] = '\0';
	if (strncmp(s, SCHEME, strlen(SCHEME)))
		return;
	slash = strchr(p, '/');
	at = slash ? memchr(p, '@', (size_t)(slash - p)) : NULL;
	pct = at ? memchr(p, '%', (size_t)(at - p)) : NULL;
	if (!pct)
		return;
	memcpy(pw, pct + 1, (size_t)(at - pct - 1));
	pw[at - pct - 1] = '\0';
	snprintf(url, ISCSI_URL_MAX, "%.*s%s", (int)(pct - s), s, at);
}

/* ---- credentials ---- */

static int set_cred(char *dst, const char *v, const char *what, char *err, size_t errlen)
{
	size_t n = strlen(v);

	if (n == 0 || n > ISCSI_CRED_MAX) {
		snprintf(err, errlen, "iSCSI CHAP %s is empty or longer than %d bytes", what,
			 ISCSI_CRED_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			snprintf(err, errlen, "iSCSI CHAP %s has a control character", what);
			return -EINVAL;
		}
	memcpy(dst, v, n + 1);
	return 0;
}

static int load_file(struct iscsi_creds *c, const char *file, char *err, size_t errlen)
{
	char buf[4096], line_buf[600];
	struct stat st;
	ssize_t got;
	int fd = open(file, O_RDONLY | O_CLOEXEC), ret = 0;
	size_t len;
	unsigned lineno = 0;

	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "iSCSI secret file '%s': %s", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size >= (off_t)sizeof(buf)) {
		close(fd);
		snprintf(err, errlen, "iSCSI secret file '%s' is not a small regular file", file);
		return -EINVAL;
	}
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got < 0) {
		snprintf(err, errlen, "iSCSI secret file '%s': %s", file, strerror(errno));
		return -EINVAL;
	}
	len = (size_t)got;
	buf[len] = '\0';
	if (memchr(buf, '\0', len)) {
		snprintf(err, errlen, "iSCSI secret file '%s' has a NUL byte", file);
		return -EINVAL;
	}
	for (char *p = buf; *p && !ret;) {
		char *nl = strchr(p, '\n'), *eq;
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		static const char *const keys[] = { "user", "password", "target_user",
						    "target_password" };
		char *dst[] = { c->user, c->password, c->target_user, c->target_password };
		unsigned k;

		lineno++;
		if (l >= sizeof(line_buf)) {
			snprintf(err, errlen, "iSCSI secret file '%s' line %u is too long", file,
				 lineno);
			ret = -EINVAL;
			break;
		}
		memcpy(line_buf, p, l);
		line_buf[l] = '\0';
		if (l && line_buf[l - 1] == '\r')
			line_buf[--l] = '\0';
		p = nl ? nl + 1 : p + l;
		if (!l || line_buf[0] == '#')
			continue;
		eq = strchr(line_buf, '=');
		if (eq)
			*eq = '\0';
		for (k = 0; eq && k < 4 && strcmp(line_buf, keys[k]); k++)
			;
		if (!eq || k == 4) {
			snprintf(err, errlen,
				 "iSCSI secret file '%s' line %u: expected user=, password=, "
				 "target_user= or target_password=",
				 file, lineno);
			ret = -EINVAL;
			break;
		}
		if (!dst[k][0])
			ret = set_cred(dst[k], eq + 1, keys[k], err, errlen);
	}
	memset(buf, 0, sizeof(buf));
	memset(line_buf, 0, sizeof(line_buf));
	return ret;
}

int iscsi_creds_load(struct iscsi_creds *c, const struct iscsi_addr *u, const char *file,
		     char *(*getenv_fn)(const char *), char *err, size_t errlen)
{
	static const char *const env[] = { "HEARTH_ISCSI_USER", "HEARTH_ISCSI_PASSWORD",
					   "HEARTH_ISCSI_TARGET_USER",
					   "HEARTH_ISCSI_TARGET_PASSWORD" };
	static const char *const what[] = { "user", "password", "target user", "target password" };
	char *dst[] = { c->user, c->password, c->target_user, c->target_password };
	int ret;

	memset(c, 0, sizeof(*c));
	memcpy(c->user, u->user, sizeof(c->user));
	memcpy(c->password, u->password, sizeof(c->password));
	if (file && (ret = load_file(c, file, err, errlen)))
		return ret;
	for (unsigned k = 0; k < 4 && getenv_fn; k++) {
		const char *v = dst[k][0] ? NULL : getenv_fn(env[k]);

		if (v && (ret = set_cred(dst[k], v, what[k], err, errlen)))
			return ret;
	}
	if (!c->user[0] != !c->password[0]) {
		snprintf(err, errlen, "iSCSI CHAP needs both a user and a password");
		return -EINVAL;
	}
	if (!c->target_user[0] != !c->target_password[0]) {
		snprintf(err, errlen,
			 "iSCSI mutual CHAP needs both a target user and a target password");
		return -EINVAL;
	}
	if (c->target_user[0] && !c->user[0]) {
		snprintf(err, errlen, "iSCSI mutual CHAP needs the initiator's CHAP user too");
		return -EINVAL;
	}
	return 0;
}
