/* eval.h - the `dumu eval` command (app/cli/eval.c). */
#ifndef DUMU_APP_CLI_EVAL_H
#define DUMU_APP_CLI_EVAL_H

#include "dumu/dumu.h"

/* Runs `dumu eval` with argv[0] = "eval"; returns the process exit code. */
int dumu_cli_eval(int argc, char **argv);

#endif /* DUMU_APP_CLI_EVAL_H */
