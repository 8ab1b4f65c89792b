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

/* A 64-byte aligned block of at least `bytes` that belongs to the calling thread until its
 * next call here (grow-only; freed when the thread ends), or NULL when it cannot grow. For
 * packing buffers of kernels that run once per layer tile: no allocator traffic (nor fresh
 * pages to fault in) on every call. Not re-entrant on one thread. */
void *dumu_thread_scratch(size_t bytes);

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

/* A growing text buffer for the text writers (MusicXML, tab): dumu_text_put appends printf
 * style; an allocation failure sets `failed`, later puts do nothing, and the writer reports it
 * once at the end. `s` (dumu_realloc'ed, NUL-terminated once anything was put) belongs to the
 * buffer's owner: hand it on or dumu_free it. Start from a zeroed struct. */
typedef struct dumu_text {
    char *s;
    size_t len, cap;
    int failed;
} dumu_text;

void dumu_text_put(dumu_text *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Fork-join loop: calls fn(ctx, ith, nth) on nth = min(n_threads, 64) threads (the caller is
 * thread 0) and returns when all have finished. Each call must write only its own share of
 * the output, so results do not depend on the thread count. The other nth - 1 shares run on
 * the workers of the calling thread's pool (dumu_pool_begin) when it has enough of them,
 * else on threads started and joined for this call. */
typedef void (*dumu_task_fn)(void *ctx, int ith, int nth);
void dumu_parallel(int n_threads, dumu_task_fn fn, void *ctx);

/* Thread pool: n_threads - 1 parked workers serving every dumu_parallel region of the calling
 * thread between dumu_pool_begin and dumu_pool_end, so a separation's thousands of regions
 * do not each start and join threads (~20-40 us a region). The pool is bound to the calling
 * thread only: workers that themselves call dumu_parallel fall back to fresh threads, and so
 * do other threads. Begin/end pairs nest: an inner begin on a thread that already has a pool
 * returns NULL and leaves it in place, and dumu_pool_end(NULL) does nothing. Begin also
 * returns NULL when n_threads < 2 or the workers cannot be started (dumu_parallel then
 * starts threads per region: slower, same results). dumu_pool_end joins the workers, so a
 * public call that begins a pool leaves no thread behind. */
typedef struct dumu_pool dumu_pool;
dumu_pool *dumu_pool_begin(int n_threads);
void dumu_pool_end(dumu_pool *pool);

/* Whether the separation network's products on this thread run in bf16 (true: --fast) or
 * exact fp32 (false, the default): the calling thread's setting, which every dumu_parallel
 * region it starts passes on to its workers for the region's duration (as the floating-point
 * environment is per thread). dumu_gemm reads it. _set returns the previous setting. */
bool dumu_fast_products(void);
bool dumu_fast_products_set(bool fast);

/* Share [*begin, *end) of n items for thread ith of nth: contiguous, balanced. */
void dumu_split(int64_t n, int ith, int nth, int64_t *begin, int64_t *end);

#endif /* DUMU_CORE_H */
