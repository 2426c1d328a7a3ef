/*
 * am.h - what every part of libamort shares: status codes, the always-on
 * assertion, and the optional log hook.
 *
 * Owns nothing.  Never prints, never exits except through AM_ASSERT, which
 * guards broken invariants (programming errors), never bad input: anything
 * caused by input, data, disk or memory is returned as an am_status.
 */
#ifndef AM_H
#define AM_H

#include <stddef.h>

/* Status codes returned by libamort functions.  AM_OK is zero. */
enum am_status {
	AM_OK = 0,
	AM_ENOMEM,	/* an allocation failed */
	AM_EINVAL,	/* an argument is out of its documented range */
	AM_EIO,		/* reading or writing a file failed */
	AM_EFORMAT,	/* a file or blob is malformed, truncated or corrupt */
	AM_EVERSION,	/* a file has a format version we do not read */
	AM_ELIMIT,	/* a size exceeds a configured or hard limit */
	AM_ENUMERIC,	/* a value that must be finite is NaN or Inf */
};

/* Returns a static, human-readable name for a status code. */
const char *am_strerror(int status);

/* Writes a printf-style message into err (when err and errlen are
 * non-zero) and returns status, so a failure path reads
 * "return am_fail(err, errlen, AM_EFORMAT, ...)".  Thread-safe. */
int am_fail(char *err, size_t errlen, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The end of a configuration check: AM_OK when bad is NULL, else bad (a
 * message, borrowed) copied into err (when there is room) and AM_EINVAL. */
int am_check(const char *bad, char *err, size_t errlen);

/* Called when an invariant is broken: reports file:line and aborts. */
void am_assert_fail(const char *expr, const char *file, int line)
	__attribute__((noreturn));

/* Always on, whatever NDEBUG says: a broken invariant must never run on. */
#define AM_ASSERT(e) \
	((e) ? (void)0 : am_assert_fail(#e, __FILE__, __LINE__))

/*
 * The log hook.  libamort never writes to stdout or stderr itself; a tool or
 * the server may install a hook to receive messages (level 0 = error,
 * 1 = warning, 2 = info).  The default hook discards everything, except that
 * am_assert_fail writes its message to stderr before aborting.  Not
 * thread-safe to change while other threads log; set it once at start-up.
 */
typedef void (*am_log_fn)(int level, const char *msg, void *ud);
void am_set_log(am_log_fn fn, void *ud);
void am_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
