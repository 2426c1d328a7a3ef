/*
 * report.c - the rows of any evaluator (struct eval_row, eval/eval.h) as
 * `amort eval` prints them: Markdown tables and CSV lines from a family's
 * column list, the step columns (the amortizer's error at k minus its
 * error at the previous k, per task, mean over tasks, with the standard
 * error of that mean), and the SVG of ratios against k.  One definition
 * and one cell format for every table.  Owns nothing; writes to stdout or
 * the FILE it is given; never runs an evaluation.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/eval.h"

const char report_step_words[] =
	"the amortizer's error minus its error at the previous k, per task, "
	"mean over tasks (its standard error over the tasks in brackets): a "
	"step helps beyond what these tasks resolve when the mean is below "
	"minus two standard errors.";

const char *report_step_cell(const struct eval_row *e, int sig, char *buf,
			     size_t n)
{
	if (!(e->has & EVAL_HAS_CHANGE))
		return "-";
	if (sig)
		snprintf(buf, n, "%+.3g (%.2g)", e->change, e->change_se);
	else
		snprintf(buf, n, "%+.4f (%.4f)", e->change, e->change_se);
	return buf;
}

/* The CSV fields "change,change_se" (",": both empty at the first k). */
static void step_csv(FILE *f, const struct eval_row *e, int sig)
{
	if (!(e->has & EVAL_HAS_CHANGE))
		fprintf(f, ",");
	else if (sig)
		fprintf(f, "%.6g,%.6g", e->change, e->change_se);
	else
		fprintf(f, "%.6f,%.6f", e->change, e->change_se);
}

void report_step_table(const char *const *names, int nm,
		       const struct eval_row *rows, int nk, int sig)
{
	char cell[64];
	int i, j;

	printf("Step: %s\n\n| k |", report_step_words);
	for (i = 0; i < nm; i++)
		printf(" %s |", names[i]);
	printf("\n|---|");
	for (i = 0; i < nm; i++)
		printf("---|");
	printf("\n");
	for (j = 1; j < nk; j++) {
		printf("| %d |", rows[j].k);
		for (i = 0; i < nm; i++)
			printf(" %s |", report_step_cell(&rows[(size_t)i * nk + j],
							 sig, cell, sizeof cell));
		printf("\n");
	}
	printf("\n");
}

/* Value v of row e (REPORT_*); *ok = 0 when the row does not have it. */
static double value(const struct eval_row *e, int v, int B, int *ok)
{
	unsigned bit = 0;
	double x = 0.0;

	if (v == REPORT_AMORT) {
		bit = EVAL_HAS_AMORT;
		x = e->amort;
	} else if (v == REPORT_ONESTEP) {
		bit = EVAL_HAS_ONESTEP;
		x = e->onestep;
	} else if (v == REPORT_FLOOR) {
		bit = EVAL_HAS_FLOOR;
		x = e->floor;
	} else if (v == REPORT_K) {
		x = e->k;
	} else if (v == REPORT_ROWS) {
		x = (double)e->k * B;
	} else if (v == REPORT_BATCH) {
		x = B;
	} else if (v >= REPORT_HYPER) {
		bit = EVAL_HAS_BASE(v - REPORT_HYPER);
		x = e->base_hyper[v - REPORT_HYPER];
	} else if (v >= REPORT_BASE) {
		bit = EVAL_HAS_BASE(v - REPORT_BASE);
		x = e->base[v - REPORT_BASE];
	}
	if (bit && !(e->has & bit))
		*ok = 0;
	return x;
}

/* a op b, or a alone (op 0). */
static double combine(const struct eval_row *e, int a, int op, int b, int B,
		      int *ok)
{
	double x = value(e, a, B, ok);

	if (op == '/')
		return x / value(e, b, B, ok);
	if (op == '-')
		return x - value(e, b, B, ok);
	return x;
}

/* Column c's text for row e: a value in buf, "-", or the step; *ok = 0
 * when a value is missing. */
static const char *cell(const struct report_col *c, const struct eval_row *e,
			int B, char *buf, size_t n, int *ok)
{
	double a, x = 0.0;

	*ok = 1;
	if (c->a == REPORT_STEP_SIG || c->a == REPORT_STEP_DEC)
		return report_step_cell(e, c->a == REPORT_STEP_SIG, buf, n);
	if (c->a == REPORT_K || c->a == REPORT_ROWS || c->a == REPORT_BATCH) {
		snprintf(buf, n, "%d", (int)value(e, c->a, B, ok));
		return buf;
	}
	a = combine(e, c->a, c->op, c->b, B, ok);
	if (c->x)
		x = combine(e, c->x, c->xop, c->y, B, ok);
	if (!*ok && !c->keep_nan)
		return "-";
	snprintf(buf, n, c->fmt, a, x);
	return buf;
}

void report_table(const struct report_col *cols, int ncol,
		  const char *const *heads, const struct eval_row *rows, int nm,
		  int nk, int B)
{
	char buf[96];
	int c, i, j, n = 0, ok;

	printf("|");
	for (c = 0; c < ncol; c++)
		for (i = 0; i < (cols[c].each ? nm : 1); i++, n++)
			printf(" %s |", cols[c].each ? heads[i] : cols[c].head);
	printf("\n|");
	while (n--)
		printf("---|");
	printf("\n");
	for (j = 0; j < nk; j++) {
		printf("|");
		for (c = 0; c < ncol; c++)
			for (i = 0; i < (cols[c].each ? nm : 1); i++)
				printf(" %s |", cell(&cols[c],
						     &rows[(size_t)i * nk + j], B,
						     buf, sizeof buf, &ok));
		printf("\n");
	}
}

FILE *report_csv_open(const char *path, const char *header)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "amort eval: cannot write %s\n", path);
		return NULL;
	}
	fputs(header, f);
	return f;
}

int report_csv_close(FILE *f, const char *path)
{
	if (fclose(f)) {
		fprintf(stderr, "amort eval: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

void report_csv(FILE *f, const char *model, const char *block, int quote,
		const struct report_col *cols, int ncol,
		const struct eval_row *rows, int nk, int B)
{
	char buf[96];
	int c, j, ok;

	for (j = 0; j < nk; j++) {
		fprintf(f, quote ? "%s,\"%s\"" : "%s,%s", model, block);
		for (c = 0; c < ncol; c++) {
			const char *s;

			fprintf(f, ",");
			if (cols[c].a == REPORT_STEP_SIG || cols[c].a == REPORT_STEP_DEC) {
				step_csv(f, &rows[j], cols[c].a == REPORT_STEP_SIG);
				continue;
			}
			s = cell(&cols[c], &rows[j], B, buf, sizeof buf, &ok);
			if (ok || cols[c].keep_nan)
				fputs(s, f);
		}
		fprintf(f, "\n");
	}
}

/* The MSE table: the amortizer, its step, the baselines and the ratios
 * to the Bayes-optimal ridge posterior. */
static const struct report_col mse_cols[] = {
	{ .head = "k", .a = REPORT_K },
	{ .head = "rows", .a = REPORT_ROWS },
	{ .head = "amortizer", .fmt = "%.4f", .a = REPORT_AMORT },
	{ .head = "step (SE)", .a = REPORT_STEP_SIG },
	{ .head = "Bayes (ridge)", .fmt = "%.4f", .a = REPORT_B(EVAL_RIDGE) },
	{ .head = "SGD (lr)", .fmt = "%.4f (%.3g)", .a = REPORT_B(EVAL_SGD),
	  .x = REPORT_H(EVAL_SGD) },
	{ .head = "Adam (lr)", .fmt = "%.4f (%.3g)", .a = REPORT_B(EVAL_ADAM),
	  .x = REPORT_H(EVAL_ADAM) },
	{ .head = "one-step", .fmt = "%.4f", .a = REPORT_ONESTEP },
	{ .head = "amortizer/Bayes", .fmt = "**%.3f**", .a = REPORT_AMORT,
	  .op = '/', .b = REPORT_B(EVAL_RIDGE) },
	{ .head = "SGD/Bayes", .fmt = "%.3f", .a = REPORT_B(EVAL_SGD), .op = '/',
	  .b = REPORT_B(EVAL_RIDGE) },
	{ .head = "Adam/Bayes", .fmt = "%.3f", .a = REPORT_B(EVAL_ADAM), .op = '/',
	  .b = REPORT_B(EVAL_RIDGE) },
	{ .head = "one-step/Bayes", .fmt = "%.3f", .a = REPORT_ONESTEP, .op = '/',
	  .b = REPORT_B(EVAL_RIDGE) },
};

const char report_mse_csv_header[] = "model,block,k,batch,amortizer,bayes,"
	"sgd,sgd_lr,adam,adam_lr,onestep,noise_floor,change,change_se\n";

const struct report_col report_mse_csv[] = {
	{ .a = REPORT_K }, { .a = REPORT_BATCH },
	{ .fmt = "%.6g", .a = REPORT_AMORT },
	{ .fmt = "%.6g", .a = REPORT_B(EVAL_RIDGE) },
	{ .fmt = "%.6g", .a = REPORT_B(EVAL_SGD) },
	{ .fmt = "%.6g", .a = REPORT_H(EVAL_SGD) },
	{ .fmt = "%.6g", .a = REPORT_B(EVAL_ADAM) },
	{ .fmt = "%.6g", .a = REPORT_H(EVAL_ADAM) },
	{ .fmt = "%.6g", .a = REPORT_ONESTEP, .keep_nan = 1 },
	{ .fmt = "%.6g", .a = REPORT_FLOOR },
	{ .a = REPORT_STEP_SIG },
};

const int report_mse_ncsv = (int)(sizeof report_mse_csv / sizeof report_mse_csv[0]);

void report_mse_block(const char *title, const char *what,
		      const struct eval_row *rows, int nk, int B)
{
	printf("### %s\n\n", title);
	printf("%s, mean over tasks; k steps of %d rows. Ratios are to the "
	       "Bayes-optimal ridge posterior mean on the same rows. Step: %s\n\n",
	       what, B, report_step_words);
	report_table(mse_cols, (int)(sizeof mse_cols / sizeof mse_cols[0]), NULL,
		     rows, 1, nk, B);
	printf("\nNoise floor (mean noise variance): %.4f\n\n", rows[0].floor);
}

/* One panel of the SVG: MSE / Bayes against k, log-log. */
static void svg_panel(FILE *f, const char *title, const struct eval_row *rows,
		      int nk, double x0, double y0, double w, double h)
{
	static const char *names[] = { "amortizer", "SGD", "Adam", "one-step" };
	static const char *colors[] = { "#d62728", "#1f77b4", "#2ca02c", "#9467bd" };
	double ymax = 1.0, kmax = rows[nk - 1].k;
	int s, j;

	for (j = 0; j < nk; j++) {
		const struct eval_row *e = &rows[j];
		double v[4] = { e->amort, e->base[EVAL_SGD], e->base[EVAL_ADAM], (e->has & EVAL_HAS_ONESTEP) ? e->onestep : 0 };

		for (s = 0; s < 4; s++)
			if (isfinite(v[s] / e->base[EVAL_RIDGE]) && v[s] / e->base[EVAL_RIDGE] > ymax)
				ymax = v[s] / e->base[EVAL_RIDGE];
	}
	ymax = ymax > 20 ? 20 : ymax;
#define SX(k) (x0 + 40 + (w - 50) * log((double)(k)) / log(kmax))
#define SY(r) (y0 + h - 30 - (h - 50) * log(r) / log(ymax))
	fprintf(f, "<text x='%.1f' y='%.1f' font-size='13'>%s</text>\n", x0 + 40, y0 + 14, title);
	fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='none' stroke='#999'/>\n",
		x0 + 40, y0 + 20, w - 50, h - 50);
	for (j = 0; j < nk; j++)
		fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='middle'>%d</text>\n",
			SX(rows[j].k), y0 + h - 15, rows[j].k);
	fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='end'>1</text>\n",
		x0 + 36, SY(1.0) + 3);
	fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='end'>%.3g</text>\n",
		x0 + 36, SY(ymax) + 3, ymax);
	for (s = 0; s < 4; s++) {
		int first = 1;

		fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2' points='", colors[s]);
		for (j = 0; j < nk; j++) {
			const struct eval_row *e = &rows[j];
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

int report_svg(const char *path, const char *const *titles,
	       const struct eval_row *rows, int nb, int nk)
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
		svg_panel(f, titles[i], rows + (size_t)i * nk, nk, (i % 2) * 420,
			  30 + (i / 2) * 280, 410, 270);
	fprintf(f, "</svg>\n");
	return fclose(f) == 0 ? 0 : -1;
}
