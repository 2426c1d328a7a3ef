/*
 * cmd_eval.c - `amort eval FILE...`: the amortizer against the optimum and
 * against tuned baselines on the same mini-batches, as Markdown tables,
 * with optional CSV and SVG.
 *
 * The command line is parsed once, here, into struct eval_opts (cli/eval.h);
 * the models are loaded and the front end of their family runs on the
 * options (eval_reg.c, eval_clf.c, eval_gen.c, and the linreg one below),
 * checking the flags it takes with eval_opts_check and printing through
 * report.c.
 *
 * linreg models: an in-distribution block (--dim, --noise, --batch;
 * default D = 8, noise sd 0.5, B = 32) and, unless --no-ood,
 * out-of-distribution blocks: heavy-tailed x (Student t, 3 dof, unit
 * variance), shifted x (|mean| = 1), and noise sd 2.0 and 0.02, outside
 * the [0.05, 1] of training.  Several models: one comparison table of MSE
 * / Bayes-optimal MSE per model and step count (the obs / grad / both
 * ablation).  Every table has the amortizer's steps (report.c): a column
 * for one model, a table of its own under several.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "eval/eval.h"
#include "base/gemm.h"
#include "model/model.h"
#include "cli/eval.h"

struct block {
	const char *title;
	struct linreg_family fam;
	struct eval_row rows[EVAL_KS_MAX];
};

static const int default_ks[] = { 1, 2, 4, 8, 16, 32, 64 };

/* Side by side, the tables' columns and the CSV rows are named by the
 * models' names: a model whose name an earlier one has gets its place on
 * the command line appended ("fashion-implicit #2"), so two trainings of
 * one recipe stay apart (the name cut to 51 characters when it is
 * longer). */
static void unique_names(struct model *ms, int n)
{
	char buf[sizeof ms[0].name];
	int i, j;

	for (i = 1; i < n; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(ms[i].name, ms[j].name)) {
				snprintf(buf, sizeof buf, "%.51s #%d", ms[i].name,
					 i + 1);
				memcpy(ms[i].name, buf, sizeof buf);
				break;
			}
}

/* The flags: name, whether a value follows. */
static const struct {
	const char *name;
	int value;
} flags[EVAL_OPT_N] = {
	[EVAL_OPT_TASKS] = { "--tasks", 1 },
	[EVAL_OPT_TUNE] = { "--tune-tasks", 1 },
	[EVAL_OPT_TEST_ROWS] = { "--test-rows", 1 },
	[EVAL_OPT_SEED] = { "--seed", 1 },
	[EVAL_OPT_DIM] = { "--dim", 1 },
	[EVAL_OPT_BATCH] = { "--batch", 1 },
	[EVAL_OPT_NOISE] = { "--noise", 1 },
	[EVAL_OPT_CLASSES] = { "--classes", 1 },
	[EVAL_OPT_CSV] = { "--csv", 1 },
	[EVAL_OPT_SVG] = { "--svg", 1 },
	[EVAL_OPT_NO_OOD] = { "--no-ood", 0 },
};

static const char eval_usage[] = "usage: amort eval FILE... [--tasks N] "
	"[--seed S] [--dim D] [--noise SD] [--batch B] [--no-ood] [--csv F] "
	"[--svg F]\n";

/* The value of flag a into o, checked where every family agrees: 0, or
 * -1 after a message.  --tune-tasks, --test-rows and --classes are only
 * read here: the family that takes them checks them (eval_opts_check)
 * before it reads them. */
static int opt_value(struct eval_opts *o, const struct eval_arg *a)
{
	const char *n = flags[a->opt].name;
	char *end;

	switch (a->opt) {
	case EVAL_OPT_TASKS:
		return tool_parse_long(n, a->val, 1, 100000, &o->tasks);
	case EVAL_OPT_SEED:
		return tool_parse_long(n, a->val, 0, 1L << 40, &o->seed);
	case EVAL_OPT_DIM:
		/* up to a classifier's 64; the families check their own */
		return tool_parse_long(n, a->val, 1, 64, &o->dim);
	case EVAL_OPT_BATCH:
		return tool_parse_long(n, a->val, 1, REFINER_BMAX, &o->batch);
	case EVAL_OPT_NOISE:
		o->noise = strtod(a->val, &end);
		if (*end || !(o->noise > 0 && o->noise <= 100)) {
			fprintf(stderr, "amort: --noise wants a number in (0, 100]\n");
			return -1;
		}
		return 0;
	case EVAL_OPT_CSV:
		o->csv = a->val;
		return 0;
	case EVAL_OPT_SVG:
		o->svg = a->val;
		return 0;
	case EVAL_OPT_NO_OOD:
		o->ood = 0;
		return 0;
	case EVAL_OPT_TUNE:
		o->tune = strtol(a->val, NULL, 10);
		return 0;
	case EVAL_OPT_TEST_ROWS:
		o->test_rows = strtol(a->val, NULL, 10);
		return 0;
	case EVAL_OPT_CLASSES:
		o->classes = strtol(a->val, NULL, 10);
		return 0;
	default:
		return 0;
	}
}

/* Fills o from argv (o->args owned: eval_opts_free).  0, or the exit
 * status after a message. */
static int eval_opts_parse(struct eval_opts *o, int argc, char **argv)
{
	int i, f;

	memset(o, 0, sizeof *o);
	o->ood = 1;
	o->seed = 12345;
	o->args = calloc((size_t)argc, sizeof *o->args);
	if (!o->args) {
		fprintf(stderr, "amort eval: out of memory\n");
		return 1;
	}
	for (i = 1; i < argc; i++) {
		for (f = 0; f < EVAL_OPT_N; f++)
			if (!strcmp(argv[i], flags[f].name) &&
			    (!flags[f].value || i + 1 < argc))
				break;
		if (f < EVAL_OPT_N) {
			struct eval_arg *a = &o->args[o->nargs++];

			a->opt = (enum eval_opt)f;
			a->val = flags[f].value ? argv[++i] : NULL;
			o->given |= 1u << f;
			if (opt_value(o, a))
				return 2;
		} else if (argv[i][0] != '-' && o->nfiles < TOOL_MODELS_MAX) {
			o->files[o->nfiles++] = argv[i];
		} else {
			o->nfiles = 0;
			break;
		}
	}
	if (!o->nfiles) {
		fputs(eval_usage, stderr);
		return 2;
	}
	return 0;
}

static void eval_opts_free(struct eval_opts *o)
{
	free(o->args);
}

int eval_opts_check(const struct eval_opts *o, const struct eval_rules *r)
{
	const struct eval_arg *a;
	long v, lo, hi;
	int i;

	for (i = 0; i < o->nargs; i++) {
		a = &o->args[i];
		if (!((r->accept >> a->opt) & 1u)) {
			fputs(r->usage, stderr);
			return 2;
		}
		lo = 1;
		/* a bound of 0: the family ignores the value */
		switch (a->opt) {
		case EVAL_OPT_TUNE:
			hi = r->tune_hi;
			break;
		case EVAL_OPT_TEST_ROWS:
			hi = r->test_rows_hi;
			break;
		case EVAL_OPT_DIM:
			hi = r->dim_hi;
			break;
		case EVAL_OPT_BATCH:
			hi = r->batch_hi;
			break;
		case EVAL_OPT_CLASSES:
			lo = r->classes_lo;
			hi = r->classes_hi;
			break;
		default:
			continue;
		}
		if (hi && tool_parse_long(flags[a->opt].name, a->val, lo, hi, &v))
			return r->bad_value_rc;
	}
	return 0;
}

static const struct eval_rules linreg_rules = {
	(1u << EVAL_OPT_N) - 1, 0, 0, 0, 0, 0, 0, eval_usage, 2
};

void eval_mse_family(int b, int dim, float noise, struct linreg_family *f)
{
	linreg_family_default(f);
	f->dmin = f->dmax = dim;
	f->smin = f->smax = b == 3 ? 2.0f : b == 4 ? 0.02f : noise;
	if (b == 1) {
		f->xdist = LINREG_X_STUDENT;
	} else if (b == 2) {
		f->xdist = LINREG_X_SHIFTED;
		f->shift = 1.0f;
	}
}

/* The blocks of a linreg evaluation: in distribution (D = dim, noise sd
 * noise) and, for one model unless --no-ood, the four out of it; returns
 * their count. */
static int linreg_blocks(struct block *blocks, int ood, long dim, double noise)
{
	static const char *const titles[5] = {
		"in distribution: x ~ N(0, I)",
		"out of distribution: heavy-tailed x (Student t, 3 dof)",
		"out of distribution: shifted x (|mean| = 1)",
		"out of distribution: noise sd 2.0 (trained 0.05-1)",
		"out of distribution: noise sd 0.02 (trained 0.05-1)",
	};
	int i, nb = ood ? 5 : 1;

	for (i = 0; i < nb; i++) {
		blocks[i].title = titles[i];
		eval_mse_family(i, (int)dim, (float)noise, &blocks[i].fam);
	}
	return nb;
}

/* The SVG of the blocks (report_svg). */
static int linreg_svg(const char *path, const struct block *b, int nb, int nk)
{
	struct eval_row rows[5 * EVAL_KS_MAX];
	const char *titles[5];
	int i;

	for (i = 0; i < nb; i++) {
		titles[i] = b[i].title;
		memcpy(rows + (size_t)i * nk, b[i].rows, (size_t)nk * sizeof *rows);
	}
	return report_svg(path, titles, rows, nb, nk);
}

/* One model: every block in turn, printed (and written to cf) as it is
 * done.  The exit status. */
static int linreg_one(struct model *m, const char *file, struct eval_config *c,
		      struct block *blocks, int nb, const struct eval_opts *o,
		      long dim, double noise, long tasks, FILE *cf)
{
	int i, rc = 0;

	printf("## %s (%s, %s variant, %d passes per step)\n\n", m->name, file,
	       model_variant_name(m->cfg.variant), m->cfg.passes);
	printf("D = %ld, noise sd %g (except where a block says otherwise), %ld test "
	       "tasks, seed %ld; SGD and Adam rates chosen per k on %d other tasks.\n\n",
	       dim, noise, tasks, o->seed, c->tune_tasks);
	for (i = 0; i < nb; i++) {
		c->fam = blocks[i].fam;
		rc = eval_linreg(m->impl, m->p, c, blocks[i].rows);
		if (rc != AM_OK) {
			fprintf(stderr, "amort eval: %s\n", am_strerror(rc));
			return 1;
		}
		report_mse_block(blocks[i].title, "Test MSE (exact expectation over "
				 "fresh rows)", blocks[i].rows, c->nk, c->B);
		if (cf)
			report_csv(cf, m->name, blocks[i].title, 0, report_mse_csv,
				   report_mse_ncsv, blocks[i].rows, c->nk, c->B);
		fflush(stdout);
	}
	if (o->svg && linreg_svg(o->svg, blocks, nb, c->nk))
		/* the exit status stays 0, as it always has */
		fprintf(stderr, "amort eval: cannot write %s\n", o->svg);
	return rc;
}

/* The side-by-side table: MSE / Bayes-optimal MSE per model, then SGD's
 * and Adam's. */
static const struct report_col many_cols[] = {
	{ .head = "k", .a = REPORT_K },
	{ .fmt = "%.3f", .a = REPORT_AMORT, .op = '/',
	  .b = REPORT_B(EVAL_RIDGE), .each = 1 },
	{ .head = "SGD", .fmt = "%.3f", .a = REPORT_B(EVAL_SGD), .op = '/',
	  .b = REPORT_B(EVAL_RIDGE) },
	{ .head = "Adam", .fmt = "%.3f", .a = REPORT_B(EVAL_ADAM), .op = '/',
	  .b = REPORT_B(EVAL_RIDGE) },
};

/* Several models on the in-distribution block: one table of MSE /
 * Bayes-optimal MSE, then the steps.  The exit status. */
static int linreg_many(struct model *ms, int nm, const struct eval_opts *o,
		       struct eval_config *c, struct block *b, long dim,
		       double noise, long batch, FILE *cf)
{
	struct eval_row rows[TOOL_MODELS_MAX * EVAL_KS_MAX];
	const char *names[TOOL_MODELS_MAX];
	char heads[TOOL_MODELS_MAX][128];
	const char *hp[TOOL_MODELS_MAX];
	int i, rc;

	c->fam = b->fam;
	for (i = 0; i < nm; i++) {
		rc = eval_linreg(ms[i].impl, ms[i].p, c, rows + (size_t)i * c->nk);
		if (rc != AM_OK) {
			fprintf(stderr, "amort eval: %s: %s\n", o->files[i],
				am_strerror(rc));
			return 1;
		}
		if (cf)
			report_csv(cf, ms[i].name, b->title, 0, report_mse_csv,
				   report_mse_ncsv, rows + (size_t)i * c->nk, c->nk,
				   c->B);
		names[i] = ms[i].name;
		snprintf(heads[i], sizeof heads[i], "%s (%s)", ms[i].name,
			 model_variant_name(ms[i].cfg.variant));
		hp[i] = heads[i];
	}
	printf("### D = %ld, noise sd %g, B = %ld: test MSE / Bayes-optimal MSE\n\n",
	       dim, noise, batch);
	report_table(many_cols, (int)(sizeof many_cols / sizeof many_cols[0]), hp,
		     rows, nm, c->nk, c->B);
	printf("\n");
	report_step_table(names, nm, rows, c->nk, 1);
	return 0;
}

int eval_run_linreg(struct model *ms, int nm, const struct eval_opts *o)
{
	long tasks = EVAL_GIVEN(o, EVAL_OPT_TASKS) ? o->tasks : 256;
	long dim = EVAL_GIVEN(o, EVAL_OPT_DIM) ? o->dim : 8;
	long batch = EVAL_GIVEN(o, EVAL_OPT_BATCH) ? o->batch : 32;
	double noise = EVAL_GIVEN(o, EVAL_OPT_NOISE) ? o->noise : 0.5;
	struct block blocks[5];
	struct eval_config c;
	FILE *cf = NULL;
	int nb, rc;

	if ((rc = eval_opts_check(o, &linreg_rules)))
		return rc;
	gemm_set_threads(1);
	memset(&c, 0, sizeof c);
	c.ntasks = (int)tasks;
	c.tune_tasks = (int)(tasks < 128 ? tasks : 128);
	c.B = (int)batch;
	c.nk = (int)(sizeof default_ks / sizeof default_ks[0]);
	memcpy(c.ks, default_ks, sizeof default_ks);
	c.seed = (uint64_t)o->seed;
	c.onestep_max_rows = nm == 1 ? 512 : 0;
	c.chunk = 64;
	nb = linreg_blocks(blocks, o->ood && nm == 1, dim, noise);
	if (o->csv && !(cf = report_csv_open(o->csv, report_mse_csv_header)))
		return 1;
	if (nm == 1)
		rc = linreg_one(&ms[0], o->files[0], &c, blocks, nb, o, dim, noise,
				tasks, cf);
	else
		rc = linreg_many(ms, nm, o, &c, &blocks[0], dim, noise, batch, cf);
	if (cf && report_csv_close(cf, o->csv))
		rc = 1;
	return rc;
}

/* Runs the front end that the models' family calls for; the exit status. */
static int dispatch(struct model *ms, int nm, const struct eval_opts *o)
{
	int i;

	for (i = 0; i < nm; i++)
		if (ms[i].gen && ms[i].gcfg.kind == GEN_REG)
			/* regression by a learned predictor, with any linreg
			 * models beside it (eval_reg.c) */
			return eval_run_reg(ms, nm, o);
	for (i = 0; i < nm; i++)
		if (nm > 1 && (ms[i].gen != ms[0].gen ||
			       (ms[i].gen && ms[i].gcfg.kind != GEN_CLF))) {
			fprintf(stderr, "amort eval: %s: side by side takes regression "
				"models or classification models, not generative ones or a "
				"mix\n", o->files[i]);
			return 1;
		}
	if (nm > 1 && ms[0].gen)
		return eval_run_clf_many(ms, nm, o);
	if (!ms[0].gen && o->dim > LINREG_DMAX) {
		fprintf(stderr, "amort eval: --dim wants an integer in [1, %d] for a "
			"regression model\n", LINREG_DMAX);
		return 2;
	}
	if (ms[0].gen)
		return ms[0].gcfg.kind == GEN_CLF ? eval_run_clf(&ms[0], o) :
		       eval_run_gen(&ms[0], o);
	return eval_run_linreg(ms, nm, o);
}

int tool_eval(int argc, char **argv)
{
	struct model models[TOOL_MODELS_MAX];
	struct eval_opts o;
	char err[512];
	int i, rc;

	memset(models, 0, sizeof models);
	rc = eval_opts_parse(&o, argc, argv);
	for (i = 0; rc == 0 && i < o.nfiles; i++)
		if (model_load(&models[i], o.files[i], err, sizeof err)) {
			fprintf(stderr, "amort eval: %s: %s\n", o.files[i], err);
			rc = 1;
		}
	if (rc == 0) {
		unique_names(models, o.nfiles);
		rc = dispatch(models, o.nfiles, &o);
	}
	for (i = 0; i < o.nfiles; i++)
		model_free(&models[i]);
	eval_opts_free(&o);
	return rc;
}
