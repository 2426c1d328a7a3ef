/*
 * cmd_train.c - `amort train RECIPE -o FILE`: meta-trains a refiner from a
 * recipe, with checkpoints and resume.
 *
 * The iteration's shards run on up to --threads threads (default: online
 * CPUs); the recipe fixes the number of shards, so the result is the same
 * whatever the thread count.  A checkpoint is written to FILE.ckpt every
 * --checkpoint-every iterations, when --max-seconds runs out and on
 * SIGINT/SIGTERM; `--resume` continues from it bit-identically.  A
 * progress line goes to stderr every few seconds.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/am.h"
#include "io/amfile.h"
#include "base/gemm.h"
#include "model/model.h"
#include "model/recipe.h"
#include "base/rng.h"
#include "cli/tool.h"
#include "data/images.h"
#include "family/fam_gen.h"
#include "family/fam_linreg.h"
#include "train/train.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct worker {
	struct train *u;
	int first, step, shards;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	int s;

	for (s = w->first; s < w->shards; s += w->step)
		train_shard(w->u, s);
	return NULL;
}

/* Runs every shard of one iteration on nthreads threads (the calling
 * thread is one of them). */
static int run_shards(struct train *u, int shards, int nthreads)
{
	pthread_t th[TRAIN_SHARDS_MAX];
	struct worker w[TRAIN_SHARDS_MAX];
	int i, started = 0;

	for (i = 0; i < nthreads; i++) {
		w[i].u = u;
		w[i].first = i;
		w[i].step = nthreads;
		w[i].shards = shards;
	}
	for (i = 1; i < nthreads; i++) {
		if (pthread_create(&th[i], NULL, worker_run, &w[i]) != 0)
			break;
		started = i;
	}
	/* if a thread could not start, run its shards here */
	for (i = started + 1; i < nthreads; i++)
		worker_run(&w[i]);
	worker_run(&w[0]);
	for (i = 1; i <= started; i++)
		pthread_join(th[i], NULL);
	return 0;
}

/*
 * Checks OpenBLAS's sgemm against the naive reference on odd shapes and
 * every transposition before hours go into training: an OPENBLAS_CORETYPE
 * that does not suit the CPU must fail here, not corrupt a model.
 */
static int blas_selfcheck(void)
{
	enum { M = 37, N = 41, K = 29 };
	static float A[M * K], B[K * N], C1[M * N], C2[M * N];
	struct rng r;
	int t, i;

	rng_seed(&r, 7);
	rng_fill_normal(&r, A, M * K, 0.0f, 1.0f);
	rng_fill_normal(&r, B, K * N, 0.0f, 1.0f);
	for (t = 0; t < 4; t++) {
		int ta = t & 1, tb = t >> 1;

		gemm(ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C1, N);
		gemm_ref(ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C2, N);
		for (i = 0; i < M * N; i++)
			if (!(fabsf(C1[i] - C2[i]) <= 1e-4f * (1.0f + fabsf(C2[i]))))
				return -1;
	}
	return 0;
}

/* The PCA of an image model being trained (NULL otherwise). */
static const struct pca *train_pca;

static char *header_text(const struct recipe *r, long iters_done,
			 double seconds, double loss)
{
	json_t *extra = json_pack("{s:I, s:f, s:f, s:s}",
				  "iterations", (json_int_t)iters_done,
				  "seconds", seconds, "final_loss", loss,
				  "openblas_core", gemm_backend());
	json_t *h = recipe_header_json(r, train_pca, extra);
	char *text = h ? json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(extra);
	json_decref(h);
	return text;
}

static int save_checkpoint(struct train *u, const struct recipe *r,
			   const char *ckpt, double seconds, double loss)
{
	char err[256], *text = header_text(r, train_iteration(u), seconds, loss);
	int rc;

	if (!text) {
		fprintf(stderr, "amort train: out of memory\n");
		return 1;
	}
	rc = train_save_checkpoint(u, ckpt, text, err, sizeof err);
	free(text);
	if (rc != AM_OK) {
		fprintf(stderr, "amort train: checkpoint %s: %s\n", ckpt, err);
		return 1;
	}
	return 0;
}

static void fmt_eta(char *buf, size_t len, double s)
{
	if (!isfinite(s) || s < 0)
		snprintf(buf, len, "?");
	else if (s >= 3600)
		snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
	else
		snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

/*
 * Writes the model file: the trained parameters and, for an image model,
 * its PCA as one more tensor "pca" after them (the loader registers the
 * same views in the same order, so the offsets agree).
 */
static int write_model(const char *out, const char *text, const struct layout *lay,
		       const float *p, char *err, size_t errlen)
{
	struct layout l;
	float *buf;
	size_t pv;
	int i, rc;

	if (!train_pca)
		return amfile_write(out, text, lay, p, err, errlen);
	layout_init(&l);
	for (i = 0; i < lay->n; i++)
		if (layout_add(&l, lay->views[i].name, lay->views[i].ndim,
			       lay->views[i].shape) != lay->views[i].offset)
			goto oom;
	pv = layout_add1(&l, "pca", (int)pca_floats(train_pca->npix, train_pca->k));
	if (pv == (size_t)-1)
		goto oom;
	buf = calloc(l.total, sizeof *buf);
	if (!buf)
		goto oom;
	memcpy(buf, p, lay->total * sizeof *buf);
	pca_pack(train_pca, buf + pv);
	rc = amfile_write(out, text, &l, buf, err, errlen);
	free(buf);
	layout_free(&l);
	return rc;
oom:
	layout_free(&l);
	snprintf(err, errlen, "out of memory");
	return AM_ENOMEM;
}

/* The command line. */
struct train_opts {
	const char *recipe, *out;
	long threads, every, max_seconds;
	int resume, check;
};

/* Parses argv into o; 0, or 2 after printing what was wrong. */
static int parse_opts(int argc, char **argv, struct train_opts *o)
{
	int i;

	memset(o, 0, sizeof *o);
	o->threads = sysconf(_SC_NPROCESSORS_ONLN);
	o->every = 250;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			o->out = argv[++i];
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			if (tool_parse_long("--threads", argv[++i], 1, 64, &o->threads))
				return 2;
		} else if (!strcmp(argv[i], "--checkpoint-every") && i + 1 < argc) {
			if (tool_parse_long("--checkpoint-every", argv[++i], 1, 1000000000L,
					    &o->every))
				return 2;
		} else if (!strcmp(argv[i], "--max-seconds") && i + 1 < argc) {
			if (tool_parse_long("--max-seconds", argv[++i], 1, 1000000000L,
					    &o->max_seconds))
				return 2;
		} else if (!strcmp(argv[i], "--resume")) {
			o->resume = 1;
		} else if (!strcmp(argv[i], "--check")) {
			o->check = 1;
		} else if (argv[i][0] != '-' && !o->recipe) {
			o->recipe = argv[i];
		} else {
			o->recipe = NULL;
			break;
		}
	}
	if (!o->recipe || (!o->out && !o->check)) {
		fprintf(stderr, "usage: amort train RECIPE -o FILE [--threads N] "
			"[--resume] [--checkpoint-every N] [--max-seconds S]\n"
			"       amort train RECIPE --check\n");
		return 2;
	}
	return 0;
}

/* `--check`: the recipe and the configuration it makes, checked as for a
 * training, without its data or a trainer. */
static int check_recipe(const char *path)
{
	struct recipe r;
	struct family_train t;
	char err[512];

	if (recipe_load(&r, path, err, sizeof err)) {
		fprintf(stderr, "amort train: %s\n", err);
		return 1;
	}
	recipe_schedule(&r, &t);
	printf("%s: %s, %ld iterations, seed %lu\n", path, r.name, t.iters,
	       (unsigned long)t.seed);
	return 0;
}

/* The data a recipe's tasks borrow: fonts for letters, images (and their
 * PCA, train_pca) for image tasks. */
struct train_data {
	struct hershey_set fonts;
	struct images img;
	int have_img;
};

/* Loads what r's tasks need into d and points r at it; 0 or 1 after
 * printing the error.  train_data_free undoes it either way. */
static int train_data_load(struct recipe *r, struct train_data *d)
{
	char err[512];

	if (r->gen && r->gcfg.tasks.src == SOURCE_LETTERS) {
		if (hershey_load(HERSHEY_DIR, &d->fonts, err, sizeof err) != AM_OK) {
			fprintf(stderr, "amort train: %s (install hershey-fonts-data)\n",
				err);
			return 1;
		}
		r->gcfg.tasks.fonts = &d->fonts;
	}
	if (r->gen && r->gcfg.tasks.src == SOURCE_IMAGES) {
		fprintf(stderr, "amort train: loading %s and fitting its PCA\n", r->dataset);
		if (images_open_k(&d->img, r->dataset, NULL, r->gcfg.tasks.cfam.kmin,
				   r->gcfg.tasks.cfam.kmax, r->features, err, sizeof err)) {
			fprintf(stderr, "amort train: %s\n", err);
			return 1;
		}
		d->have_img = 1;
		r->gcfg.tasks.img = &d->img.train;
		if (r->disjoint) {
			r->gcfg.tasks.img = &d->img.train_even;
			r->gcfg.tasks.qimg = &d->img.train_odd;
		}
		train_pca = &d->img.pca;
		fprintf(stderr, "amort train: %d training images, PCA keeps %.1f%% of "
			"the pixel variance in %d features\n", d->img.set.ntrain,
			100.0 * pca_variance_kept(&d->img.pca), d->img.pca.k);
	}
	return 0;
}

static void train_data_free(struct train_data *d)
{
	hershey_free(&d->fonts);
	if (d->have_img)
		images_close(&d->img);
	train_pca = NULL;
}

/* Prints a progress line every few seconds and at the end. */
static void progress(const struct train *u, long iters, long it0, double ema,
		     double elapsed, double tn, double *last)
{
	char eta[32];

	if (tn - *last >= 5.0 || train_iteration(u) == iters) {
		double rate = (train_iteration(u) - it0) / elapsed;

		fmt_eta(eta, sizeof eta, (iters - train_iteration(u)) / rate);
		fprintf(stderr, "iter %ld/%ld  loss %.4f  %.2f it/s  ETA %s\n",
			train_iteration(u), iters, ema, rate, eta);
		*last = tn;
	}
}

/*
 * Trains u up to iters iterations with checkpoints, then writes the model
 * file o->out.  Returns the command's exit status: 0, 1 on an error, 3
 * when stopped (by a signal or --max-seconds) with a checkpoint.
 */
static int train_run(struct train *u, const struct recipe *r,
		     const struct train_opts *o, const char *ckpt, long iters,
		     int shards)
{
	char err[512], *text;
	double t0, last = 0, ema = NAN, loss = NAN, elapsed = 0;
	long it0;
	int rc;

	t0 = now();
	it0 = train_iteration(u);
	while (train_iteration(u) < iters) {
		double tn;

		run_shards(u, shards, (int)o->threads);
		if (train_apply(u, &loss) != AM_OK) {
			fprintf(stderr, "amort train: loss or state became non-finite at "
				"iteration %ld; lower lr or clip in the recipe\n",
				train_iteration(u));
			return 1;
		}
		ema = isnan(ema) ? loss : 0.98 * ema + 0.02 * loss;
		tn = now();
		elapsed = tn - t0;
		progress(u, iters, it0, ema, elapsed, tn, &last);
		if (train_iteration(u) % o->every == 0 && train_iteration(u) < iters &&
		    save_checkpoint(u, r, ckpt, elapsed, ema))
			return 1;
		if (stop_requested || (o->max_seconds && elapsed >= o->max_seconds)) {
			if (save_checkpoint(u, r, ckpt, elapsed, ema))
				return 1;
			fprintf(stderr, "amort train: stopped at iteration %ld; "
				"checkpoint %s (continue with --resume)\n",
				train_iteration(u), ckpt);
			return 3;
		}
	}
	text = header_text(r, train_iteration(u), elapsed, ema);
	if (!text) {
		fprintf(stderr, "amort train: out of memory\n");
		return 1;
	}
	rc = write_model(o->out, text, train_layout(u), train_params(u), err,
			 sizeof err);
	free(text);
	if (rc != AM_OK) {
		fprintf(stderr, "amort train: %s: %s\n", o->out, err);
		return 1;
	}
	unlink(ckpt);
	fprintf(stderr, "amort train: wrote %s\n", o->out);
	return 0;
}

int tool_train(int argc, char **argv)
{
	struct train_opts o;
	struct recipe r;
	struct family_train sched;
	struct train *u = NULL;
	struct train_data d;
	long iters;
	int shards, rc;
	char err[512], ckpt[4096];
	struct sigaction sa;

	rc = parse_opts(argc, argv, &o);
	if (rc || o.check)
		return rc ? rc : check_recipe(o.recipe);
	if (snprintf(ckpt, sizeof ckpt, "%s.ckpt", o.out) >= (int)sizeof ckpt) {
		fprintf(stderr, "amort train: output path too long\n");
		return 2;
	}
	if (recipe_load(&r, o.recipe, err, sizeof err)) {
		fprintf(stderr, "amort train: %s\n", err);
		return 1;
	}
	/* parallelism comes from the shards; OpenBLAS stays on one thread */
	gemm_set_threads(1);
	if (blas_selfcheck()) {
		fprintf(stderr, "amort train: OpenBLAS kernel %s computes wrong products "
			"on this CPU; unset OPENBLAS_CORETYPE\n", gemm_backend());
		return 1;
	}
	recipe_schedule(&r, &sched);
	shards = sched.shards;
	iters = sched.iters;
	if (o.threads > shards)
		o.threads = shards;
	memset(&d, 0, sizeof d);
	rc = 1;
	if (train_data_load(&r, &d))
		goto out;
	u = train_new(r.ops, recipe_config(&r), err, sizeof err);
	if (!u) {
		fprintf(stderr, "amort train: %s\n", err);
		goto out;
	}
	if (o.resume && access(ckpt, F_OK) == 0) {
		if (train_load_checkpoint(u, ckpt, err, sizeof err) != AM_OK) {
			fprintf(stderr, "amort train: cannot resume from %s: %s\n", ckpt, err);
			goto out;
		}
		fprintf(stderr, "amort train: resumed from %s at iteration %ld\n",
			ckpt, train_iteration(u));
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	fprintf(stderr, "amort train: %s: %zu parameters, population %d, %ld "
		"iterations, %ld thread(s), OpenBLAS %s\n", r.name,
		train_layout(u)->total, sched.pop, iters,
		o.threads, gemm_backend());
	rc = train_run(u, &r, &o, ckpt, iters, shards);
out:
	train_free(u);
	train_data_free(&d);
	return rc;
}
