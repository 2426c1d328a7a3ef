/*
 * eval_gen.c - `amort eval` on a generative model: held-out NLL and
 * energy distance per step count against EM and the sampling floor, in and
 * out of distribution, as Markdown tables, with optional CSV and an SVG
 * grid of samples.
 *
 * Mixture models (tasks = mixtures): in distribution, the model's own
 * family; out of distribution, 5 to 8 components (trained on fewer) and
 * means spread twice as far.  Energy distances are V-statistics
 * (sdist_energy_v), so the floor is what sampling noise alone gives.  Letter models: the letters trained on, and
 * the held-out letters (those not in the model's list) in the same fonts.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/am.h"
#include "base/gemm.h"
#include "eval/geneval.h"
#include "model/model.h"
#include "cli/tool.h"

struct gblock {
	char title[128];
	char tag[24];			/* its row label in the SVG */
	struct gen_tasks ts;
	struct eval_row rows[GENEVAL_KS_MAX];
};

static const int gks[] = { 1, 2, 4, 8, 16, 32 };

static void print_gblock(const struct gblock *b, int nk, int B, int nsamp)
{
	int j, nll = !!(b->rows[0].has & EVAL_HAS_AMORT);
	int em = !!(b->rows[0].has & EVAL_HAS_BASE(EVAL_EM));

	printf("### %s\n\n", b->title);
	if (em) {
		printf("Mean over tasks, after k mini-batches of %d samples. NLL: nats per "
		       "held-out sample. EM: on all samples seen, the task's true number "
		       "of components, best of its restarts. Energy: energy distance "
		       "(V-statistic) between %d model samples and %d fresh true samples "
		       "(floor: between two true samples of that size).\n\n", B,
		       nsamp, nsamp);
		printf("| k | samples | amortizer NLL | EM NLL | true NLL | amortizer - EM "
		       "| amortizer energy | EM energy | floor |\n");
		printf("|---|---|---|---|---|---|---|---|---|\n");
		for (j = 0; j < nk; j++) {
			const struct eval_row *e = &b->rows[j];
			char a[32] = "-", d[32] = "-";

			if (nll) {
				snprintf(a, sizeof a, "%.4f", e->amort);
				snprintf(d, sizeof d, "**%+.4f**", e->amort - e->base[EVAL_EM]);
			}
			printf("| %d | %d | %s | %.4f | %.4f | %s | %.4f | %.4f | %.4f |\n",
			       e->k, e->k * B, a, e->base[EVAL_EM], e->floor, d,
			       e->base[EVAL_ENERGY], e->base[EVAL_EM_ENERGY], e->base[EVAL_ENERGY_FLOOR]);
		}
	} else {
		printf("Mean over tasks, after k mini-batches of %d points. Energy: energy "
		       "distance (V-statistic) between %d model samples and %d fresh "
		       "points of the glyph (floor: between two true samples of that "
		       "size).\n\n", B, nsamp, nsamp);
		printf("| k | points | amortizer energy | floor | amortizer / floor |\n");
		printf("|---|---|---|---|---|\n");
		for (j = 0; j < nk; j++) {
			const struct eval_row *e = &b->rows[j];

			printf("| %d | %d | %.4f | %.4f | %.2f |\n", e->k, e->k * B,
			       e->base[EVAL_ENERGY], e->base[EVAL_ENERGY_FLOOR],
			       e->base[EVAL_ENERGY] / e->base[EVAL_ENERGY_FLOOR]);
		}
	}
	printf("\n");
}

static void csv_gblock(FILE *f, const char *model, const struct gblock *b, int nk)
{
	int j;

	for (j = 0; j < nk; j++) {
		const struct eval_row *e = &b->rows[j];

		fprintf(f, "%s,\"%s\",%d,", model, b->title, e->k);
		if ((e->has & EVAL_HAS_AMORT))
			fprintf(f, "%.6f", e->amort);
		fprintf(f, ",");
		if ((e->has & EVAL_HAS_BASE(EVAL_EM)))
			fprintf(f, "%.6f,%.6f", e->base[EVAL_EM], e->floor);
		else
			fprintf(f, ",");
		fprintf(f, ",%.6f,", e->base[EVAL_ENERGY]);
		if ((e->has & EVAL_HAS_BASE(EVAL_EM)))
			fprintf(f, "%.6f", e->base[EVAL_EM_ENERGY]);
		fprintf(f, ",%.6f\n", e->base[EVAL_ENERGY_FLOOR]);
	}
}

/* One scatter cell: points of pts (n rows) in the box [-L, L]^2. */
static void svg_cell(FILE *f, const float *pts, int n, double x0, double y0,
		     double sz, const char *color)
{
	const double L = 3.0;
	int i;

	fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='white' "
		"stroke='#bbb'/>\n", x0, y0, sz, sz);
	for (i = 0; i < n; i++) {
		double x = pts[(size_t)i * GEN_DMAX], y = pts[(size_t)i * GEN_DMAX + 1];

		if (!(fabs(x) < L && fabs(y) < L))
			continue;
		fprintf(f, "<circle cx='%.1f' cy='%.1f' r='0.9' fill='%s'/>\n",
			x0 + (x + L) / (2 * L) * sz, y0 + (L - y) / (2 * L) * sz, color);
	}
}

/* A grid: per block, two tasks; per task, the truth then one cell per k. */
static int write_gsvg(const char *path, const struct model *m,
		      const struct gblock *b, int nb, const struct geneval_config *c)
{
	const struct gen *g = m->impl;
	const double sz = 110, pad = 8;
	int rows = 2 * nb, cols = 1 + c->nk, i, t, j, rc = 0;
	float *out = malloc((size_t)c->nk * c->nsamp * GEN_DMAX * sizeof(float));
	float *truth = malloc((size_t)c->nsamp * GEN_DMAX * sizeof(float));
	FILE *f = fopen(path, "w");

	if (!out || !truth || !f) {
		rc = -1;
		goto out;
	}
	fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' "
		"font-family='sans-serif' font-size='11'>\n",
		150 + cols * (sz + pad), 30 + rows * (sz + pad));
	fprintf(f, "<text x='150' y='14'>truth (grey), then model samples after k "
		"mini-batches of %d (blue)</text>\n", c->B);
	for (j = 0; j < c->nk; j++)
		fprintf(f, "<text x='%.1f' y='26'>k = %d</text>\n",
			150 + (j + 1) * (sz + pad) + 4, c->ks[j]);
	for (i = 0; i < nb; i++) {
		for (t = 0; t < 2; t++) {
			double y0 = 30 + (2 * i + t) * (sz + pad);

			if (geneval_samples(g, m->p, &b[i].ts, c, t, out, truth) != AM_OK) {
				rc = -1;
				goto out;
			}
			fprintf(f, "<text x='4' y='%.1f'>%s</text>\n", y0 + sz / 2,
				b[i].tag);
			svg_cell(f, truth, c->nsamp, 150, y0, sz, "#888");
			for (j = 0; j < c->nk; j++)
				svg_cell(f, out + (size_t)j * c->nsamp * GEN_DMAX,
					 c->nsamp, 150 + (j + 1) * (sz + pad), y0, sz,
					 "#1f5fbf");
		}
	}
	fprintf(f, "</svg>\n");
out:
	if (f && fclose(f))
		rc = -1;
	free(out);
	free(truth);
	return rc;
}

int tool_geval(struct model *m, int argc, char **argv)
{
	const char *csv = NULL, *svg = NULL;
	long tasks = 100, seed = 12345, batch = m->gcfg.bmax;
	int ood = 1, i, nb = 0, rc = 1;
	struct gblock blocks[3];
	struct geneval_config c;
	struct hershey_set fonts = { 0, NULL };
	char err[512];
	FILE *cf = NULL;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tasks") && i + 1 < argc) {
			if (tool_parse_long("--tasks", argv[++i], 1, 100000, &tasks))
				return 2;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (tool_parse_long("--seed", argv[++i], 0, 1L << 40, &seed))
				return 2;
		} else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
			if (tool_parse_long("--batch", argv[++i], 1, m->gcfg.bmax, &batch))
				return 2;
		} else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
			csv = argv[++i];
		} else if (!strcmp(argv[i], "--svg") && i + 1 < argc) {
			svg = argv[++i];
		} else if (!strcmp(argv[i], "--no-ood")) {
			ood = 0;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: amort eval FILE [--tasks N] [--seed S] "
				"[--batch B] [--no-ood] [--csv F] [--svg F]\n");
			return 2;
		}
	}
	gemm_set_threads(1);
	memset(&c, 0, sizeof c);
	c.ntasks = (int)tasks;
	c.B = (int)batch;
	c.nk = (int)(sizeof gks / sizeof gks[0]);
	memcpy(c.ks, gks, sizeof gks);
	c.nheld = 1000;
	c.nsamp = 500;
	c.em_restarts = 5;
	c.em_iters = 300;
	c.seed = (uint64_t)seed;

	memset(blocks, 0, sizeof blocks);
	if (m->gtasks.src == GEN_SRC_MOG) {
		const struct mog_family *f = &m->gtasks.fam;

		blocks[nb].ts = m->gtasks;
		strcpy(blocks[nb].tag, "in distribution");
		snprintf(blocks[nb++].title, sizeof blocks[0].title,
			 "in distribution: D = %d..%d, %d to %d components",
			 f->dmin, f->dmax, f->kmin, f->kmax);
		if (ood) {
			blocks[nb].ts = m->gtasks;
			blocks[nb].ts.fam.kmin = 5;
			blocks[nb].ts.fam.kmax = 8;
			strcpy(blocks[nb].tag, "OOD: 5-8 components");
			snprintf(blocks[nb++].title, sizeof blocks[0].title,
				 "out of distribution: 5 to 8 components");
			blocks[nb].ts = m->gtasks;
			blocks[nb].ts.fam.spread *= 2.0f;
			strcpy(blocks[nb].tag, "OOD: spread x2");
			snprintf(blocks[nb].title, sizeof blocks[0].title,
				 "out of distribution: means spread x2 (%.2g)",
				 (double)blocks[nb].ts.fam.spread);
			/* a family whose sds are too small next to the new
			 * spread is not drawable: leave that block out */
			if (mog_family_check(&blocks[nb].ts.fam) == AM_OK)
				nb++;
		}
	} else {
		char held[HERSHEY_LETTERS + 1], tr[HERSHEY_LETTERS + 1];
		int nh = 0, nt = 0;

		if (hershey_load(HERSHEY_DIR, &fonts, err, sizeof err) != AM_OK) {
			fprintf(stderr, "amort eval: %s (install hershey-fonts-data)\n", err);
			return 1;
		}
		for (i = 0; i < HERSHEY_LETTERS; i++) {
			if (m->gtasks.letters[i])
				tr[nt++] = (char)hershey_letter_char(i);
			else
				held[nh++] = (char)hershey_letter_char(i);
		}
		tr[nt] = held[nh] = '\0';
		blocks[nb].ts = m->gtasks;
		blocks[nb].ts.fonts = &fonts;
		strcpy(blocks[nb].tag, "trained letters");
		snprintf(blocks[nb++].title, sizeof blocks[0].title,
			 "in distribution: trained letters %s in %d fonts", tr,
			 fonts.nfonts);
		if (ood && nh > 0) {
			blocks[nb].ts = m->gtasks;
			blocks[nb].ts.fonts = &fonts;
			gen_letters_parse(held, blocks[nb].ts.letters);
			strcpy(blocks[nb].tag, "held-out letters");
			snprintf(blocks[nb++].title, sizeof blocks[0].title,
				 "out of distribution: held-out letters %s", held);
		}
	}
	for (i = 0; i < nb; i++) {
		int r = geneval_run(m->impl, m->p, &blocks[i].ts, &c, blocks[i].rows);

		if (r != AM_OK) {
			fprintf(stderr, "amort eval: %s\n", am_strerror(r));
			goto out;
		}
	}
	printf("## %s (%s, %s regime, %s variant): %ld tasks, seed %ld\n\n", m->name,
	       m->family, m->gcfg.kind == GEN_MOG ? "parametric" : "explicit",
	       m->gcfg.variant == GEN_OBS ? "obs" : m->gcfg.variant == GEN_GRAD ?
	       "grad" : "both", tasks, seed);
	for (i = 0; i < nb; i++)
		print_gblock(&blocks[i], c.nk, c.B, c.nsamp);
	if (csv) {
		cf = fopen(csv, "w");
		if (!cf) {
			fprintf(stderr, "amort eval: cannot write %s\n", csv);
			goto out;
		}
		fprintf(cf, "model,block,k,amortizer_nll,em_nll,true_nll,"
			"amortizer_energy,em_energy,floor_energy\n");
		for (i = 0; i < nb; i++)
			csv_gblock(cf, m->name, &blocks[i], c.nk);
		if (fclose(cf)) {
			fprintf(stderr, "amort eval: cannot write %s\n", csv);
			goto out;
		}
	}
	if (svg) {
		struct geneval_config pc = c;

		pc.nsamp = 300;
		if (write_gsvg(svg, m, blocks, nb, &pc)) {
			fprintf(stderr, "amort eval: cannot write %s\n", svg);
			goto out;
		}
	}
	rc = 0;
out:
	hershey_free(&fonts);
	return rc;
}
