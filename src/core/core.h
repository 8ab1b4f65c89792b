/* core.h - internal helpers shared by every libdumu module: allocation hooks, error
 * reporting, assertions, overflow-checked sizes and a fork-join parallel loop.
 * Not installed; never included by front ends. */
#ifndef DUMU_CORE_H
#define DUMU_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "dumu/dumu.h"

/* Bugs, not errors: stays on in release builds, aborts with file:line. */
#define DUMU_ASSERT(x)                                \
    do {                                              \
        if (!(x)) dumu_abort(__FILE__, __LINE__, #x); \
    } while (0)

_Noreturn void dumu_abort(const char *file, int line, const char *expr);

/* All libdumu allocation goes through these. dumu_malloc(0) returns a unique pointer.
 * Returned memory is 64-byte aligned (AVX-512 loads) and freed with dumu_free. */
void *dumu_malloc(size_t size);
void *dumu_calloc(size_t n, size_t size); /* zeroed; NULL on n*size overflow */
void *dumu_realloc(void *p, size_t size); /* not aligned beyond malloc's guarantee */

/* Test hook: make the n-th allocation from now fail (n >= 1), 0 disables. Not thread-safe;
 * for single-threaded fault-injection tests only. Returns the number of allocations made
 * since the last call. */
int64_t dumu_alloc_fail_after(int64_t n);

/* Size arithmetic for untrusted input: returns 0 and sets *out on success, -1 on overflow. */
int dumu_mul_size(size_t a, size_t b, size_t *out);

/* Records `status` and a printf-style reason in `err` (may be NULL) and returns `status`,
 * so a failing path reads: return dumu_fail(err, DUMU_E_FORMAT, "bad header in %s", path); */
dumu_status dumu_fail(dumu_error *err, dumu_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Fork-join loop: calls fn(ctx, ith, nth) on nth = min(n_threads, max) threads (the caller is
 * thread 0) and joins them. Each call must write only its own share of the output, so results
 * do not depend on the thread count. */
typedef void (*dumu_task_fn)(void *ctx, int ith, int nth);
void dumu_parallel(int n_threads, dumu_task_fn fn, void *ctx);

/* Share [*begin, *end) of n items for thread ith of nth: contiguous, balanced. */
void dumu_split(int64_t n, int ith, int nth, int64_t *begin, int64_t *end);

#endif /* DUMU_CORE_H */
