/*
 * am.c - status names, the assertion failure path and the log hook.
 */
#include "base/am.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static am_log_fn log_fn;
static void *log_ud;

const char *am_strerror(int status)
{
	switch (status) {
	case AM_OK: return "ok";
	case AM_ENOMEM: return "out of memory";
	case AM_EINVAL: return "invalid argument";
	case AM_EIO: return "input/output error";
	case AM_EFORMAT: return "malformed or corrupt data";
	case AM_EVERSION: return "unsupported format version";
	case AM_ELIMIT: return "size limit exceeded";
	case AM_ENUMERIC: return "non-finite value";
	default: return "unknown status";
	}
}

int am_fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

int am_check(const char *bad, char *err, size_t errlen)
{
	if (!bad)
		return AM_OK;
	if (err && errlen) {
		strncpy(err, bad, errlen - 1);
		err[errlen - 1] = '\0';
	}
	return AM_EINVAL;
}

void am_assert_fail(const char *expr, const char *file, int line)
{
	/* The one place libamort writes to stderr: it is about to abort. */
	fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
	abort();
}

void am_set_log(am_log_fn fn, void *ud)
{
	log_fn = fn;
	log_ud = ud;
}

void am_log(int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	log_fn(level, buf, log_ud);
}
