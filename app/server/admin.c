/* admin.c - `dumu admin`: accounts and API keys, from the command line of the machine that
 * runs the service, on the store `dumu serve` uses (--data-dir or --db), also while it runs
 * (jobs.h srv_jobs_open_admin). A key made here works on every API node at once: the nodes
 * look keys up in the store on every request.
 *
 *   dumu admin users                        the accounts: id, e-mail, tier, created
 *   dumu admin keys create EMAIL [--name N] a new API key of the account, printed once
 *   dumu admin keys list EMAIL              its keys: id, name, created
 *   dumu admin keys revoke ID               refused at once by every node
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "jobs.h"
#include "server.h"

enum { EXIT_USAGE = 1, EXIT_NOT_FOUND = 2, EXIT_STORE = 4 };

/* Accounts and keys listed at most: far beyond what one reads on a terminal. */
#define MAX_ROWS 10000

static void usage(FILE *f) {
    fprintf(f, "usage: dumu admin [--data-dir data | --db postgresql://USER@HOST/DB] COMMAND\n"
               "  users                       list the accounts\n"
               "  keys create EMAIL [--name N] make an API key for the account (printed once)\n"
               "  keys list EMAIL             list the account's API keys\n"
               "  keys revoke ID              revoke an API key\n"
               "The store is the one `dumu serve` was given (default: --data-dir data).\n");
}

static void print_time(int64_t t, char out[32]) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The account of `email` into *a: 0, or an exit code (said on stderr). */
static int find_account(srv_jobs *jobs, const char *email, struct srv_account *a) {
    char lower[SRV_EMAIL_LEN];
    size_t i = 0;
    for (; email[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)(email[i] >= 'A' && email[i] <= 'Z' ? email[i] - 'A' + 'a' : email[i]);
    lower[i] = '\0';
    int found = srv_jobs_account_find(jobs, lower, NULL, a, NULL, 0);
    if (found < 0) return EXIT_STORE;
    if (!found) {
        fprintf(stderr, "dumu admin: no account with e-mail %s\n", email);
        return EXIT_NOT_FOUND;
    }
    return 0;
}

static int list_users(srv_jobs *jobs) {
    static struct srv_account rows[MAX_ROWS];
    int n = srv_jobs_account_list(jobs, rows, MAX_ROWS);
    if (n < 0) return EXIT_STORE;
    for (int i = 0; i < n; i++) {
        char when[32];
        print_time(rows[i].created, when);
        printf("%s\t%s\t%s\t%s\n", rows[i].id, rows[i].email, rows[i].tier, when);
    }
    return 0;
}

static int keys(srv_jobs *jobs, const char *verb, const char *arg, const char *name) {
    struct srv_account a;
    int rc;
    if (strcmp(verb, "revoke") == 0) {
        rc = srv_jobs_cred_remove(jobs, SRV_CRED_KEY, NULL, arg, NULL);
        if (rc < 0) return EXIT_STORE;
        if (!rc) fprintf(stderr, "dumu admin: no API key %s\n", arg);
        return rc ? 0 : EXIT_NOT_FOUND;
    }
    if ((rc = find_account(jobs, arg, &a))) return rc;
    if (strcmp(verb, "list") == 0) {
        static struct srv_cred rows[MAX_ROWS];
        int n = srv_jobs_cred_list(jobs, SRV_CRED_KEY, a.id, rows, MAX_ROWS);
        if (n < 0) return EXIT_STORE;
        for (int i = 0; i < n; i++) {
            char when[32];
            print_time(rows[i].created, when);
            printf("%s\t%s\t%s\n", rows[i].id, rows[i].name, when);
        }
        return 0;
    }
    struct srv_cred k;
    memset(&k, 0, sizeof k);
    char token[SRV_TOKEN_LEN], hash[SRV_HASH_LEN];
    srv_token_new("dumu_k_", token);
    srv_hash_hex(token, hash);
    srv_uuid_new(k.id);
    snprintf(k.account, sizeof k.account, "%s", a.id);
    snprintf(k.name, sizeof k.name, "%s", name ? name : "admin");
    k.created = (int64_t)time(NULL);
    if (srv_jobs_cred_add(jobs, SRV_CRED_KEY, hash, &k)) return EXIT_STORE;
    printf("%s\n", token);
    fprintf(stderr, "dumu admin: API key %s (%s) for %s; it is shown only this once\n", k.id,
            k.name, a.email);
    return 0;
}

int dumu_admin_main(int argc, char **argv) {
    const char *data_dir = NULL, *db_url = NULL, *name = NULL, *pos[4] = {0};
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char **opt = strcmp(argv[i], "--data-dir") == 0 ? &data_dir
                           : strcmp(argv[i], "--db") == 0     ? &db_url
                           : strcmp(argv[i], "--name") == 0   ? &name
                                                              : NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (opt && i + 1 < argc) {
            *opt = argv[++i];
        } else if (!opt && argv[i][0] != '-' && n_pos < 4) {
            pos[n_pos++] = argv[i];
        } else {
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    int users = n_pos == 1 && strcmp(pos[0], "users") == 0;
    int key_cmd = n_pos == 3 && strcmp(pos[0], "keys") == 0 &&
                  (strcmp(pos[1], "create") == 0 || strcmp(pos[1], "list") == 0 ||
                   strcmp(pos[1], "revoke") == 0);
    if ((!users && !key_cmd) || (name && !(key_cmd && strcmp(pos[1], "create") == 0)) ||
        (name && (!name[0] || strlen(name) >= SRV_KEY_NAME_LEN))) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!data_dir && !db_url) data_dir = "data";
    srv_jobs *jobs = NULL;
    if (srv_auth_init() || srv_jobs_open_admin(data_dir, db_url, &jobs)) return EXIT_STORE;
    int rc = users ? list_users(jobs) : keys(jobs, pos[1], pos[2], name);
    if (rc == EXIT_STORE) fprintf(stderr, "dumu admin: the store failed (see above)\n");
    srv_jobs_close(jobs);
    return rc;
}
