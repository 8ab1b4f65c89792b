/* lowband.c - Butterworth low-pass and band power (the bass register of a recording).
 *
 * DESIGN
 *   Biquads of the RBJ Audio EQ Cookbook (bilinear transform with frequency pre-warping), in
 *   direct form I with double state, one set of state per channel. A 4th-order Butterworth
 *   section pair uses the pole quality factors 1 / (2 cos(pi/8)) and 1 / (2 cos(3 pi/8)); a
 *   2nd-order Butterworth is one biquad with Q = 1/sqrt(2). Filters run forwards only: the
 *   callers measure levels and feed Basic Pitch, whose frames (11.6 ms) dwarf the ~1 ms delay.
 *
 *   ref: Robert Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter coefficients".
 */
#include "dsp/lowband.h"

#include <math.h>
#include <string.h>

#include "core/core.h"

#ifndef M_PI
#    define M_PI 3.14159265358979323846
#endif

#define Q_BW4_A 0.54119610014619698 /* 1 / (2 cos(pi/8)): first pole pair of Butterworth-4 */
#define Q_BW4_B 1.30656296487637653 /* 1 / (2 cos(3 pi/8)): second pole pair */
#define Q_BW2   0.70710678118654752 /* 1 / sqrt(2): Butterworth-2 */

typedef struct biquad {
    double b0, b1, b2, a1, a2; /* normalised by a0 */
    double x1, x2, y1, y2;     /* state: the last two inputs and outputs */
} biquad;

static biquad biquad_make(double freq_hz, double rate_hz, double q, int highpass) {
    double w0 = 2.0 * M_PI * freq_hz / rate_hz;
    double c = cos(w0), alpha = sin(w0) / (2.0 * q), a0 = 1.0 + alpha;
    double b1 = highpass ? -(1.0 + c) : 1.0 - c;
    biquad f = {0};
    f.b0 = 0.5 * fabs(b1) / a0;
    f.b1 = b1 / a0;
    f.b2 = f.b0;
    f.a1 = -2.0 * c / a0;
    f.a2 = (1.0 - alpha) / a0;
    return f;
}

static inline double biquad_step(biquad *f, double x) {
    double y = f->b0 * x + f->b1 * f->x1 + f->b2 * f->x2 - f->a1 * f->y1 - f->a2 * f->y2;
    f->x2 = f->x1;
    f->x1 = x;
    f->y2 = f->y1;
    f->y1 = y;
    return y;
}

dumu_status dumu_lowpass(const dumu_audio *in, double cutoff_hz, dumu_audio *out, dumu_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!in || !out || in->n_channels < 1 || in->n_frames < 0 || in->sample_rate <= 0 ||
        (in->n_frames > 0 && !in->samples))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "lowpass: invalid audio");
    if (!(cutoff_hz > 0.0 && cutoff_hz < 0.5 * in->sample_rate))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "lowpass: cutoff %g Hz out of range", cutoff_hz);
    size_t n, bytes;
    if (dumu_mul_size((size_t)in->n_frames, (size_t)in->n_channels, &n) ||
        dumu_mul_size(n, sizeof(float), &bytes))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "lowpass: audio too large");
    out->samples = dumu_malloc(bytes);
    if (!out->samples) return dumu_fail(err, DUMU_E_NOMEM, "lowpass: out of memory");
    out->n_frames = in->n_frames;
    out->n_channels = in->n_channels;
    out->sample_rate = in->sample_rate;
    const int64_t nc = in->n_channels;
    for (int64_t c = 0; c < nc; c++) {
        biquad a = biquad_make(cutoff_hz, in->sample_rate, Q_BW4_A, 0);
        biquad b = biquad_make(cutoff_hz, in->sample_rate, Q_BW4_B, 0);
        for (int64_t t = 0; t < in->n_frames; t++) {
            double y = biquad_step(&b, biquad_step(&a, in->samples[t * nc + c]));
            out->samples[t * nc + c] = (float)y;
        }
    }
    return DUMU_OK;
}

double dumu_band_power(const dumu_audio *a, double lo_hz, double hi_hz) {
    DUMU_ASSERT(a && lo_hz > 0.0 && lo_hz < hi_hz && hi_hz < 0.5 * a->sample_rate);
    if (a->n_frames <= 0) return 0.0;
    biquad hp = biquad_make(lo_hz, a->sample_rate, Q_BW2, 1);
    biquad lp_a = biquad_make(hi_hz, a->sample_rate, Q_BW4_A, 0);
    biquad lp_b = biquad_make(hi_hz, a->sample_rate, Q_BW4_B, 0);
    const int64_t nc = a->n_channels;
    double sum = 0.0;
    for (int64_t t = 0; t < a->n_frames; t++) {
        double x = 0.0;
        for (int64_t c = 0; c < nc; c++)
            x += (double)a->samples[t * nc + c];
        double y = biquad_step(&lp_b, biquad_step(&lp_a, biquad_step(&hp, x / (double)nc)));
        sum += y * y;
    }
    return sum / (double)a->n_frames;
}

/* ---------------------------------------------------------------------------------------- */
/* Source choice */

/* Thresholds on the bass register's mean power (30-250 Hz), chosen on the tuning half of the
 * developer sets (dm01-03, xd01-20; measurements in src/pipeline.c, SOURCE CHOICE). */
/* -80 dB: 50 dB under the quietest developer mix (-29.7 dB), 40 dB over 16-bit dither. */
#define SILENT_POWER 1e-8
/* The bass stem under a tenth of the other stem: tuning items whose bass line htdemucs left in
 * "other" measured 0.0055 and 0.049, those whose bass stem held it 0.18 and up. */
#define BASS_OVER_OTHER 0.1
/* A stem under 3.5 % of the mix's register is leakage: tuning bass stems that missed the bass
 * line held 0.003-0.025 of it, those that held it 0.050 and up. */
#define STEM_SHARE 0.035

dumu_bass_source dumu_bass_source_choose(const dumu_bass_levels *lv) {
    if (!(lv->mix > SILENT_POWER)) return DUMU_BASS_SOURCE_NONE;
    if (lv->other < 0.0) /* no other stem: the mix's register when the bass stem is leakage */
        return lv->bass >= STEM_SHARE * lv->mix ? DUMU_BASS_SOURCE_BASS_STEM : DUMU_BASS_SOURCE_MIX;
    if (lv->bass >= BASS_OVER_OTHER * lv->other) return DUMU_BASS_SOURCE_BASS_STEM;
    /* both stems leakage: the register is drums (or noise) alone, a song without a bass line */
    return lv->other >= STEM_SHARE * lv->mix ? DUMU_BASS_SOURCE_OTHER_STEM : DUMU_BASS_SOURCE_NONE;
}

bool dumu_bass_source_contested(const dumu_bass_levels *lv) {
    return lv->other >= 0.0 && dumu_bass_source_choose(lv) == DUMU_BASS_SOURCE_BASS_STEM &&
           lv->bass < lv->other;
}

const char *dumu_bass_source_name(dumu_bass_source source) {
    switch (source) {
    case DUMU_BASS_SOURCE_BASS_STEM: return "bass_stem";
    case DUMU_BASS_SOURCE_OTHER_STEM: return "other_stem";
    case DUMU_BASS_SOURCE_MIX: return "mix";
    case DUMU_BASS_SOURCE_NONE: return "none";
    }
    return NULL;
}
