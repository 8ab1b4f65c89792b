/* testutil.h - helpers shared by the cmocka tests: cmocka includes, float comparisons with
 * a clear report, paths to models/testdata/fixtures from the environment ctest sets. */
#ifndef DUMU_TESTUTIL_H
#define DUMU_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dumu/dumu.h"

/* Fails the test (with the worst index and values) unless |a[i] - b[i]| <= atol + rtol*|b[i]|
 * for all i. NaN anywhere fails. Returns the max abs error for reporting. */
double assert_allclose_f32_impl(const float *a, const float *b, size_t n, double atol, double rtol,
                                const char *what, const char *file, int line);
#define assert_allclose_f32(a, b, n, atol, rtol, what) \
    assert_allclose_f32_impl((a), (b), (n), (atol), (rtol), (what), __FILE__, __LINE__)

/* Returns getenv(var) joined with `rel` in a static buffer (one per call site is enough in
 * tests: copy it if you need two at once). Fails the test when var is unset. */
const char *test_path(const char *var, const char *rel);

/* Reads a whole file into a malloc'ed buffer (free with free()); fails the test on error. */
void *test_read_file(const char *path, size_t *size);

/* A scratch directory for one test binary: create it in the group setup, remove it (with the
 * files in it) in the group teardown. Both return 0 on success, as cmocka expects. */
int test_scratch_create(const char *prefix);
int test_scratch_remove(void);
/* The scratch directory itself, and `name` inside it (four rotating static buffers). */
const char *test_scratch_dir(void);
const char *test_scratch_path(const char *name);

/* Returns 1 when `path` exists. */
int test_exists(const char *path);

/* A note from on to off seconds at `pitch` with amplitude `amp`, everything else 0. */
dumu_note test_note(double on, double off, int32_t pitch, double amp);

#endif
