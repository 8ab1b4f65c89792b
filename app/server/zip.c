/* zip.c - a zip archive built in memory (zip.h). Field layouts: PKWARE APPNOTE 6.3, 4.3.7
 * (local file header), 4.3.12 (central directory header), 4.3.16 (end of central directory);
 * every number little-endian. */
#include "zip.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum {
    VERSION = 20,         /* 2.0: deflate, the features every unzip reads */
    FLAG_UTF8 = 1u << 11, /* general purpose bit 11: names are UTF-8 */
    METHOD_DEFLATE = 8,
    MADE_BY_UNIX = 3 << 8, /* external attributes hold Unix modes */
};

/* Appends `n` bytes to (*buf, *len, *cap), growing it; -1 when out of memory. */
static int put(uint8_t **buf, size_t *len, size_t *cap, const void *bytes, size_t n) {
    if (*len + n > *cap) {
        size_t cap2 = *cap ? *cap : 4096;
        while (cap2 < *len + n)
            cap2 *= 2;
        uint8_t *b = realloc(*buf, cap2);
        if (!b) return -1;
        *buf = b;
        *cap = cap2;
    }
    memcpy(*buf + *len, bytes, n);
    *len += n;
    return 0;
}

static void le16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v) {
    le16(p, v & 0xffff);
    le16(p + 2, v >> 16);
}

/* MS-DOS time and date of `t` (local time, as unzip shows it), 2-second steps from 1980. */
static void dos_time(time_t t, unsigned *time_out, unsigned *date_out) {
    struct tm tm;
    if (!localtime_r(&t, &tm) || tm.tm_year < 80) {
        *time_out = 0;
        *date_out = (0 << 9) | (1 << 5) | 1; /* 1980-01-01, the format's first day */
        return;
    }
    *time_out = (unsigned)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
    *date_out = (unsigned)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
}

/* Raw deflate of `n` bytes into a new buffer (*out, *out_len); -1 on failure. */
static int deflate_all(const void *bytes, size_t n, uint8_t **out, size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* windowBits -15: raw deflate, no zlib header (zip stores its own CRC and sizes) */
    if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uLong bound = deflateBound(&zs, (uLong)n);
    *out = malloc(bound ? bound : 1);
    if (!*out) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)(uintptr_t)bytes;
    zs.avail_in = (uInt)n;
    zs.next_out = *out;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int srv_zip_add(struct srv_zip *z, const char *name, const void *bytes, size_t n, time_t mtime) {
    size_t name_len = strlen(name);
    uint8_t *packed = NULL;
    size_t packed_len = 0;
    if (z->failed || name_len == 0 || name_len > 255 || z->n == 65535 || n > 0xffffffffu ||
        deflate_all(bytes, n, &packed, &packed_len)) {
        z->failed = 1;
        return -1;
    }
    /* no ZIP64: every offset and size must fit 32 bits */
    if (z->len + 30 + name_len + packed_len + z->dir_len + 46 + name_len + 22 > 0xffffffffu) {
        free(packed);
        z->failed = 1;
        return -1;
    }
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), bytes, (uInt)n);
    unsigned t, d;
    dos_time(mtime, &t, &d);
    uint8_t h[30], c[46];
    le32(h, 0x04034b50);
    le16(h + 4, VERSION);
    le16(h + 6, FLAG_UTF8);
    le16(h + 8, METHOD_DEFLATE);
    le16(h + 10, t);
    le16(h + 12, d);
    le32(h + 14, crc);
    le32(h + 18, (uint32_t)packed_len);
    le32(h + 22, (uint32_t)n);
    le16(h + 26, (unsigned)name_len);
    le16(h + 28, 0); /* no extra field */
    le32(c, 0x02014b50);
    le16(c + 4, MADE_BY_UNIX | VERSION);
    memcpy(c + 6, h + 4, 22); /* version needed .. sizes, as in the local header */
    le16(c + 28, (unsigned)name_len);
    le16(c + 30, 0);                       /* extra field */
    le16(c + 32, 0);                       /* comment */
    le16(c + 34, 0);                       /* disk number */
    le16(c + 36, 0);                       /* internal attributes */
    le32(c + 38, (uint32_t)0100644 << 16); /* a regular file, rw-r--r-- */
    le32(c + 42, (uint32_t)z->len);        /* where its local header starts */
    int rc = put(&z->data, &z->len, &z->cap, h, sizeof h) ||
             put(&z->data, &z->len, &z->cap, name, name_len) ||
             put(&z->data, &z->len, &z->cap, packed, packed_len) ||
             put(&z->dir, &z->dir_len, &z->dir_cap, c, sizeof c) ||
             put(&z->dir, &z->dir_len, &z->dir_cap, name, name_len);
    free(packed);
    if (rc) {
        z->failed = 1;
        return -1;
    }
    z->n++;
    return 0;
}

int srv_zip_finish(struct srv_zip *z, uint8_t **out, size_t *len) {
    *out = NULL;
    *len = 0;
    uint8_t e[22];
    le32(e, 0x06054b50);
    le16(e + 4, 0); /* this disk */
    le16(e + 6, 0); /* the disk where the directory starts */
    le16(e + 8, (unsigned)z->n);
    le16(e + 10, (unsigned)z->n);
    le32(e + 12, (uint32_t)z->dir_len);
    le32(e + 16, (uint32_t)z->len);
    le16(e + 20, 0); /* no comment */
    if (z->failed || put(&z->data, &z->len, &z->cap, z->dir, z->dir_len) ||
        put(&z->data, &z->len, &z->cap, e, sizeof e)) {
        srv_zip_free(z);
        return -1;
    }
    *out = z->data;
    *len = z->len;
    z->data = NULL;
    srv_zip_free(z);
    return 0;
}

void srv_zip_free(struct srv_zip *z) {
    free(z->data);
    free(z->dir);
    memset(z, 0, sizeof *z);
}
