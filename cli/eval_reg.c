/*
 * eval_reg.c - `amort eval` on regression models by a learned predictor
 * (kind reg: explicit or implicit regime), alone or side by side with
 * each other and with the parametric refiner (linreg models): held-out
 * MSE per step count against the Bayes-optimal ridge posterior, tuned
 * single-pass SGD and Adam and (one model) the one-step amortizer, in and
 * out of distribution, as Markdown tables (and CSV), with the amortizer's
 * steps (report.c): a column for one model, a table under several.
 *
 * The blocks are those of the linreg evaluation (cmd_eval.c): D = --dim
 * and noise sd --noise (default 8 and 0.5) with x ~ N(0, I); unless
 * --no-ood, heavy-tailed x (Student t, 3 dof), shifted x (|mean| = 1),
 * and noise sd 2.0 and 0.02.  Every model sees the same tasks and rows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "base/gemm.h"
#include "model/model.h"
#include "eval/regeval.h"
#include "cli/tool.h"

#define RBLOCKS 5

struct rblock {
	char title[128];
	struct gen_tasks stream;
	struct eval_row rows[TOOL_MODELS_MAX][REGEVAL_KS_MAX];
};

static const int rks[] = { 1, 2, 4, 8, 16, 32 };

/* "explicit", "implicit (state mean)", "parametric, obs variant". */
static void regime_name(const struct model *m, char *s, size_t n)
{
	if (!m->gen)
		snprintf(s, n, "parametric, %s", model_variant_name(m->cfg.variant));
	else if (m->gcfg.implicit_)
		snprintf(s, n, "implicit, state %s",
			 m->gcfg.qstate == GEN_Q_LATENT ? "latent" : "mean");
	else
		snprintf(s, n, "explicit, %s", m->gcfg.variant == GEN_OBS ? "obs" :
			 m->gcfg.variant == GEN_GRAD ? "grad" : "both");
}

static int run_model(const struct model *m, const struct rblock *b,
		     const struct regeval_config *c, struct eval_row *rows)
{
	if (!m->gen)
		return regeval_run_refiner(&m->ref, m->p, &b->stream, c, rows);
	return regeval_run(m->impl, m->p, &b->stream, c, rows);
}

/* The step of row e, for report.c. */
static struct tool_step reg_step(const struct eval_row *e)
{
	return (struct tool_step){ e->k, !!(e->has & EVAL_HAS_CHANGE), e->change, e->change_se };
}

static void print_one(const struct rblock *b, int nk, int B)
{
	int j;

	printf("### %s\n\n", b->title);
	printf("Held-out MSE (exact over the target noise), mean over tasks; k "
	       "steps of %d rows. Ratios are to the Bayes-optimal ridge posterior "
	       "mean on the same rows. Step: %s\n\n", B, tool_step_words);
	printf("| k | rows | amortizer | step (SE) | Bayes (ridge) | SGD (lr) | "
	       "Adam (lr) | one-step | amortizer/Bayes | SGD/Bayes | Adam/Bayes | "
	       "one-step/Bayes |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (j = 0; j < nk; j++) {
		const struct eval_row *e = &b->rows[0][j];
		struct tool_step st = reg_step(e);
		char os[32] = "-", osr[32] = "-", ch[64];

		if ((e->has & EVAL_HAS_ONESTEP)) {
			snprintf(os, sizeof os, "%.4f", e->onestep);
			snprintf(osr, sizeof osr, "%.3f", e->onestep / e->base[EVAL_RIDGE]);
		}
		printf("| %d | %d | %.4f | %s | %.4f | %.4f (%.3g) | %.4f (%.3g) | "
		       "%s | **%.3f** | %.3f | %.3f | %s |\n", e->k, e->k * B,
		       e->amort, tool_step_cell(&st, 1, ch, sizeof ch), e->base[EVAL_RIDGE],
		       e->base[EVAL_SGD], (double)e->base_hyper[EVAL_SGD], e->base[EVAL_ADAM], (double)e->base_hyper[EVAL_ADAM], os,
		       e->amort / e->base[EVAL_RIDGE], e->base[EVAL_SGD] / e->base[EVAL_RIDGE], e->base[EVAL_ADAM] / e->base[EVAL_RIDGE],
		       osr);
	}
	printf("\nNoise floor (mean noise variance): %.4f\n\n", b->rows[0][0].floor);
}

static void print_many(const struct rblock *b, const struct model *ms, int nm,
		       int nk, int B)
{
	struct tool_step st[TOOL_MODELS_MAX * REGEVAL_KS_MAX];
	const char *names[TOOL_MODELS_MAX];
	char rg[64];
	int i, j;

	printf("### %s\n\n", b->title);
	printf("Held-out MSE (exact over the target noise) after k mini-batches "
	       "of %d rows, mean over the same tasks for every model; in brackets "
	       "the ratio to the Bayes-optimal ridge posterior mean on the same "
	       "rows.\n\n| k | rows |", B);
	for (i = 0; i < nm; i++) {
		regime_name(&ms[i], rg, sizeof rg);
		printf(" %s (%s) |", ms[i].name, rg);
	}
	printf(" Bayes (ridge) | SGD | Adam |\n|---|---|");
	for (i = 0; i < nm + 3; i++)
		printf("---|");
	printf("\n");
	for (j = 0; j < nk; j++) {
		const struct eval_row *e = &b->rows[0][j];

		printf("| %d | %d |", e->k, e->k * B);
		for (i = 0; i < nm; i++)
			printf(" %.4f (%.3f) |", b->rows[i][j].amort,
			       b->rows[i][j].amort / e->base[EVAL_RIDGE]);
		printf(" %.4f | %.4f (%.3f) | %.4f (%.3f) |\n", e->base[EVAL_RIDGE], e->base[EVAL_SGD],
		       e->base[EVAL_SGD] / e->base[EVAL_RIDGE], e->base[EVAL_ADAM], e->base[EVAL_ADAM] / e->base[EVAL_RIDGE]);
	}
	printf("\nNoise floor (mean noise variance): %.4f\n\n", b->rows[0][0].floor);
	for (i = 0; i < nm; i++) {
		names[i] = ms[i].name;
		for (j = 0; j < nk; j++)
			st[i * nk + j] = reg_step(&b->rows[i][j]);
	}
	tool_step_table(names, nm, st, nk, 1);
}

static void csv_rows(FILE *f, const char *model, const struct rblock *b,
		     const struct eval_row *rows, int nk, int B)
{
	int j;

	for (j = 0; j < nk; j++) {
		const struct eval_row *e = &rows[j];
		struct tool_step st = reg_step(e);

		fprintf(f, "%s,\"%s\",%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,",
			model, b->title, e->k, B, e->amort, e->base[EVAL_RIDGE], e->base[EVAL_SGD],
			(double)e->base_hyper[EVAL_SGD], e->base[EVAL_ADAM], (double)e->base_hyper[EVAL_ADAM],
			(e->has & EVAL_HAS_ONESTEP) ? e->onestep : NAN, e->floor);
		tool_step_csv(f, &st, 1);
		fprintf(f, "\n");
	}
}

static void block(struct rblock *b, const char *title, int dim, float noise)
{
	memset(b, 0, sizeof *b);
	snprintf(b->title, sizeof b->title, "%s", title);
	b->stream.src = GEN_SRC_LINREG;
	linreg_family_default(&b->stream.rfam);
	b->stream.rfam.dmin = b->stream.rfam.dmax = dim;
	b->stream.rfam.smin = b->stream.rfam.smax = noise;
}

int tool_regeval(struct model *ms, int nm, int argc, char **argv)
{
	const char *csv = NULL;
	long tasks = 100, tune = 128, seed = 12345, dim = 8, batch = 0, ntest = 500;
	double noise = 0.5;
	const struct linreg_family *tf;
	struct rblock *blocks = NULL;
	struct regeval_config c;
	char t[128], rg[64];
	int ood = 1, i, j, nb = 0, rc = 1;
	long bmax = REFINER_BMAX;
	FILE *cf = NULL;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tasks") && i + 1 < argc) {
			if (tool_parse_long("--tasks", argv[++i], 1, 100000, &tasks))
				return 2;
		} else if (!strcmp(argv[i], "--tune-tasks") && i + 1 < argc) {
			if (tool_parse_long("--tune-tasks", argv[++i], 1, 10000, &tune))
				return 2;
		} else if (!strcmp(argv[i], "--test-rows") && i + 1 < argc) {
			if (tool_parse_long("--test-rows", argv[++i], 1, 100000, &ntest))
				return 2;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (tool_parse_long("--seed", argv[++i], 0, 1L << 40, &seed))
				return 2;
		} else if (!strcmp(argv[i], "--dim") && i + 1 < argc) {
			if (tool_parse_long("--dim", argv[++i], 1, LINREG_DMAX, &dim))
				return 2;
		} else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
			if (tool_parse_long("--batch", argv[++i], 1, REFINER_BMAX, &batch))
				return 2;
		} else if (!strcmp(argv[i], "--noise") && i + 1 < argc) {
			char *end;

			noise = strtod(argv[++i], &end);
			if (*end || !(noise > 0 && noise <= 100)) {
				fprintf(stderr, "amort: --noise wants a number in (0, 100]\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
			csv = argv[++i];
		} else if (!strcmp(argv[i], "--no-ood")) {
			ood = 0;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: amort eval REG.amort... [--tasks N] "
				"[--tune-tasks N] [--test-rows N] [--seed S] [--dim D] "
				"[--noise SD] [--batch B] [--no-ood] [--csv F]\n");
			return 2;
		}
	}
	for (i = 0; i < nm; i++) {
		if (ms[i].gen && ms[i].gcfg.kind != GEN_REG) {
			fprintf(stderr, "amort eval: %s: side by side with regression "
				"models takes regression models only (linreg or reg)\n",
				ms[i].name);
			return 1;
		}
		if (ms[i].gen && ms[i].gcfg.bmax < bmax)
			bmax = ms[i].gcfg.bmax;
		else if (!ms[i].gen && ms[i].cfg.bmax * 16L < bmax)
			bmax = ms[i].cfg.bmax * 16L;
	}
	if (!batch)
		batch = bmax < 32 ? bmax : 32;
	if (batch > bmax) {
		fprintf(stderr, "amort eval: --batch %ld: a step of these models takes "
			"at most %ld rows\n", batch, bmax);
		return 2;
	}
	blocks = calloc(RBLOCKS, sizeof *blocks);
	if (!blocks) {
		fprintf(stderr, "amort eval: out of memory\n");
		return 1;
	}
	gemm_set_threads(1);
	memset(&c, 0, sizeof c);
	c.ntasks = (int)tasks;
	c.tune_tasks = (int)tune;
	c.B = (int)batch;
	c.nk = (int)(sizeof rks / sizeof rks[0]);
	memcpy(c.ks, rks, sizeof rks);
	c.ntest = (int)ntest;
	c.onestep_max_rows = nm == 1 ? GEN_BMAX : 0;
	c.seed = (uint64_t)seed;

	/* the first model's training range names the noise blocks */
	tf = ms[0].gen ? &ms[0].gtasks.rfam : &ms[0].fam;
	snprintf(t, sizeof t, "in distribution: x ~ N(0, I), D = %ld, noise sd %g",
		 dim, noise);
	block(&blocks[nb++], t, (int)dim, (float)noise);
	if (ood) {
		block(&blocks[nb], "out of distribution: heavy-tailed x (Student t, "
		      "3 dof)", (int)dim, (float)noise);
		blocks[nb++].stream.rfam.xdist = LINREG_X_STUDENT;
		block(&blocks[nb], "out of distribution: shifted x (|mean| = 1)",
		      (int)dim, (float)noise);
		blocks[nb].stream.rfam.xdist = LINREG_X_SHIFTED;
		blocks[nb++].stream.rfam.shift = 1.0f;
		snprintf(t, sizeof t, "out of distribution: noise sd 2.0 (trained "
			 "%g-%g)", (double)tf->smin, (double)tf->smax);
		block(&blocks[nb++], t, (int)dim, 2.0f);
		snprintf(t, sizeof t, "out of distribution: noise sd 0.02 (trained "
			 "%g-%g)", (double)tf->smin, (double)tf->smax);
		block(&blocks[nb++], t, (int)dim, 0.02f);
	}
	for (j = 0; j < nb; j++)
		for (i = 0; i < nm; i++) {
			int r;

			fprintf(stderr, "amort eval: %s: %s\n", ms[i].name,
				blocks[j].title);
			r = run_model(&ms[i], &blocks[j], &c, blocks[j].rows[i]);
			if (r != AM_OK) {
				fprintf(stderr, "amort eval: %s: %s\n", ms[i].name,
					am_strerror(r));
				goto out;
			}
		}
	if (nm == 1) {
		int np = ms[0].gen ? ms[0].gcfg.passes : ms[0].cfg.passes;

		regime_name(&ms[0], rg, sizeof rg);
		printf("## %s (%s regression, %s; %d pass%s per step)\n\n",
		       ms[0].name, ms[0].gen ? "learned-predictor" : "linear", rg,
		       np, np == 1 ? "" : "es");
	} else {
		printf("## side by side:");
		for (i = 0; i < nm; i++) {
			regime_name(&ms[i], rg, sizeof rg);
			printf("%s %s (%s)", i ? "," : "", ms[i].name, rg);
		}
		printf("\n\n");
	}
	printf("%ld test tasks with %ld held-out rows each, seed %ld; SGD and Adam "
	       "rates chosen per k on %ld other tasks of each block.\n\n", tasks,
	       ntest, seed, tune);
	for (j = 0; j < nb; j++) {
		if (nm == 1)
			print_one(&blocks[j], c.nk, c.B);
		else
			print_many(&blocks[j], ms, nm, c.nk, c.B);
	}
	if (csv) {
		cf = fopen(csv, "w");
		if (!cf) {
			fprintf(stderr, "amort eval: cannot write %s\n", csv);
			goto out;
		}
		fprintf(cf, "model,block,k,batch,amortizer,bayes,sgd,sgd_lr,adam,"
			"adam_lr,onestep,noise_floor,change,change_se\n");
		for (j = 0; j < nb; j++)
			for (i = 0; i < nm; i++)
				csv_rows(cf, ms[i].name, &blocks[j], blocks[j].rows[i],
					 c.nk, c.B);
		if (fclose(cf)) {
			fprintf(stderr, "amort eval: cannot write %s\n", csv);
			goto out;
		}
	}
	rc = 0;
out:
	free(blocks);
	return rc;
}
