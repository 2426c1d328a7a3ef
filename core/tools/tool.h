/*
 * tool.h - the subcommands of the `amort` command.  Each takes its own
 * argv (argv[0] is the subcommand's name) and returns the process exit
 * status: 0 on success, 1 on a failure, 2 on a usage error.
 */
#ifndef TOOL_H
#define TOOL_H

int tool_info(int argc, char **argv);
int tool_demo(int argc, char **argv);
int tool_train(int argc, char **argv);
int tool_adapt(int argc, char **argv);
int tool_eval(int argc, char **argv);
int tool_data(int argc, char **argv);

struct model;
/* `amort eval` on one generative model (gevaltool.c); m is loaded. */
int tool_geval(struct model *m, int argc, char **argv);
/* `amort eval` on one classification model (clfevaltool.c). */
int tool_clfeval(struct model *m, int argc, char **argv);
/* `amort eval` on several linclass models side by side (the ablations). */
int tool_clfeval_many(struct model *ms, int nm, int argc, char **argv);

/* `amort eval` on regression models of kind reg (explicit, implicit),
 * alone or side by side with each other and with linreg models
 * (regevaltool.c); at least one model is of kind reg. */
int tool_regeval(struct model *ms, int nm, int argc, char **argv);

/* Parses a non-negative integer option value; returns 0 and sets *out, or
 * prints a message naming the option and returns -1. */
int tool_parse_long(const char *opt, const char *s, long lo, long hi, long *out);

#endif
