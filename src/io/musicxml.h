/* musicxml.h - MusicXML 3.1 (partwise) writer for one bass part (src/io/musicxml.c).
 *
 * NOTATION CHOICES
 *     Bass guitar is written an octave above its sound. The part uses the plain bass clef (F on
 *     the 4th line) with <transpose><octave-change>-1</octave-change></transpose>, the way
 *     MuseScore's own "Bass Guitar" instrument does it: <pitch> elements hold the WRITTEN
 *     pitch (sounding MIDI pitch + 12), and readers that play the score (MuseScore's MIDI
 *     export) sound the notes at the pitches of dumu_note.pitch. A transposing "8vb" clef
 *     would show the same staff positions but is rarely used for bass.
 *     The beat is a quarter note (time signature beats_per_bar/4) or, in a compound meter, a
 *     dotted quarter ((3*beats_per_bar)/8).
 *     Bars are the bar layout of src/music/layout.h, the one the MIDI writer uses: a pickup
 *     before bar 1's downbeat is an implicit measure (number 0) of the pickup's length with
 *     its own time signature (1/8, 3/16, 7/8 ...), and the bar's time signature follows in
 *     measure 1, as in the MIDI file.
 *
 * Notes are borrowed for the call and may come in any order. Thread-safe. */
#ifndef DUMU_IO_MUSICXML_H
#define DUMU_IO_MUSICXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dumu/dumu.h"

typedef struct dumu_musicxml_params {
    const double *beats;    /* (n_beats) beat times in seconds, the rhythm grid; borrowed */
    int64_t n_beats;        /* >= 2, strictly ascending (dumu_beats_valid) */
    int32_t beats_per_bar;  /* 1..16; default 4 */
    int32_t first_downbeat; /* index into beats of a bar start, >= 0; default 0 */
    int32_t subdivisions;   /* grid steps per quarter note: 1, 2, 4, 8, 16, or triplets 3, 6,
                               12; default 4 (16ths) */
    int32_t fifths;         /* key signature, -7..7 (dumu_key.fifths); default 0 */
    bool minor;             /* key mode; default false */
    double bpm;             /* metronome mark; <= 0 (default): the mean tempo of the beats,
                               60 * (n_beats - 1) / (last beat - first beat) */
    const char *title;      /* work title; NULL (default): "Bass"; borrowed */
    bool compound;          /* a beat is a dotted quarter; default false */
} dumu_musicxml_params;

/* Defaults as above, with no beats (the caller must set beats and n_beats). */
dumu_musicxml_params dumu_musicxml_default_params(void);

/* Writes notes as a MusicXML score:
 *   - every onset and offset is snapped to the nearest grid step of the bar layout
 *     (dumu_layout_snap: `subdivisions` steps per quarter from each bar line, in the pickup
 *     counted back from bar 1's downbeat; never before tick 0) and a note lasts at least one
 *     step; measures are the layout's, from tick 0 (time 0) on;
 *   - <divisions> is `subdivisions`, or a multiple of it when the pickup or the bar is not a
 *     whole number of steps;
 *   - notes on the same step form a chord (their longest end); a note is cut where the next
 *     onset begins (one voice); gaps are rests, empty bars whole-bar rests;
 *   - durations are split at bar lines and written as plain, dotted and (triplet grids)
 *     triplet values joined by ties;
 *   - pitches are spelled with sharps for fifths >= 0, flats below;
 *   - notes outside MIDI 0..115 (written 12..127) give DUMU_E_INVALID_ARG.
 *   - note times beyond DUMU_BEAT_POS_LIMIT beats give DUMU_E_INVALID_ARG.
 * Returns the UTF-8 text (NUL-terminated) in *out (free with dumu_free) and its length without
 * the NUL in *size. Errors: DUMU_E_INVALID_ARG (params out of range, invalid beats, non-finite
 * note times, NULL with a nonzero count), DUMU_E_NOMEM. */
dumu_status dumu_musicxml_encode(const dumu_note *notes, int64_t n_notes,
                                 const dumu_musicxml_params *params, char **out, size_t *size,
                                 dumu_error *err);

/* dumu_musicxml_encode, written to `path` (created or truncated). Errors as above, and
 * DUMU_E_IO when the file cannot be written (the message keeps strerror). */
dumu_status dumu_musicxml_write_file(const char *path, const dumu_note *notes, int64_t n_notes,
                                     const dumu_musicxml_params *params, dumu_error *err);

#endif /* DUMU_IO_MUSICXML_H */
