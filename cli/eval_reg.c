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
#include "cli/eval.h"

#define RBLOCKS 5

struct rblock {
	char title[128];
	struct source stream;
	struct eval_row rows[TOOL_MODELS_MAX * EVAL_RUN_KS_MAX];	/* nk a model */
};

static const int rks[] = { 1, 2, 4, 8, 16, 32 };

/* "explicit", "implicit (state mean)", "parametric, obs variant". */
static void regime_name(const struct model *m, char *s, size_t n)
{
	if (!m->gen)
		snprintf(s, n, "parametric, %s", model_variant_name(m->cfg.variant));
	else if (m->gcfg.regime == GEN_IMPLICIT)
		snprintf(s, n, "implicit, state %s",
			 m->gcfg.qstate == GEN_Q_LATENT ? "latent" : "mean");
	else
		snprintf(s, n, "explicit, %s", m->gcfg.variant == GEN_OBS ? "obs" :
			 m->gcfg.variant == GEN_GRAD ? "grad" : "both");
}

/* The held-out evaluator on the model's session contract; the most rows
 * one step may take is its family's scratch limit. */
static int run_model(const struct model *m, const struct rblock *b,
		     const struct eval_run_config *c, struct eval_row *rows)
{
	struct eval_sources s = { .stream = &b->stream };
	struct eval_run_config mc = *c;

	mc.max_rows = m->gen ? GEN_BMAX : REFINER_BMAX;
	return eval_run(&regeval_family, &m->az, &s, &mc, rows);
}

/* The side-by-side table: per model its MSE and (in brackets) its ratio
 * to the Bayes-optimal ridge posterior's, then the baselines'. */
static const struct report_col many_cols[] = {
	{ .head = "k", .a = REPORT_K },
	{ .head = "rows", .a = REPORT_ROWS },
	{ .fmt = "%.4f (%.3f)", .a = REPORT_AMORT, .x = REPORT_AMORT, .xop = '/',
	  .y = REPORT_B(EVAL_RIDGE), .each = 1 },
	{ .head = "Bayes (ridge)", .fmt = "%.4f", .a = REPORT_B(EVAL_RIDGE) },
	{ .head = "SGD", .fmt = "%.4f (%.3f)", .a = REPORT_B(EVAL_SGD),
	  .x = REPORT_B(EVAL_SGD), .xop = '/', .y = REPORT_B(EVAL_RIDGE) },
	{ .head = "Adam", .fmt = "%.4f (%.3f)", .a = REPORT_B(EVAL_ADAM),
	  .x = REPORT_B(EVAL_ADAM), .xop = '/', .y = REPORT_B(EVAL_RIDGE) },
};

static void print_many(const struct rblock *b, const struct model *ms, int nm,
		       int nk, int B)
{
	char rg[64];
	/* "name (regime)": both fit, so the heading is never cut */
	char heads[TOOL_MODELS_MAX][sizeof ms->name + sizeof rg + 3];
	const char *hp[TOOL_MODELS_MAX], *names[TOOL_MODELS_MAX];
	int i;

	printf("### %s\n\n", b->title);
	printf("Held-out MSE (exact over the target noise) after k mini-batches "
	       "of %d rows, mean over the same tasks for every model; in brackets "
	       "the ratio to the Bayes-optimal ridge posterior mean on the same "
	       "rows.\n\n", B);
	for (i = 0; i < nm; i++) {
		regime_name(&ms[i], rg, sizeof rg);
		snprintf(heads[i], sizeof heads[i], "%s (%s)", ms[i].name, rg);
		hp[i] = heads[i];
		names[i] = ms[i].name;
	}
	report_table(many_cols, (int)(sizeof many_cols / sizeof many_cols[0]), hp,
		     b->rows, nm, nk, B);
	printf("\nNoise floor (mean noise variance): %.4f\n\n", b->rows[0].floor);
	report_step_table(names, nm, b->rows, nk, 1);
}

/* Block b (eval_mse_family) titled title. */
static void block(struct rblock *rb, int b, const char *title, int dim,
		  float noise)
{
	memset(rb, 0, sizeof *rb);
	snprintf(rb->title, sizeof rb->title, "%s", title);
	rb->stream.src = SOURCE_LINREG;
	eval_mse_family(b, dim, noise, &rb->stream.rfam);
}

static const struct eval_rules reg_rules = {
	(1u << EVAL_OPT_TASKS) | (1u << EVAL_OPT_TUNE) |
	(1u << EVAL_OPT_TEST_ROWS) | (1u << EVAL_OPT_SEED) | (1u << EVAL_OPT_DIM) |
	(1u << EVAL_OPT_BATCH) | (1u << EVAL_OPT_NOISE) | (1u << EVAL_OPT_CSV) |
	(1u << EVAL_OPT_NO_OOD),
	10000, 100000, LINREG_DMAX, REFINER_BMAX, 0, 0,
	"usage: amort eval REG.amort... [--tasks N] [--tune-tasks N] "
	"[--test-rows N] [--seed S] [--dim D] [--noise SD] [--batch B] "
	"[--no-ood] [--csv F]\n", 2
};

/* The largest batch every model takes: 0, or 1 after a message when a
 * model is not a regression model. */
static int batch_max(const struct model *ms, int nm, long *bmax)
{
	int i;

	*bmax = REFINER_BMAX;
	for (i = 0; i < nm; i++) {
		if (ms[i].gen && ms[i].gcfg.kind != GEN_REG) {
			fprintf(stderr, "amort eval: %s: side by side with regression "
				"models takes regression models only (linreg or reg)\n",
				ms[i].name);
			return 1;
		}
		if (ms[i].gen && ms[i].gcfg.bmax < *bmax)
			*bmax = ms[i].gcfg.bmax;
		else if (!ms[i].gen && ms[i].cfg.bmax * 16L < *bmax)
			*bmax = ms[i].cfg.bmax * 16L;
	}
	return 0;
}

/* The blocks: in distribution and, unless --no-ood, the four out of it,
 * the noise blocks named by the first model's training range; returns
 * their count. */
static int reg_blocks(struct rblock *blocks, const struct model *m0, int ood,
		      long dim, double noise)
{
	const struct linreg_family *tf = m0->gen ? &m0->gtasks.rfam : &m0->fam;
	char t[128];
	int nb = 0;

	snprintf(t, sizeof t, "in distribution: x ~ N(0, I), D = %ld, noise sd %g",
		 dim, noise);
	block(&blocks[nb++], 0, t, (int)dim, (float)noise);
	if (!ood)
		return nb;
	block(&blocks[nb++], 1, "out of distribution: heavy-tailed x (Student t, "
	      "3 dof)", (int)dim, (float)noise);
	block(&blocks[nb++], 2, "out of distribution: shifted x (|mean| = 1)",
	      (int)dim, (float)noise);
	snprintf(t, sizeof t, "out of distribution: noise sd 2.0 (trained "
		 "%g-%g)", (double)tf->smin, (double)tf->smax);
	block(&blocks[nb++], 3, t, (int)dim, (float)noise);
	snprintf(t, sizeof t, "out of distribution: noise sd 0.02 (trained "
		 "%g-%g)", (double)tf->smin, (double)tf->smax);
	block(&blocks[nb++], 4, t, (int)dim, (float)noise);
	return nb;
}

/* The heading of the output: one model's regime and passes, or the
 * models side by side. */
static void print_heading(const struct model *ms, int nm)
{
	char rg[64];
	int i;

	if (nm == 1) {
		int np = ms[0].gen ? ms[0].gcfg.passes : ms[0].cfg.passes;

		regime_name(&ms[0], rg, sizeof rg);
		printf("## %s (%s regression, %s; %d pass%s per step)\n\n",
		       ms[0].name, ms[0].gen ? "learned-predictor" : "linear", rg,
		       np, np == 1 ? "" : "es");
		return;
	}
	printf("## side by side:");
	for (i = 0; i < nm; i++) {
		regime_name(&ms[i], rg, sizeof rg);
		printf("%s %s (%s)", i ? "," : "", ms[i].name, rg);
	}
	printf("\n\n");
}

/* The CSV of every block and model.  0, or -1 after a message. */
static int write_csv(const char *csv, const struct model *ms, int nm,
		     const struct rblock *blocks, int nb, int nk, int B)
{
	FILE *cf = report_csv_open(csv, report_mse_csv_header);
	int i, j;

	if (!cf)
		return -1;
	for (j = 0; j < nb; j++)
		for (i = 0; i < nm; i++)
			report_csv(cf, ms[i].name, blocks[j].title, 1, report_mse_csv,
				   report_mse_ncsv, blocks[j].rows + (size_t)i * nk,
				   nk, B);
	return report_csv_close(cf, csv);
}

int eval_run_reg(struct model *ms, int nm, const struct eval_opts *o)
{
	long tasks = EVAL_GIVEN(o, EVAL_OPT_TASKS) ? o->tasks : 100;
	long tune = EVAL_GIVEN(o, EVAL_OPT_TUNE) ? o->tune : 128;
	long dim = EVAL_GIVEN(o, EVAL_OPT_DIM) ? o->dim : 8;
	long batch = EVAL_GIVEN(o, EVAL_OPT_BATCH) ? o->batch : 0;
	long ntest = EVAL_GIVEN(o, EVAL_OPT_TEST_ROWS) ? o->test_rows : 500;
	double noise = EVAL_GIVEN(o, EVAL_OPT_NOISE) ? o->noise : 0.5;
	struct rblock *blocks = NULL;
	struct eval_run_config c;
	int i, j, nb, rc;
	long bmax;

	if ((rc = eval_opts_check(o, &reg_rules)) || (rc = batch_max(ms, nm, &bmax)))
		return rc;
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
	c.seed = (uint64_t)o->seed;
	nb = reg_blocks(blocks, &ms[0], o->ood, dim, noise);
	rc = 1;
	for (j = 0; j < nb; j++)
		for (i = 0; i < nm; i++) {
			int r;

			fprintf(stderr, "amort eval: %s: %s\n", ms[i].name,
				blocks[j].title);
			r = run_model(&ms[i], &blocks[j], &c,
				      blocks[j].rows + (size_t)i * c.nk);
			if (r != AM_OK) {
				fprintf(stderr, "amort eval: %s: %s\n", ms[i].name,
					am_strerror(r));
				goto out;
			}
		}
	print_heading(ms, nm);
	printf("%ld test tasks with %ld held-out rows each, seed %ld; SGD and Adam "
	       "rates chosen per k on %ld other tasks of each block.\n\n", tasks,
	       ntest, o->seed, tune);
	for (j = 0; j < nb; j++) {
		if (nm == 1)
			report_mse_block(blocks[j].title, "Held-out MSE (exact over "
					 "the target noise)", blocks[j].rows, c.nk, c.B);
		else
			print_many(&blocks[j], ms, nm, c.nk, c.B);
	}
	if (!o->csv || !write_csv(o->csv, ms, nm, blocks, nb, c.nk, c.B))
		rc = 0;
out:
	free(blocks);
	return rc;
}
