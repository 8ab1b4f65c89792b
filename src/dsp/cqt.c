/* cqt.c - the harmonic-CQT front end of Basic Pitch, bit-exact with @spotify/basic-pitch
 * 1.0.1 on tfjs 3.21 `cpu` (spec: docs/basic_pitch.md §2, §6.1).
 *
 * DESIGN
 *   Per window: level 0 is the window itself; level m >= 1 is level m-1 low-passed and
 *   decimated by 2 (127 zeros each side, VALID, stride 2). Each level is reflect-padded by
 *   128 and correlated with the same 36-column complex kernel at hop 256 / 2^m, 172 frames.
 *   Levels 8..0 give bins 0..308 (the 15 lowest bins of level 8 are dropped). Then
 *   magnitude with the stored sqrt(len) scale, normalised log over the whole window, batch
 *   norm and harmonic stacking.
 *
 *   Exactness: every correlation follows the tfjs recipe (float accumulator, taps in order,
 *   each step rounded through double); magnitude and log follow the op order of §6.1. The
 *   per-window min of the log is very sensitive to rounding (§6.2), so nothing here
 *   reorders a sum. The fast kernels (nn/kernels/bp_kernels.c) vectorise across outputs or frames,
 *   never across taps, and skip only taps whose kernel weight is exactly zero, so they are
 *   bit-identical to the reference loops below.
 *
 * ref: basic_pitch/layers/nnaudio.py CQT2010v2, basic_pitch/layers/math.py NormalizedLog,
 *      basic_pitch/layers/signal.py HarmonicStacking (read, not copied).
 */
#include "dsp/cqt.h"

#include <math.h>
#include <string.h>

#include "core/core.h"
#include "nn/simd.h"

/* Every float op here is rounded on its own (§6.1): never fuse a multiply and an add. */
#if defined(__clang__)
#    pragma clang fp contract(off)
#elif defined(__GNUC__)
#    pragma GCC optimize("fp-contract=off")
#endif

const int32_t dumu_cqt_harmonic_shift[DUMU_CQT_N_HARM] = {-36, 0, 36, 57, 72, 84, 93, 101};

/* Level lengths: 43844, 21922, ..., 171. */
static int64_t level_len(int m) {
    int64_t n = DUMU_CQT_WINDOW;
    for (int i = 0; i < m; i++)
        n /= 2;
    return n;
}

static int64_t total_sig_len(void) {
    int64_t s = 0;
    for (int m = 0; m < DUMU_CQT_LEVELS; m++)
        s += level_len(m);
    return s;
}

/* ---------------------------------------------------------------------------------------- */
/* Plan */

dumu_status dumu_cqt_plan_finish(dumu_cqt_plan *p, dumu_error *err) {
    for (int k = 0; k < DUMU_CQT_KBINS; k++) {
        int b = -1, e = -1;
        for (int n = 0; n < DUMU_CQT_TAPS; n++) {
            float r = p->kre[n * DUMU_CQT_KBINS + k], i = p->kim[n * DUMU_CQT_KBINS + k];
            if (!isfinite(r) || !isfinite(i)) {
                return dumu_fail(err, DUMU_E_MODEL, "basic-pitch: CQT kernel is not finite");
            }
            if (r != 0.0f || i != 0.0f) {
                if (b < 0) b = n;
                e = n + 1;
            }
        }
        if (b < 0) {
            return dumu_fail(err, DUMU_E_MODEL, "basic-pitch: CQT kernel column %d is zero", k);
        }
        p->kb[k] = b;
        p->ke[k] = e;
    }
    for (int i = 0; i < DUMU_CQT_TAPS * DUMU_CQT_KBINS; i++) {
        p->kre_d[i] = (double)p->kre[i];
        p->kim_d[i] = (double)p->kim[i];
    }
    for (int n = 0; n < DUMU_CQT_TAPS; n++) {
        if (!isfinite(p->lowpass[n])) {
            return dumu_fail(err, DUMU_E_MODEL, "basic-pitch: low-pass filter is not finite");
        }
        p->lowpass_d[n] = (double)p->lowpass[n];
    }
    p->exp_min_k = p->exp_min_h = INT32_MAX;
    for (int i = 0; i < DUMU_CQT_TAPS * DUMU_CQT_KBINS; i++) {
        int e;
        if (p->kre[i] != 0.0f) {
            frexpf(p->kre[i], &e);
            if (e - 1 < p->exp_min_k) p->exp_min_k = e - 1;
        }
        if (p->kim[i] != 0.0f) {
            frexpf(p->kim[i], &e);
            if (e - 1 < p->exp_min_k) p->exp_min_k = e - 1;
        }
    }
    for (int n = 0; n < DUMU_CQT_TAPS; n++) {
        int e;
        if (p->lowpass[n] == 0.0f) continue;
        frexpf(p->lowpass[n], &e);
        if (e - 1 < p->exp_min_h) p->exp_min_h = e - 1;
    }
    for (int b = 0; b < DUMU_CQT_BINS; b++) {
        if (!isfinite(p->scale[b])) {
            return dumu_fail(err, DUMU_E_MODEL, "basic-pitch: CQT scale is not finite");
        }
    }
    return DUMU_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Work */

int64_t dumu_cqt_decimate_scratch(int64_t n) {
    return 2 * (n / 2 + 256);
}

int64_t dumu_cqt_correlate_scratch(int64_t n_pad, int hop) {
    return (int64_t)hop * ((n_pad + hop - 1) / hop + 32);
}

dumu_status dumu_cqt_work_init(dumu_cqt_work *w) {
    memset(w, 0, sizeof *w);
    int64_t nd = dumu_cqt_decimate_scratch(DUMU_CQT_WINDOW);
    for (int m = 0; m < DUMU_CQT_LEVELS; m++) {
        int64_t c = dumu_cqt_correlate_scratch(level_len(m) + 256, DUMU_CQT_TAPS >> m);
        if (c > nd) nd = c;
    }
    w->sig = dumu_malloc((size_t)total_sig_len() * sizeof(float));
    w->xpad = dumu_malloc((size_t)(DUMU_CQT_WINDOW + 256) * sizeof(float));
    w->re = dumu_malloc(DUMU_CQT_FRAMES * DUMU_CQT_KBINS * sizeof(float));
    w->im = dumu_malloc(DUMU_CQT_FRAMES * DUMU_CQT_KBINS * sizeof(float));
    w->dbuf = dumu_malloc((size_t)nd * sizeof(double));
    if (!w->sig || !w->xpad || !w->re || !w->im || !w->dbuf) {
        dumu_cqt_work_deinit(w);
        return DUMU_E_NOMEM;
    }
    return DUMU_OK;
}

void dumu_cqt_work_deinit(dumu_cqt_work *w) {
    if (!w) return;
    dumu_free(w->sig);
    dumu_free(w->xpad);
    dumu_free(w->re);
    dumu_free(w->im);
    dumu_free(w->dbuf);
    memset(w, 0, sizeof *w);
}

/* ---------------------------------------------------------------------------------------- */
/* Kernels: reference loops and the wrappers around the SIMD ones */

void dumu_cqt_decimate_ref(const float *x, int64_t n, const float *h, float *out) {
    int64_t n_out = n / 2;
    for (int64_t i = 0; i < n_out; i++) {
        float acc = 0.0f;
        for (int k = 0; k < DUMU_CQT_TAPS; k++) {
            int64_t j = 2 * i + k - 127; /* index into x of padded[2i + k] */
            float v = (j >= 0 && j < n) ? x[j] : 0.0f;
            acc = (float)((double)acc + (double)v * (double)h[k]);
        }
        out[i] = acc;
    }
}

/* May the exact kernels round some chains with the Veltkamp split (nn/simd.h)? Every
 * partial sum is a multiple of ulp(x_min) * ulp(w_min) >= 2^(e_x + e_w - 46), so it is 0
 * or float-normal when e_x + e_w >= -80; and it stays far below FLT_MAX when
 * max |x| <= 2^100 (256 taps, |w| <= 1). */
static int mixed_rounding_ok(const float *x, int64_t n, int32_t exp_min_w) {
    float lo, hi;
    dumu_bp_simd()->abs_range(x, n, &lo, &hi);
    if (hi > 0x1p100f) return 0;
    if (lo == INFINITY) return 1; /* all zero */
    int e;
    frexpf(lo, &e);
    return (e - 1) + exp_min_w >= -80;
}

void dumu_cqt_decimate_fast(const dumu_cqt_plan *p, const float *x, int64_t n, float *out,
                            double *scratch) {
    /* even[q] = padded[2q], odd[q] = padded[2q + 1], zeros past the end (read by the last
     * vector block). */
    int64_t nq = n / 2 + 256;
    double *even = scratch, *odd = scratch + nq;
    for (int64_t q = 0; q < nq; q++) {
        int64_t j0 = 2 * q - 127, j1 = 2 * q + 1 - 127;
        even[q] = (j0 >= 0 && j0 < n) ? (double)x[j0] : 0.0;
        odd[q] = (j1 >= 0 && j1 < n) ? (double)x[j1] : 0.0;
    }
    int mixed = mixed_rounding_ok(x, n, p->exp_min_h);
    dumu_bp_simd()->decim_exact(even, odd, p->lowpass_d, DUMU_CQT_TAPS / 2, out, n / 2, mixed);
}

void dumu_cqt_correlate_ref(const float *xpad, int hop, const float *kre, const float *kim, int k0,
                            float *re, float *im) {
    for (int t = 0; t < DUMU_CQT_FRAMES; t++) {
        const float *x = xpad + (int64_t)t * hop;
        for (int k = k0; k < DUMU_CQT_KBINS; k++) {
            float ar = 0.0f, ai = 0.0f;
            for (int n = 0; n < DUMU_CQT_TAPS; n++) {
                ar = (float)((double)ar + (double)x[n] * (double)kre[n * DUMU_CQT_KBINS + k]);
                ai = (float)((double)ai + (double)x[n] * (double)kim[n * DUMU_CQT_KBINS + k]);
            }
            re[t * DUMU_CQT_KBINS + k] = ar;
            im[t * DUMU_CQT_KBINS + k] = ai;
        }
    }
}

void dumu_cqt_correlate_fast(const float *xpad, int64_t n_pad, int hop, const dumu_cqt_plan *p,
                             int k0, float *re, float *im, double *scratch) {
    /* Polyphase layout: P[r*nq + q] = xpad[q*hop + r], so the samples of consecutive frames
     * at tap n sit next to each other at P + poff[n] + t. */
    int64_t nq = (n_pad + hop - 1) / hop + 32;
    for (int r = 0; r < hop; r++) {
        double *row = scratch + (int64_t)r * nq;
        for (int64_t q = 0; q < nq; q++) {
            int64_t j = q * hop + r;
            row[q] = j < n_pad ? (double)xpad[j] : 0.0;
        }
    }
    int32_t poff[DUMU_CQT_TAPS];
    for (int n = 0; n < DUMU_CQT_TAPS; n++)
        poff[n] = (int32_t)((n % hop) * nq + n / hop);
    int mixed = mixed_rounding_ok(xpad, n_pad, p->exp_min_k);
    dumu_bp_simd()->cqt_exact(scratch, poff, p->kre_d, p->kim_d, p->kb, p->ke, k0, DUMU_CQT_FRAMES,
                              re, im, mixed);
}

void dumu_cqt_reflect_pad(const float *x, int64_t n, float *out) {
    memcpy(out + 128, x, (size_t)n * sizeof *x);
    for (int k = 1; k <= 128; k++) {
        out[128 - k] = x[k];
        out[128 + n - 1 + k] = x[n - 1 - k];
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Window pipeline */

void dumu_cqt_magnitude(const dumu_cqt_plan *p, const float *x, float *C, dumu_cqt_work *w,
                        int fast) {
    float *sig = w->sig;
    const float *cur = x;
    int64_t len = DUMU_CQT_WINDOW;
    for (int m = 0; m < DUMU_CQT_LEVELS; m++) {
        if (m > 0) {
            if (fast) {
                dumu_cqt_decimate_fast(p, cur, len, sig, w->dbuf);
            } else {
                dumu_cqt_decimate_ref(cur, len, p->lowpass, sig);
            }
            cur = sig;
            len /= 2;
            sig += len;
        }
        int hop = DUMU_CQT_TAPS >> m;
        int k0 = m == DUMU_CQT_LEVELS - 1 ? 15 : 0; /* level 8 keeps kernel bins 15..35 */
        dumu_cqt_reflect_pad(cur, len, w->xpad);
        if (fast) {
            dumu_cqt_correlate_fast(w->xpad, len + 256, hop, p, k0, w->re, w->im, w->dbuf);
        } else {
            dumu_cqt_correlate_ref(w->xpad, hop, p->kre, p->kim, k0, w->re, w->im);
        }
        /* Scale and magnitude, op order of §6.1: re_s = R*S, im_s = I*S (I negated),
         * p = re_s^2 + im_s^2, C = sqrt(p), each rounded to float. */
        int b0 = DUMU_CQT_KBINS * (DUMU_CQT_LEVELS - 1 - m) - 15;
        for (int t = 0; t < DUMU_CQT_FRAMES; t++) {
            for (int k = k0; k < DUMU_CQT_KBINS; k++) {
                int b = b0 + k;
                float s = p->scale[b];
                float rs = w->re[t * DUMU_CQT_KBINS + k] * s;
                float is = -w->im[t * DUMU_CQT_KBINS + k] * s;
                float rr = rs * rs, ii = is * is;
                float pw = rr + ii;
                C[t * DUMU_CQT_BINS + b] = (float)sqrt((double)pw);
            }
        }
    }
}

void dumu_cqt_normalized_log(const dumu_cqt_plan *p, const float *C, float *N, int fast) {
    const int n = DUMU_CQT_FRAMES * DUMU_CQT_BINS;
    for (int i = 0; i < n; i++) {
        float c2 = C[i] * C[i];
        N[i] = c2 + p->log_eps;
    }
    if (fast) {
        dumu_bp_simd()->log_f32(N, N, n);
    } else {
        for (int i = 0; i < n; i++)
            N[i] = (float)log((double)N[i]);
    }
    float lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        float l = N[i] * p->log_mul;
        N[i] = l;
        if (l < lo) lo = l;
        if (l > hi) hi = l;
    }
    float range = hi - lo; /* = max over i of (L_i - min): rounding is monotonic */
    for (int i = 0; i < n; i++) {
        float d = N[i] - lo;
        N[i] = range == 0.0f ? 0.0f : d / range; /* DivNoNan */
    }
}

void dumu_cqt_batch_norm(const dumu_cqt_plan *p, const float *N, float *B, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float v = N[i] * p->bn_scale;
        B[i] = v + p->bn_offset;
    }
}

void dumu_cqt_harmonic_stack(const float *B, float *H) {
    for (int t = 0; t < DUMU_CQT_FRAMES; t++) {
        const float *b = B + t * DUMU_CQT_BINS;
        float *h = H + (size_t)t * DUMU_CQT_STACKED * DUMU_CQT_N_HARM;
        for (int f = 0; f < DUMU_CQT_STACKED; f++) {
            for (int c = 0; c < DUMU_CQT_N_HARM; c++) {
                int src = f + dumu_cqt_harmonic_shift[c];
                h[f * DUMU_CQT_N_HARM + c] = (src >= 0 && src < DUMU_CQT_BINS) ? b[src] : 0.0f;
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Closed forms (validation only) */

void dumu_cqt_kernel_closed_form(double *kre, double *kim) {
    /* nnAudio's create_cqt_kernels for the top octave of CQT2010v2 (§2.3): frequencies
     * fmin_t * 2^(k/36) with fmin_t = fmax_t / 2^(35/36), fmax_t = 27.5 * 2^8 * 2^(20/36);
     * periodic Hann of length l_k, L1-normalised complex exponential. */
    const double pi = 3.14159265358979323846;
    const double q = 1.0 / (pow(2.0, 1.0 / 36.0) - 1.0);
    const double fmax_t = 27.5 * pow(2.0, 8.0) * pow(2.0, 20.0 / 36.0);
    const double fmin_t = fmax_t / pow(2.0, 1.0 - 1.0 / 36.0);
    memset(kre, 0, DUMU_CQT_TAPS * DUMU_CQT_KBINS * sizeof *kre);
    memset(kim, 0, DUMU_CQT_TAPS * DUMU_CQT_KBINS * sizeof *kim);
    for (int k = 0; k < DUMU_CQT_KBINS; k++) {
        double f = fmin_t * pow(2.0, (double)k / 36.0);
        int l = (int)ceil(q * 22050.0 / f);
        int start = (int)ceil(DUMU_CQT_TAPS / 2.0 - l / 2.0) - (l % 2);
        double sr[DUMU_CQT_TAPS], si[DUMU_CQT_TAPS], norm = 0.0;
        for (int j = 0; j < l; j++) {
            double win = 0.5 - 0.5 * cos(2.0 * pi * j / l);
            double nj = (double)(j - (l + 1) / 2); /* -ceil(l/2) .. */
            double ph = nj * 2.0 * pi * f / 22050.0;
            sr[j] = win * cos(ph) / l;
            si[j] = win * sin(ph) / l;
            norm += hypot(sr[j], si[j]);
        }
        for (int j = 0; j < l; j++) {
            kre[(start + j) * DUMU_CQT_KBINS + k] = sr[j] / norm;
            kim[(start + j) * DUMU_CQT_KBINS + k] = si[j] / norm;
        }
    }
}

void dumu_cqt_lowpass_closed_form(double *h) {
    /* firwin2(256, [0, 0.5/1.001, 0.5*1.001, 1], [1, 1, 0, 0]) with a Hamming window
     * (§2.4): a type-II linear-phase half-band filter. */
    const double pi = 3.14159265358979323846;
    const double g = (0.5 * 1.001 - 0.5) / (0.5 * 1.001 - 0.5 / 1.001);
    for (int n = 0; n < DUMU_CQT_TAPS; n++) {
        double u = n - 127.5, s = 1.0;
        for (int k = 1; k <= 127; k++)
            s += 2.0 * cos(pi * k * u / 256.0);
        s += 2.0 * g * cos(pi * 128.0 * u / 256.0);
        h[n] = (0.54 - 0.46 * cos(2.0 * pi * n / 255.0)) * s / 512.0;
    }
}
