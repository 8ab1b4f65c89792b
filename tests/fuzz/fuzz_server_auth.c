/* fuzz_server_auth.c - libFuzzer target for the credential headers `dumu serve --auth` reads
 * (app/server/params.c, compiled in directly: the fuzz build links libdumu only):
 * `Authorization: Bearer ...`, `Cookie: ...` and the e-mail of a sign-up.
 *
 * The first input byte picks the parser (and, for cookies, the output size), the rest is the
 * header value. Any bytes must give an answer, never a crash or a sanitizer report; what is
 * accepted must hold the documented shape: a bearer token non-empty, of b64token characters
 * and fitting its buffer; a cookie value non-empty, of cookie-octets, fitting, and found
 * again when the header is only that pair; an accepted e-mail of one '@' and under
 * SRV_EMAIL_LEN bytes.
 *
 * Build: CC=clang cmake -S . -B build-fuzz -G Ninja -DDUMU_FUZZ=ON && cmake --build build-fuzz
 * Run:   scripts/run-fuzzers build-fuzz 60 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../app/server/params.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t sel = data[0];
    size_t n = size - 1;
    char *text = malloc(n + 1); /* NUL-terminated, as MHD hands out header values */
    if (!text) return 0;
    memcpy(text, data + 1, n);
    text[n] = '\0';
    size_t cap = 1 + sel / 3; /* 1..86 bytes: small buffers reach the does-not-fit paths */
    char *out = malloc(cap);
    if (!out) {
        free(text);
        return 0;
    }
    switch (sel % 3) {
    case 0:
        if (srv_parse_bearer(text, out, cap) == 0) {
            size_t len = strlen(out);
            if (len == 0 || len >= cap) abort();
            if (strspn(out,
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=") !=
                len)
                abort();
        }
        break;
    case 1:
        if (srv_cookie_get(text, "dumu_session", out, cap) == 0) {
            size_t len = strlen(out);
            if (len == 0 || len >= cap) abort();
            for (size_t i = 0; i < len; i++)
                if (!cookie_octet((unsigned char)out[i])) abort();
            /* the pair alone gives the same value back */
            size_t m = len + 16;
            char *pair = malloc(m), *again = malloc(cap);
            if (pair && again) {
                memcpy(pair, "dumu_session=", 13);
                memcpy(pair + 13, out, len + 1);
                if (srv_cookie_get(pair, "dumu_session", again, cap) || strcmp(again, out)) abort();
            }
            free(pair);
            free(again);
        }
        break;
    default:
        if (srv_email_valid(text)) {
            const char *at = strchr(text, '@');
            if (!at || strchr(at + 1, '@') || strlen(text) >= SRV_EMAIL_LEN || at == text) abort();
        }
        break;
    }
    free(out);
    free(text);
    return 0;
}
