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
#include "cli/eval.h"

struct gblock {
	char title[128];
	char tag[24];			/* its row label in the SVG */
	struct source ts;
	struct eval_row rows[GENEVAL_KS_MAX];
};

static const int gks[] = { 1, 2, 4, 8, 16, 32 };

/* Mixture tasks: NLL against EM and the truth, then energy distances. */
static const struct report_col em_cols[] = {
	{ .head = "k", .a = REPORT_K },
	{ .head = "samples", .a = REPORT_ROWS },
	{ .head = "amortizer NLL", .fmt = "%.4f", .a = REPORT_AMORT },
	{ .head = "EM NLL", .fmt = "%.4f", .a = REPORT_B(EVAL_EM) },
	{ .head = "true NLL", .fmt = "%.4f", .a = REPORT_FLOOR },
	{ .head = "amortizer - EM", .fmt = "**%+.4f**", .a = REPORT_AMORT,
	  .op = '-', .b = REPORT_B(EVAL_EM) },
	{ .head = "amortizer energy", .fmt = "%.4f", .a = REPORT_B(EVAL_ENERGY) },
	{ .head = "EM energy", .fmt = "%.4f", .a = REPORT_B(EVAL_EM_ENERGY) },
	{ .head = "floor", .fmt = "%.4f", .a = REPORT_B(EVAL_ENERGY_FLOOR) },
};

/* Letters: energy distances only. */
static const struct report_col glyph_cols[] = {
	{ .head = "k", .a = REPORT_K },
	{ .head = "points", .a = REPORT_ROWS },
	{ .head = "amortizer energy", .fmt = "%.4f", .a = REPORT_B(EVAL_ENERGY) },
	{ .head = "floor", .fmt = "%.4f", .a = REPORT_B(EVAL_ENERGY_FLOOR) },
	{ .head = "amortizer / floor", .fmt = "%.2f", .a = REPORT_B(EVAL_ENERGY),
	  .op = '/', .b = REPORT_B(EVAL_ENERGY_FLOOR) },
};

static const struct report_col csv_cols[] = {
	{ .a = REPORT_K }, { .fmt = "%.6f", .a = REPORT_AMORT },
	{ .fmt = "%.6f", .a = REPORT_B(EVAL_EM) }, { .fmt = "%.6f", .a = REPORT_FLOOR },
	{ .fmt = "%.6f", .a = REPORT_B(EVAL_ENERGY) },
	{ .fmt = "%.6f", .a = REPORT_B(EVAL_EM_ENERGY) },
	{ .fmt = "%.6f", .a = REPORT_B(EVAL_ENERGY_FLOOR) },
};

static void print_gblock(const struct gblock *b, int nk, int B, int nsamp)
{
	printf("### %s\n\n", b->title);
	if (b->rows[0].has & EVAL_HAS_BASE(EVAL_EM)) {
		printf("Mean over tasks, after k mini-batches of %d samples. NLL: nats per "
		       "held-out sample. EM: on all samples seen, the task's true number "
		       "of components, best of its restarts. Energy: energy distance "
		       "(V-statistic) between %d model samples and %d fresh true samples "
		       "(floor: between two true samples of that size).\n\n", B,
		       nsamp, nsamp);
		report_table(em_cols, (int)(sizeof em_cols / sizeof em_cols[0]), NULL,
			     b->rows, 1, nk, B);
	} else {
		printf("Mean over tasks, after k mini-batches of %d points. Energy: energy "
		       "distance (V-statistic) between %d model samples and %d fresh "
		       "points of the glyph (floor: between two true samples of that "
		       "size).\n\n", B, nsamp, nsamp);
		report_table(glyph_cols, (int)(sizeof glyph_cols / sizeof glyph_cols[0]),
			     NULL, b->rows, 1, nk, B);
	}
	printf("\n");
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

/* A mixture model's blocks: its own family and, with ood, 5 to 8
 * components and means spread twice as far (where drawable); their
 * count. */
static int mog_blocks(struct gblock *blocks, const struct model *m, int ood)
{
	const struct mog_family *f = &m->gtasks.fam;
	int nb = 0;

	blocks[nb].ts = m->gtasks;
	strcpy(blocks[nb].tag, "in distribution");
	snprintf(blocks[nb++].title, sizeof blocks[0].title,
		 "in distribution: D = %d..%d, %d to %d components",
		 f->dmin, f->dmax, f->kmin, f->kmax);
	if (!ood)
		return nb;
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
	/* a family whose sds are too small next to the new spread is not
	 * drawable: leave that block out */
	if (mog_family_check(&blocks[nb].ts.fam) == AM_OK)
		nb++;
	return nb;
}

/* A letter model's blocks: the letters trained on and, with ood, the
 * held-out ones, in the fonts (loaded here); their count, or -1 after a
 * message. */
static int letter_blocks(struct gblock *blocks, const struct model *m, int ood,
			 struct hershey_set *fonts)
{
	char held[HERSHEY_LETTERS + 1], tr[HERSHEY_LETTERS + 1], err[512];
	int i, nh = 0, nt = 0, nb = 0;

	if (hershey_load(HERSHEY_DIR, fonts, err, sizeof err) != AM_OK) {
		fprintf(stderr, "amort eval: %s (install hershey-fonts-data)\n", err);
		return -1;
	}
	for (i = 0; i < HERSHEY_LETTERS; i++) {
		if (m->gtasks.letters[i])
			tr[nt++] = (char)hershey_letter_char(i);
		else
			held[nh++] = (char)hershey_letter_char(i);
	}
	tr[nt] = held[nh] = '\0';
	blocks[nb].ts = m->gtasks;
	blocks[nb].ts.fonts = fonts;
	strcpy(blocks[nb].tag, "trained letters");
	snprintf(blocks[nb++].title, sizeof blocks[0].title,
		 "in distribution: trained letters %s in %d fonts", tr,
		 fonts->nfonts);
	if (ood && nh > 0) {
		blocks[nb].ts = m->gtasks;
		blocks[nb].ts.fonts = fonts;
		source_letters_parse(held, blocks[nb].ts.letters);
		strcpy(blocks[nb].tag, "held-out letters");
		snprintf(blocks[nb++].title, sizeof blocks[0].title,
			 "out of distribution: held-out letters %s", held);
	}
	return nb;
}

/* The CSV of the blocks.  0, or -1 after a message. */
static int write_csv(const char *csv, const struct model *m,
		     const struct gblock *blocks, int nb, int nk)
{
	FILE *cf = report_csv_open(csv, "model,block,k,amortizer_nll,em_nll,"
				   "true_nll,amortizer_energy,em_energy,"
				   "floor_energy\n");
	int i;

	if (!cf)
		return -1;
	for (i = 0; i < nb; i++)
		report_csv(cf, m->name, blocks[i].title, 1, csv_cols,
			   (int)(sizeof csv_cols / sizeof csv_cols[0]),
			   blocks[i].rows, nk, 0);
	return report_csv_close(cf, csv);
}

int eval_run_gen(struct model *m, const struct eval_opts *o)
{
	const struct eval_rules rules = {
		(1u << EVAL_OPT_TASKS) | (1u << EVAL_OPT_SEED) |
		(1u << EVAL_OPT_BATCH) | (1u << EVAL_OPT_CSV) |
		(1u << EVAL_OPT_SVG) | (1u << EVAL_OPT_NO_OOD),
		0, 0, 0, m->gcfg.bmax, 0, 0,
		"usage: amort eval FILE [--tasks N] [--seed S] [--batch B] "
		"[--no-ood] [--csv F] [--svg F]\n", 2
	};
	struct hershey_set fonts = { 0, NULL };
	struct gblock blocks[3];
	struct geneval_config c, pc;
	int i, nb, rc;

	if ((rc = eval_opts_check(o, &rules)))
		return rc;
	gemm_set_threads(1);
	memset(&c, 0, sizeof c);
	c.ntasks = (int)(EVAL_GIVEN(o, EVAL_OPT_TASKS) ? o->tasks : 100);
	c.B = (int)(EVAL_GIVEN(o, EVAL_OPT_BATCH) ? o->batch : m->gcfg.bmax);
	c.nk = (int)(sizeof gks / sizeof gks[0]);
	memcpy(c.ks, gks, sizeof gks);
	c.nheld = 1000;
	c.nsamp = 500;
	c.em_restarts = 5;
	c.em_iters = 300;
	c.seed = (uint64_t)o->seed;
	memset(blocks, 0, sizeof blocks);
	nb = m->gtasks.src == SOURCE_MOG ? mog_blocks(blocks, m, o->ood) :
	     letter_blocks(blocks, m, o->ood, &fonts);
	rc = 1;
	if (nb < 0)
		goto out;
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
	       "grad" : "both", (long)c.ntasks, o->seed);
	for (i = 0; i < nb; i++)
		print_gblock(&blocks[i], c.nk, c.B, c.nsamp);
	if (o->csv && write_csv(o->csv, m, blocks, nb, c.nk))
		goto out;
	pc = c;
	pc.nsamp = 300;
	if (o->svg && write_gsvg(o->svg, m, blocks, nb, &pc)) {
		fprintf(stderr, "amort eval: cannot write %s\n", o->svg);
		goto out;
	}
	rc = 0;
out:
	hershey_free(&fonts);
	return rc;
}
