/*
 * config.h - the daemon's settings: defaults, a configuration file and
 * command-line flags.
 *
 * The file holds "key = value" lines whose keys are the long flags without
 * the dashes ("max-body = 8M"); '#' starts a comment, blank lines are
 * ignored.  Flags override the file, whatever their order.  Sizes take an
 * optional k, M or G suffix (powers of 1024).  Every value is range-checked;
 * a bad one is refused with a message naming the flag (or file and line).
 *
 * Owns nothing: a struct config is plain data.  Never prints except through
 * config_usage; never exits.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

#include "log.h"

#define CONFIG_STR_LEN 1024

struct config {
	char listen[256];		/* ADDR:PORT */
	char state_dir[CONFIG_STR_LEN];	/* holds amortd.db */
	char models[CONFIG_STR_LEN];	/* *.amort files */
	char config_file[CONFIG_STR_LEN];	/* "" when none */
	unsigned threads;		/* HTTP worker threads */
	size_t max_body;		/* bytes of a buffered request body */
	int max_rows;			/* rows in one JSON batch or predict */
	int max_samples;		/* samples in one sample request */
	int max_queries;		/* rows of an implicit session's query set */
	long long max_replay;		/* implicit: stored rows x query rows (at
					 * least a batch of them) one replay may
					 * cost (predict, a query set) */
	long long loss_replay;		/* implicit: the same bound on the replay
					 * of a step's batch losses (0: never) */
	long max_sessions;		/* sessions in the store */
	unsigned max_connections;
	unsigned timeout_s;		/* per-connection idle timeout */
	int synchronous_full;		/* SQLite synchronous=FULL (1) or NORMAL */
	enum log_level log_level;
	int log_requests;		/* one log line per request */
	int print_routes;		/* --print-routes: list and exit */
};

/* Defaults for every setting. */
#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8080"
#define CONFIG_DEFAULT_STATE_DIR "./var"
#define CONFIG_DEFAULT_MODELS "deploy/models"
#define CONFIG_DEFAULT_MAX_BODY ((size_t)8 << 20)
#define CONFIG_DEFAULT_MAX_ROWS 10000
#define CONFIG_DEFAULT_MAX_SAMPLES 10000
#define CONFIG_DEFAULT_MAX_QUERIES 10000
#define CONFIG_DEFAULT_MAX_REPLAY 1000000LL
#define CONFIG_DEFAULT_LOSS_REPLAY 65536LL
#define CONFIG_DEFAULT_MAX_SESSIONS 100000L
#define CONFIG_DEFAULT_MAX_CONNECTIONS 256u
#define CONFIG_DEFAULT_TIMEOUT 60u

/* Fills c with the defaults (threads: the number of online CPUs, 1 to 64). */
void config_defaults(struct config *c);

/*
 * Fills c from the defaults, the file named by --config (if any) and the
 * flags in argv[1..argc).  Returns 0 on success (with print_routes set
 * when --print-routes was given); 1 if --help was given (the caller prints
 * config_usage and exits 0); 2 on a bad flag,
 * value or file, with a message in err.  c is written in every case but is
 * only meaningful on 0.  Not thread-safe (uses no globals, but c must not
 * be shared while it is filled).
 */
int config_parse(struct config *c, int argc, char **argv, char *err,
		 size_t errlen);

/* The --help text (borrowed, static). */
const char *config_usage(void);

/*
 * Sets one setting by its long-flag name (without dashes) from a string.
 * Returns 0, or -1 with a message in err (unknown key or bad value).
 * "config" is not a key here.
 */
int config_set(struct config *c, const char *key, const char *value,
	       char *err, size_t errlen);

/* Reads a configuration file into c (see above).  Returns 0, or -1 with a
 * message in err naming the file and line. */
int config_load_file(struct config *c, const char *path, char *err,
		     size_t errlen);

#endif
