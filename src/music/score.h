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

#endif /* DUMU_MUSIC_SCORE_H */
