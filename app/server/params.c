/* params.c - parsing of untrusted request bytes (see params.h).
 *
 * Numbers are parsed from a bounded local copy with strtod, so no input is ever read past
 * its length and nothing non-finite gets through. JSON bodies go through cJSON, which is
 * bounded by the body length the HTTP side already capped.
 */
#include "params.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dumu/dumu.h"

/* The numeric field of `p` named `key`, or NULL: its range and default are libdumu's
 * (dumu_param_find), in the API's units. */
static double *number_field(struct srv_params *p, const char *key) {
    if (strcmp(key, "onset_threshold") == 0) return &p->onset_threshold;
    if (strcmp(key, "frame_threshold") == 0) return &p->frame_threshold;
    if (strcmp(key, "min_note_ms") == 0) return &p->min_note_ms;
    if (strcmp(key, "bpm") == 0) return &p->bpm;
    if (strcmp(key, "quantize_strength") == 0) return &p->quantize_strength;
    return NULL;
}

static const char *const k_numbers[] = {"onset_threshold", "frame_threshold", "min_note_ms", "bpm",
                                        "quantize_strength"};

struct srv_params srv_params_default(void) {
    struct srv_params p;
    memset(&p, 0, sizeof p);
    for (size_t i = 0; i < sizeof k_numbers / sizeof k_numbers[0]; i++)
        *number_field(&p, k_numbers[i]) = dumu_param_find(k_numbers[i])->def;
    strcpy(p.stems, "bass");
    strcpy(p.mode, "bass");
    strcpy(p.quantize, "off");
    return p;
}

/* Parses `len` bytes as a finite decimal number valid for `spec`. */
static int parse_number(const char *s, size_t len, const dumu_param_spec *spec, double *out) {
    char buf[64];
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end = NULL;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno || end == buf || *end || !dumu_param_valid(spec, v)) return -1;
    *out = v;
    return 0;
}

static const char *const k_stems[SRV_N_STEMS] = {"drums", "bass", "other", "vocals"};

const char *srv_stem_name(int k) {
    return k >= 0 && k < SRV_N_STEMS ? k_stems[k] : NULL;
}

/* Normalises a stems list of `len` bytes into out: "all" when every stem is named. */
static int parse_stems(const char *s, size_t len, char out[SRV_STEMS_LEN]) {
    uint32_t mask = 1u << SRV_STEM_BASS;
    if (len == 3 && memcmp(s, "all", 3) == 0) {
        mask = (1u << SRV_N_STEMS) - 1;
    } else {
        size_t i = 0;
        while (i <= len) {
            size_t j = i;
            while (j < len && s[j] != ',')
                j++;
            int found = 0;
            for (int k = 0; k < SRV_N_STEMS; k++) {
                const char *name = k_stems[k];
                if (strlen(name) == j - i && memcmp(name, s + i, j - i) == 0) {
                    mask |= 1u << k;
                    found = 1;
                }
            }
            if (!found) return -1;
            i = j + 1;
        }
    }
    if (mask == (1u << SRV_N_STEMS) - 1) {
        strcpy(out, "all");
        return 0;
    }
    out[0] = '\0';
    for (int k = 0; k < SRV_N_STEMS; k++) {
        if (!(mask & (1u << k))) continue;
        if (out[0]) strcat(out, ",");
        strcat(out, k_stems[k]);
    }
    return 0;
}

uint32_t srv_stems_mask(const char *stems) {
    char norm[SRV_STEMS_LEN];
    uint32_t mask = 1u << SRV_STEM_BASS;
    if (parse_stems(stems, strlen(stems), norm)) return mask;
    if (strcmp(norm, "all") == 0) return (1u << SRV_N_STEMS) - 1;
    for (int k = 0; k < SRV_N_STEMS; k++)
        if (strstr(norm, k_stems[k])) mask |= 1u << k;
    return mask;
}

static int parse_mode(const char *s, size_t len, char out[SRV_MODE_LEN]) {
    if ((len == 4 && memcmp(s, "bass", 4) == 0) || (len == 3 && memcmp(s, "raw", 3) == 0)) {
        memcpy(out, s, len);
        out[len] = '\0';
        return 0;
    }
    return -1;
}

static int parse_quantize(const char *s, size_t len, char out[SRV_MODE_LEN]) {
    char buf[SRV_MODE_LEN];
    int32_t steps;
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strcmp(buf, "off") != 0 && dumu_quantize_parse_grid(buf, &steps, NULL)) return -1;
    memcpy(out, buf, len + 1);
    return 0;
}

int32_t srv_quantize_steps(const char *quantize) {
    int32_t steps = 0;
    if (strcmp(quantize, "off") == 0 || dumu_quantize_parse_grid(quantize, &steps, NULL)) return 0;
    return steps;
}

int srv_params_set(struct srv_params *p, const char *key, const char *value, size_t len, char *why,
                   size_t cap) {
    /* An empty value means "not given": HTML forms send empty fields. */
    struct srv_params d = srv_params_default();
    const dumu_param_spec *spec = dumu_param_find(key);
    double *number = number_field(p, key);
    int bad = 0;
    if (number) {
        /* "auto" asks for the tempo to be detected, as 0 does */
        if (!len || (spec->zero_off && len == 4 && memcmp(value, "auto", 4) == 0))
            *number = len ? 0.0 : *number_field(&d, key);
        else
            bad = parse_number(value, len, spec, number);
    } else if (strcmp(key, "stems") == 0) {
        if (!len)
            strcpy(p->stems, d.stems);
        else
            bad = parse_stems(value, len, p->stems);
    } else if (strcmp(key, "mode") == 0) {
        if (!len)
            strcpy(p->mode, d.mode);
        else
            bad = parse_mode(value, len, p->mode);
    } else if (strcmp(key, "quantize") == 0) {
        if (!len)
            strcpy(p->quantize, d.quantize);
        else
            bad = parse_quantize(value, len, p->quantize);
    } else if (strcmp(key, "fast") == 0) {
        /* a form's check box sends "on"; an empty value leaves the server's default */
        if (len == 4 && memcmp(value, "true", 4) == 0)
            p->fast = true;
        else if ((len == 1 && value[0] == '1') || (len == 2 && memcmp(value, "on", 2) == 0))
            p->fast = true;
        else if ((len == 5 && memcmp(value, "false", 5) == 0) || (len == 1 && value[0] == '0'))
            p->fast = false;
        else
            bad = len != 0;
    } else {
        snprintf(why, cap, "unknown field '%.40s'", key);
        return -1;
    }
    if (bad && number) {
        snprintf(why, cap, "%s must be a number %g..%g%s", key, spec->min, spec->max,
                 spec->zero_off ? " or auto" : "");
        return -1;
    }
    if (bad) {
        static const char *const ranges[][2] = {
            {"stems", "bass, all or a comma list of drums,bass,other,vocals"},
            {"mode", "bass or raw"},
            {"quantize", "off, 1/4, 1/8, 1/16, 1/32, 1/8t, 1/16t or 1/32t"},
            {"fast", "true or false"},
        };
        const char *want = "valid";
        for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
            if (strcmp(key, ranges[i][0]) == 0) want = ranges[i][1];
        snprintf(why, cap, "%s must be %s", key, want);
        return -1;
    }
    return 0;
}

/* The first byte at or after `s` that is not JSON white space, or `end`. */
static const char *skip_space(const char *s, const char *end) {
    while (s < end && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'))
        s++;
    return s;
}

int srv_params_from_json(struct srv_params *p, const char *body, size_t len, char *why,
                         size_t cap) {
    if (skip_space(body, body + len) == body + len) return 0;
    /* cJSON stops after the first value: anything but white space after it is junk. */
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root || !cJSON_IsObject(root) || skip_space(end, body + len) != body + len) {
        snprintf(why, cap, "the body must be one JSON object");
        cJSON_Delete(root);
        return -1;
    }
    struct srv_params q = *p;
    int rc = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        const char *key = item->string ? item->string : "";
        char text[64];
        size_t n;
        if (strcmp(key, "mode") == 0 || strcmp(key, "quantize") == 0) {
            if (!cJSON_IsString(item)) goto wrong_type;
            n = strlen(item->valuestring);
            if (srv_params_set(&q, key, item->valuestring, n, why, cap)) goto fail;
        } else if (strcmp(key, "bpm") == 0 &&
                   (cJSON_IsNull(item) || (cJSON_IsNumber(item) && item->valuedouble == 0.0))) {
            q.bpm = 0.0; /* detect the tempo */
        } else if (number_field(&q, key)) {
            if (!cJSON_IsNumber(item)) goto wrong_type;
            n = (size_t)snprintf(text, sizeof text, "%.17g", item->valuedouble);
            if (srv_params_set(&q, key, text, n, why, cap)) goto fail;
        } else {
            snprintf(why, cap, "unknown field '%.40s'", key);
            goto fail;
        }
        continue;
wrong_type:
        snprintf(why, cap, "%.40s has the wrong type", key);
        goto fail;
    }
    *p = q;
    goto done;
fail:
    rc = -1;
done:
    cJSON_Delete(root);
    return rc;
}

int srv_id_valid(const char *s) {
    if (!s || strlen(s) != SRV_ID_LEN) return 0;
    for (int i = 0; i < SRV_ID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* Parses a decimal at *s, advancing past all its digits; -1 when there is none. A value
 * beyond int64 reads as INT64_MAX: past the end of any file or event history, which is what
 * it means. */
static int64_t decimal(const char **s) {
    int64_t v = 0;
    int digits = 0;
    for (; **s >= '0' && **s <= '9'; (*s)++, digits++) {
        int d = **s - '0';
        v = v > (INT64_MAX - d) / 10 ? INT64_MAX : v * 10 + d;
    }
    return digits ? v : -1;
}

int srv_parse_last_event_id(const char *s, int64_t *out) {
    if (!s) return -1;
    int64_t v = decimal(&s);
    if (v < 0 || *s) return -1;
    *out = v;
    return 0;
}

int srv_parse_range(const char *header, int64_t size, int64_t *first, int64_t *last) {
    if (!header || strncmp(header, "bytes=", 6) != 0 || size < 0) return 1;
    const char *s = header + 6;
    int64_t a = decimal(&s);
    if (*s++ != '-') return 1;
    int64_t b = decimal(&s);
    if (*s != '\0' || (a < 0 && b < 0)) return 1; /* several ranges, or junk */
    if (a < 0) {                                  /* suffix: the last b bytes */
        if (b == 0 || size == 0) return -1;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 0;
    }
    if (b >= 0 && b < a) return 1;
    if (a >= size) return -1;
    *first = a;
    *last = b < 0 || b >= size ? size - 1 : b;
    return 0;
}

void srv_sanitize_name(const char *name, char out[SRV_NAME_LEN]) {
    const char *base = name ? name : "";
    for (const char *c = base; *c; c++)
        if (*c == '/' || *c == '\\') base = c + 1;
    size_t len = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) len = (size_t)(dot - base);
    while (len && *base == '.') {
        base++;
        len--;
    }
    if (len > SRV_NAME_LEN - 1) len = SRV_NAME_LEN - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)base[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        out[i] = ok ? (char)c : '_';
    }
    out[len] = '\0';
    if (!len) strcpy(out, "audio");
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is malformed (overlong forms,
 * surrogates and code points over U+10FFFF included). */
static size_t utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    size_t n = c < 0x80             ? 1
               : (c & 0xE0) == 0xC0 ? 2
               : (c & 0xF0) == 0xE0 ? 3
               : (c & 0xF8) == 0xF0 ? 4
                                    : 0;
    if (n == 0 || (n == 2 && c < 0xC2)) return n == 1 ? 1 : 0;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

int srv_utf8_valid(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_len(p);
        if (!n) return 0;
        p += n;
    }
    return 1;
}

void srv_title_of(const char *name, char out[SRV_TITLE_LEN]) {
    const char *base = name ? name : "";
    for (const char *c = base; *c; c++)
        if (*c == '/' || *c == '\\') base = c + 1;
    const unsigned char *s = (const unsigned char *)base;
    size_t w = 0;
    while (*s) {
        size_t n = utf8_len(s);
        if (n == 1 && (*s < 0x20 || *s == 0x7F)) { /* control character: dropped */
            s++;
            continue;
        }
        const unsigned char *src = n ? s : (const unsigned char *)"?";
        size_t len = n ? n : 1;
        if (w + len > SRV_TITLE_LEN - 1) break;
        memcpy(out + w, src, len);
        w += len;
        s += n ? n : 1;
    }
    out[w] = '\0';
    if (!w) strcpy(out, "audio");
}

/* ---------------------------------------------------------------------------------------- */
/* Credentials in headers */

int srv_parse_bearer(const char *header, char *out, size_t cap) {
    if (!header || strncasecmp(header, "Bearer", 6) != 0 || header[6] != ' ') return -1;
    const char *t = header + 6;
    while (*t == ' ')
        t++;
    size_t n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");
    n += strspn(t + n, "=");
    if (n == 0 || t[n] != '\0' || n >= cap) return -1;
    memcpy(out, t, n);
    out[n] = '\0';
    return 0;
}

/* RFC 6265 4.1.1 cookie-octet: US-ASCII except controls, space, DQUOTE, comma, semicolon and
 * backslash. */
static int cookie_octet(unsigned char c) {
    return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\';
}

int srv_cookie_get(const char *header, const char *name, char *out, size_t cap) {
    size_t name_len = strlen(name);
    for (const char *p = header; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > name_len && memcmp(p, name, name_len) == 0 && p[name_len] == '=') {
            const char *v = p + name_len + 1;
            size_t n = len - name_len - 1;
            while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                n--;
            if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
                v++;
                n -= 2;
            }
            if (n == 0 || n >= cap) return -1;
            for (size_t i = 0; i < n; i++)
                if (!cookie_octet((unsigned char)v[i])) return -1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 0;
        }
        p = end;
    }
    return -1;
}

int srv_email_valid(const char *email) {
    size_t len = strlen(email);
    const char *at = strchr(email, '@');
    if (len >= SRV_EMAIL_LEN || !at || strchr(at + 1, '@')) return 0;
    size_t local = (size_t)(at - email);
    if (local < 1 || local > 64) return 0; /* RFC 5321 4.5.3.1.1 */
    for (const char *p = email; p < at; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '\\') return 0;
    /* the domain: labels of letters, digits and hyphens, not starting or ending with one */
    const char *d = at + 1;
    int dots = 0;
    size_t label = 0;
    for (const char *p = d;; p++) {
        if (*p == '.' || *p == '\0') {
            if (label == 0 || p[-1] == '-') return 0;
            if (*p == '\0') break;
            dots++;
            label = 0;
            continue;
        }
        if (!(isalnum((unsigned char)*p) || (*p == '-' && label > 0))) return 0;
        if (++label > 63) return 0; /* RFC 1035 2.3.4 */
    }
    return dots > 0;
}
