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

/* Parses a non-negative integer option value; returns 0 and sets *out, or
 * prints a message naming the option and returns -1. */
int tool_parse_long(const char *opt, const char *s, long lo, long hi, long *out);

#endif
