/* exit_codes.h - the exit status of every `dumu` command (README "The CLI"). */
#ifndef DUMU_APP_CLI_EXIT_CODES_H
#define DUMU_APP_CLI_EXIT_CODES_H

enum {
    EXIT_OK = 0,
    EXIT_USAGE = 1,         /* bad command line */
    EXIT_INPUT = 2,         /* bad input audio or manifest */
    EXIT_MODEL = 3,         /* model missing or invalid */
    EXIT_OUTPUT = 4,        /* cannot write an output */
    EXIT_INTERNAL = 5,      /* anything else */
    EXIT_INTERRUPTED = 130, /* SIGINT, as shells report it */
};

#endif /* DUMU_APP_CLI_EXIT_CODES_H */
