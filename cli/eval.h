/*
 * eval.h - the parts of `amort eval` (cmd_eval.c, eval_reg.c, eval_clf.c,
 * eval_gen.c, report.c): the options, parsed once from the command line,
 * and the front end of each family, which reads them, runs its core
 * evaluator (core/eval/) and prints the rows through report.c.
 *
 * Owns nothing beyond a call; never parses argv outside cmd_eval.c.
 */
#ifndef CLI_EVAL_H
#define CLI_EVAL_H

#include <stdio.h>

#include "eval/eval.h"
#include "cli/tool.h"

struct model;

/* The flags of `amort eval`, in the order of their table (cmd_eval.c). */
enum eval_opt {
	EVAL_OPT_TASKS, EVAL_OPT_TUNE, EVAL_OPT_TEST_ROWS, EVAL_OPT_SEED,
	EVAL_OPT_DIM, EVAL_OPT_BATCH, EVAL_OPT_NOISE, EVAL_OPT_CLASSES,
	EVAL_OPT_CSV, EVAL_OPT_SVG, EVAL_OPT_NO_OOD, EVAL_OPT_N
};

/* One flag as given, in command-line order: what a family's rules check. */
struct eval_arg {
	enum eval_opt opt;
	const char *val;		/* its value; NULL for --no-ood */
};

/*
 * The command line of `amort eval`, parsed once (cmd_eval.c).  A value is
 * the last one given, or 0 (NULL) when the flag is absent (`given` says
 * which were given), except seed (12345) and ood (1): each family fills
 * in its own defaults (tasks 256 for linreg and 100 otherwise, and so on).
 * --tasks, --seed, --dim (up to 64), --batch and --noise are checked here;
 * --tune-tasks, --test-rows and --classes, and the families' narrower
 * bounds, by the family's rules (eval_opts_check).
 */
struct eval_opts {
	const char *files[TOOL_MODELS_MAX];
	int nfiles;
	long tasks, tune, test_rows, seed, dim, batch, classes;
	double noise;
	const char *csv, *svg;
	int ood;			/* 0 with --no-ood */
	unsigned given;			/* 1u << EVAL_OPT_* */
	struct eval_arg *args;		/* nargs flags as given; owned */
	int nargs;
};

/* Whether flag o was given. */
#define EVAL_GIVEN(opts, o) (((opts)->given >> (o)) & 1u)

/*
 * What a family's front end takes: the flags it accepts (1u <<
 * EVAL_OPT_*), the upper bounds of those checked late (0: the family
 * ignores the value; classes also a lower one), the usage line printed
 * for any other flag, and the exit status of a value out of bounds (2; 1
 * for a single classification model, as it has always been).
 */
struct eval_rules {
	unsigned accept;
	long tune_hi, test_rows_hi, dim_hi, batch_hi, classes_lo, classes_hi;
	const char *usage;
	int bad_value_rc;
};

/* The front ends: each takes the loaded models (side by side where the
 * family allows) and the options; returns the exit status. */
int eval_run_linreg(struct model *ms, int nm, const struct eval_opts *o);
int eval_run_reg(struct model *ms, int nm, const struct eval_opts *o);
int eval_run_clf(struct model *m, const struct eval_opts *o);
int eval_run_clf_many(struct model *ms, int nm, const struct eval_opts *o);
int eval_run_gen(struct model *m, const struct eval_opts *o);

/* The task family of block b of the MSE families (linreg, reg): 0 in
 * distribution (x ~ N(0, I)), then out of it 1 heavy-tailed x (Student
 * t, 3 dof), 2 shifted x (|mean| = 1), 3 noise sd 2.0 and 4 noise sd 0.02;
 * D = dim and (0 to 2) noise sd noise. */
struct linreg_family;
void eval_mse_family(int b, int dim, float noise, struct linreg_family *f);

/* Checks the given flags in command-line order against r: 0, or the exit
 * status after a message (the usage line, or the bound). */
int eval_opts_check(const struct eval_opts *o, const struct eval_rules *r);

/* ---- report.c: any family's rows as Markdown, CSV and SVG ---------------- */

/*
 * What a cell or a CSV field shows of a row (struct eval_row, eval.h):
 * a value, a base[] or base_hyper[] entry (REPORT_B(b), REPORT_H(b)),
 * the step count k, the rows k*B, the batch B, or the step with its
 * standard error (report_step_cell: three significant digits, or four
 * decimals).
 */
enum {
	REPORT_NONE,
	REPORT_AMORT, REPORT_ONESTEP, REPORT_FLOOR, REPORT_K, REPORT_ROWS,
	REPORT_BATCH, REPORT_STEP_SIG, REPORT_STEP_DEC,
	REPORT_BASE = 16,
	REPORT_HYPER = REPORT_BASE + EVAL_BASE_MAX
};
#define REPORT_B(b) (REPORT_BASE + (b))	/* base[b] */
#define REPORT_H(b) (REPORT_HYPER + (b))	/* base_hyper[b] */

/*
 * A column of a Markdown table (or a field of a CSV row): fmt printed
 * with one double, a (a op b when op is '/' or '-'), or with two, the
 * second x (x xop y).  A cell whose values are missing (eval_row.has) is
 * "-" in a table and empty in a CSV row (NAN printed as such when
 * keep_nan).  Integer values (k, rows, B) and the step ignore fmt.  A
 * column with each = 1 repeats once per model, headed by the model's
 * head, its values from that model's rows; the others read the first
 * model's.
 */
struct report_col {
	const char *head;
	const char *fmt;
	signed char a, op, b, x, xop, y;
	unsigned char each, keep_nan;
};

/*
 * The step column: report_step_words defines it (printed with every step
 * column); report_step_cell writes row e's "+0.0012 (0.0008)" (sig 0: four
 * decimals, for error rates) or "-0.0123 (0.0031)" to three significant
 * digits (sig 1, for MSEs of any scale) into buf and returns it, or "-" at
 * the first k; report_step_table prints a Markdown table of the steps of
 * nm models (named by names) from the second k on, rows holding nk rows
 * per model, model-major.
 */
extern const char report_step_words[];
const char *report_step_cell(const struct eval_row *e, int sig, char *buf,
			     size_t n);
void report_step_table(const char *const *names, int nm,
		       const struct eval_row *rows, int nk, int sig);

/*
 * report_table: the Markdown table of nm models' rows (model-major, nk
 * per model) with its header and separator lines; heads names the
 * models for each-columns (NULL when there are none).  Ends after the last
 * row's line.
 *
 * report_csv_open: a new CSV file at path with its header line; NULL
 * after a message.  report_csv_close: closes it; 0, or -1 after a
 * message (the file could not be written).
 *
 * report_csv: one CSV line per row of one model's nk rows: model name,
 * block title (in double quotes when quote), then the fields.
 */
void report_table(const struct report_col *cols, int ncol,
		  const char *const *heads, const struct eval_row *rows, int nm,
		  int nk, int B);
FILE *report_csv_open(const char *path, const char *header);
int report_csv_close(FILE *f, const char *path);
void report_csv(FILE *f, const char *model, const char *block, int quote,
		const struct report_col *cols, int ncol,
		const struct eval_row *rows, int nk, int B);

/*
 * The MSE families (linreg, reg) share one table and one CSV:
 * report_mse_block prints block `title` of one model's nk rows (what:
 * how the MSE is measured, the sentence's start), the noise floor
 * after it; report_mse_csv_header is the CSV's first line and
 * report_mse_csv its fields (with report_csv).
 */
extern const char report_mse_csv_header[];
extern const struct report_col report_mse_csv[];
extern const int report_mse_ncsv;
void report_mse_block(const char *title, const char *what,
		      const struct eval_row *rows, int nk, int B);

/*
 * report_svg: the MSE of the amortizer, SGD, Adam and the one-step
 * amortizer over the ridge posterior's against k, log-log, a panel per
 * block (titles[i], rows + i * nk), two panels a line, to path.  0, or -1
 * when it cannot be written.
 */
int report_svg(const char *path, const char *const *titles,
	       const struct eval_row *rows, int nb, int nk);

#endif
