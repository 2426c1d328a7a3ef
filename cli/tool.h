/*
 * tool.h - the subcommands of the `amort` command.  Each takes its own
 * argv (argv[0] is the subcommand's name) and returns the process exit
 * status: 0 on success, 1 on a failure, 2 on a usage error.
 */
#ifndef TOOL_H
#define TOOL_H

#include <stddef.h>
#include <stdio.h>

int tool_info(int argc, char **argv);
int tool_train(int argc, char **argv);
int tool_adapt(int argc, char **argv);
int tool_eval(int argc, char **argv);
int tool_data(int argc, char **argv);

/* At most this many models side by side in one `amort eval`. */
#define TOOL_MODELS_MAX 8

struct model;
/* `amort eval` on one generative model (eval_gen.c); m is loaded. */
int tool_geval(struct model *m, int argc, char **argv);
/* `amort eval` on one classification model (eval_clf.c). */
int tool_clfeval(struct model *m, int argc, char **argv);
/* `amort eval` on several linclass models side by side (the ablations). */
int tool_clfeval_many(struct model *ms, int nm, int argc, char **argv);

/* `amort eval` on regression models of kind reg (explicit, implicit),
 * alone or side by side with each other and with linreg models
 * (eval_reg.c); at least one model is of kind reg. */
int tool_regeval(struct model *ms, int nm, int argc, char **argv);

/*
 * The step columns of the evaluation tables (report.c).  A step is the
 * amortizer's error at k minus its error at the previous k, per task,
 * mean over tasks (change), with the standard error of that mean (se);
 * has is 0 at the first k.
 *
 * tool_step_words: the definition, printed with every step column.
 * tool_step_cell: "+0.0012 (0.0008)" (sig 0: four decimals, for error
 * rates) or "-0.0123 (0.0031)" to three significant digits (sig 1, for
 * MSEs of any scale) in buf; "-" when has is 0.
 * tool_step_csv: the CSV fields "change,change_se" to f (",": both empty
 * when has is 0), to 6 significant digits (sig 1) or 6 decimals (sig 0).
 * tool_step_table: a Markdown table of the steps of nm models (named by
 * names) from the second k on: st holds nk steps per model, model-major.
 */
struct tool_step {
	int k, has;
	double change, se;
};

extern const char tool_step_words[];
const char *tool_step_cell(const struct tool_step *s, int sig, char *buf,
			   size_t n);
void tool_step_csv(FILE *f, const struct tool_step *s, int sig);
void tool_step_table(const char *const *names, int nm, const struct tool_step *st,
		     int nk, int sig);

/* Parses a non-negative integer option value; returns 0 and sets *out, or
 * prints a message naming the option and returns -1. */
int tool_parse_long(const char *opt, const char *s, long lo, long hi, long *out);

#endif
