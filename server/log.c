/*
 * log.c - one line per event on stderr.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_max = LOG_INFO;
static int log_req;
static int log_journal;

void log_init(enum log_level level, int requests)
{
	const char *j = getenv("JOURNAL_STREAM");

	log_max = level;
	log_req = requests;
	log_journal = j && *j;
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	int i;

	for (i = 0; i < 4; i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int log_requests(void)
{
	return log_req;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	/* syslog priorities: err 3, warning 4, info 6, debug 7 */
	static const int prio[] = { 3, 4, 6, 7 };
	static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
	char line[1200];
	size_t n = 0;
	va_list ap;
	int k;

	if (level > log_max)
		return;
	if (log_journal) {
		k = snprintf(line, sizeof line, "<%d>", prio[level]);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		k = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	}
	n = k > 0 ? (size_t)k : 0;
	k = snprintf(line + n, sizeof line - n, "amortd: %s", tag[level]);
	n += k > 0 ? (size_t)k : 0;
	va_start(ap, fmt);
	k = vsnprintf(line + n, 1024 + 1, fmt, ap);
	va_end(ap);
	if (k > 0)
		n += (size_t)k > 1024 ? 1024 : (size_t)k;
	while (n > 0 && line[n - 1] == '\n')
		n--;
	line[n++] = '\n';
	/* one write: lines of different threads never interleave; a failed
	 * write of a log line has nowhere to be reported */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void log_am_hook(int level, const char *msg, void *ud)
{
	(void)ud;
	log_msg(level <= 0 ? LOG_ERROR : level == 1 ? LOG_WARN : LOG_INFO, "%s", msg);
}
