/*
 * cmd_eval.c - `amort eval FILE...`: the amortizer against the optimum and
 * against tuned SGD and Adam on the same mini-batches, as Markdown tables,
 * with optional CSV and SVG.
 *
 * One model: an in-distribution block (--dim, --noise, --batch; default
 * D = 8, noise sd 0.5, B = 32) and, unless --no-ood, out-of-distribution
 * blocks: heavy-tailed x (Student t, 3 dof, unit variance), shifted x
 * (|mean| = 1), and noise sd 2.0 and 0.02, outside the [0.05, 1] of
 * training.  Several models: one comparison table of MSE / Bayes-optimal
 * MSE per model and step count (the obs / grad / both ablation).  Every
 * table has the amortizer's steps (report.c): a column for one model, a
 * table of its own under several.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "eval/eval.h"
#include "base/gemm.h"
#include "model/model.h"
#include "cli/tool.h"

struct block {
	const char *title;
	struct linreg_family fam;
	struct eval_row rows[EVAL_KS_MAX];
};

static const int default_ks[] = { 1, 2, 4, 8, 16, 32, 64 };

/* The step of row e, for report.c. */
static struct tool_step lin_step(const struct eval_row *e)
{
	return (struct tool_step){ e->k, !!(e->has & EVAL_HAS_CHANGE), e->change, e->change_se };
}

static void print_block(const struct block *b, int nk, int B)
{
	int j;

	printf("### %s\n\n", b->title);
	printf("Test MSE (exact expectation over fresh rows), mean over tasks; "
	       "k steps of %d rows. Ratios are to the Bayes-optimal ridge posterior "
	       "mean on the same rows. Step: %s\n\n", B, tool_step_words);
	printf("| k | rows | amortizer | step (SE) | Bayes (ridge) | SGD (lr) | Adam (lr) | one-step | amortizer/Bayes | SGD/Bayes | Adam/Bayes | one-step/Bayes |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (j = 0; j < nk; j++) {
		const struct eval_row *e = &b->rows[j];
		struct tool_step st = lin_step(e);
		char os[32] = "-", osr[32] = "-", ch[64];

		if ((e->has & EVAL_HAS_ONESTEP)) {
			snprintf(os, sizeof os, "%.4f", e->onestep);
			snprintf(osr, sizeof osr, "%.3f", e->onestep / e->base[EVAL_RIDGE]);
		}
		printf("| %d | %d | %.4f | %s | %.4f | %.4f (%.3g) | %.4f (%.3g) | %s | **%.3f** | %.3f | %.3f | %s |\n",
		       e->k, e->k * B, e->amort, tool_step_cell(&st, 1, ch, sizeof ch),
		       e->base[EVAL_RIDGE], e->base[EVAL_SGD], (double)e->base_hyper[EVAL_SGD], e->base[EVAL_ADAM],
		       (double)e->base_hyper[EVAL_ADAM], os, e->amort / e->base[EVAL_RIDGE],
		       e->base[EVAL_SGD] / e->base[EVAL_RIDGE], e->base[EVAL_ADAM] / e->base[EVAL_RIDGE], osr);
	}
	printf("\nNoise floor (mean noise variance): %.4f\n\n", b->rows[0].floor);
}

static void csv_block(FILE *f, const char *model, const struct block *b, int nk, int B)
{
	int j;

	for (j = 0; j < nk; j++) {
		const struct eval_row *e = &b->rows[j];
		struct tool_step st = lin_step(e);

		fprintf(f, "%s,%s,%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,",
			model, b->title, e->k, B, e->amort, e->base[EVAL_RIDGE], e->base[EVAL_SGD],
			(double)e->base_hyper[EVAL_SGD], e->base[EVAL_ADAM], (double)e->base_hyper[EVAL_ADAM],
			(e->has & EVAL_HAS_ONESTEP) ? e->onestep : NAN, e->floor);
		tool_step_csv(f, &st, 1);
		fprintf(f, "\n");
	}
}

/* One panel of the SVG: MSE / Bayes against k, log-log. */
static void svg_panel(FILE *f, const struct block *b, int nk, double x0, double y0,
		      double w, double h)
{
	static const char *names[] = { "amortizer", "SGD", "Adam", "one-step" };
	static const char *colors[] = { "#d62728", "#1f77b4", "#2ca02c", "#9467bd" };
	double ymax = 1.0, kmax = b->rows[nk - 1].k;
	int s, j;

	for (j = 0; j < nk; j++) {
		const struct eval_row *e = &b->rows[j];
		double v[4] = { e->amort, e->base[EVAL_SGD], e->base[EVAL_ADAM], (e->has & EVAL_HAS_ONESTEP) ? e->onestep : 0 };

		for (s = 0; s < 4; s++)
			if (isfinite(v[s] / e->base[EVAL_RIDGE]) && v[s] / e->base[EVAL_RIDGE] > ymax)
				ymax = v[s] / e->base[EVAL_RIDGE];
	}
	ymax = ymax > 20 ? 20 : ymax;
#define SX(k) (x0 + 40 + (w - 50) * log((double)(k)) / log(kmax))
#define SY(r) (y0 + h - 30 - (h - 50) * log(r) / log(ymax))
	fprintf(f, "<text x='%.1f' y='%.1f' font-size='13'>%s</text>\n", x0 + 40, y0 + 14, b->title);
	fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='none' stroke='#999'/>\n",
		x0 + 40, y0 + 20, w - 50, h - 50);
	for (j = 0; j < nk; j++)
		fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='middle'>%d</text>\n",
			SX(b->rows[j].k), y0 + h - 15, b->rows[j].k);
	fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='end'>1</text>\n",
		x0 + 36, SY(1.0) + 3);
	fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='end'>%.3g</text>\n",
		x0 + 36, SY(ymax) + 3, ymax);
	for (s = 0; s < 4; s++) {
		int first = 1;

		fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2' points='", colors[s]);
		for (j = 0; j < nk; j++) {
			const struct eval_row *e = &b->rows[j];
			double v = s == 0 ? e->amort : s == 1 ? e->base[EVAL_SGD] : s == 2 ? e->base[EVAL_ADAM] :
				   ((e->has & EVAL_HAS_ONESTEP) ? e->onestep : NAN);
			double r = v / e->base[EVAL_RIDGE];

			if (!isfinite(r))
				continue;
			r = r > ymax ? ymax : r;
			fprintf(f, "%s%.1f,%.1f", first ? "" : " ", SX(e->k), SY(r));
			first = 0;
		}
		fprintf(f, "'/>\n");
		fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' fill='%s'>%s</text>\n",
			x0 + w - 80, y0 + 34 + 12 * s, colors[s], names[s]);
	}
#undef SX
#undef SY
}

static int write_svg(const char *path, const struct block *b, int nb, int nk)
{
	FILE *f = fopen(path, "w");
	int i;

	if (!f)
		return -1;
	fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
		"font-family='sans-serif'>\n<rect width='100%%' height='100%%' fill='white'/>\n",
		2 * 420, ((nb + 1) / 2) * 280 + 30);
	fprintf(f, "<text x='10' y='20' font-size='14'>test MSE / Bayes-optimal MSE "
		"against steps k (log-log)</text>\n");
	for (i = 0; i < nb; i++)
		svg_panel(f, &b[i], nk, (i % 2) * 420, 30 + (i / 2) * 280, 410, 270);
	fprintf(f, "</svg>\n");
	return fclose(f) == 0 ? 0 : -1;
}

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

int tool_eval(int argc, char **argv)
{
	const char *files[TOOL_MODELS_MAX], *csv = NULL, *svg = NULL;
	long tasks = 256, seed = 12345, dim = 8, batch = 32, nfiles = 0;
	double noise = 0.5;
	int ood = 1, i, j, nb, rc = 1;
	struct model models[TOOL_MODELS_MAX];
	struct block blocks[5];
	struct eval_config c;
	char err[512];
	FILE *cf = NULL;

	memset(models, 0, sizeof models);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tasks") && i + 1 < argc) {
			if (tool_parse_long("--tasks", argv[++i], 1, 100000, &tasks))
				return 2;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (tool_parse_long("--seed", argv[++i], 0, 1L << 40, &seed))
				return 2;
		} else if (!strcmp(argv[i], "--dim") && i + 1 < argc) {
			/* up to a classifier's 64; a regression model checks
			 * its own 16 below */
			if (tool_parse_long("--dim", argv[++i], 1, 64, &dim))
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
		} else if ((!strcmp(argv[i], "--tune-tasks") ||
			    !strcmp(argv[i], "--classes") ||
			    !strcmp(argv[i], "--test-rows")) && i + 1 < argc) {
			i++;	/* classification and reg models (eval_clf.c,
				 * eval_reg.c) */
		} else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
			csv = argv[++i];
		} else if (!strcmp(argv[i], "--svg") && i + 1 < argc) {
			svg = argv[++i];
		} else if (!strcmp(argv[i], "--no-ood")) {
			ood = 0;
		} else if (argv[i][0] != '-' && nfiles < TOOL_MODELS_MAX) {
			files[nfiles++] = argv[i];
		} else {
			nfiles = 0;
			break;
		}
	}
	if (!nfiles) {
		fprintf(stderr, "usage: amort eval FILE... [--tasks N] [--seed S] [--dim D] "
			"[--noise SD] [--batch B] [--no-ood] [--csv F] [--svg F]\n");
		return 2;
	}
	for (i = 0; i < nfiles; i++)
		if (model_load(&models[i], files[i], err, sizeof err)) {
			fprintf(stderr, "amort eval: %s: %s\n", files[i], err);
			goto out;
		}
	unique_names(models, (int)nfiles);
	for (i = 0; i < nfiles; i++)
		if (models[i].gen && models[i].gcfg.kind == GEN_REG) {
			/* regression by a learned predictor, with any linreg
			 * models beside it (eval_reg.c) */
			rc = tool_regeval(models, (int)nfiles, argc, argv);
			goto out;
		}
	for (i = 0; i < nfiles; i++)
		if (nfiles > 1 && (models[i].gen != models[0].gen ||
				   (models[i].gen && models[i].gcfg.kind != GEN_CLF))) {
			fprintf(stderr, "amort eval: %s: side by side takes regression "
				"models or classification models, not generative ones or a "
				"mix\n", files[i]);
			goto out;
		}
	if (nfiles > 1 && models[0].gen) {
		rc = tool_clfeval_many(models, (int)nfiles, argc, argv);
		goto out;
	}
	if (!models[0].gen && dim > LINREG_DMAX) {
		fprintf(stderr, "amort eval: --dim wants an integer in [1, %d] for a "
			"regression model\n", LINREG_DMAX);
		rc = 2;
		goto out;
	}
	if (models[0].gen) {
		rc = models[0].gcfg.kind == GEN_CLF ? tool_clfeval(&models[0], argc, argv) :
		     tool_geval(&models[0], argc, argv);
		goto out;
	}
	gemm_set_threads(1);
	memset(&c, 0, sizeof c);
	c.ntasks = (int)tasks;
	c.tune_tasks = (int)(tasks < 128 ? tasks : 128);
	c.B = (int)batch;
	c.nk = (int)(sizeof default_ks / sizeof default_ks[0]);
	memcpy(c.ks, default_ks, sizeof default_ks);
	c.seed = (uint64_t)seed;
	c.onestep_max_rows = nfiles == 1 ? 512 : 0;
	c.chunk = 64;

	nb = 0;
	blocks[nb].title = "in distribution: x ~ N(0, I)";
	linreg_family_default(&blocks[nb].fam);
	nb++;
	if (ood && nfiles == 1) {
		blocks[nb].title = "out of distribution: heavy-tailed x (Student t, 3 dof)";
		linreg_family_default(&blocks[nb].fam);
		blocks[nb++].fam.xdist = LINREG_X_STUDENT;
		blocks[nb].title = "out of distribution: shifted x (|mean| = 1)";
		linreg_family_default(&blocks[nb].fam);
		blocks[nb].fam.xdist = LINREG_X_SHIFTED;
		blocks[nb++].fam.shift = 1.0f;
		blocks[nb].title = "out of distribution: noise sd 2.0 (trained 0.05-1)";
		linreg_family_default(&blocks[nb++].fam);
		blocks[nb].title = "out of distribution: noise sd 0.02 (trained 0.05-1)";
		linreg_family_default(&blocks[nb++].fam);
	}
	for (i = 0; i < nb; i++) {
		struct linreg_family *f = &blocks[i].fam;

		f->dmin = f->dmax = (int)dim;
		f->smin = f->smax = (float)noise;
	}
	if (nb == 5) {
		blocks[3].fam.smin = blocks[3].fam.smax = 2.0f;
		blocks[4].fam.smin = blocks[4].fam.smax = 0.02f;
	}
	if (csv) {
		cf = fopen(csv, "w");
		if (!cf) {
			fprintf(stderr, "amort eval: cannot write %s\n", csv);
			goto out;
		}
		fprintf(cf, "model,block,k,batch,amortizer,bayes,sgd,sgd_lr,adam,adam_lr,onestep,noise_floor,change,change_se\n");
	}
	if (nfiles == 1) {
		printf("## %s (%s, %s variant, %d passes per step)\n\n", models[0].name,
		       files[0], model_variant_name(models[0].cfg.variant),
		       models[0].cfg.passes);
		printf("D = %ld, noise sd %g (except where a block says otherwise), %ld test "
		       "tasks, seed %ld; SGD and Adam rates chosen per k on %d other tasks.\n\n",
		       dim, noise, tasks, seed, c.tune_tasks);
		for (i = 0; i < nb; i++) {
			c.fam = blocks[i].fam;
			rc = eval_linreg(&models[0].ref, models[0].p, &c, blocks[i].rows);
			if (rc != AM_OK) {
				fprintf(stderr, "amort eval: %s\n", am_strerror(rc));
				rc = 1;
				goto out;
			}
			print_block(&blocks[i], c.nk, c.B);
			if (cf)
				csv_block(cf, models[0].name, &blocks[i], c.nk, c.B);
			fflush(stdout);
		}
		if (svg && write_svg(svg, blocks, nb, c.nk)) {
			fprintf(stderr, "amort eval: cannot write %s\n", svg);
			goto out;
		}
	} else {
		struct eval_row rows[TOOL_MODELS_MAX][EVAL_KS_MAX];
		struct tool_step st[TOOL_MODELS_MAX * EVAL_KS_MAX];
		const char *names[TOOL_MODELS_MAX];

		c.fam = blocks[0].fam;
		for (i = 0; i < nfiles; i++) {
			rc = eval_linreg(&models[i].ref, models[i].p, &c, rows[i]);
			if (rc != AM_OK) {
				fprintf(stderr, "amort eval: %s: %s\n", files[i], am_strerror(rc));
				rc = 1;
				goto out;
			}
			if (cf) {
				memcpy(blocks[0].rows, rows[i], sizeof rows[i]);
				csv_block(cf, models[i].name, &blocks[0], c.nk, c.B);
			}
		}
		printf("### D = %ld, noise sd %g, B = %ld: test MSE / Bayes-optimal MSE\n\n",
		       dim, noise, batch);
		printf("| k |");
		for (i = 0; i < nfiles; i++)
			printf(" %s (%s) |", models[i].name, model_variant_name(models[i].cfg.variant));
		printf(" SGD | Adam |\n|---|");
		for (i = 0; i < nfiles + 2; i++)
			printf("---|");
		printf("\n");
		for (j = 0; j < c.nk; j++) {
			printf("| %d |", rows[0][j].k);
			for (i = 0; i < nfiles; i++)
				printf(" %.3f |", rows[i][j].amort / rows[i][j].base[EVAL_RIDGE]);
			printf(" %.3f | %.3f |\n", rows[0][j].base[EVAL_SGD] / rows[0][j].base[EVAL_RIDGE],
			       rows[0][j].base[EVAL_ADAM] / rows[0][j].base[EVAL_RIDGE]);
		}
		printf("\n");
		for (i = 0; i < nfiles; i++) {
			names[i] = models[i].name;
			for (j = 0; j < c.nk; j++)
				st[i * c.nk + j] = lin_step(&rows[i][j]);
		}
		tool_step_table(names, (int)nfiles, st, c.nk, 1);
	}
	rc = 0;
out:
	if (cf && fclose(cf)) {
		fprintf(stderr, "amort eval: cannot write %s\n", csv);
		rc = 1;
	}
	for (i = 0; i < nfiles; i++)
		model_free(&models[i]);
	return rc;
}
