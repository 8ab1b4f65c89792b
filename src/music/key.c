/* key.c - Krumhansl-Schmuckler key finding on a bass-note histogram and mix chroma.
 *
 * METHOD
 *     Evidence: the duration x amplitude pitch-class histogram of the transcribed bass notes,
 *     and the mean chroma of the mix; each is normalised to sum 1 and they are blended. The
 *     bass alone tends to name the tonic (roots and fifths) but says little about the third
 *     (mode); the mix chroma carries the thirds of the chords. For each of the 24 keys the
 *     profile is rotated to the tonic and correlated (Pearson) with the evidence; the key with
 *     the highest r wins. Confidence is the margin over the runner-up, which is small for the
 *     usual confusions (relative major/minor, a fifth apart).
 *
 * REFERENCES
 *     C. L. Krumhansl and E. J. Kessler, "Tracing the dynamic changes in perceived tonal
 *     organization in a spatial representation of musical keys", Psychological Review 89
 *     (1982): the probe-tone profiles below. C. L. Krumhansl, "Cognitive Foundations of Musical
 *     Pitch" (1990), ch. 4: the correlation algorithm (after Schmuckler). */
#include "music/key.h"

#include <math.h>
#include <string.h>

#include "core/core.h"

/* Probe-tone ratings, index = semitones above the tonic. */
static const double kk_major[12] = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09,
                                    2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
static const double kk_minor[12] = {6.33, 2.68, 3.52, 5.38, 2.60, 3.53,
                                    2.54, 4.75, 3.98, 2.69, 3.34, 3.17};

dumu_key_params dumu_key_default_params(void) {
    dumu_key_params p;
    p.chroma_weight = 0.5;
    return p;
}

void dumu_key_histogram(const dumu_note *notes, int64_t n_notes, double hist[12]) {
    memset(hist, 0, 12 * sizeof *hist);
    for (int64_t i = 0; i < n_notes; i++) {
        const dumu_note *n = &notes[i];
        const double dur = n->end_s - n->start_s;
        if (!(dur >= 0.0 && isfinite(dur)) || !(n->amplitude >= 0.0 && isfinite(n->amplitude)) ||
            n->pitch < 0 || n->pitch > 127) {
            continue;
        }
        hist[n->pitch % 12] += dur * fmin(n->amplitude, 1.0);
    }
}

double dumu_key_correlation(const double evidence[12], int32_t tonic, bool minor) {
    DUMU_ASSERT(tonic >= 0 && tonic < 12);
    const double *prof = minor ? kk_minor : kk_major;
    double me = 0.0, mp = 0.0;
    for (int p = 0; p < 12; p++) {
        me += evidence[p] / 12.0;
        mp += prof[p] / 12.0;
    }
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (int p = 0; p < 12; p++) {
        const double dx = evidence[p] - me;
        const double dy = prof[(p - tonic + 12) % 12] - mp;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    return sxx > 0.0 ? sxy / sqrt(sxx * syy) : 0.0;
}

int32_t dumu_key_fifths(int32_t tonic, bool minor) {
    DUMU_ASSERT(tonic >= 0 && tonic < 12);
    /*                                 C   C#  D   Eb  E  F   F#  G  Ab  A  Bb  B */
    static const int32_t major[12] = {0, -5, 2, -3, 4, -1, -6, 1, -4, 3, -2, 5};
    /* A minor key shares the signature of the major key three semitones up. */
    return minor ? major[(tonic + 3) % 12] : major[tonic];
}

bool dumu_key_found(const dumu_key *key, const dumu_note *notes, int64_t n_notes) {
    if (!key || !(key->confidence > 0.0) || (n_notes > 0 && !notes)) return false;
    bool seen[12] = {false};
    int classes = 0;
    for (int64_t i = 0; i < n_notes; i++) {
        int pc = ((int)notes[i].pitch % 12 + 12) % 12;
        classes += !seen[pc];
        seen[pc] = true;
    }
    return classes >= DUMU_KEY_MIN_PITCH_CLASSES;
}

const char *dumu_key_name(int32_t tonic, bool minor) {
    DUMU_ASSERT(tonic >= 0 && tonic < 12);
    static const char *const major[12] = {"C major",  "Db major", "D major",  "Eb major",
                                          "E major",  "F major",  "Gb major", "G major",
                                          "Ab major", "A major",  "Bb major", "B major"};
    static const char *const minor_[12] = {"C minor",  "C# minor", "D minor",  "Eb minor",
                                           "E minor",  "F minor",  "F# minor", "G minor",
                                           "G# minor", "A minor",  "Bb minor", "B minor"};
    return minor ? minor_[tonic] : major[tonic];
}

dumu_status dumu_key_estimate(const dumu_note *notes, int64_t n_notes, const float *chroma,
                              const dumu_key_params *params, dumu_key *out, dumu_error *err) {
    DUMU_ASSERT(out);
    memset(out, 0, sizeof *out);
    const dumu_key_params p = params ? *params : dumu_key_default_params();
    if (n_notes < 0 || (n_notes > 0 && !notes)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "key: bad note list (%lld at %p)",
                         (long long)n_notes, (const void *)notes);
    }
    if (!(p.chroma_weight >= 0.0 && p.chroma_weight <= 1.0)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "key: chroma_weight %g outside 0..1",
                         p.chroma_weight);
    }
    double hist[12], sum_notes = 0.0, sum_chroma = 0.0;
    dumu_key_histogram(notes, n_notes, hist);
    for (int k = 0; k < 12; k++) {
        sum_notes += hist[k];
        if (chroma && !(chroma[k] >= 0.0f && isfinite(chroma[k]))) {
            return dumu_fail(err, DUMU_E_INVALID_ARG, "key: chroma[%d] is negative or not finite",
                             k);
        }
        if (chroma) sum_chroma += (double)chroma[k];
    }
    double w_chroma = p.chroma_weight;
    if (sum_chroma <= 0.0) w_chroma = 0.0;
    if (sum_notes <= 0.0) w_chroma = 1.0;
    double ev[12];
    for (int k = 0; k < 12; k++) {
        ev[k] = (sum_notes > 0.0 ? (1.0 - w_chroma) * hist[k] / sum_notes : 0.0) +
                (sum_chroma > 0.0 ? w_chroma * (double)chroma[k] / sum_chroma : 0.0);
    }
    double best = -2.0, second = -2.0;
    for (int m = 0; m < 2; m++) {
        for (int32_t t = 0; t < 12; t++) {
            const double r = dumu_key_correlation(ev, t, m == 1);
            if (r > best) {
                second = best;
                best = r;
                out->tonic = t;
                out->minor = m == 1;
            } else if (r > second) {
                second = r;
            }
        }
    }
    out->fifths = dumu_key_fifths(out->tonic, out->minor);
    out->correlation = best;
    out->confidence = best - second;
    return DUMU_OK;
}
