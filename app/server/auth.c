/* auth.c - auth modes, password hashes and tokens (see auth.h), on libsodium.
 *
 * Why opaque tokens and not JWTs for sessions and keys: a token here is only a random name
 * for a row in the store, so deleting the row (logout, a revoked key, a deleted account)
 * refuses it at once on every node. A JWT carries its own proof and stays valid until it
 * expires; a stolen one cannot be recalled before then without a revocation list, which is
 * the store lookup again. The store keeps SHA-256 hashes of tokens only (auth.h
 * SRV_HASH_LEN): a plain hash suffices since the tokens are 256 random bits, not passwords.
 */
#include "auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

_Static_assert(crypto_pwhash_STRBYTES <= SRV_PWHASH_LEN, "SRV_PWHASH_LEN too small");
_Static_assert(crypto_hash_sha256_BYTES * 2 + 1 == SRV_HASH_LEN, "SRV_HASH_LEN");

/* The one table of the modes: the parser, the usage text, the log and the OpenAPI document
 * read their names here. */
static const char *const mode_names[SRV_AUTH_N_MODES] = {
    [SRV_AUTH_OFF] = "off",
    [SRV_AUTH_OPTIONAL] = "optional",
    [SRV_AUTH_REQUIRED] = "required",
};

const char *srv_auth_mode_name(enum srv_auth_mode mode) {
    return mode_names[mode];
}

static char mode_list[64];
static pthread_once_t mode_list_once = PTHREAD_ONCE_INIT;

static void make_mode_list(void) {
    size_t n = 0;
    for (int i = 0; i < SRV_AUTH_N_MODES; i++)
        n += (size_t)snprintf(mode_list + n, sizeof mode_list - n, "%s%s", i ? "|" : "",
                              mode_names[i]);
}

const char *srv_auth_mode_list(void) {
    pthread_once(&mode_list_once, make_mode_list);
    return mode_list;
}

int srv_auth_mode_parse(const char *name, enum srv_auth_mode *out) {
    for (int i = 0; i < SRV_AUTH_N_MODES; i++) {
        if (strcmp(name, mode_names[i]) == 0) {
            *out = (enum srv_auth_mode)i;
            return 0;
        }
    }
    return -1;
}

/* The hash an unknown e-mail's password is checked against (srv_password_verify). */
static char dummy_hash[SRV_PWHASH_LEN];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void) {
    char pw[SRV_TOKEN_LEN];
    srv_token_new("", pw);
    if (srv_password_hash(pw, dummy_hash)) dummy_hash[0] = '\0';
}

int srv_auth_init(void) {
    return sodium_init() < 0 ? -1 : 0;
}

/* Argon2id hashes running at once, process-wide: each takes 64 MiB, and every connection has
 * a thread of its own, so without a bound a burst of logins would take gigabytes. Four cover
 * a server's cores at about 0.1 s each; the rest wait their turn (gate_mu/gate_cv). */
#define HASHES_AT_ONCE 4
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_in; /* hashes running; guarded by gate_mu */

static void gate_enter(void) {
    pthread_mutex_lock(&gate_mu);
    while (gate_in >= HASHES_AT_ONCE)
        pthread_cond_wait(&gate_cv, &gate_mu);
    gate_in++;
    pthread_mutex_unlock(&gate_mu);
}

static void gate_leave(void) {
    pthread_mutex_lock(&gate_mu);
    gate_in--;
    pthread_cond_signal(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

int srv_password_hash(const char *password, char out[SRV_PWHASH_LEN]) {
    gate_enter();
    int rc = crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
    gate_leave();
    return rc ? -1 : 0;
}

int srv_password_verify(const char *hash, const char *password) {
    if (!hash) pthread_once(&dummy_once, make_dummy);
    /* without an account, against the dummy only for the time it takes: the answer is no */
    const char *against = hash ? hash : dummy_hash;
    if (!against[0]) return -1;
    gate_enter();
    int rc = crypto_pwhash_str_verify(against, password, strlen(password));
    gate_leave();
    return hash && rc == 0 ? 0 : -1;
}

void srv_token_new(const char *prefix, char out[SRV_TOKEN_LEN]) {
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    size_t n = strlen(prefix);
    memcpy(out, prefix, n);
    sodium_bin2base64(out + n, SRV_TOKEN_LEN - n, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

void srv_hash_hex(const char *text, char out[SRV_HASH_LEN]) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)text, strlen(text));
    sodium_bin2hex(out, SRV_HASH_LEN, digest, sizeof digest);
}

int srv_secret_equal(const char *a, const char *b) {
    size_t n = strlen(a);
    return n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

void srv_uuid_new(char out[37]) {
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}
