/* test_server_zip.c - the zip of a batch's results (app/server/zip.c, compiled in), read back
 * by an independent reader written here from the format's documented layout: the end record
 * finds the central directory, each entry finds its local header, and zlib's inflate gives the
 * bytes back, which must be the ones added, with the CRC the entry claims. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../app/server/zip.c"
#include "testutil.h"

static unsigned rd16(const uint8_t *p) {
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t rd32(const uint8_t *p) {
    return rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

/* Inflates raw deflate `in` (n bytes) into `out` (cap bytes); the length or -1. */
static long inflate_raw(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -15) != Z_OK) return -1;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int rc = inflate(&zs, Z_FINISH);
    long len = (long)zs.total_out;
    inflateEnd(&zs);
    return rc == Z_STREAM_END ? len : -1;
}

static void test_round_trip(void **state) {
    (void)state;
    /* a text that deflate shrinks, an empty file and binary bytes, in folders */
    static const char *const names[] = {"song/song-bass.musicxml", "song/empty.txt",
                                        "other (2)/other-bass.mid"};
    size_t sizes[] = {20000, 0, 256};
    uint8_t *files[3];
    for (int f = 0; f < 3; f++) {
        files[f] = malloc(sizes[f] ? sizes[f] : 1);
        for (size_t i = 0; i < sizes[f]; i++)
            files[f][i] = f == 0 ? (uint8_t) "<note/>\n"[i % 8] : (uint8_t)i;
    }
    struct srv_zip z = {0};
    for (int f = 0; f < 3; f++)
        assert_int_equal(srv_zip_add(&z, names[f], files[f], sizes[f], 1733500000), 0);
    uint8_t *zip = NULL;
    size_t len = 0;
    assert_int_equal(srv_zip_finish(&z, &zip, &len), 0);
    assert_non_null(zip);

    const uint8_t *end = zip + len - 22;
    assert_int_equal(rd32(end), 0x06054b50);
    assert_int_equal(rd16(end + 10), 3);
    uint32_t dir_size = rd32(end + 12), dir_at = rd32(end + 16);
    assert_int_equal(dir_at + dir_size, len - 22);
    const uint8_t *c = zip + dir_at;
    uint8_t out[20000];
    for (int f = 0; f < 3; f++) {
        assert_int_equal(rd32(c), 0x02014b50);
        assert_int_equal(rd16(c + 10), 8);     /* deflate */
        assert_true(rd16(c + 8) & (1u << 11)); /* UTF-8 names */
        unsigned name_len = rd16(c + 28);
        assert_int_equal(name_len, strlen(names[f]));
        assert_memory_equal(c + 46, names[f], name_len);
        uint32_t crc = rd32(c + 16), packed = rd32(c + 20), size = rd32(c + 24);
        assert_int_equal(size, sizes[f]);
        const uint8_t *h = zip + rd32(c + 42);
        assert_int_equal(rd32(h), 0x04034b50);
        assert_int_equal(rd32(h + 14), crc);
        assert_int_equal(rd16(h + 26), name_len);
        assert_memory_equal(h + 30, names[f], name_len);
        const uint8_t *data = h + 30 + name_len + rd16(h + 28);
        long n = inflate_raw(data, packed, out, sizeof out);
        assert_int_equal(n, (long)sizes[f]);
        assert_memory_equal(out, files[f], sizes[f]);
        assert_int_equal(crc32(0L, out, (uInt)n), crc);
        if (f == 0) assert_true(packed < size / 10); /* it was compressed */
        c += 46 + name_len;
    }
    free(zip);
    for (int f = 0; f < 3; f++)
        free(files[f]);
}

static void test_refusals(void **state) {
    (void)state;
    struct srv_zip z = {0};
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(srv_zip_add(&z, "", "x", 1, 0), -1);
    /* a failed add fails the archive: no half archive goes out */
    uint8_t *zip = (uint8_t *)"";
    size_t len = 1;
    assert_int_equal(srv_zip_finish(&z, &zip, &len), -1);
    assert_null(zip);
    assert_int_equal(len, 0);
    struct srv_zip y = {0};
    assert_int_equal(srv_zip_add(&y, long_name, "x", 1, 0), -1);
    srv_zip_free(&y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
