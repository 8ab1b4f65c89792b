/* params.h - parsing of untrusted request bytes for `dumu serve`: job parameters (multipart
 * fields and JSON bodies), job ids, Last-Event-ID, stem lists and upload file names.
 *
 * Everything here is pure: no I/O, no globals, no allocation that outlives a call. The fuzz
 * target tests/fuzz/fuzz_server_params.c compiles params.c in directly. Every function is
 * thread-safe. Error texts go to a caller buffer `why` of `cap` bytes (one line, for the
 * {code, message} reply).
 */
#ifndef DUMU_SRV_PARAMS_H
#define DUMU_SRV_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_ID_LEN    36 /* UUID v4 text, lowercase: 8-4-4-4-12 */
#define SRV_STEMS_LEN 32 /* "drums,bass,other,vocals" plus NUL fits */

/* The stems the API offers (the OpenAPI enum and the web app name them), in the order stem
 * lists are normalised to: "drums", "bass", "other", "vocals". A stem mask has bit k for stem
 * k. `dumu serve` checks at start that the separator makes each of them. */
#define SRV_N_STEMS   4
#define SRV_STEM_BASS 1 /* the stem every job keeps */
#define SRV_MODE_LEN  8
#define SRV_NAME_LEN  96  /* sanitised upload base name, NUL included */
#define SRV_TITLE_LEN 256 /* the upload's own file name as shown, NUL included */
#define SRV_HASH_LEN  65  /* SHA-256 in lowercase hex, NUL: how tokens are stored (auth.h) */
#define SRV_EMAIL_LEN 255 /* RFC 5321 4.5.3.1.3: a path is at most 256 octets with its <>, NUL */

/* A job's user-set parameters, as the API names them. */
struct srv_params {
    /* the numbers' ranges and defaults are libdumu's (dumu_param_find) */
    double onset_threshold;
    double frame_threshold;
    double min_note_ms;
    char stems[SRV_STEMS_LEN];   /* normalised: "bass", "all" or a comma list in API order */
    double bpm;                  /* 0 = detect */
    char mode[SRV_MODE_LEN];     /* "bass" (one clean line) | "raw" (Basic Pitch's notes) */
    char quantize[SRV_MODE_LEN]; /* "off" or a grid name: 1/4 1/8 1/16 1/32 1/8t 1/16t 1/32t */
    double quantize_strength;    /* percent */
    bool fast;                   /* separate with bf16 products (dumu_separate_params.fast) */
};

struct srv_params srv_params_default(void);

/* Sets the field `key` from the text `value` (`len` bytes, not NUL-terminated). Returns 0, or
 * -1 with a reason in `why` for an unknown key or a bad value. */
int srv_params_set(struct srv_params *p, const char *key, const char *value, size_t len, char *why,
                   size_t cap);

/* Applies a JSON object body (`len` bytes) of the re-transcribe endpoint to `p`: keys
 * onset_threshold, frame_threshold, min_note_ms, quantize_strength (numbers), bpm (a number
 * 30..300, or 0 or null to detect), mode and quantize (strings), all optional. An empty body
 * changes nothing. Returns 0, or -1 with `why` (malformed JSON, not an object, anything but
 * white space after it, unknown key, wrong type, out of range); `p` is unchanged on failure. */
int srv_params_from_json(struct srv_params *p, const char *body, size_t len, char *why, size_t cap);

/* The grid steps per beat of a quantize value ("off": 0). */
int32_t srv_quantize_steps(const char *quantize);

/* The name of the API's stem k (static), NULL when k is not in [0, SRV_N_STEMS). */
const char *srv_stem_name(int k);

/* The stem mask (bit k: srv_stem_name(k)) of a normalised stems string (bass always set). */
uint32_t srv_stems_mask(const char *stems);

/* 1 when `s` is a lowercase UUID text of exactly SRV_ID_LEN characters, else 0. */
int srv_id_valid(const char *s);

/* Parses a Last-Event-ID header value: a decimal integer, one beyond int64 read as INT64_MAX
 * (after every event). Returns 0 and *out, or -1 (NULL, empty or not only digits: the caller
 * then sends the whole history). */
int srv_parse_last_event_id(const char *s, int64_t *out);

/* A single byte range of a `Range` header for a file of `size` bytes (RFC 9110 14.1.2:
 * "bytes=first-last", "bytes=first-" or "bytes=-suffix"). Returns 0 with the inclusive
 * [*first, *last] clamped to the file, 1 when the header is to be ignored (absent, not bytes,
 * several ranges, malformed: serve the whole file), -1 when it cannot be satisfied (416).
 * Numbers of any length are read: a last byte beyond int64 is clamped like any other past
 * the end, a first byte beyond it cannot be satisfied. */
int srv_parse_range(const char *header, int64_t size, int64_t *first, int64_t *last);

/* Writes the base name of a client-sent file name (after the last '/' or '\\', without its
 * extension), every byte outside [A-Za-z0-9._-] replaced by '_', leading dots dropped, cut to
 * SRV_NAME_LEN - 1 bytes; "audio" when nothing is left. `name` may be NULL. */
void srv_sanitize_name(const char *name, char out[SRV_NAME_LEN]);

/* Writes the title of a job from a client-sent file name: its base name (after the last '/'
 * or '\\') as the person named it, extension kept, as valid UTF-8 (each byte of a malformed
 * sequence becomes '?'), control characters dropped, cut at a character boundary to
 * SRV_TITLE_LEN - 1 bytes; "audio" when nothing is left. `name` may be NULL. */
void srv_title_of(const char *name, char out[SRV_TITLE_LEN]);

/* 1 when the NUL-terminated `s` is valid UTF-8 (no overlong forms, surrogates or code points
 * over U+10FFFF: what PostgreSQL takes as text), else 0. */
int srv_utf8_valid(const char *s);

/* The token of an `Authorization: Bearer TOKEN` header (RFC 6750 2.1: the scheme in any case,
 * one or more spaces, then b64token characters [A-Za-z0-9-._~+/] and trailing '='s, nothing
 * after). Returns 0 with the token in `out` (`cap` bytes), or -1 (NULL header, another
 * scheme, an empty or malformed token, or one that does not fit). */
int srv_parse_bearer(const char *header, char *out, size_t cap);

/* The value of cookie `name` in a `Cookie` header ("a=1; b=2", RFC 6265 4.2.1): the first
 * pair of that name, without the DQUOTEs a value may be wrapped in. Returns 0 with the value in
 * `out` (`cap` bytes), or -1 (NULL header, no such cookie, an empty value, a byte outside
 * cookie-octet, or a value that does not fit). */
int srv_cookie_get(const char *header, const char *name, char *out, size_t cap);

/* 1 when `email` has the shape of an address: under SRV_EMAIL_LEN bytes, one '@' with 1..64
 * bytes before it (RFC 5321 4.5.3.1.1) and a domain after it of dot-separated labels of
 * [A-Za-z0-9-] with at least one dot, no spaces or control bytes in the local part; else 0.
 * Whether mail reaches it is another matter: only a message sent there could tell. */
int srv_email_valid(const char *email);

#endif /* DUMU_SRV_PARAMS_H */
