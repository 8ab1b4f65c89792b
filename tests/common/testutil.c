#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

double assert_allclose_f32_impl(const float *a, const float *b, size_t n, double atol, double rtol,
                                const char *what, const char *file, int line) {
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
        fprintf(stderr,
                "%s:%d: %s: %d of %zu values differ; worst at %zu: %.9g vs %.9g (|d| %.3g)\n", file,
                line, what, bad, n, worst_i, (double)a[worst_i], (double)b[worst_i], worst);
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

static char g_scratch[256];

int test_scratch_create(const char *prefix) {
    snprintf(g_scratch, sizeof g_scratch, "/tmp/%s_XXXXXX", prefix);
    return mkdtemp(g_scratch) ? 0 : -1;
}

int test_scratch_remove(void) {
    DIR *d = opendir(g_scratch);
    if (!d) return -1;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", g_scratch, e->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(g_scratch);
}

const char *test_scratch_dir(void) {
    return g_scratch;
}

const char *test_scratch_path(const char *name) {
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", g_scratch, name);
    return p;
}

dumu_note test_note(double on, double off, int32_t pitch, double amp) {
    dumu_note n;
    memset(&n, 0, sizeof n);
    n.start_s = on;
    n.end_s = off;
    n.pitch = pitch;
    n.amplitude = amp;
    return n;
}
