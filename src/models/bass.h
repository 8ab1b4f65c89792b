/* bass.h - bass-mode note decoding: one clean line from Basic Pitch's activations.
 *
 * Basic Pitch is a polyphonic transcriber. On a bass stem its note list has octave errors
 * (the second harmonic outscoring a weak fundamental), ghost notes from harmonics and bleed,
 * and notes cut in two where the activation dips. Bass mode decodes the activations as a
 * mostly monophonic line instead:
 *
 *   1. salience: each frame's note activations in the bass register, with the energy a
 *      pitch owes to the fundamental an octave below taken away from it;
 *   2. a Viterbi path through {silence, min_pitch .. max_pitch}: a pitch must beat the frame
 *      threshold to be heard, changing pitch or starting a note costs, staying is free; where
 *      the path is silent, an onset peak opens its pitch while that still sounds faintly;
 *   3. runs of one pitch become notes, split where a clear onset of that pitch re-attacks it,
 *      and each note starts at the onset peak that opened it;
 *   4. notes shorter than min_note_frames are dropped unless an onset supports them, and a
 *      short gap with no new onset is closed;
 *   5. a second voice: Basic Pitch's own notes in the register that the line does not explain
 *      (as an octave, a fifth or a twelfth of a line note) and that are strongly held join it
 *      (double stops, and notes the single path passed over);
 *   6. a note whose octave below is heard over it (at the frame threshold) moves down to it;
 *      every note gets a confidence (how likely it is right, from its attack and its octave
 *      neighbours) and moves back by DUMU_BASS_NOTE_LAG_S.
 *
 * The input activations are borrowed for the call; the list belongs to the caller
 * (dumu_note_list_deinit). Thread-safe: no state outside the arguments. */
#ifndef DUMU_MODELS_BASS_H
#define DUMU_MODELS_BASS_H

#include "dumu/dumu.h"

/* Seconds Basic Pitch's activations lag the audio: the median onset of matched notes on the
 * tuning half of the developer sets (dm01-03, xd01-20) is 16.5 ms late (7.5 ms on the held-out
 * half). Bass-mode notes start and end this much before their frames' times. */
#define DUMU_BASS_NOTE_LAG_S 0.015

/* Decodes bass-mode notes from `out` (see above). Reads onset_threshold, frame_threshold,
 * min_note_frames, min_freq_hz / max_freq_hz (narrowing the bass register) and pitch_bends
 * (bends are not produced in bass mode: n_bends stays 0) from `params`. Notes come sorted by
 * time; notes of the line never overlap each other, second-voice notes sound with them. Errors: DUMU_E_INVALID_ARG (as dumu_notes_create), DUMU_E_NOMEM. */
dumu_status dumu_bass_notes(const dumu_bp_output *out, const dumu_note_params *params,
                            dumu_note_list *list, dumu_error *err);

#endif /* DUMU_MODELS_BASS_H */
