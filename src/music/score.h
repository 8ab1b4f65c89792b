/* score.h - scoring a transcription against ground truth (src/music/score.c), for `dumu eval`
 * and the tests: note precision/recall/F1 as mir_eval.transcription computes them, tempo
 * accuracy and the MIREX key score.
 *
 * Notes are dumu_note (only pitch, start_s, end_s are read; amplitude is ignored), borrowed for
 * the call, in any order. Times are seconds. Every function is thread-safe: no state outside
 * its arguments. Results are returned in caller storage; nothing here keeps a pointer. */
#ifndef DUMU_MUSIC_SCORE_H
#define DUMU_MUSIC_SCORE_H

#include <stdbool.h>
#include <stdint.h>

#include "dumu/dumu.h"

/* Which pairs (reference note, estimated note) may be matched. */
typedef enum dumu_match_rule {
    DUMU_MATCH_ONSET = 0,        /* onset within onset_tol_s, same MIDI pitch */
    DUMU_MATCH_ONSET_OFFSET = 1, /* and offset within max(offset_min_tol_s, ratio * ref dur) */
    DUMU_MATCH_ONSET_CHROMA = 2, /* onset as above, pitch class equal (|dp| % 12 == 0) */
} dumu_match_rule;

typedef struct dumu_score_params {
    double onset_tol_s;      /* 0.05, mir_eval's default */
    double offset_ratio;     /* 0.2 */
    double offset_min_tol_s; /* 0.05 */
} dumu_score_params;

dumu_score_params dumu_score_default_params(void);

/* Precision, recall and F1 of one matching. */
typedef struct dumu_prf {
    double precision; /* n_matched / n_est; 0 when either list is empty (as mir_eval) */
    double recall;    /* n_matched / n_ref */
    double f1;        /* harmonic mean; 0 when precision + recall is 0 */
    int64_t n_ref;
    int64_t n_est;
    int64_t n_matched;
} dumu_prf;

typedef struct dumu_note_scores {
    dumu_prf onset;        /* DUMU_MATCH_ONSET */
    dumu_prf onset_offset; /* DUMU_MATCH_ONSET_OFFSET */
    dumu_prf chroma;       /* DUMU_MATCH_ONSET_CHROMA: octave-forgiving */
} dumu_note_scores;

/* Size of a maximum one-to-one matching between ref and est under `rule`: a pair is admissible
 * when the rule holds, with distances rounded to 1e-4 s before the comparison (as mir_eval).
 * Maximum bipartite matching by shortest augmenting paths (breadth-first, so no recursion),
 * O(n_ref * admissible pairs). When match_of_ref is not NULL it gets (n_ref) the index of the
 * est note matched to each ref note, or -1. params may be NULL for the defaults. Errors:
 * DUMU_E_INVALID_ARG (negative counts, a NULL list with a nonzero count, non-finite times or
 * tolerances), DUMU_E_NOMEM. */
dumu_status dumu_score_match(const dumu_note *ref, int64_t n_ref, const dumu_note *est,
                             int64_t n_est, dumu_match_rule rule, const dumu_score_params *params,
                             int64_t *n_matched, int64_t *match_of_ref, dumu_error *err);

/* All three matchings of dumu_score_match as precision/recall/F1 into *out. */
dumu_status dumu_score_notes(const dumu_note *ref, int64_t n_ref, const dumu_note *est,
                             int64_t n_est, const dumu_score_params *params, dumu_note_scores *out,
                             dumu_error *err);

/* Tempo accuracy: true when |est - ref| <= tol * ref (tol 0.04 is the usual value). */
bool dumu_score_tempo(double est_bpm, double ref_bpm, double tol);

/* Octave-tolerant tempo accuracy: dumu_score_tempo against ref times 1, 2, 1/2, 3/2 or 2/3
 * (the metrical levels a beat tracker may lock onto). */
bool dumu_score_tempo_tolerant(double est_bpm, double ref_bpm, double tol);

/* MIREX key score of an estimate (tonic pitch class 0..11, 0 = C; minor false/true) against
 * the reference: 1 same key; 0.5 same mode, estimate a perfect fifth above the reference;
 * 0.3 relative major/minor; 0.2 parallel major/minor (same tonic); else 0. The fifth is only
 * counted upwards, as in mir_eval.key.weighted_score's default. Tonics outside 0..11 are
 * asserted against. */
double dumu_score_key(int32_t ref_tonic, bool ref_minor, int32_t est_tonic, bool est_minor);

/* Signal-to-distortion ratio of an estimated signal against the reference, in dB:
 * 10 log10((sum ref^2 + 1e-8) / (sum (ref - est)^2 + 1e-8)) over n values (any layout, as long
 * as both share it: interleaved stereo compares channel by channel). This is the plain SDR of
 * the MUSDB/MDX evaluations, without bss_eval's allowed distortion filter, so it is lower than
 * museval's SDR for the same stems. The epsilon keeps silence finite: silent reference and
 * estimate give 0 dB. Sums run in double. */
double dumu_score_sdr(const float *ref, const float *est, int64_t n);

/* Reads a ground-truth note list in the test data's bass_notes.csv format: a header line, then
 * onset_s,offset_s,midi_pitch,velocity per line. Fills *notes (free with dumu_free) and
 * *n_notes with pitch, start_s, end_s and amplitude = velocity / 127 (frames and bends 0).
 * Errors: DUMU_E_IO (cannot open or read), DUMU_E_FORMAT (a line that is not four numbers,
 * a pitch outside 0..127, a velocity outside 0..127, a non-finite time or offset < onset),
 * DUMU_E_NOMEM. On failure *notes is NULL and *n_notes 0. */
dumu_status dumu_notes_read_csv(const char *path, dumu_note **notes, int64_t *n_notes,
                                dumu_error *err);

#endif /* DUMU_MUSIC_SCORE_H */
