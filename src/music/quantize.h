/* quantize.h - beat positions and beat-grid quantisation (src/music/quantize.c).
 *
 * BEAT POSITIONS
 *     Beats are times in seconds, ascending (dumu_tempo.beats). Beat position is a continuous
 *     coordinate: position b at beats[b], linear in time between two beats, and extrapolated
 *     with the first (last) beat interval before the first (after the last) beat.
 *
 * THE GRID
 *     Quantisation works on the written file's grid: the bar layout of src/music/layout.h
 *     (the one the MIDI, MusicXML and tab writers use) with `subdivisions` points per quarter
 *     note, starting afresh at every bar line. So the grid follows every tempo change the beat
 *     tracker saw, and quantised notes sit on the DAW's grid of the written file (1/16: every
 *     onset a whole number of ppq/4 ticks after its bar line), the pickup included. 1/8 is 2
 *     subdivisions, 1/16 is 4, 1/8t (eighth triplets) 3, 1/16t 6.
 *
 * Arrays are borrowed for the call; notes are modified in place where a function says so.
 * Every function is thread-safe for distinct outputs. */
#ifndef DUMU_MUSIC_QUANTIZE_H
#define DUMU_MUSIC_QUANTIZE_H

#include <stdint.h>

#include "dumu/dumu.h"

#define DUMU_QUANTIZE_MAX_SUBDIVISIONS 48

/* Largest |beat position| the notation writers (tab, MusicXML) accept for a note: about nine
 * hours at 120 BPM. It bounds their output and keeps positions far inside int64 range. */
#define DUMU_BEAT_POS_LIMIT 65536.0

/* Beat position of time t (seconds). beats must hold n_beats >= 2 strictly ascending times
 * (asserted: check with dumu_beats_valid first). */
double dumu_beat_position(const double *beats, int64_t n_beats, double t);

/* The time (seconds) at beat position pos: the inverse of dumu_beat_position. */
double dumu_beat_time(const double *beats, int64_t n_beats, double pos);

/* 1 when beats holds at least 2 finite, strictly ascending times, else 0. */
int dumu_beats_valid(const double *beats, int64_t n_beats);

typedef struct dumu_quantize_params {
    int32_t subdivisions; /* grid points per quarter note, 1..DUMU_QUANTIZE_MAX_SUBDIVISIONS;
                             default 4 */
    double strength;      /* 0..1: the fraction of the way to the grid each time moves; default 1 */
} dumu_quantize_params;

dumu_quantize_params dumu_quantize_default_params(void);

/* Quantises notes in place to the grid of params on the layout of beats and meter
 * (dumu_layout_init with the meter's first_downbeat, beats_per_bar and compound): each onset
 * moves `strength` of the way to its nearest grid point (dumu_layout_snap), each offset
 * likewise to its nearest grid point, but at least to the grid point after the onset's, so at
 * strength 1 every note starts on the grid and lasts at least one step; at any strength a
 * note keeps a positive length. The written file starts at time 0 and so does its grid: a
 * note before 0 goes to the first grid point. Only start_s and end_s change (start_frame,
 * end_frame and bends keep their values). Notes are not reordered. Errors:
 * DUMU_E_INVALID_ARG (invalid beats or meter, see dumu_layout_init; subdivisions or strength
 * out of range; non-finite note times; NULL with a nonzero count). */
dumu_status dumu_quantize_notes(const double *beats, int64_t n_beats, const dumu_meter *meter,
                                const dumu_quantize_params *params, dumu_note *notes,
                                int64_t n_notes, dumu_error *err);

/* After quantising, notes of one pitch that start at the same time are one note (the MIDI file
 * would merge them: src/io/midi.c): keeps the first of each such group in order, with the
 * latest end and the highest amplitude and confidence of the group, moves the kept notes to
 * the front and returns their count. Order otherwise unchanged; bends of merged notes are
 * dropped with them. */
int64_t dumu_quantize_merge(dumu_note *notes, int64_t n_notes);

#endif /* DUMU_MUSIC_QUANTIZE_H */
