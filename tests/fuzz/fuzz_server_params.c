/* fuzz_server_params.c - libFuzzer target for the parsing of untrusted request bytes in
 * `dumu serve` (app/server/params.c, compiled in directly: the fuzz build links libdumu only).
 *
 * The first input byte picks the parser, the rest is its input: a multipart field value for
 * one of the parameter names (or an unknown one), a re-transcribe JSON body, a Last-Event-ID
 * header, a job id, an upload file name, a stems list, a Range header. Any bytes must give an answer, never
 * a crash or a sanitizer report, and an accepted value must hold the documented ranges; a
 * sanitised name must be non-empty and only [A-Za-z0-9._-].
 *
 * Build: CC=clang cmake -S . -B build-fuzz -G Ninja -DDUMU_FUZZ=ON && cmake --build build-fuzz
 * Run:   scripts/run-fuzzers build-fuzz 60 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../app/server/params.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_params(const struct srv_params *p) {
    /* every number the parser lets through is valid by libdumu's table */
    struct srv_params q = *p;
    for (size_t i = 0; i < sizeof k_numbers / sizeof k_numbers[0]; i++)
        if (!dumu_param_valid(dumu_param_find(k_numbers[i]), *number_field(&q, k_numbers[i])))
            abort();
    if (strcmp(p->mode, "bass") != 0 && strcmp(p->mode, "raw") != 0) abort();
    if (!(srv_stems_mask(p->stems) & (1u << SRV_STEM_BASS))) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const keys[] = {
        "onset_threshold", "frame_threshold", "min_note_ms", "stems", "bpm", "mode", "file", ""};
    if (size < 2) return 0;
    const uint8_t sel = data[0];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    char *text = malloc(n + 1); /* a NUL-terminated copy, as MHD hands out headers */
    if (!text) return 0;
    memcpy(text, in, n);
    text[n] = '\0';
    char why[160];
    struct srv_params p = srv_params_default();
    switch (sel % 7) {
    case 0: {
        const char *key = keys[(sel / 6) % (sizeof keys / sizeof keys[0])];
        if (srv_params_set(&p, key, in, n, why, sizeof why) && !why[0]) abort();
        check_params(&p);
        break;
    }
    case 1:
        if (srv_params_from_json(&p, in, n, why, sizeof why) && !why[0]) abort();
        check_params(&p);
        break;
    case 2: {
        int64_t id = -1;
        int r = srv_parse_last_event_id(text, &id);
        if (r == 0 && id < 0) abort();
        /* only digits is an id, however many (past int64: after every event) */
        if (n > 0 && strspn(text, "0123456789") == n && r != 0) abort();
        break;
    }
    case 3:
        if (srv_id_valid(text) && strlen(text) != SRV_ID_LEN) abort();
        break;
    case 4: {
        char name[SRV_NAME_LEN];
        srv_sanitize_name(text, name);
        size_t len = strlen(name);
        if (len == 0 || len >= SRV_NAME_LEN || name[0] == '.') abort();
        for (size_t i = 0; i < len; i++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
                        name[i]))
                abort();
        char title[SRV_TITLE_LEN];
        srv_title_of(text, title);
        size_t tl = strlen(title);
        if (tl == 0 || tl >= SRV_TITLE_LEN || strchr(title, '/') || strchr(title, '\\')) abort();
        for (size_t i = 0; i < tl; i++)
            if ((unsigned char)title[i] < 0x20 || title[i] == 0x7F) abort();
        break;
    }
    case 5: {
        int64_t size = (int64_t)(sel / 7) * 1000, first = -1, last = -1;
        int r = srv_parse_range(text, size, &first, &last);
        if (r == 0 && !(first >= 0 && first <= last && last < size)) abort();
        /* "bytes=0-N" is satisfiable for any N, however many digits: clamped to the file */
        if (size > 0 && n > 8 && strncmp(text, "bytes=0-", 8) == 0 &&
            strspn(text + 8, "0123456789") == n - 8 && r != 0)
            abort();
        break;
    }
    default:
        if (!(srv_stems_mask(text) & (1u << SRV_STEM_BASS))) abort();
        break;
    }
    free(text);
    return 0;
}
