/* notes.h - internal entry points of note creation (src/models/notes.c), for tests.
 *
 * The public API (dumu_notes_create and friends) is declared in include/dumu/dumu.h. This
 * header adds the plain reference version of the melodia trick's global argmax, so tests can
 * hold the fast path equal to it, and the Gaussian pitch-bend window. */
#ifndef DUMU_MODELS_NOTES_H
#define DUMU_MODELS_NOTES_H

#include "dumu/dumu.h"

/* Pitch-bend search: +-25 contour bins around 3*(pitch - 21), weighted by a Gaussian with
 * sigma 5 bins. */
#define DUMU_NOTES_BEND_TOLERANCE 25
#define DUMU_NOTES_BEND_WINDOW    (2 * DUMU_NOTES_BEND_TOLERANCE + 1)

/* Which global-argmax strategy the melodia trick uses. Both give the same notes. */
typedef enum dumu_notes_argmax {
    DUMU_NOTES_ARGMAX_FAST = 0,  /* per-row maxima in a segment tree, updated lazily */
    DUMU_NOTES_ARGMAX_NAIVE = 1, /* rescan every cell per iteration, exactly as the reference */
} dumu_notes_argmax;

/* dumu_notes_create with a chosen argmax strategy (dumu_notes_create uses FAST). */
dumu_status dumu_notes_create_with(const dumu_bp_output *out, const dumu_note_params *params,
                                   dumu_notes_argmax strategy, dumu_note_list *list,
                                   dumu_error *err);

/* Weight of bin offset d (|d| <= 25) in the pitch-bend search: exp(-d^2/50) in double, the
 * reference's formula exp(-(n - 25)^2 / (2 * 5^2)) for n = d + 25. */
double dumu_notes_bend_weight(int d);

#endif /* DUMU_MODELS_NOTES_H */
