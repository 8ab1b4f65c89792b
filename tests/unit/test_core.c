/* Core: status names, overflow checks, allocation fault injection, the parallel split. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"

static void test_status_names(void **state) {
    (void)state;
    assert_string_equal(dumu_status_str(DUMU_OK), "ok");
    assert_string_equal(dumu_status_str(DUMU_E_CANCELLED), "cancelled");
    assert_string_equal(dumu_status_str((dumu_status)-999), "unknown status");
    assert_string_equal(dumu_version(), DUMU_VERSION);
}

static void test_fail_records_message(void **state) {
    (void)state;
    dumu_error err = {0};
    assert_int_equal(dumu_fail(&err, DUMU_E_FORMAT, "bad %s at %d", "header", 12), DUMU_E_FORMAT);
    assert_int_equal(err.status, DUMU_E_FORMAT);
    assert_string_equal(err.message, "bad header at 12");
    assert_int_equal(dumu_fail(NULL, DUMU_E_IO, "ignored"), DUMU_E_IO);
}

static void test_mul_size_overflow(void **state) {
    (void)state;
    size_t out = 0;
    assert_int_equal(dumu_mul_size(1u << 20, 1u << 10, &out), 0);
    assert_int_equal(out, (size_t)1 << 30);
    assert_int_equal(dumu_mul_size(SIZE_MAX / 2 + 1, 2, &out), -1);
    assert_null(dumu_calloc(SIZE_MAX / 4, 8));
}

static void test_alloc_alignment_and_failure(void **state) {
    (void)state;
    float *p = dumu_malloc(100);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    dumu_free(p);
    dumu_alloc_fail_after(2);
    void *a = dumu_malloc(8);
    void *b = dumu_malloc(8);
    void *c = dumu_malloc(8);
    assert_non_null(a);
    assert_null(b);
    assert_non_null(c);
    assert_int_equal(dumu_alloc_fail_after(0), 3);
    dumu_free(a);
    dumu_free(c);
    dumu_free(NULL);
}

struct sum_ctx {
    int64_t n;
    int64_t out[8];
    int seen[8];
};

static void sum_task(void *p, int ith, int nth) {
    struct sum_ctx *c = p;
    int64_t b, e;
    dumu_split(c->n, ith, nth, &b, &e);
    int64_t s = 0;
    for (int64_t i = b; i < e; i++)
        s += i;
    c->out[ith] = s;
    c->seen[ith] = nth;
}

static void test_parallel_split_covers_everything(void **state) {
    (void)state;
    for (int nth = 1; nth <= 8; nth++) {
        struct sum_ctx c = {.n = 1000003};
        dumu_parallel(nth, sum_task, &c);
        int64_t s = 0;
        for (int i = 0; i < nth; i++) {
            s += c.out[i];
            assert_int_equal(c.seen[i], nth);
        }
        assert_true(s == (int64_t)1000003 * 1000002 / 2);
    }
    int64_t b, e;
    dumu_split(5, 6, 7, &b, &e);
    assert_true(b == 5 && e == 5);
}

/* Counts how often each share of each region ran. */
struct count_ctx {
    int runs[4]; /* per share */
    int nested;  /* share 0 opens a region inside the region */
};

static void count_task(void *p, int ith, int nth) {
    struct count_ctx *c = p;
    (void)nth;
    c->runs[ith]++;
    if (ith == 0 && c->nested) {
        struct sum_ctx inner = {.n = 1000};
        dumu_parallel(2, sum_task, &inner); /* on fresh threads: the pool is busy */
        assert_true(inner.out[0] + inner.out[1] == 1000 * 999 / 2);
    }
}

/* Thousands of back-to-back regions of changing width on a pool: every share runs exactly
 * once per region, wider regions than the pool still complete, nesting works, and the pool
 * hands back cleanly. */
static void test_pool_regions(void **state) {
    (void)state;
    assert_null(dumu_pool_begin(1)); /* one thread needs no pool */
    dumu_pool *pool = dumu_pool_begin(3);
    assert_non_null(pool);
    assert_null(dumu_pool_begin(3)); /* nested begin keeps the outer pool */
    dumu_pool_end(NULL);
    struct count_ctx c = {{0}, 0};
    int want[4] = {0};
    for (int r = 0; r < 3000; r++) {
        int nth = 1 + r % 4; /* 4 > the pool's 2 workers + caller: per-region threads */
        c.nested = r % 97 == 0;
        dumu_parallel(nth, count_task, &c);
        for (int i = 0; i < nth; i++)
            want[i]++;
        for (int i = 0; i < 4; i++)
            assert_int_equal(c.runs[i], want[i]);
    }
    /* results equal those without a pool */
    struct sum_ctx a = {.n = 1000003};
    dumu_parallel(3, sum_task, &a);
    dumu_pool_end(pool);
    struct sum_ctx b = {.n = 1000003};
    dumu_parallel(3, sum_task, &b);
    assert_memory_equal(a.out, b.out, sizeof a.out);
}

/* The parameter table's defaults are the default params' (one source: the front ends read
 * the table), names are found with '-' or '_', and ranges hold. */
static void test_param_table(void **state) {
    (void)state;
    int32_t n = 0;
    const dumu_param_spec *t = dumu_param_specs(&n);
    assert_true(n >= 8);
    const dumu_note_params np = dumu_note_default_params();
    const dumu_transcribe_params tp = dumu_transcribe_default_params();
    const dumu_separate_params sp = dumu_separate_default_params();
    assert_true(dumu_param_find("onset_threshold")->def == np.onset_threshold);
    assert_true(dumu_param_find("frame-threshold")->def == np.frame_threshold);
    assert_int_equal(dumu_note_ms_to_frames(dumu_param_find("min_note_ms")->def),
                     np.min_note_frames);
    assert_true(dumu_param_find("quantize_strength")->def == 100.0 * tp.quantize_strength);
    assert_true(dumu_param_find("overlap")->def == sp.overlap);
    assert_true(dumu_param_find("bpm")->def == tp.fixed_bpm);
    assert_true(dumu_param_find("min_freq")->def == np.min_freq_hz);
    assert_true(dumu_param_find("max_freq")->def == np.max_freq_hz);
    assert_null(dumu_param_find("onset"));
    assert_null(dumu_param_find(NULL));
    for (int32_t i = 0; i < n; i++) {
        assert_true(t[i].min < t[i].max && t[i].help && t[i].unit);
        assert_true(dumu_param_valid(&t[i], t[i].def));
        assert_false(dumu_param_valid(&t[i], t[i].max * 2.0 + 1.0));
        assert_false(dumu_param_valid(&t[i], NAN));
        assert_true(dumu_param_valid(&t[i], 0.0) == (t[i].zero_off || t[i].min <= 0.0));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_fail_records_message),
        cmocka_unit_test(test_mul_size_overflow),
        cmocka_unit_test(test_alloc_alignment_and_failure),
        cmocka_unit_test(test_parallel_split_covers_everything),
        cmocka_unit_test(test_pool_regions),
        cmocka_unit_test(test_param_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
