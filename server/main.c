/*
 * main.c - amortd: configuration -> log -> store -> registry -> API ->
 * HTTP, then wait for SIGTERM or SIGINT and tear down in reverse: stop
 * accepting, let requests in flight finish, close the database, exit 0.
 *
 * Exit status: 0 after a clean shutdown, 1 when start-up fails, 2 on a
 * usage error (bad flag or configuration file).
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/am.h"
#include "api.h"
#include "config.h"
#include "base/gemm.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "registry.h"
#include "store.h"

/* Creates dir (one level) if it does not exist.  Returns 0 or -1. */
static int ensure_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0750) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (errno == EEXIST)
		errno = ENOTDIR;
	return -1;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct store *st = NULL;
	struct registry *reg = NULL;
	struct api *api = NULL;
	struct http_server *srv = NULL;
	struct http_config hc;
	struct http_app app;
	sigset_t sigs;
	char err[1024], db[CONFIG_STR_LEN + 16];
	unsigned port = 0;
	int rc, sig = 0;

	rc = config_parse(&cfg, argc, argv, err, sizeof err);
	if (rc == 1) {
		fputs(config_usage(), stdout);
		return 0;
	}
	if (rc) {
		fprintf(stderr, "amortd: %s\n", err);
		fputs("usage: amortd [options]  (amortd --help lists them)\n", stderr);
		return 2;
	}
	if (cfg.print_routes) {
		api_print_routes(stdout);
		return fflush(stdout) ? 1 : 0;
	}
	log_init(cfg.log_level, cfg.log_requests);
	am_set_log(log_am_hook, NULL);

	/* signals are taken by sigwait below: block them before any thread
	 * starts so every thread inherits the mask; a client that goes away
	 * must not kill the daemon through SIGPIPE */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* one OpenBLAS thread per request: the HTTP pool is the parallelism */
	gemm_set_threads(1);
	json_object_seed(0);

	rc = 1;
	if (ensure_dir(cfg.state_dir)) {
		log_msg(LOG_ERROR, "state directory %s: %s", cfg.state_dir, strerror(errno));
		goto out;
	}
	snprintf(db, sizeof db, "%s/amortd.db", cfg.state_dir);
	if (store_open(&st, db, cfg.synchronous_full, err, sizeof err) != STORE_OK) {
		log_msg(LOG_ERROR, "database %s: %s", db, err);
		st = NULL;
		goto out;
	}
	if (registry_open(&reg, cfg.models, err, sizeof err)) {
		log_msg(LOG_ERROR, "%s", err);
		goto out;
	}
	if (api_new(&api, &cfg, st, reg, err, sizeof err)) {
		log_msg(LOG_ERROR, "%s", err);
		goto out;
	}
	api_http_app(api, &app);
	memset(&hc, 0, sizeof hc);
	hc.listen = cfg.listen;
	hc.threads = cfg.threads;
	hc.max_connections = cfg.max_connections;
	hc.timeout_s = cfg.timeout_s;
	hc.max_body = cfg.max_body;
	if (http_start(&srv, &hc, &app, &port, err, sizeof err)) {
		log_msg(LOG_ERROR, "%s", err);
		goto out;
	}
	{
		/* the address as given, with the port actually bound */
		char host[256];
		const char *colon = strrchr(cfg.listen, ':');
		size_t hl = colon ? (size_t)(colon - cfg.listen) : 0;

		if (hl >= sizeof host)
			hl = sizeof host - 1;
		memcpy(host, cfg.listen, hl);
		host[hl] = '\0';
		log_msg(LOG_INFO, "listening on %s:%u (%u threads, %d model%s, state %s)",
			host, port, cfg.threads, registry_count(reg),
			registry_count(reg) == 1 ? "" : "s", db);
	}
	if (notify_send("READY=1") < 0)
		log_msg(LOG_WARN, "sd_notify READY=1: %s", strerror(errno));

	while (sigwait(&sigs, &sig) == EINTR)
		;
	log_msg(LOG_INFO, "%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	notify_send("STOPPING=1");
	rc = 0;
out:
	http_stop(srv);
	api_free(api);
	registry_close(reg);
	store_close(st);
	if (rc == 0)
		log_msg(LOG_INFO, "stopped");
	return rc;
}
