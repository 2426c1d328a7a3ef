/*
 * log.h - the daemon's log: one line per event on stderr, with a level.
 *
 * Lines look like "amortd: listening on 127.0.0.1:8080" (info),
 * "amortd: warning: ..." and "amortd: error: ...".  When stderr goes to the
 * journal ($JOURNAL_STREAM is set, as systemd does for services) each line
 * starts with the syslog priority "<N>" so journald files it at the right
 * level and adds its own timestamp; otherwise each line starts with an
 * RFC 3339 UTC timestamp.  Every line is written with one write(2), so
 * lines from different threads never interleave.
 *
 * Owns no resources besides its settings.  Never exits, never aborts.
 */
#ifndef LOG_H
#define LOG_H

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/*
 * Sets the most verbose level that is written (default LOG_INFO) and
 * whether one line per HTTP request is written (default off).  Call once
 * at start-up, before other threads exist: not thread-safe.
 */
void log_init(enum log_level level, int requests);

/* Parses "error", "warning", "info" or "debug".  Returns 0, or -1 if s is
 * none of them (*out untouched). */
int log_level_parse(const char *s, enum log_level *out);

/* Whether per-request lines are on.  Thread-safe. */
int log_requests(void);

/*
 * Writes one line at level if the level is enabled; the message is cut to
 * 1 KiB and a trailing newline in fmt is not needed.  Thread-safe.
 */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The hook for libamort's am_set_log (level 0 error, 1 warning, 2 info):
 * forwards to log_msg.  ud is unused.  Thread-safe. */
void log_am_hook(int level, const char *msg, void *ud);

#endif
