/* account.c - who is asking, for `dumu serve --auth optional|required`: credentials in the
 * request's headers, CSRF, login throttling, and the routes of accounts, sessions and API
 * keys (see http.h; the cryptography is auth.c's, the rows the job store's).
 *
 * Credentials, checked in this order (the first present decides):
 *   Authorization: Bearer KEY   an API key, for scripts: no cookie, so no CSRF token needed
 *   Cookie dumu_session=TOKEN   a browser session; a state-changing request (POST, PUT,
 *                               PATCH, DELETE) must carry the session's X-CSRF-Token, since a
 *                               browser sends cookies with requests other sites make it send
 *   Cookie dumu_anon=TOKEN      (optional mode) an anonymous browser, which owns its jobs by
 *                               the token's hash; its CSRF token is derived from the token
 *                               (SHA-256 of "csrf:" TOKEN), so no row is kept for it
 * Tokens are 256 random bits; the store keeps their SHA-256 only. A session is a row: logging
 * out, deleting the account or its expiry refuses the cookie at once on every node (auth.c
 * says why not JWTs). Cookies are HttpOnly (no script reads them) and SameSite=Lax (not sent
 * with other sites' POSTs), plus Secure behind TLS (--secure-cookies).
 *
 * Login throttling: failed logins are rows in the store (so the limit holds across API
 * nodes), counted per account and per client address over LOGIN_WINDOW_S; past the limit a
 * login is refused with 429 and Retry-After until the oldest failure leaves the window,
 * before the password is even checked. The address is the TCP peer's: behind a reverse proxy
 * every client shares the proxy's, which the per-address limit then throttles together.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http.h"

/* A browser stays signed in this long (seconds) after signing in: a month, so that a person
 * who comes back weekly need not type the password each time, while a forgotten session on a
 * shared computer does not last for ever. */
#define SESSION_S (30 * 86400)
/* An anonymous browser's token cookie lasts a year: its jobs expire long before (--ttl-hours),
 * and it names nothing but those jobs. */
#define ANON_COOKIE_S (365 * 86400)
/* Failed logins are counted over the last 15 minutes (seconds)... */
#define LOGIN_WINDOW_S 900
/* ...and an account takes 5 of them: a person mistyping tries a few times, a guesser needs
 * millions, so 20 guesses an hour leaves a password of 10 characters out of reach. */
#define LOGIN_MAX_PER_ACCOUNT 5
/* An address takes 20: several people behind one NAT may mistype at once, yet one machine
 * cannot try a common password on many accounts fast. */
#define LOGIN_MAX_PER_ADDR 20
/* API keys listed per account at most: more than any person names by hand. */
#define MAX_KEYS 100
/* Jobs deleted per pass while an account goes (srv_jobs_list's page). */
#define DELETE_PAGE 50

static const char COOKIE_SESSION[] = "dumu_session";
static const char COOKIE_ANON[] = "dumu_anon";

static int64_t now_unix(void) {
    return (int64_t)time(NULL);
}

/* Adds a Set-Cookie header to the reply: `value` for `max_age` seconds, or (value "") one
 * that removes the cookie. */
static void set_cookie(const struct srv_server *s, struct srv_req *req, const char *name,
                       const char *value, int max_age) {
    if (req->n_cookies == (int)(sizeof req->set_cookie / sizeof req->set_cookie[0])) return;
    snprintf(req->set_cookie[req->n_cookies++], sizeof req->set_cookie[0],
             "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s", name, value,
             value[0] ? max_age : 0, s->secure_cookies ? "; Secure" : "");
}

void srv_req_refuse(struct srv_req *req, int status, const char *code, const char *message,
                    int retry_after) {
    if (req->auth_status) return; /* the first reason stands */
    req->auth_status = status;
    req->auth_retry_after = retry_after;
    snprintf(req->auth_code, sizeof req->auth_code, "%s", code);
    snprintf(req->auth_message, sizeof req->auth_message, "%s", message);
}

void srv_req_refuse_store(struct srv_req *req) {
    srv_req_refuse(req, 503, "store_unavailable", "the store cannot be reached; try again",
                   SRV_STORE_RETRY_S);
}

static int state_changing(const char *method) {
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

void srv_auth_request(struct srv_server *s, struct MHD_Connection *c, struct srv_req *req,
                      enum srv_access access) {
    if (s->auth == SRV_AUTH_OFF) return;
    const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *cookies = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie");
    char token[SRV_TOKEN_LEN], hash[SRV_HASH_LEN], text[SRV_TOKEN_LEN + 8];
    struct srv_cred cred;
    int by_cookie = 0; /* a cookie said who it is: state changes need the CSRF token */
    if (authz) {
        int found = srv_parse_bearer(authz, token, sizeof token) ? 0 : 1;
        if (found) {
            srv_hash_hex(token, hash);
            found = srv_jobs_cred_find(s->jobs, SRV_CRED_KEY, hash, now_unix(), &cred);
        }
        if (found == 1) {
            snprintf(req->account, sizeof req->account, "%s", cred.account);
        } else if (access != SRV_ACCESS_PUBLIC && access != SRV_ACCESS_SIGN_IN) {
            if (found < 0)
                srv_req_refuse_store(req);
            else
                srv_req_refuse(req, 401, "unauthorized", "the API key is unknown or was revoked",
                               0);
        }
    } else {
        if (!srv_cookie_get(cookies, COOKIE_SESSION, token, sizeof token)) {
            srv_hash_hex(token, hash);
            int found = srv_jobs_cred_find(s->jobs, SRV_CRED_SESSION, hash, now_unix(), &cred);
            if (found == 1) {
                snprintf(req->account, sizeof req->account, "%s", cred.account);
                snprintf(req->session_hash, sizeof req->session_hash, "%s", hash);
                snprintf(req->csrf, sizeof req->csrf, "%s", cred.csrf);
                by_cookie = 1;
            } else if (found == 0) {
                set_cookie(s, req, COOKIE_SESSION, "", 0); /* logged out or expired */
            } else if (access != SRV_ACCESS_PUBLIC) {
                srv_req_refuse_store(req);
            }
        }
        if (!req->account[0] && s->auth == SRV_AUTH_OPTIONAL &&
            !srv_cookie_get(cookies, COOKIE_ANON, token, sizeof token)) {
            srv_hash_hex(token, hash);
            snprintf(req->principal, sizeof req->principal, "t:%s", hash);
            snprintf(text, sizeof text, "csrf:%s", token);
            srv_hash_hex(text, req->csrf);
            by_cookie = 1;
        }
    }
    if (req->account[0]) snprintf(req->principal, sizeof req->principal, "a:%s", req->account);
    if (access == SRV_ACCESS_PUBLIC || access == SRV_ACCESS_SIGN_IN) return;
    if (access != SRV_ACCESS_LOGOUT && !req->principal[0]) {
        if (s->auth == SRV_AUTH_REQUIRED) {
            srv_req_refuse(req, 401, "unauthorized",
                           "sign in, or send an API key as a bearer token", 0);
        } else if (access == SRV_ACCESS_UPLOAD) { /* a new anonymous browser */
            srv_token_new("dumu_a_", token);
            srv_hash_hex(token, hash);
            snprintf(req->principal, sizeof req->principal, "t:%s", hash);
            set_cookie(s, req, COOKIE_ANON, token, ANON_COOKIE_S);
        }
    }
    if (by_cookie && state_changing(req->method)) {
        const char *sent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
        if (!sent || !srv_secret_equal(sent, req->csrf))
            srv_req_refuse(req, 403, "csrf", "send the session's CSRF token in X-CSRF-Token", 0);
    }
}

int srv_req_owns(const struct srv_server *s, const struct srv_req *req, const char *owned_by) {
    return s->auth == SRV_AUTH_OFF || (req->principal[0] && strcmp(owned_by, req->principal) == 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Replies */

static enum MHD_Result reply_tree(const struct srv_server *s, struct MHD_Connection *c,
                                  struct srv_req *req, unsigned status, cJSON *tree) {
    req->no_store = 1; /* sessions' CSRF tokens, a new key, who is signed in: no cache keeps them */
    return srv_reply_tree(s, c, req, status, tree);
}

static enum MHD_Result reply_empty(const struct srv_server *s, struct MHD_Connection *c,
                                   struct srv_req *req) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    return srv_queue(s, c, req, 204, resp, 0);
}

static enum MHD_Result reply_unauthorized(const struct srv_server *s, struct MHD_Connection *c,
                                          struct srv_req *req) {
    return srv_reply_error(s, c, req, 401, "unauthorized",
                           "sign in, or send an API key as a bearer token");
}

static cJSON *account_json(const struct srv_account *a) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", a->id);
    cJSON_AddStringToObject(o, "email", a->email);
    cJSON_AddNumberToObject(o, "created", (double)a->created);
    cJSON_AddStringToObject(o, "tier", a->tier);
    return o;
}

/* ---------------------------------------------------------------------------------------- */
/* Accounts and sessions */

/* The e-mail (lowercased into `email`) and password of a JSON body {email, password}; 0, or
 * -1 with a reason in `why`. */
static int read_credentials(const struct srv_req *req, char email[SRV_EMAIL_LEN],
                            char password[SRV_PASSWORD_MAX + 1], char *why, size_t cap) {
    cJSON *o = req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "email");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "password");
    int rc = -1;
    if (!cJSON_IsObject(o) || !cJSON_IsString(e) || !cJSON_IsString(p))
        snprintf(why, cap, "send a JSON object {\"email\": ..., \"password\": ...}");
    else if (!srv_email_valid(e->valuestring))
        snprintf(why, cap, "that is not an e-mail address");
    else if (strlen(p->valuestring) > SRV_PASSWORD_MAX)
        snprintf(why, cap, "the password is longer than %d bytes", SRV_PASSWORD_MAX);
    else
        rc = 0;
    if (!rc) {
        size_t i = 0;
        for (; e->valuestring[i]; i++)
            email[i] = (char)(e->valuestring[i] >= 'A' && e->valuestring[i] <= 'Z'
                                  ? e->valuestring[i] - 'A' + 'a'
                                  : e->valuestring[i]);
        email[i] = '\0';
        snprintf(password, SRV_PASSWORD_MAX + 1, "%s", p->valuestring);
    }
    cJSON_Delete(o);
    return rc;
}

/* Starts a session for `a`: the row, the cookie and the reply {account, csrf_token}. */
static enum MHD_Result start_session(struct srv_server *s, struct MHD_Connection *c,
                                     struct srv_req *req, const struct srv_account *a,
                                     unsigned status) {
    char token[SRV_TOKEN_LEN], hash[SRV_HASH_LEN], csrf[SRV_TOKEN_LEN];
    struct srv_cred cred;
    memset(&cred, 0, sizeof cred);
    srv_token_new("dumu_s_", token);
    srv_token_new("", csrf);
    srv_hash_hex(token, hash);
    snprintf(cred.account, sizeof cred.account, "%s", a->id);
    snprintf(cred.csrf, sizeof cred.csrf, "%s", csrf);
    cred.created = now_unix();
    cred.expires = cred.created + SESSION_S;
    if (srv_jobs_cred_add(s->jobs, SRV_CRED_SESSION, hash, &cred))
        return srv_reply_store_error(s, c, req);
    if (req->session_hash[0]) /* signing in again: the old session ends */
        srv_jobs_cred_remove(s->jobs, SRV_CRED_SESSION, req->session_hash, NULL, NULL);
    /* an anonymous browser's songs follow it into the account (--auth optional); a cross-site
     * form cannot do this to someone: SameSite=Lax keeps the cookie off its POST */
    char owner[SRV_OWNER_LEN];
    snprintf(owner, sizeof owner, "a:%s", a->id);
    if (strncmp(req->principal, "t:", 2) == 0 &&
        srv_jobs_owner_move(s->jobs, req->principal, owner) < 0)
        fprintf(stderr, "dumu serve: cannot move an anonymous browser's jobs to its account\n");
    req->n_cookies = 0; /* no removal of the cookie being set */
    set_cookie(s, req, COOKIE_SESSION, token, SESSION_S);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "account", account_json(a));
    cJSON_AddStringToObject(o, "csrf_token", csrf);
    return reply_tree(s, c, req, status, o);
}

/* POST /api/account {email, password}: 201 and a session. */
static enum MHD_Result sign_up(struct srv_server *s, struct MHD_Connection *c,
                               struct srv_req *req) {
    char email[SRV_EMAIL_LEN], password[SRV_PASSWORD_MAX + 1], why[96];
    char pwhash[SRV_PWHASH_LEN];
    if (read_credentials(req, email, password, why, sizeof why))
        return srv_reply_error(s, c, req, 400, "bad_request", why);
    if (strlen(password) < SRV_PASSWORD_MIN) {
        snprintf(why, sizeof why, "the password must have at least %d characters",
                 SRV_PASSWORD_MIN);
        return srv_reply_error(s, c, req, 400, "weak_password", why);
    }
    struct srv_account a;
    memset(&a, 0, sizeof a);
    srv_uuid_new(a.id);
    snprintf(a.email, sizeof a.email, "%s", email);
    snprintf(a.tier, sizeof a.tier, "%s", SRV_TIER_NEW);
    a.created = now_unix();
    if (srv_password_hash(password, pwhash))
        return srv_reply_error(s, c, req, 500, "internal", "out of memory");
    int rc = srv_jobs_account_add(s->jobs, &a, pwhash);
    if (rc < 0) return srv_reply_store_error(s, c, req);
    if (rc == 1)
        return srv_reply_error(s, c, req, 409, "email_taken", "that e-mail has an account");
    return start_session(s, c, req, &a, 201);
}

void srv_client_addr(struct MHD_Connection *c, char *out, size_t cap) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    snprintf(out, cap, "?");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

/* Seconds until a login under `key` is allowed again (0: now), -1 when the store failed. */
static int throttled(struct srv_server *s, const char *key, int max) {
    int n = 0;
    int64_t oldest = 0, now = now_unix();
    if (srv_jobs_failures(s->jobs, key, now - LOGIN_WINDOW_S, &n, &oldest)) return -1;
    if (n < max) return 0;
    int64_t wait = oldest + LOGIN_WINDOW_S - now;
    return wait > 0 ? (int)wait : 1;
}

/* POST /api/session {email, password}: 200 and a session; 401 for a wrong password, 429
 * while throttled. */
static enum MHD_Result sign_in(struct srv_server *s, struct MHD_Connection *c,
                               struct srv_req *req) {
    char email[SRV_EMAIL_LEN], password[SRV_PASSWORD_MAX + 1], why[96];
    char pwhash[SRV_PWHASH_LEN], addr[INET6_ADDRSTRLEN], by_account[SRV_EMAIL_LEN + 16],
        by_addr[INET6_ADDRSTRLEN + 16];
    if (read_credentials(req, email, password, why, sizeof why))
        return srv_reply_error(s, c, req, 400, "bad_request", why);
    srv_client_addr(c, addr, sizeof addr);
    snprintf(by_account, sizeof by_account, "account:%s", email);
    snprintf(by_addr, sizeof by_addr, "addr:%s", addr);
    int wait_account = throttled(s, by_account, LOGIN_MAX_PER_ACCOUNT);
    int wait_addr = throttled(s, by_addr, LOGIN_MAX_PER_ADDR);
    if (wait_account < 0 || wait_addr < 0) return srv_reply_store_error(s, c, req);
    if (wait_account || wait_addr)
        return srv_reply_later(s, c, req, 429, "too_many_attempts",
                               "too many failed logins; try again later",
                               wait_account > wait_addr ? wait_account : wait_addr);
    struct srv_account a;
    int found = srv_jobs_account_find(s->jobs, email, NULL, &a, pwhash, sizeof pwhash);
    if (found < 0) return srv_reply_store_error(s, c, req);
    if (srv_password_verify(found ? pwhash : NULL, password)) {
        int64_t now = now_unix();
        if (srv_jobs_failure_note(s->jobs, by_account, now, 0) ||
            srv_jobs_failure_note(s->jobs, by_addr, now, 0))
            return srv_reply_store_error(s, c, req);
        return srv_reply_error(s, c, req, 401, "invalid_credentials", "wrong e-mail or password");
    }
    srv_jobs_failure_note(s->jobs, by_account, now_unix(), 1);
    return start_session(s, c, req, &a, 200);
}

/* GET /api/session: who this browser is, for the web page: {auth, account, csrf_token}. */
static enum MHD_Result session_info(struct srv_server *s, struct MHD_Connection *c,
                                    struct srv_req *req) {
    struct srv_account a;
    int found =
        req->account[0] ? srv_jobs_account_find(s->jobs, NULL, req->account, &a, NULL, 0) : 0;
    if (found < 0) return srv_reply_store_error(s, c, req);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "auth", srv_auth_mode_name(s->auth));
    if (found)
        cJSON_AddItemToObject(o, "account", account_json(&a));
    else
        cJSON_AddNullToObject(o, "account");
    if (req->csrf[0])
        cJSON_AddStringToObject(o, "csrf_token", req->csrf);
    else
        cJSON_AddNullToObject(o, "csrf_token");
    return reply_tree(s, c, req, 200, o);
}

/* DELETE /api/account: its jobs (workers stop, files go), then the account, its sessions and
 * its API keys. */
static enum MHD_Result delete_account(struct srv_server *s, struct MHD_Connection *c,
                                      struct srv_req *req) {
    struct srv_job *page = malloc(DELETE_PAGE * sizeof *page);
    if (!page) return srv_reply_error(s, c, req, 500, "internal", "out of memory");
    /* The account first: no session or key of it makes new jobs while they go. */
    int rc = srv_jobs_account_remove(s->jobs, req->account);
    for (int n = rc < 0 ? -1 : DELETE_PAGE; n > 0;) {
        struct srv_job_query q = {.owned_by = req->principal};
        n = srv_jobs_list(s->jobs, &q, page, DELETE_PAGE, NULL);
        for (int i = 0; i < n; i++) {
            enum srv_state was;
            if (srv_job_delete(s, page[i].id, &was) < 0) n = -1;
        }
        if (n < 0) rc = -1;
    }
    free(page);
    if (rc < 0) return srv_reply_store_error(s, c, req);
    set_cookie(s, req, COOKIE_SESSION, "", 0);
    return reply_empty(s, c, req);
}

/* ---------------------------------------------------------------------------------------- */
/* API keys */

static cJSON *key_json(const struct srv_cred *k) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", k->id);
    cJSON_AddStringToObject(o, "name", k->name);
    cJSON_AddNumberToObject(o, "created", (double)k->created);
    return o;
}

/* POST /api/keys {name}: 201 {id, name, created, key}, the key shown this once. */
static enum MHD_Result create_key(struct srv_server *s, struct MHD_Connection *c,
                                  struct srv_req *req) {
    cJSON *body = req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "name");
    struct srv_cred k;
    memset(&k, 0, sizeof k);
    int ok = cJSON_IsObject(body) && cJSON_IsString(name) && name->valuestring[0] &&
             strlen(name->valuestring) < sizeof k.name;
    for (const char *p = ok ? name->valuestring : ""; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) ok = 0;
    if (ok) snprintf(k.name, sizeof k.name, "%s", name->valuestring);
    cJSON_Delete(body);
    if (!ok) {
        char why[96];
        snprintf(why, sizeof why, "send {\"name\": ...}, a name of 1 to %d bytes",
                 (int)sizeof k.name - 1);
        return srv_reply_error(s, c, req, 400, "bad_request", why);
    }
    char token[SRV_TOKEN_LEN], hash[SRV_HASH_LEN];
    srv_token_new("dumu_k_", token);
    srv_hash_hex(token, hash);
    srv_uuid_new(k.id);
    snprintf(k.account, sizeof k.account, "%s", req->account);
    k.created = now_unix();
    if (srv_jobs_cred_add(s->jobs, SRV_CRED_KEY, hash, &k)) return srv_reply_store_error(s, c, req);
    cJSON *o = key_json(&k);
    cJSON_AddStringToObject(o, "key", token);
    return reply_tree(s, c, req, 201, o);
}

static enum MHD_Result list_keys(struct srv_server *s, struct MHD_Connection *c,
                                 struct srv_req *req) {
    struct srv_cred *keys = malloc(MAX_KEYS * sizeof *keys);
    int n = keys ? srv_jobs_cred_list(s->jobs, SRV_CRED_KEY, req->account, keys, MAX_KEYS) : -1;
    if (n < 0) {
        free(keys);
        return srv_reply_store_error(s, c, req);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "keys");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, key_json(&keys[i]));
    free(keys);
    return reply_tree(s, c, req, 200, o);
}

/* ---------------------------------------------------------------------------------------- */
/* Routing */

enum MHD_Result srv_account_handle(struct srv_server *s, struct MHD_Connection *c,
                                   struct srv_req *req, enum srv_account_route route) {
    const char *m = req->method;
    if (s->auth == SRV_AUTH_OFF)
        return srv_reply_error(s, c, req, 404, "auth_off",
                               "this server has no accounts (dumu serve --auth off)");
    if (req->body_too_big)
        return srv_reply_error(s, c, req, 413, "too_large", "the JSON body is too large");
    if (route == SRV_ROUTE_ACCOUNT && strcmp(m, "POST") == 0) return sign_up(s, c, req);
    if (route == SRV_ROUTE_SESSION) {
        if (strcmp(m, "POST") == 0) return sign_in(s, c, req);
        if (strcmp(m, "DELETE") != 0) return session_info(s, c, req);
        if (req->session_hash[0] &&
            srv_jobs_cred_remove(s->jobs, SRV_CRED_SESSION, req->session_hash, NULL, NULL) < 0)
            return srv_reply_store_error(s, c, req);
        req->n_cookies = 0;
        set_cookie(s, req, COOKIE_SESSION, "", 0);
        return reply_empty(s, c, req);
    }
    /* the rest is an account's */
    if (!req->account[0]) return reply_unauthorized(s, c, req);
    if (route == SRV_ROUTE_ACCOUNT && strcmp(m, "DELETE") == 0) return delete_account(s, c, req);
    if (route == SRV_ROUTE_ACCOUNT) {
        struct srv_account a;
        int found = srv_jobs_account_find(s->jobs, NULL, req->account, &a, NULL, 0);
        if (found < 0) return srv_reply_store_error(s, c, req);
        if (!found) return reply_unauthorized(s, c, req); /* deleted meanwhile */
        cJSON *o = account_json(&a);
        if (srv_limits_account_json(s, req, o)) {
            cJSON_Delete(o);
            return srv_reply_store_error(s, c, req);
        }
        return reply_tree(s, c, req, 200, o);
    }
    if (route == SRV_ROUTE_KEYS) {
        if (strcmp(m, "POST") == 0) return create_key(s, c, req);
        return list_keys(s, c, req);
    }
    /* DELETE /api/keys/{id} */
    int rc =
        req->id[0] ? srv_jobs_cred_remove(s->jobs, SRV_CRED_KEY, NULL, req->id, req->account) : 0;
    if (rc < 0) return srv_reply_store_error(s, c, req);
    if (rc == 0) return srv_reply_error(s, c, req, 404, "not_found", "no such API key");
    return reply_empty(s, c, req);
}
