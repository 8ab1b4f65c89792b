/* auth.h - who is asking, for `dumu serve` and `dumu admin`: the auth modes, passwords
 * (Argon2id), opaque tokens for sessions, API keys and anonymous browsers, and their hashes.
 * The HTTP side of it (cookies, CSRF, the account routes) is account.c; the rows are the job
 * store's (jobs.h: accounts and credentials).
 *
 * Every function is thread-safe once srv_auth_init has returned 0 (it must be called once,
 * before any other thread uses these). Nothing here allocates memory the caller must free;
 * results go to caller buffers of the sizes below.
 */
#ifndef DUMU_SRV_AUTH_H
#define DUMU_SRV_AUTH_H

#include <stddef.h>

#include "params.h" /* SRV_HASH_LEN */

/* `dumu serve --auth`: off (one user, no accounts: every job is everyone's), optional
 * (anonymous browsers and accounts, each seeing only its own jobs) or required (an account's
 * session or API key for everything but signing up and in, /health, the web page and the
 * OpenAPI document). */
enum srv_auth_mode { SRV_AUTH_OFF, SRV_AUTH_OPTIONAL, SRV_AUTH_REQUIRED, SRV_AUTH_N_MODES };

/* The default: a server started as before this option existed (`make run`) behaves as
 * before. */
#define SRV_AUTH_DEFAULT SRV_AUTH_OFF

/* "off", "optional" or "required" (auth.c's table: the one place they are named). */
const char *srv_auth_mode_name(enum srv_auth_mode mode);

/* The valid values as "off|optional|required", for usage texts. */
const char *srv_auth_mode_list(void);

/* Parses a mode name: 0 and *out, or -1 for anything else. */
int srv_auth_mode_parse(const char *name, enum srv_auth_mode *out);

/* Passwords shorter than this are refused: NIST SP 800-63B 5.1.1.2 asks for at least 8
 * characters of a password a person chose; we take 10, since nothing else (no second factor,
 * no breached-password list yet) stands behind it. */
#define SRV_PASSWORD_MIN 10
/* Longer ones are refused too: Argon2 reads all of it, and no person types more. */
#define SRV_PASSWORD_MAX 1024

/* An Argon2id hash string with its salt and costs ("$argon2id$v=19$m=..."), NUL included:
 * libsodium's crypto_pwhash_STRBYTES, checked in auth.c. */
#define SRV_PWHASH_LEN 128

/* A token as sent: a prefix naming its kind, then 32 random bytes (256 bits, beyond any
 * guessing) in unpadded base64url (43 characters), NUL included. */
#define SRV_TOKEN_LEN 64

/* Initialises libsodium. 0, or -1 when it cannot (no random source). */
int srv_auth_init(void);

/* Hashes `password` with Argon2id at libsodium's interactive costs (64 MiB, 2 passes: about
 * 0.1 s, meant for logins on a server), at most a few at once in the process (this and
 * srv_password_verify wait their turn). 0, or -1 when memory ran out. */
int srv_password_hash(const char *password, char out[SRV_PWHASH_LEN]);

/* 0 when `password` matches `hash` (srv_password_hash's), -1 when not. With `hash` NULL
 * (no such account) it checks against a hash of its own, so that an unknown e-mail costs as
 * long as a wrong password and the answer's timing does not tell which accounts exist. */
int srv_password_verify(const char *hash, const char *password);

/* A new token "PREFIX" + 43 base64url characters; `prefix` is at most 8 bytes ("dumu_s_",
 * "dumu_k_", "dumu_a_": session, API key, anonymous browser). */
void srv_token_new(const char *prefix, char out[SRV_TOKEN_LEN]);

/* SHA-256 of the NUL-terminated `text`, in hex. */
void srv_hash_hex(const char *text, char out[SRV_HASH_LEN]);

/* 1 when the two NUL-terminated strings are equal, in time that depends on their lengths
 * only (CSRF tokens: a byte-by-byte compare would tell an attacker how much was right). */
int srv_secret_equal(const char *a, const char *b);

/* A new random UUID v4 text (accounts' and API keys' ids), as jobs' ids are. */
void srv_uuid_new(char out[37]);

#endif /* DUMU_SRV_AUTH_H */
