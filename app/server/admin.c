/* admin.c - `dumu admin`: accounts and API keys, from the command line of the machine that
 * runs the service, on the store `dumu serve` uses (--data-dir or --db), also while it runs
 * (jobs.h srv_jobs_open_admin). A key made here works on every API node at once: the nodes
 * look keys up in the store on every request.
 *
 *   dumu admin users                        the accounts: id, e-mail, tier, created
 *   dumu admin keys create EMAIL [--name N] a new API key of the account, printed once
 *   dumu admin keys list EMAIL              its keys: id, name, created
 *   dumu admin keys revoke ID               refused at once by every node
 *   dumu admin tiers [list]                 the tiers and their limits
 *   dumu admin tiers set NAME [--rpm N] [--concurrent N] [--minutes-per-day N]
 *                    [--max-song-s N] [--retention-h N]
 *                                           changes a tier (a new one starts from free's
 *                                           limits); every node applies it at the next request
 *   dumu admin users set-tier EMAIL TIER    moves an account to a tier
 *   dumu admin usage [EMAIL]                today's minutes and jobs (all accounts, or one)
 */
#include <stdio.h>
#include <stdlib.h>
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
               "  tiers [list]                list the tiers and their limits\n"
               "  tiers set NAME [--rpm N] [--concurrent N] [--minutes-per-day N]\n"
               "            [--max-song-s N] [--retention-h N]\n"
               "                              change a tier, or add one (from free's limits)\n"
               "  users set-tier EMAIL TIER   move an account to a tier\n"
               "  usage [EMAIL]               today's audio minutes and active jobs\n"
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

/* ---------------------------------------------------------------------------------------- */
/* Tiers and usage */

/* The largest value of a limit: a year of minutes, seconds or hours is beyond any use, and
 * it keeps every product of them (seconds, tokens) far inside an int. */
#define LIMIT_MAX (366 * 24 * 60)

/* The tier options, in the order of struct srv_tier's fields after its name. */
static const char *const k_limit_opts[] = {"--rpm", "--concurrent", "--minutes-per-day",
                                           "--max-song-s", "--retention-h"};

enum { N_LIMITS = sizeof k_limit_opts / sizeof k_limit_opts[0] };

static int *limit_field(struct srv_tier *t, int i) {
    int *f[N_LIMITS] = {&t->rpm, &t->concurrent, &t->minutes_per_day, &t->max_song_s,
                        &t->retention_h};
    return f[i];
}

static int list_tiers(srv_jobs *jobs) {
    struct srv_tier rows[64];
    int n = srv_jobs_tier_list(jobs, rows, 64);
    if (n < 0) return EXIT_STORE;
    printf("tier\trpm\tconcurrent\tminutes_per_day\tmax_song_s\tretention_h\n");
    for (int i = 0; i < n; i++)
        printf("%s\t%d\t%d\t%d\t%d\t%d\n", rows[i].name, rows[i].rpm, rows[i].concurrent,
               rows[i].minutes_per_day, rows[i].max_song_s, rows[i].retention_h);
    return 0;
}

/* A tier's name: a lowercase word (letters, digits, '-', '_'), as it is shown and typed. */
static int tier_name_valid(const char *name) {
    size_t n = strlen(name);
    if (!n || n >= SRV_TIER_LEN) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '-' || name[i] == '_'))
            return 0;
    return 1;
}

static int set_tier(srv_jobs *jobs, const char *name, const char *const values[N_LIMITS]) {
    struct srv_tier t;
    if (!tier_name_valid(name)) {
        fprintf(stderr, "dumu admin: a tier's name is 1 to %d of a-z 0-9 - _\n", SRV_TIER_LEN - 1);
        return EXIT_USAGE;
    }
    int found = srv_jobs_tier_get(jobs, name, NULL, &t);
    if (found == 0) found = srv_jobs_tier_get(jobs, SRV_TIER_NEW, NULL, &t);
    if (found < 0) return EXIT_STORE;
    if (found == 0) memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    for (int i = 0; i < N_LIMITS; i++) {
        if (!values[i]) continue;
        char *end;
        long v = strtol(values[i], &end, 10);
        if (*end || end == values[i] || v < 1 || v > LIMIT_MAX) {
            fprintf(stderr, "dumu admin: %s takes a whole number from 1 to %d\n", k_limit_opts[i],
                    LIMIT_MAX);
            return EXIT_USAGE;
        }
        *limit_field(&t, i) = (int)v;
    }
    for (int i = 0; i < N_LIMITS; i++) {
        if (*limit_field(&t, i) < 1) {
            fprintf(stderr, "dumu admin: a new tier needs %s\n", k_limit_opts[i]);
            return EXIT_USAGE;
        }
    }
    if (srv_jobs_tier_set(jobs, &t)) return EXIT_STORE;
    return list_tiers(jobs);
}

static int set_user_tier(srv_jobs *jobs, const char *email, const char *tier) {
    struct srv_account a;
    struct srv_tier t;
    int rc = find_account(jobs, email, &a);
    if (rc) return rc;
    int found = srv_jobs_tier_get(jobs, tier, NULL, &t);
    if (found < 0) return EXIT_STORE;
    if (!found) {
        fprintf(stderr, "dumu admin: no tier %s (dumu admin tiers)\n", tier);
        return EXIT_NOT_FOUND;
    }
    if (srv_jobs_account_set_tier(jobs, a.id, tier) < 0) return EXIT_STORE;
    printf("%s\t%s\n", a.email, tier);
    return 0;
}

/* One account's line of `dumu admin usage`. */
static int print_usage(srv_jobs *jobs, const struct srv_account *a, int64_t day) {
    struct srv_tier t;
    char key[SRV_OWNER_LEN];
    double used = 0.0;
    int active = 0;
    snprintf(key, sizeof key, "a:%s", a->id);
    int found = srv_jobs_tier_get(jobs, NULL, a->id, &t);
    if (found < 0 || srv_jobs_usage_get(jobs, key, day, &used) ||
        srv_jobs_owner_active(jobs, key, &active))
        return EXIT_STORE;
    printf("%s\t%s\t%.1f\t%d\t%d\n", a->email, found ? t.name : "?", used / 60.0,
           found ? t.minutes_per_day : 0, active);
    return 0;
}

static int usage_of(srv_jobs *jobs, const char *email) {
    int64_t day = (int64_t)time(NULL) / 86400;
    printf("email\ttier\tminutes_today\tminutes_per_day\tjobs_active\n");
    if (email) {
        struct srv_account a;
        int rc = find_account(jobs, email, &a);
        return rc ? rc : print_usage(jobs, &a, day);
    }
    static struct srv_account rows[MAX_ROWS];
    int n = srv_jobs_account_list(jobs, rows, MAX_ROWS);
    if (n < 0) return EXIT_STORE;
    for (int i = 0; i < n; i++) {
        int rc = print_usage(jobs, &rows[i], day);
        if (rc) return rc;
    }
    return 0;
}

int dumu_admin_main(int argc, char **argv) {
    const char *data_dir = NULL, *db_url = NULL, *name = NULL, *pos[4] = {0};
    const char *limits[N_LIMITS] = {0};
    int n_pos = 0, n_limits = 0;
    for (int i = 1; i < argc; i++) {
        const char **opt = strcmp(argv[i], "--data-dir") == 0 ? &data_dir
                           : strcmp(argv[i], "--db") == 0     ? &db_url
                           : strcmp(argv[i], "--name") == 0   ? &name
                                                              : NULL;
        for (int k = 0; !opt && k < N_LIMITS; k++)
            if (strcmp(argv[i], k_limit_opts[k]) == 0) {
                opt = &limits[k];
                n_limits++;
            }
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
    int tiers =
        (n_pos == 1 || (n_pos == 2 && strcmp(pos[1], "list") == 0)) && strcmp(pos[0], "tiers") == 0;
    int tier_set = n_pos == 3 && strcmp(pos[0], "tiers") == 0 && strcmp(pos[1], "set") == 0;
    int set_tier_cmd =
        n_pos == 4 && strcmp(pos[0], "users") == 0 && strcmp(pos[1], "set-tier") == 0;
    int usage_cmd = n_pos <= 2 && n_pos >= 1 && strcmp(pos[0], "usage") == 0;
    int key_cmd = n_pos == 3 && strcmp(pos[0], "keys") == 0 &&
                  (strcmp(pos[1], "create") == 0 || strcmp(pos[1], "list") == 0 ||
                   strcmp(pos[1], "revoke") == 0);
    if ((!users && !key_cmd && !tiers && !tier_set && !set_tier_cmd && !usage_cmd) ||
        (n_limits && !tier_set) || (name && !(key_cmd && strcmp(pos[1], "create") == 0)) ||
        (name && (!name[0] || strlen(name) >= SRV_KEY_NAME_LEN))) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!data_dir && !db_url) data_dir = "data";
    srv_jobs *jobs = NULL;
    if (srv_auth_init() || srv_jobs_open_admin(data_dir, db_url, &jobs)) return EXIT_STORE;
    int rc = users          ? list_users(jobs)
             : tiers        ? list_tiers(jobs)
             : tier_set     ? set_tier(jobs, pos[2], limits)
             : set_tier_cmd ? set_user_tier(jobs, pos[2], pos[3])
             : usage_cmd    ? usage_of(jobs, pos[1])
                            : keys(jobs, pos[1], pos[2], name);
    if (rc == EXIT_STORE) fprintf(stderr, "dumu admin: the store failed (see above)\n");
    srv_jobs_close(jobs);
    return rc;
}
