/* notes.c - note creation from Basic Pitch activations: onset peaks become notes, the melodia
 * trick picks up what they left, each note gets per-frame pitch bends and times in seconds.
 *
 * REFERENCE
 *     outputToNotesPoly, addPitchBendsToNoteEvents(contours, notes, 25) and noteFramesToTime of
 *     @spotify/basic-pitch 1.0.1 (src/toMidi.ts), specified in docs/basic_pitch.md §7.
 *     Dumu reproduces the JS package, rule for rule, including where it differs from the
 *     Python package (§7.9):
 *       - onset candidates are peaks strictly above the threshold (`>`), and frames 0 and n-1
 *         can be peaks (an edge compares only with its one neighbour);
 *       - frequency limits: the fractional bin index hz_to_midi(f) - 21 is truncated toward
 *         zero (Array.prototype.fill), a negative index counts from the end, a limit of 0 is
 *         ignored;
 *       - a negative frame threshold means mean + sample standard deviation of all note
 *         activations, taken before the frequency limits;
 *       - melodia's global argmax takes the first row holding the maximum and the last column
 *         with it inside that row, except that in row 0 column 0 wins a tie; pitch-bend argmax
 *         takes the last maximal column;
 *       - if inferred onsets are on and the frame differences are all 0, the reference's
 *         rescaling divides 0 by 0 and every inferred onset is NaN: no onset-driven notes.
 *     Notes come out in the reference's order: onset-driven notes by (frame, pitch)
 *     descending, then melodia notes in discovery order.
 *
 * ARITHMETIC
 *     Everything is in double, like JS numbers; activations are float32, promoted exactly.
 *     The order of every sum and product follows the reference. Products that feed a sum are
 *     written as separate statements so no compiler contracts them into an FMA (GCC in ISO C
 *     mode and clang's default -ffp-contract=on only fuse within one expression).
 *
 * DESIGN
 *     - The frequency limits are not applied by copying: they reduce to a column range
 *       [lo, hi) outside which the note and onset activations read as 0.
 *     - Inferred onsets are computed row by row in a 3-row ring while peaks are picked.
 *     - The melodia trick repeatedly takes the global maximum of the remaining energy. The
 *       reference rescans all n*88 cells each time, which dominates on long tracks. Here
 *       each row's maximum sits in a segment tree over rows (first row wins ties), so a
 *       query is O(log n); zeroing a cell only lowers it (activations are checked to be
 *       >= 0), so a row is rescanned only when a cell equal to its maximum is zeroed. The
 *       plain rescan is kept as DUMU_NOTES_ARGMAX_NAIVE, and tests hold the two equal.
 *
 * OWNERSHIP
 *     The caller's activations are only read. The result (notes and one pool holding every
 *     note's bends) belongs to the caller until dumu_note_list_deinit.
 */
#include "notes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define N_NOTES      DUMU_BP_N_NOTES   /* 88 */
#define N_CONTOUR    DUMU_BP_N_CONTOUR /* 264 */
#define MAX_FREQ_IDX (N_NOTES - 1)

/* ref: toMidi.ts WINDOW_OFFSET = (FFT_HOP / SR) * (ANNOT_N_FRAMES - AUDIO_N_SAMPLES / FFT_HOP)
 * + 0.0018 = (256 / 22050) * 0.734375 + 0.0018, evaluated in double by the reference. Written
 * out (shortest round-trip form) so that no compiler can fold it with a fused multiply-add. */
static const double k_window_offset = 0.010326077097505668;

/* ---------------------------------------------------------------------------------------- */
/* Small public helpers */

dumu_note_params dumu_note_default_params(void) {
    dumu_note_params p;
    memset(&p, 0, sizeof p);
    p.onset_threshold = 0.5;
    p.frame_threshold = 0.3;
    p.min_note_frames = 11; /* the Python package's 127.70 ms */
    p.infer_onsets = true;
    p.melodia_trick = true;
    p.energy_tolerance = 11;
    p.min_freq_hz = 0.0;
    p.max_freq_hz = 0.0;
    p.pitch_bends = true;
    return p;
}

/* ref: basic_pitch/note_creation.py int(np.round(ms / 1000 * (22050 / 256))); np.round and
 * nearbyint both round half to even. Negative or NaN gives 0; huge values saturate. */
int32_t dumu_note_ms_to_frames(double ms) {
    if (!(ms > 0.0)) return 0;
    double frames = nearbyint(ms / 1000.0 * 22050.0 / 256.0);
    if (frames >= (double)INT32_MAX) return INT32_MAX;
    return (int32_t)frames;
}

/* ref: toMidi.ts modelFrameToTime(frame) = (frame * 256) / 22050 - WINDOW_OFFSET *
 * floor(frame / 172). */
double dumu_bp_frame_to_time(int64_t frame) {
    double f = (double)frame;
    double t = f * 256.0 / 22050.0;
    double shift = k_window_offset * floor(f / 172.0); /* own statement: no FMA */
    return t - shift;
}

double dumu_notes_bend_weight(int d) {
    /* ref: toMidi.ts gaussian(51, 5)[n] = exp((-1 * (n - 25) ** 2) / (2 * 5 ** 2)) */
    double dd = (double)d * (double)d;
    return exp(-dd / 50.0);
}

static int cmp_note_time(const void *pa, const void *pb) {
    const dumu_note *a = pa, *b = pb;
    if (a->start_frame != b->start_frame) return a->start_frame < b->start_frame ? -1 : 1;
    if (a->pitch != b->pitch) return a->pitch < b->pitch ? -1 : 1;
    if (a->end_frame != b->end_frame) return a->end_frame < b->end_frame ? -1 : 1;
    return 0;
}

/* Notes equal in (start, pitch, end) are equal in everything (the amplitude and the bends are
 * functions of those three), so an unstable sort loses nothing. */
void dumu_note_list_sort_by_time(dumu_note_list *list) {
    if (!list || !list->notes || list->n_notes < 2) return;
    qsort(list->notes, (size_t)list->n_notes, sizeof *list->notes, cmp_note_time);
}

void dumu_note_list_deinit(dumu_note_list *list) {
    if (!list) return;
    dumu_free(list->notes);
    dumu_free(list->bend_pool);
    memset(list, 0, sizeof *list);
}

/* ---------------------------------------------------------------------------------------- */
/* Growable arrays */

typedef struct note_event {
    int32_t start, end, pitch; /* frames [start, end), MIDI pitch */
    double amplitude;
} note_event;

typedef struct event_vec {
    note_event *v;
    size_t n, cap;
} event_vec;

typedef struct cell_vec {
    int64_t *v; /* cell index i * 88 + j */
    size_t n, cap;
} cell_vec;

/* The next capacity of a full array of `cap` elements of `elem` bytes, and its size in bytes.
 * Returns -1 on overflow. */
static int next_capacity(size_t cap, size_t elem, size_t *new_cap, size_t *bytes) {
    *new_cap = cap ? cap * 2 : 64;
    if (*new_cap < cap) return -1;
    return dumu_mul_size(*new_cap, elem, bytes);
}

static int event_push(event_vec *vec, int64_t start, int64_t end, int pitch, double amplitude) {
    if (vec->n == vec->cap) {
        size_t cap, bytes;
        if (next_capacity(vec->cap, sizeof *vec->v, &cap, &bytes)) return -1;
        note_event *v = dumu_realloc(vec->v, bytes);
        if (!v) return -1;
        vec->v = v;
        vec->cap = cap;
    }
    note_event *e = &vec->v[vec->n++];
    e->start = (int32_t)start;
    e->end = (int32_t)end;
    e->pitch = (int32_t)pitch;
    e->amplitude = amplitude;
    return 0;
}

static int cell_push(cell_vec *vec, int64_t cell) {
    if (vec->n == vec->cap) {
        size_t cap, bytes;
        if (next_capacity(vec->cap, sizeof *vec->v, &cap, &bytes)) return -1;
        int64_t *v = dumu_realloc(vec->v, bytes);
        if (!v) return -1;
        vec->v = v;
        vec->cap = cap;
    }
    vec->v[vec->n++] = cell;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The working state */

typedef struct notes_ctx {
    int64_t n;          /* frames */
    const float *note;  /* (n, 88) row-major, the caller's */
    const float *onset; /* (n, 88) row-major, the caller's */
    int lo, hi;         /* columns [lo, hi) survive the frequency limits */
    double thr;         /* frame threshold in effect (may be NaN: then nothing is below it) */
    int tol;            /* energy tolerance, frames */
    int min_len;        /* a note must be longer than this many frames */
    float *rem;         /* (n, 88) remaining energy; owned */
    float *tree;        /* (2 * tree_size) segment tree of row maxima, or NULL (naive) */
    int64_t tree_size;  /* leaves: a power of two >= n */
} notes_ctx;

/* Note activation after the frequency limits. */
static float frame_at(const notes_ctx *c, int64_t i, int j) {
    return (j >= c->lo && j < c->hi) ? c->note[i * N_NOTES + j] : 0.0f;
}

static float onset_at(const notes_ctx *c, int64_t i, int j) {
    return (j >= c->lo && j < c->hi) ? c->onset[i * N_NOTES + j] : 0.0f;
}

/* Mean of frames [a, b) of column j, a sequential double sum as the reference's reduce. */
static double column_mean(const notes_ctx *c, int64_t a, int64_t b, int j) {
    double sum = 0.0;
    for (int64_t i = a; i < b; i++)
        sum += (double)frame_at(c, i, j);
    return sum / (double)(b - a);
}

/* ref: toMidi.ts meanStdDev: per-row sums of x and x*x folded into running totals, then
 * mean + sqrt((1 / (N - 1)) * (sum_sq - sum * sum / N)). */
static double mean_plus_std(const float *x, int64_t n_rows) {
    double sum = 0.0, sum_sq = 0.0, count = 0.0;
    for (int64_t i = 0; i < n_rows; i++) {
        double rs = 0.0, rq = 0.0;
        for (int j = 0; j < N_NOTES; j++) {
            double v = (double)x[i * N_NOTES + j];
            double v2 = v * v; /* own statement: no FMA */
            rs += v;
            rq += v2;
        }
        sum += rs;
        sum_sq += rq;
        count += (double)N_NOTES;
    }
    double mean = sum / count;
    double var = (1.0 / (count - 1.0)) * (sum_sq - (sum * sum) / count);
    return mean + sqrt(var);
}

/* Array.prototype.fill's start/end argument: ToIntegerOrInfinity (truncate; NaN -> 0), a
 * negative index counts from the end, then clamp to [0, len]. */
static int js_fill_index(double x, int len) {
    if (isnan(x)) return 0;
    double t = trunc(x);
    if (t < 0.0) {
        t += (double)len;
        return t < 0.0 ? 0 : (int)t;
    }
    return t > (double)len ? len : (int)t;
}

/* ref: toMidi.ts hzToMidi(hz) - MIDI_OFFSET = 12 * (log2(hz) - log2(440)) + 69 - 21. */
static double bin_of_hz(double hz) {
    double semis = 12.0 * (log2(hz) - log2(440.0)); /* own statement: no FMA */
    return semis + 69.0 - (double)DUMU_BP_MIDI_OFFSET;
}

/* ref: toMidi.ts constrainFrequency (0 = no limit: the reference tests truthiness). */
static void column_range(double min_hz, double max_hz, int *lo, int *hi) {
    *lo = 0;
    *hi = N_NOTES;
    if (max_hz != 0.0) *hi = js_fill_index(bin_of_hz(max_hz), N_NOTES); /* fill(0, idx) */
    if (min_hz != 0.0) *lo = js_fill_index(bin_of_hz(min_hz), N_NOTES); /* fill(0, 0, idx) */
}

/* JS Math.max for two numbers: NaN if either is. */
static double js_max(double a, double b) {
    if (isnan(a) || isnan(b)) return (double)NAN;
    return a > b ? a : b;
}

/* ---------------------------------------------------------------------------------------- */
/* Step 2-3: inferred onsets and onset peaks */

typedef struct onset_source {
    bool infer;
    double onset_max; /* max(0, every constrained onset) */
    double diff_max;  /* max(0, every frame difference); 0 makes every inferred onset NaN */
} onset_source;

/* ref: toMidi.ts getInferredOnsets: d = max(0, min(f[i] - f[i-1], f[i] - f[i-2])) with f[<0]
 * = 0 and rows 0, 1 set to 0. */
static double frame_diff(const notes_ctx *c, int64_t i, int j) {
    if (i < 2) return 0.0;
    double f = (double)frame_at(c, i, j);
    double d1 = f - (double)frame_at(c, i - 1, j);
    double d2 = f - (double)frame_at(c, i - 2, j);
    double d = d1 < d2 ? d1 : d2;
    return d > 0.0 ? d : 0.0;
}

/* Row i of the onset matrix that peak picking reads: the constrained onsets, or with inferred
 * onsets max(onset, onset_max * d / diff_max). */
static void onset_row(const notes_ctx *c, const onset_source *src, int64_t i, double *row) {
    for (int j = 0; j < N_NOTES; j++) {
        double o = (double)onset_at(c, i, j);
        if (!src->infer) {
            row[j] = o;
            continue;
        }
        double scaled = (double)NAN; /* the reference's 0 / 0 */
        if (src->diff_max != 0.0) {
            double num = src->onset_max * frame_diff(c, i, j);
            scaled = num / src->diff_max;
        }
        row[j] = js_max(o, scaled);
    }
}

/* Collects onset candidates in row-major order: cells that are strict local maxima in time
 * (an edge row compares with its one neighbour; with one row every cell is a maximum) and
 * whose peak value, or 0 for a non-peak, exceeds the threshold. */
static dumu_status find_candidates(const notes_ctx *c, bool infer, double onset_threshold,
                                   cell_vec *cand) {
    onset_source src = {infer, 0.0, 0.0};
    if (infer) {
        for (int64_t i = 0; i < c->n; i++) {
            for (int j = 0; j < N_NOTES; j++) {
                double o = (double)onset_at(c, i, j);
                double d = frame_diff(c, i, j);
                if (o > src.onset_max) src.onset_max = o;
                if (d > src.diff_max) src.diff_max = d;
            }
        }
    }
    double ring[3][N_NOTES]; /* rows i-1, i, i+1 */
    double *prev = ring[0], *cur = ring[1], *next = ring[2];
    onset_row(c, &src, 0, cur);
    for (int64_t i = 0; i < c->n; i++) {
        if (i + 1 < c->n) onset_row(c, &src, i + 1, next);
        for (int j = 0; j < N_NOTES; j++) {
            double v = cur[j];
            bool peak = (i == 0 || v > prev[j]) && (i == c->n - 1 || v > next[j]);
            double kept = peak ? v : 0.0;
            if (kept > onset_threshold && cell_push(cand, i * N_NOTES + j)) return DUMU_E_NOMEM;
        }
        double *t = prev;
        prev = cur;
        cur = next;
        next = t;
    }
    return DUMU_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Remaining energy and its row-maximum tree */

static void tree_set(notes_ctx *c, int64_t row, float v) {
    int64_t p = c->tree_size + row;
    c->tree[p] = v;
    for (p >>= 1; p >= 1; p >>= 1) {
        float a = c->tree[2 * p], b = c->tree[2 * p + 1];
        c->tree[p] = a >= b ? a : b;
    }
}

static float row_max(const float *row) {
    float m = row[0];
    for (int j = 1; j < N_NOTES; j++)
        m = row[j] > m ? row[j] : m;
    return m;
}

/* Builds the tree from the current remaining energy. Padding leaves are -1, below every
 * (non-negative) activation. */
static dumu_status tree_build(notes_ctx *c) {
    int64_t size = 1;
    while (size < c->n)
        size *= 2;
    size_t bytes;
    if (dumu_mul_size((size_t)size * 2, sizeof(float), &bytes)) return DUMU_E_NOMEM;
    c->tree = dumu_malloc(bytes);
    if (!c->tree) return DUMU_E_NOMEM;
    c->tree_size = size;
    for (int64_t r = 0; r < size; r++) {
        c->tree[size + r] = r < c->n ? row_max(c->rem + r * N_NOTES) : -1.0f;
    }
    for (int64_t p = size - 1; p >= 1; p--) {
        float a = c->tree[2 * p], b = c->tree[2 * p + 1];
        c->tree[p] = a >= b ? a : b;
    }
    return DUMU_OK;
}

/* Zeroes column j of row i, and j-1, j+1 when `neighbours` (within 0..87), keeping the row
 * maximum in the tree (if any) current. */
static void zero_cells(notes_ctx *c, int64_t i, int j, bool neighbours) {
    float *row = c->rem + i * N_NOTES;
    int a = neighbours && j > 0 ? j - 1 : j;
    int b = neighbours && j < MAX_FREQ_IDX ? j + 1 : j;
    bool stale = false;
    float m = c->tree ? c->tree[c->tree_size + i] : 0.0f;
    for (int q = a; q <= b; q++) {
        if (row[q] == m && m > 0.0f) stale = true;
        row[q] = 0.0f;
    }
    if (c->tree && stale) tree_set(c, i, row_max(row));
}

/* ---------------------------------------------------------------------------------------- */
/* Step 4: onset-driven notes. ref: toMidi.ts outputToNotesPoly, noteStarts.map(...) */

static dumu_status onset_notes(notes_ctx *c, const cell_vec *cand, event_vec *events) {
    for (size_t q = cand->n; q-- > 0;) { /* candidates reversed: frame, pitch descending */
        int64_t s = cand->v[q] / N_NOTES;
        int j = (int)(cand->v[q] % N_NOTES);
        if (s >= c->n - 1) continue;
        int64_t i = s + 1;
        int k = 0; /* frames since the energy dropped below the threshold */
        while (i < c->n - 1 && k < c->tol) {
            if ((double)c->rem[i * N_NOTES + j] < c->thr) {
                k++;
            } else {
                k = 0;
            }
            i++;
        }
        i -= k;
        if (i - s <= c->min_len) continue;
        for (int64_t t = s; t < i; t++)
            zero_cells(c, t, j, true);
        if (event_push(events, s, i, j + DUMU_BP_MIDI_OFFSET, column_mean(c, s, i, j))) {
            return DUMU_E_NOMEM;
        }
    }
    return DUMU_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Step 5: the melodia trick. ref: toMidi.ts outputToNotesPoly, `while (globalMax(...) >` */

/* ref: toMidi.ts argMax: the last index holding the row's maximum. */
static int row_last_argmax(const float *row) {
    int best = 0;
    for (int j = 1; j < N_NOTES; j++) {
        if (!(row[best] > row[j])) best = j;
    }
    return best;
}

/* The reference's loop, verbatim: globalMax (with its initial 0), then a reduce over rows that
 * starts from cell (0, 0) and moves only to a strictly larger row maximum. O(n*88). */
static bool argmax_naive(const notes_ctx *c, int64_t *out_i, int *out_j) {
    double gmax = 0.0;
    for (int64_t q = 0; q < c->n * N_NOTES; q++) {
        double v = (double)c->rem[q];
        gmax = v > gmax ? v : gmax;
    }
    if (!(gmax > c->thr)) return false;
    int64_t bi = 0;
    int bj = 0;
    for (int64_t i = 0; i < c->n; i++) {
        const float *row = c->rem + i * N_NOTES;
        int j = row_last_argmax(row);
        if (row[j] > c->rem[bi * N_NOTES + bj]) {
            bi = i;
            bj = j;
        }
    }
    *out_i = bi;
    *out_j = bj;
    return true;
}

/* Same answer from the tree: the first row holding the global maximum, the last column with
 * it in that row, column 0 instead when the row is 0 and cell (0, 0) holds it. O(log n + 88). */
static bool argmax_fast(const notes_ctx *c, int64_t *out_i, int *out_j) {
    float m = c->tree[1];
    if (!((double)m > c->thr)) return false; /* m >= 0, so it is also the reference's max */
    int64_t p = 1;
    while (p < c->tree_size)
        p = c->tree[2 * p] == m ? 2 * p : 2 * p + 1;
    int64_t i = p - c->tree_size;
    const float *row = c->rem + i * N_NOTES;
    int j = row_last_argmax(row);
    if (i == 0 && row[0] == row[j]) j = 0;
    *out_i = i;
    *out_j = j;
    return true;
}

static dumu_status melodia_notes(notes_ctx *c, dumu_notes_argmax strategy, event_vec *events) {
    if (strategy == DUMU_NOTES_ARGMAX_FAST) {
        dumu_status rc = tree_build(c);
        if (rc) return rc;
    }
    for (;;) {
        int64_t mid;
        int j;
        bool found = strategy == DUMU_NOTES_ARGMAX_FAST ? argmax_fast(c, &mid, &j)
                                                        : argmax_naive(c, &mid, &j);
        if (!found) break;
        zero_cells(c, mid, j, false);

        int64_t i = mid + 1; /* forward */
        int k = 0;
        while (i < c->n - 1 && k < c->tol) {
            if ((double)c->rem[i * N_NOTES + j] < c->thr) {
                k++;
            } else {
                k = 0;
            }
            zero_cells(c, i, j, true);
            i++;
        }
        int64_t end = i - 1 - k;

        i = mid - 1; /* backward; frame 0 is never visited */
        k = 0;
        while (i > 0 && k < c->tol) {
            if ((double)c->rem[i * N_NOTES + j] < c->thr) {
                k++;
            } else {
                k = 0;
            }
            zero_cells(c, i, j, true);
            i--;
        }
        int64_t start = i + 1 + k;

        if (end - start <= c->min_len) continue; /* too short: the energy stays consumed */
        if (event_push(events, start, end, j + DUMU_BP_MIDI_OFFSET,
                       column_mean(c, start, end, j))) {
            return DUMU_E_NOMEM;
        }
    }
    return DUMU_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Step 6: pitch bends. ref: toMidi.ts addPitchBendsToNoteEvents(contours, notes, 25) */

/* For each frame of the note, the contour bin within +-25 of 3*(pitch - 21) that maximises
 * contour * gaussian (last one on ties), minus 3*(pitch - 21). */
static void note_bends(const float *contour, const dumu_note *note, const double *weight,
                       int32_t *bends) {
    int centre = 3 * (note->pitch - DUMU_BP_MIDI_OFFSET);
    int c0 = centre - DUMU_NOTES_BEND_TOLERANCE > 0 ? centre - DUMU_NOTES_BEND_TOLERANCE : 0;
    int c1 = centre + DUMU_NOTES_BEND_TOLERANCE + 1 < N_CONTOUR
                 ? centre + DUMU_NOTES_BEND_TOLERANCE + 1
                 : N_CONTOUR;
    for (int32_t t = note->start_frame; t < note->end_frame; t++) {
        const float *row = contour + (int64_t)t * N_CONTOUR;
        int best = c0;
        double best_v = 0.0;
        for (int b = c0; b < c1; b++) {
            double v = (double)row[b] * weight[b - centre + DUMU_NOTES_BEND_TOLERANCE];
            if (b == c0 || !(best_v > v)) {
                best = b;
                best_v = v;
            }
        }
        bends[t - note->start_frame] = best - centre;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Entry points */

static dumu_status check_array(const float *x, int64_t count, bool non_negative, const char *what,
                               dumu_error *err) {
    for (int64_t q = 0; q < count; q++) {
        float v = x[q];
        if (!isfinite(v) || (non_negative && v < 0.0f)) {
            return dumu_fail(err, DUMU_E_INVALID_ARG,
                             "notes: %s activation %lld is %g (must be finite%s)", what,
                             (long long)q, (double)v, non_negative ? " and >= 0" : "");
        }
    }
    return DUMU_OK;
}

static dumu_status check_input(const dumu_bp_output *out, const dumu_note_params *p,
                               dumu_error *err) {
    if (isnan(p->onset_threshold) || isnan(p->frame_threshold)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "notes: a threshold is NaN");
    }
    if (p->min_note_frames < 0 || p->energy_tolerance < 0) {
        return dumu_fail(err, DUMU_E_INVALID_ARG,
                         "notes: min_note_frames (%d) and energy_tolerance (%d) must be >= 0",
                         (int)p->min_note_frames, (int)p->energy_tolerance);
    }
    if (!(p->min_freq_hz >= 0.0) || !isfinite(p->min_freq_hz) || !(p->max_freq_hz >= 0.0) ||
        !isfinite(p->max_freq_hz)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG,
                         "notes: frequency limits must be finite and >= 0 (0 = none)");
    }
    if (out->n_frames < 0 || out->n_frames >= INT32_MAX) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "notes: bad frame count %lld",
                         (long long)out->n_frames);
    }
    if (out->n_frames == 0) return DUMU_OK;
    if (!out->note || !out->onset || (p->pitch_bends && !out->contour)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "notes: missing activations");
    }
    int64_t n = out->n_frames;
    dumu_status rc = check_array(out->note, n * N_NOTES, true, "note", err);
    if (!rc) rc = check_array(out->onset, n * N_NOTES, true, "onset", err);
    if (!rc && p->pitch_bends) rc = check_array(out->contour, n * N_CONTOUR, false, "contour", err);
    return rc;
}

/* Turns the events into the caller's list: notes, bends from one pool, times. */
static dumu_status build_list(const dumu_bp_output *out, const dumu_note_params *p,
                              const event_vec *events, dumu_note_list *list) {
    size_t n_bends = 0;
    for (size_t q = 0; q < events->n; q++) {
        n_bends += (size_t)(events->v[q].end - events->v[q].start);
    }
    if (events->n > 0) {
        list->notes = dumu_calloc(events->n, sizeof *list->notes);
        if (!list->notes) return DUMU_E_NOMEM;
    }
    if (p->pitch_bends && n_bends > 0) {
        list->bend_pool = dumu_calloc(n_bends, sizeof *list->bend_pool);
        if (!list->bend_pool) return DUMU_E_NOMEM;
    }
    double weight[DUMU_NOTES_BEND_WINDOW];
    for (int d = -DUMU_NOTES_BEND_TOLERANCE; d <= DUMU_NOTES_BEND_TOLERANCE; d++) {
        weight[d + DUMU_NOTES_BEND_TOLERANCE] = dumu_notes_bend_weight(d);
    }
    size_t used = 0;
    for (size_t q = 0; q < events->n; q++) {
        const note_event *e = &events->v[q];
        dumu_note *note = &list->notes[q];
        note->start_frame = e->start;
        note->end_frame = e->end;
        note->pitch = e->pitch;
        note->amplitude = e->amplitude;
        note->start_s = dumu_bp_frame_to_time(e->start);
        note->end_s = dumu_bp_frame_to_time(e->end);
        if (p->pitch_bends && e->end > e->start) {
            note->n_bends = e->end - e->start;
            note->bends = list->bend_pool + used;
            used += (size_t)note->n_bends;
            note_bends(out->contour, note, weight, note->bends);
        }
    }
    list->n_notes = (int64_t)events->n;
    return DUMU_OK;
}

dumu_status dumu_notes_create_with(const dumu_bp_output *out, const dumu_note_params *params,
                                   dumu_notes_argmax strategy, dumu_note_list *list,
                                   dumu_error *err) {
    if (list) memset(list, 0, sizeof *list);
    if (!out || !list) return dumu_fail(err, DUMU_E_INVALID_ARG, "notes: NULL argument");
    if (strategy != DUMU_NOTES_ARGMAX_FAST && strategy != DUMU_NOTES_ARGMAX_NAIVE) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "notes: unknown argmax strategy");
    }
    dumu_note_params p = params ? *params : dumu_note_default_params();
    dumu_status rc = check_input(out, &p, err);
    if (rc) return rc;
    if (out->n_frames == 0) return DUMU_OK;

    notes_ctx c;
    memset(&c, 0, sizeof c);
    cell_vec cand = {0};
    event_vec events = {0};
    c.n = out->n_frames;
    c.note = out->note;
    c.onset = out->onset;
    c.tol = p.energy_tolerance;
    c.min_len = p.min_note_frames;
    /* ref: outputToNotesPoly: frameThresh null -> mean + std, before constrainFrequency. */
    c.thr = p.frame_threshold < 0.0 ? mean_plus_std(out->note, c.n) : p.frame_threshold;
    column_range(p.min_freq_hz, p.max_freq_hz, &c.lo, &c.hi);

    size_t cells;
    if (dumu_mul_size((size_t)c.n, N_NOTES * sizeof(float), &cells)) {
        rc = DUMU_E_NOMEM;
        goto done;
    }
    c.rem = dumu_malloc(cells);
    if (!c.rem) {
        rc = DUMU_E_NOMEM;
        goto done;
    }
    for (int64_t i = 0; i < c.n; i++) {
        for (int j = 0; j < N_NOTES; j++)
            c.rem[i * N_NOTES + j] = frame_at(&c, i, j);
    }

    rc = find_candidates(&c, p.infer_onsets, p.onset_threshold, &cand);
    if (rc) goto done;
    rc = onset_notes(&c, &cand, &events);
    if (rc) goto done;
    if (p.melodia_trick) {
        rc = melodia_notes(&c, strategy, &events);
        if (rc) goto done;
    }
    rc = build_list(out, &p, &events, list);

done:
    dumu_free(c.rem);
    dumu_free(c.tree);
    dumu_free(cand.v);
    dumu_free(events.v);
    if (rc) {
        dumu_note_list_deinit(list);
        return dumu_fail(err, rc, "notes: out of memory (%lld frames)", (long long)c.n);
    }
    return DUMU_OK;
}

dumu_status dumu_notes_create(const dumu_bp_output *out, const dumu_note_params *params,
                              dumu_note_list *list, dumu_error *err) {
    return dumu_notes_create_with(out, params, DUMU_NOTES_ARGMAX_FAST, list, err);
}
