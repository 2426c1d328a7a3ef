/*
 * config.c - defaults, the configuration file and the flags.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "family/amz.h"

_Static_assert(AMZ_SAMPLE_MAX == 100000, "--help states the bound of --max-samples");

static const char config_help[] =
	"usage: amortd [options]\n"
	"\n"
	"Serves the amortizers in the models directory over HTTP (the /v1 API).\n"
	"Options (also valid as 'key = value' lines in the --config file, without\n"
	"the dashes; flags override the file):\n"
	"  --listen ADDR:PORT       address to listen on (default " CONFIG_DEFAULT_LISTEN ";\n"
	"                           port 0 picks a free port; IPv6 as [ADDR]:PORT)\n"
	"  --state-dir DIR          where the database DIR/amortd.db lives, created\n"
	"                           if missing (default " CONFIG_DEFAULT_STATE_DIR ")\n"
	"  --models DIR             directory of *.amort model files (default\n"
	"                           " CONFIG_DEFAULT_MODELS ")\n"
	"  --config FILE            read settings from FILE first\n"
	"  --threads N              HTTP worker threads, 1..256 (default: CPUs)\n"
	"  --max-body BYTES         largest JSON request body, k/M/G suffixes\n"
	"                           allowed (default 8M); NDJSON streams are not\n"
	"                           limited\n"
	"  --max-rows N             rows in one JSON batch or predict request\n"
	"                           (default 10000)\n"
	"  --max-samples N          samples in one sample request, 1..100000\n"
	"                           (default 10000)\n"
	"  --max-queries N          rows of an implicit session's query set\n"
	"                           (default 10000)\n"
	"  --max-replay N           implicit sessions: the most stored rows x query\n"
	"                           rows (at least a batch) one replay may cost\n"
	"                           (predict, a new query set); more is refused\n"
	"                           (default 1000000)\n"
	"  --loss-replay N          implicit sessions: a step's batch losses are\n"
	"                           computed by replay while rows seen x the\n"
	"                           model's batch is at most N, then skipped\n"
	"                           (default 65536; 0: never)\n"
	"  --max-sessions N         sessions kept in the store (default 100000)\n"
	"  --max-connections N      concurrent connections (default 256)\n"
	"  --timeout SECONDS        idle timeout of a connection (default 60)\n"
	"  --synchronous full|normal  SQLite durability (default full)\n"
	"  --log-level LEVEL        error, warning, info or debug (default info)\n"
	"  --log-requests           one log line per HTTP request\n"
	"  --print-routes           print the routes served (METHOD /path) and exit\n"
	"  -h, --help               this text\n";

const char *config_usage(void)
{
	return config_help;
}

void config_defaults(struct config *c)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof *c);
	snprintf(c->listen, sizeof c->listen, "%s", CONFIG_DEFAULT_LISTEN);
	snprintf(c->state_dir, sizeof c->state_dir, "%s", CONFIG_DEFAULT_STATE_DIR);
	snprintf(c->models, sizeof c->models, "%s", CONFIG_DEFAULT_MODELS);
	c->threads = n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
	c->max_body = CONFIG_DEFAULT_MAX_BODY;
	c->max_rows = CONFIG_DEFAULT_MAX_ROWS;
	c->max_samples = CONFIG_DEFAULT_MAX_SAMPLES;
	c->max_queries = CONFIG_DEFAULT_MAX_QUERIES;
	c->max_replay = CONFIG_DEFAULT_MAX_REPLAY;
	c->loss_replay = CONFIG_DEFAULT_LOSS_REPLAY;
	c->max_sessions = CONFIG_DEFAULT_MAX_SESSIONS;
	c->max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
	c->timeout_s = CONFIG_DEFAULT_TIMEOUT;
	c->synchronous_full = 1;
	c->log_level = LOG_INFO;
	c->log_requests = 0;
}

/* Parses a whole decimal integer in [lo, hi], with a k/M/G suffix when
 * size is set.  Returns 0 or -1. */
static int parse_num(const char *s, int size, long long lo, long long hi,
		     long long *out)
{
	char *end;
	long long v, mul = 1;

	if (!*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (size && *end) {
		switch (*end) {
		case 'k': case 'K': mul = 1LL << 10; break;
		case 'm': case 'M': mul = 1LL << 20; break;
		case 'g': case 'G': mul = 1LL << 30; break;
		default: return -1;
		}
		end++;
		if (*end == 'B' || *end == 'b')
			end++;
	}
	if (*end)
		return -1;
	if (v < 0 || (mul > 1 && v > INT64_MAX / mul))
		return -1;
	v *= mul;
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Copies value into a string setting; -1 if it is empty or too long. */
static int set_str(char *dst, size_t len, const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= len)
		return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

int config_set(struct config *c, const char *key, const char *v, char *err,
	       size_t errlen)
{
	long long n;

	if (!strcmp(key, "listen")) {
		if (set_str(c->listen, sizeof c->listen, v) || !strchr(v, ':'))
			goto bad;
	} else if (!strcmp(key, "state-dir")) {
		if (set_str(c->state_dir, sizeof c->state_dir, v))
			goto bad;
	} else if (!strcmp(key, "models")) {
		if (set_str(c->models, sizeof c->models, v))
			goto bad;
	} else if (!strcmp(key, "threads")) {
		if (parse_num(v, 0, 1, 256, &n))
			goto bad;
		c->threads = (unsigned)n;
	} else if (!strcmp(key, "max-body")) {
		if (parse_num(v, 1, 1024, 1LL << 30, &n))
			goto bad;
		c->max_body = (size_t)n;
	} else if (!strcmp(key, "max-rows")) {
		if (parse_num(v, 0, 1, 10000000, &n))
			goto bad;
		c->max_rows = (int)n;
	} else if (!strcmp(key, "max-samples")) {
		/* one call of amz_sample answers a request */
		if (parse_num(v, 0, 1, AMZ_SAMPLE_MAX, &n))
			goto bad;
		c->max_samples = (int)n;
	} else if (!strcmp(key, "max-queries")) {
		if (parse_num(v, 0, 1, 1000000, &n))
			goto bad;
		c->max_queries = (int)n;
	} else if (!strcmp(key, "max-replay")) {
		if (parse_num(v, 0, 1, 1000000000000LL, &n))
			goto bad;
		c->max_replay = n;
	} else if (!strcmp(key, "loss-replay")) {
		if (parse_num(v, 0, 0, 1000000000000LL, &n))
			goto bad;
		c->loss_replay = n;
	} else if (!strcmp(key, "max-sessions")) {
		if (parse_num(v, 0, 1, 1000000000, &n))
			goto bad;
		c->max_sessions = (long)n;
	} else if (!strcmp(key, "max-connections")) {
		if (parse_num(v, 0, 1, 65536, &n))
			goto bad;
		c->max_connections = (unsigned)n;
	} else if (!strcmp(key, "timeout")) {
		if (parse_num(v, 0, 1, 86400, &n))
			goto bad;
		c->timeout_s = (unsigned)n;
	} else if (!strcmp(key, "synchronous")) {
		if (!strcmp(v, "full"))
			c->synchronous_full = 1;
		else if (!strcmp(v, "normal"))
			c->synchronous_full = 0;
		else
			goto bad;
	} else if (!strcmp(key, "log-level")) {
		if (log_level_parse(v, &c->log_level))
			goto bad;
	} else if (!strcmp(key, "log-requests")) {
		if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
			c->log_requests = 1;
		else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
			c->log_requests = 0;
		else
			goto bad;
	} else {
		snprintf(err, errlen, "unknown setting '%s'", key);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s: bad value '%s' (see --help)", key, v);
	return -1;
}

/* Strips leading and trailing blanks in place; returns the start. */
static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int config_load_file(struct config *c, const char *path, char *err,
		     size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[2048], msg[512];
	int lineno = 0, rc = -1;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char *hash, *eq, *k, *v;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s: line %d is too long", path, lineno);
			goto out;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		k = trim(line);
		if (!*k)
			continue;
		eq = strchr(k, '=');
		if (!eq) {
			snprintf(err, errlen, "%s: line %d: expected 'key = value'", path,
				 lineno);
			goto out;
		}
		*eq = '\0';
		v = trim(eq + 1);
		k = trim(k);
		if (!strcmp(k, "config")) {
			snprintf(err, errlen, "%s: line %d: 'config' cannot be set in a "
				 "configuration file", path, lineno);
			goto out;
		}
		if (config_set(c, k, v, msg, sizeof msg)) {
			snprintf(err, errlen, "%s: line %d: %s", path, lineno, msg);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

/* Whether key names a flag (long name without the dashes). */
static int known_key(const char *key)
{
	static const char *const keys[] = {
		"listen", "state-dir", "models", "config", "threads", "max-body",
		"max-rows", "max-samples", "max-queries", "max-replay", "loss-replay",
		"max-sessions", "max-connections", "timeout", "synchronous",
		"log-level", "log-requests", "print-routes",
	};
	size_t i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (!strcmp(key, keys[i]))
			return 1;
	return 0;
}

/* Splits "--key=value" or "--key value" at argv[*i]; returns 0 with *key
 * (without dashes, copied into kbuf) and *val set, 1 for a flag without a
 * value (--help, --log-requests), -1 on a usage error. */
static int next_flag(int argc, char **argv, int *i, char *kbuf, size_t klen,
		     const char **val, char *err, size_t errlen)
{
	const char *a = argv[*i], *eq;
	size_t n;

	if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
		snprintf(kbuf, klen, "help");
		return 1;
	}
	if (strncmp(a, "--", 2) || !a[2]) {
		snprintf(err, errlen, "unexpected argument '%s'", a);
		return -1;
	}
	a += 2;
	eq = strchr(a, '=');
	n = eq ? (size_t)(eq - a) : strlen(a);
	if (n >= klen) {
		snprintf(err, errlen, "unknown option '%.64s'", argv[*i]);
		return -1;
	}
	memcpy(kbuf, a, n);
	kbuf[n] = '\0';
	if (!known_key(kbuf)) {
		snprintf(err, errlen, "unknown option '--%s'", kbuf);
		return -1;
	}
	if ((!strcmp(kbuf, "log-requests") || !strcmp(kbuf, "print-routes")) && !eq) {
		*val = "true";
		return 0;
	}
	if (eq) {
		*val = eq + 1;
	} else {
		if (*i + 1 >= argc) {
			snprintf(err, errlen, "option '%s' needs a value", argv[*i]);
			return -1;
		}
		*val = argv[++*i];
	}
	return 0;
}

int config_parse(struct config *c, int argc, char **argv, char *err,
		 size_t errlen)
{
	char key[64], msg[512];
	const char *val;
	int i, r;

	config_defaults(c);
	/* first pass: find --config (and --help) so the file is read before
	 * the flags that override it */
	for (i = 1; i < argc; i++) {
		r = next_flag(argc, argv, &i, key, sizeof key, &val, err, errlen);
		if (r < 0)
			return 2;
		if (r == 1)
			return 1;
		if (!strcmp(key, "config")) {
			if (set_str(c->config_file, sizeof c->config_file, val)) {
				snprintf(err, errlen, "bad value for --config");
				return 2;
			}
		}
	}
	if (c->config_file[0] && config_load_file(c, c->config_file, err, errlen))
		return 2;
	for (i = 1; i < argc; i++) {
		const char *flag = argv[i];

		next_flag(argc, argv, &i, key, sizeof key, &val, err, errlen);
		if (!strcmp(key, "config"))
			continue;
		if (!strcmp(key, "print-routes")) {
			if (strcmp(val, "true")) {
				snprintf(err, errlen, "--print-routes takes no value");
				return 2;
			}
			c->print_routes = 1;
			continue;
		}
		if (config_set(c, key, val, msg, sizeof msg)) {
			if (!strncmp(msg, "unknown setting", 15))
				snprintf(err, errlen, "unknown option '%s'", flag);
			else
				snprintf(err, errlen, "--%s", msg);
			return 2;
		}
	}
	return 0;
}
