#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

double assert_allclose_f32_impl(const float *a, const float *b, size_t n, double atol,
                                double rtol, const char *what, const char *file, int line) {
    double worst = 0.0;
    size_t worst_i = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)a[i], y = (double)b[i];
        double d = (isnan(x) || isnan(y)) ? (double)INFINITY : fabs(x - y);
        if (d > worst) {
            worst = d;
            worst_i = i;
        }
        if (d > atol + rtol * fabs(y)) bad++;
    }
    if (bad) {
        fprintf(stderr, "%s:%d: %s: %d of %zu values differ; worst at %zu: %.9g vs %.9g (|d| %.3g)\n",
                file, line, what, bad, n, worst_i, (double)a[worst_i], (double)b[worst_i], worst);
        fail();
    }
    return worst;
}

const char *test_path(const char *var, const char *rel) {
    static char buf[4096];
    const char *base = getenv(var);
    if (!base) {
        fprintf(stderr, "environment variable %s is not set (run the tests through ctest)\n", var);
        fail();
    }
    snprintf(buf, sizeof buf, "%s/%s", base, rel);
    return buf;
}

void *test_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        fail();
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(len > 0 ? (size_t)len : 1);
    assert_non_null(buf);
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    assert_int_equal(got, (size_t)len);
    *size = (size_t)len;
    return buf;
}

int test_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}
