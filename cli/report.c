/*
 * report.c - the step columns of `amort eval`: the amortizer's error (an
 * error rate or an MSE) at k minus its error at the previous k, per task,
 * averaged over tasks, with the standard error of that mean (the
 * evaluators' change and change_se).  One definition and one cell format
 * for every evaluation table that shows them.
 */
#include <stdio.h>

#include "cli/tool.h"

const char tool_step_words[] =
	"the amortizer's error minus its error at the previous k, per task, "
	"mean over tasks (its standard error over the tasks in brackets): a "
	"step helps beyond what these tasks resolve when the mean is below "
	"minus two standard errors.";

const char *tool_step_cell(const struct tool_step *s, int sig, char *buf,
			   size_t n)
{
	if (!s->has)
		return "-";
	if (sig)
		snprintf(buf, n, "%+.3g (%.2g)", s->change, s->se);
	else
		snprintf(buf, n, "%+.4f (%.4f)", s->change, s->se);
	return buf;
}

void tool_step_csv(FILE *f, const struct tool_step *s, int sig)
{
	if (!s->has)
		fprintf(f, ",");
	else if (sig)
		fprintf(f, "%.6g,%.6g", s->change, s->se);
	else
		fprintf(f, "%.6f,%.6f", s->change, s->se);
}

void tool_step_table(const char *const *names, int nm, const struct tool_step *st,
		     int nk, int sig)
{
	char cell[64];
	int i, j;

	printf("Step: %s\n\n| k |", tool_step_words);
	for (i = 0; i < nm; i++)
		printf(" %s |", names[i]);
	printf("\n|---|");
	for (i = 0; i < nm; i++)
		printf("---|");
	printf("\n");
	for (j = 1; j < nk; j++) {
		printf("| %d |", st[j].k);
		for (i = 0; i < nm; i++)
			printf(" %s |", tool_step_cell(&st[(size_t)i * nk + j], sig,
						       cell, sizeof cell));
		printf("\n");
	}
	printf("\n");
}
