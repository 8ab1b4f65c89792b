/* core.c - status names, allocation hooks with fault injection, error text, the fork-join
 * loop. DESIGN: libdumu keeps no mutable global state except the fault-injection counter,
 * which exists for tests only (SQLite's test_malloc.c is the model). */
#include "core.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dumu_status_str(dumu_status status) {
    switch (status) {
    case DUMU_OK: return "ok";
    case DUMU_E_INVALID_ARG: return "invalid argument";
    case DUMU_E_NOMEM: return "out of memory";
    case DUMU_E_IO: return "I/O error";
    case DUMU_E_FORMAT: return "unrecognised or malformed data";
    case DUMU_E_UNSUPPORTED: return "unsupported format or feature";
    case DUMU_E_TRUNCATED: return "truncated data";
    case DUMU_E_EMPTY: return "no audio";
    case DUMU_E_TOO_LONG: return "too long";
    case DUMU_E_MODEL: return "model error";
    case DUMU_E_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

const char *dumu_version(void) {
    return DUMU_VERSION;
}

void dumu_abort(const char *file, int line, const char *expr) {
    fprintf(stderr, "%s:%d: DUMU_ASSERT(%s) failed\n", file, line, expr);
    fflush(stderr);
    abort();
}

/* ---------------------------------------------------------------------------------------- */
/* Allocation */

static int64_t g_alloc_fail_at; /* 0 = off; test-only, see dumu_alloc_fail_after */
static int64_t g_alloc_count;

int64_t dumu_alloc_fail_after(int64_t n) {
    int64_t made = g_alloc_count;
    g_alloc_count = 0;
    g_alloc_fail_at = n;
    return made;
}

static int alloc_should_fail(void) {
    g_alloc_count++;
    return g_alloc_fail_at > 0 && g_alloc_count == g_alloc_fail_at;
}

void *dumu_malloc(size_t size) {
    if (alloc_should_fail()) return NULL;
    void *p = NULL;
    size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded < size) return NULL;
    if (posix_memalign(&p, 64, rounded ? rounded : 64)) return NULL;
    return p;
}

void *dumu_calloc(size_t n, size_t size) {
    size_t bytes;
    if (dumu_mul_size(n, size, &bytes)) return NULL;
    void *p = dumu_malloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void *dumu_realloc(void *p, size_t size) {
    if (alloc_should_fail()) return NULL;
    return realloc(p, size ? size : 1);
}

void dumu_free(void *p) {
    free(p);
}

int dumu_mul_size(size_t a, size_t b, size_t *out) {
    if (a && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}

dumu_status dumu_fail(dumu_error *err, dumu_status status, const char *fmt, ...) {
    if (!err) return status;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return status;
}

/* ---------------------------------------------------------------------------------------- */
/* Fork-join */

#define DUMU_MAX_THREADS 64

struct task_arg {
    dumu_task_fn fn;
    void *ctx;
    int ith, nth;
};

static void *task_main(void *p) {
    struct task_arg *a = p;
    a->fn(a->ctx, a->ith, a->nth);
    return NULL;
}

void dumu_parallel(int n_threads, dumu_task_fn fn, void *ctx) {
    int nth = n_threads < 1 ? 1 : n_threads > DUMU_MAX_THREADS ? DUMU_MAX_THREADS : n_threads;
    pthread_t tid[DUMU_MAX_THREADS];
    struct task_arg args[DUMU_MAX_THREADS];
    int started = 1;
    for (int i = 1; i < nth; i++) {
        args[i] = (struct task_arg){fn, ctx, i, nth};
        if (pthread_create(&tid[i], NULL, task_main, &args[i])) break;
        started++;
    }
    if (started < nth) {
        /* Could not start every thread: run the missing shares here, so the work is done
         * and the split is still the one for nth. */
        for (int i = started; i < nth; i++)
            fn(ctx, i, nth);
    }
    fn(ctx, 0, nth);
    for (int i = 1; i < started; i++)
        pthread_join(tid[i], NULL);
}

void dumu_split(int64_t n, int ith, int nth, int64_t *begin, int64_t *end) {
    int64_t per = n / nth, rem = n % nth;
    *begin = ith * per + (ith < rem ? ith : rem);
    *end = *begin + per + (ith < rem ? 1 : 0);
}
