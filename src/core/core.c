/* core.c - status names, allocation hooks with fault injection, error text, the fork-join
 * loop and its thread pool. DESIGN: libdumu keeps no mutable global state except the fault-injection counter,
 * which exists for tests only (SQLite's test_malloc.c is the model). */
#define _DEFAULT_SOURCE /* madvise */
#include "core.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

const char *dumu_stage_name(dumu_stage stage) {
    switch (stage) {
    case DUMU_STAGE_DECODE: return "decode";
    case DUMU_STAGE_RESAMPLE: return "resample";
    case DUMU_STAGE_TEMPO: return "tempo";
    case DUMU_STAGE_SEPARATE: return "separate";
    case DUMU_STAGE_BASIC_PITCH: return "basic-pitch";
    case DUMU_STAGE_NOTES: return "notes";
    case DUMU_STAGE_DONE: return "done";
    }
    return NULL;
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

/* Every thread allocates: the count is atomic (relaxed: it orders nothing), so it is exact
 * and race-free even while worker threads run; fault injection itself is for tests that
 * allocate on one thread. */
static _Atomic int64_t g_alloc_fail_at; /* 0 = off; test-only, see dumu_alloc_fail_after */
static _Atomic int64_t g_alloc_count;

int64_t dumu_alloc_fail_after(int64_t n) {
    int64_t made = atomic_exchange_explicit(&g_alloc_count, 0, memory_order_relaxed);
    atomic_store_explicit(&g_alloc_fail_at, n, memory_order_relaxed);
    return made;
}

static int alloc_should_fail(void) {
    int64_t count = atomic_fetch_add_explicit(&g_alloc_count, 1, memory_order_relaxed) + 1;
    int64_t at = atomic_load_explicit(&g_alloc_fail_at, memory_order_relaxed);
    return at > 0 && count == at;
}

/* Blocks of HUGE_MIN bytes and more (network workspaces, audio, activations) start on a 2 MiB
 * boundary and ask for transparent huge pages (THP "madvise" mode, Debian's default): one page
 * fault per 2 MiB instead of 512, and fewer TLB misses in the GEMMs. Page faults are dear on
 * the virtual machines we run on: `dumu transcribe` of a 30 s clip went from 12.4k to 5.7k
 * faults and ~15 % less time, `dumu separate` ~5 % less CPU time. Where THP is off, madvise
 * fails harmlessly and the block is an ordinary one. */
#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_MIN  ((size_t)4 << 20) /* at least two huge pages: the round-up wastes < half */

void *dumu_malloc(size_t size) {
    if (alloc_should_fail()) return NULL;
    void *p = NULL;
    size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded < size) return NULL;
    if (rounded >= HUGE_MIN) {
        size_t huge = (rounded + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        if (huge < rounded || posix_memalign(&p, HUGE_PAGE, huge)) return NULL;
        (void)madvise(p, huge, MADV_HUGEPAGE);
        return p;
    }
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

void dumu_text_put(dumu_text *b, const char *fmt, ...) {
    if (b->failed) return;
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    DUMU_ASSERT(n >= 0);
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (b->len + (size_t)n + 1 > cap)
            cap *= 2;
        char *grown = dumu_realloc(b->s, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->s = grown;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* ---------------------------------------------------------------------------------------- */
/* Per-thread scratch (dumu_thread_scratch): one grow-only block per thread, freed by the
 * key's destructor when the thread ends. */
static pthread_key_t g_scratch_key;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;

struct scratch {
    void *p;
    size_t size;
};

static void scratch_free(void *v) {
    struct scratch *s = v;
    dumu_free(s->p);
    dumu_free(s);
}

static void scratch_key(void) {
    pthread_key_create(&g_scratch_key, scratch_free);
}

void *dumu_thread_scratch(size_t bytes) {
    pthread_once(&g_scratch_once, scratch_key);
    struct scratch *s = pthread_getspecific(g_scratch_key);
    if (!s) {
        if (!(s = dumu_calloc(1, sizeof *s))) return NULL;
        if (pthread_setspecific(g_scratch_key, s)) {
            dumu_free(s);
            return NULL;
        }
    }
    if (s->size < bytes) {
        dumu_free(s->p);
        s->size = 0;
        if (!(s->p = dumu_malloc(bytes))) return NULL;
        s->size = bytes;
    }
    return s->p;
}

/* Fork-join and the thread pool
 *
 * DESIGN
 *   A pool is n_workers parked threads and one "region" slot. dumu_parallel on the owning
 *   thread fills the slot (fn, ctx, nth), bumps `generation` and runs share 0 itself; worker
 *   w (1-based) runs share w when w < nth, then decrements `pending`, which starts at the
 *   number of workers (idle ones check in too, so no worker can still be reading the slot
 *   when the owner refills it); the owner returns when pending reaches 0. Between regions a
 *   worker spins briefly on `generation` (regions come every few microseconds inside a
 *   layer) and then sleeps on a condition variable; the owner likewise spins on `pending`
 *   before sleeping. The mutex orders every sleep against the matching wake-up, so no
 *   wake-up is lost. */

#define DUMU_MAX_THREADS 64
#define SPIN_ROUNDS      4000 /* PAUSE loops (~20 ns each) before sleeping: ~80 us */

struct dumu_pool {
    pthread_t tid[DUMU_MAX_THREADS];
    int n_workers;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* workers: a new region or stop */
    pthread_cond_t done; /* owner: pending reached 0 */
    /* the current region, written by the owner before generation is bumped */
    dumu_task_fn fn;
    void *ctx;
    int nth;
    bool fast; /* the owner's dumu_fast_products() for this region */
    _Atomic uint64_t generation;
    _Atomic int pending; /* workers that have not yet finished with the current region */
    _Atomic bool stop;
};

struct worker_arg {
    dumu_pool *pool;
    int ith;
};

static _Thread_local dumu_pool *tl_pool; /* the pool of this thread's regions, if any */
static _Thread_local bool tl_fast;       /* dumu_fast_products(), inherited by regions */

bool dumu_fast_products(void) {
    return tl_fast;
}

bool dumu_fast_products_set(bool fast) {
    bool was = tl_fast;
    tl_fast = fast;
    return was;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *pool_worker(void *p) {
    struct worker_arg a = *(struct worker_arg *)p;
    dumu_free(p);
    dumu_pool *pool = a.pool;
    uint64_t seen = 0;
    for (;;) {
        uint64_t gen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        for (int spin = 0; gen == seen && spin < SPIN_ROUNDS; spin++) {
            cpu_relax();
            gen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        }
        if (gen == seen) {
            pthread_mutex_lock(&pool->mu);
            while ((gen = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->wake, &pool->mu);
            pthread_mutex_unlock(&pool->mu);
        }
        if (gen == seen) return NULL; /* stop */
        seen = gen;
        if (a.ith < pool->nth) {
            tl_fast = pool->fast;
            pool->fn(pool->ctx, a.ith, pool->nth);
        }
        if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool->mu);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->mu);
        }
    }
}

static void pool_run(dumu_pool *pool, int nth, dumu_task_fn fn, void *ctx) {
    pool->fn = fn;
    pool->ctx = ctx;
    pool->nth = nth;
    pool->fast = tl_fast;
    atomic_store_explicit(&pool->pending, pool->n_workers, memory_order_relaxed);
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    fn(ctx, 0, nth);
    for (int spin = 0;
         atomic_load_explicit(&pool->pending, memory_order_acquire) > 0 && spin < SPIN_ROUNDS;
         spin++)
        cpu_relax();
    if (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&pool->mu);
        while (atomic_load(&pool->pending) > 0)
            pthread_cond_wait(&pool->done, &pool->mu);
        pthread_mutex_unlock(&pool->mu);
    }
}

static void pool_stop(dumu_pool *pool) {
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->stop, true);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < pool->n_workers; i++)
        pthread_join(pool->tid[i], NULL);
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mu);
    dumu_free(pool);
}

dumu_pool *dumu_pool_begin(int n_threads) {
    if (tl_pool || n_threads < 2) return NULL;
    int n_workers = (n_threads > DUMU_MAX_THREADS ? DUMU_MAX_THREADS : n_threads) - 1;
    dumu_pool *pool = dumu_calloc(1, sizeof *pool);
    if (!pool) return NULL;
    if (pthread_mutex_init(&pool->mu, NULL)) goto no_mutex;
    if (pthread_cond_init(&pool->wake, NULL)) goto no_wake;
    if (pthread_cond_init(&pool->done, NULL)) goto no_done;
    for (; pool->n_workers < n_workers; pool->n_workers++) {
        struct worker_arg *a = dumu_malloc(sizeof *a);
        if (!a) break;
        *a = (struct worker_arg){pool, pool->n_workers + 1};
        if (pthread_create(&pool->tid[pool->n_workers], NULL, pool_worker, a)) {
            dumu_free(a);
            break;
        }
    }
    if (pool->n_workers < n_workers) {
        pool_stop(pool); /* could not start them all: regions spawn their own threads */
        return NULL;
    }
    tl_pool = pool;
    return pool;
no_done:
    pthread_cond_destroy(&pool->wake);
no_wake:
    pthread_mutex_destroy(&pool->mu);
no_mutex:
    dumu_free(pool);
    return NULL;
}

void dumu_pool_end(dumu_pool *pool) {
    if (!pool) return;
    DUMU_ASSERT(tl_pool == pool);
    tl_pool = NULL;
    pool_stop(pool);
}

struct task_arg {
    dumu_task_fn fn;
    void *ctx;
    int ith, nth;
    bool fast;
};

static void *task_main(void *p) {
    struct task_arg *a = p;
    tl_fast = a->fast;
    a->fn(a->ctx, a->ith, a->nth);
    return NULL;
}

void dumu_parallel(int n_threads, dumu_task_fn fn, void *ctx) {
    int nth = n_threads < 1 ? 1 : n_threads > DUMU_MAX_THREADS ? DUMU_MAX_THREADS : n_threads;
    if (nth == 1) {
        fn(ctx, 0, 1);
        return;
    }
    dumu_pool *pool = tl_pool;
    if (pool && nth - 1 <= pool->n_workers) {
        tl_pool = NULL; /* a region inside this one (on this thread) must not reuse the pool */
        pool_run(pool, nth, fn, ctx);
        tl_pool = pool;
        return;
    }
    pthread_t tid[DUMU_MAX_THREADS];
    struct task_arg args[DUMU_MAX_THREADS];
    int started = 1;
    for (int i = 1; i < nth; i++) {
        args[i] = (struct task_arg){fn, ctx, i, nth, tl_fast};
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
