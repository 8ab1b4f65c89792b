/* layout.h - the bar layout of a written file (src/music/layout.c): detected beats (seconds)
 * -> positions in written quarter notes from tick 0, the pickup and the bars. The MIDI,
 * MusicXML and tab writers and the quantiser all place notes through it, so their bars agree.
 *
 * THE LAYOUT (the rule and its bounds are argued in layout.c)
 *     u: the beat position of a time (dumu_beat_position: beat i at u = i, linear between
 *        beats, the first and last intervals extrapolated). p0: the position of time 0.
 *     D: the earliest bar line at or after time 0, i.e. the least u = first_downbeat +
 *        k * beats_per_bar (k any integer) with u >= p0. x = D - p0: the lead-in in beats.
 *     L: the written pickup, x rounded to 32nd notes when x < 1 beat, to 16ths otherwise.
 *     Written position (in beats of the file; a beat is a quarter note, or a dotted quarter
 *     when the meter is compound):
 *         w(u) = s * (u - p0)      for u <= D + m,   s = (L + m) / (x + m)
 *         w(u) = u - D + L         for u >= D + m
 *     with m = beats_per_bar when the lead-in is under one beat (x < 1), else m = 1; so time 0
 *     is tick 0, beat D + m and every beat after it sit on whole beats after the pickup, and
 *     the lead-in plus bar 1's first m beats share the rounding remainder.
 *     Bar lines are at tick 0 and at L + k * bar (k >= 0) quarters; the pickup is L modulo
 *     one bar (a pickup that rounds to 0 or to a whole bar is no pickup).
 *
 * Beats are borrowed: they must outlive the layout. Every function is thread-safe. */
#ifndef DUMU_MUSIC_LAYOUT_H
#define DUMU_MUSIC_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "dumu/dumu.h"

typedef struct dumu_layout {
    const double *beats;   /* (n_beats) beat times, seconds, strictly ascending; borrowed */
    int64_t n_beats;       /* >= 2 */
    int32_t beats_per_bar; /* 1..16 */
    bool compound;         /* each beat is a dotted quarter: time signature (3*beats_per_bar)/8 */
    double beat_q;         /* quarters per beat: 1, or 1.5 when compound */
    double bar_q;          /* quarters per bar: beats_per_bar * beat_q */
    double p0;             /* beat position of time 0 */
    double downbeat;       /* D: beat position of the first bar line at or after time 0, an
                              integer (negative when it is before the first beat) */
    double lead_in;        /* x = D - p0: beats from time 0 to D, 0 <= x < beats_per_bar */
    double lead_q;         /* L: the written lead-in, quarters, a multiple of 1/8; 0..bar_q */
    double pickup_q;       /* L modulo bar_q: the length of the pickup bar, 0 for none */
    double span;           /* m: beats after D that share the lead-in's rounding:
                              beats_per_bar when x < 1, else 1 */
    double scale;          /* s: written beats per beat from time 0 to beat D + m */
} dumu_layout;

/* Builds the layout of beats (n_beats >= 2 finite, strictly ascending times in seconds;
 * borrowed), a bar line on beat first_downbeat (>= 0; any bar of it will do: only
 * first_downbeat modulo beats_per_bar matters), beats_per_bar 1..16, compound or simple.
 * Errors: DUMU_E_INVALID_ARG (the message names the bad beat or field). */
dumu_status dumu_layout_init(dumu_layout *l, const double *beats, int64_t n_beats,
                             int32_t first_downbeat, int32_t beats_per_bar, bool compound,
                             dumu_error *err);

/* Written position, in quarters from tick 0, of time t (seconds; before 0 it goes on below 0
 * at the lead-in's rate). */
double dumu_layout_quarters(const dumu_layout *l, double t);

/* The time (seconds) at written position q quarters: the inverse of dumu_layout_quarters. */
double dumu_layout_seconds(const dumu_layout *l, double q);

/* Written position, in quarters, of beat position u (w(u) above, times beat_q). */
double dumu_layout_beat_quarters(const dumu_layout *l, double u);

/* Seconds per written quarter over the beat interval from u = j to j + 1 (the first and last
 * intervals continue beyond the beats): the tempo the file carries there. */
double dumu_layout_quarter_s(const dumu_layout *l, int64_t j);

/* The grid point nearest q (quarters) on a grid of `steps` points per quarter (1..48) that
 * starts afresh at every bar line: points bar_start + k / steps inside each bar plus the next
 * bar line, and in the pickup pickup_q - k / steps, counted back from bar 1's downbeat, none
 * before tick 0 (q before the first point snaps to it). When a bar is a whole number of
 * steps (always, except compound bars of an odd number of beats on an odd grid) this is one
 * lattice, pickup_q + k / steps, so bar lines are on it. Exact: the result is (n / steps) for
 * an integer n, rounded once. */
double dumu_layout_snap(const dumu_layout *l, double q, int32_t steps);

/* Measures count from 0 at tick 0. With a pickup, measure 0 is the pickup and measure m >= 1
 * starts at pickup_q + (m - 1) * bar_q; without one measure m starts at m * bar_q. */
bool dumu_layout_has_pickup(const dumu_layout *l);

/* Start of measure m (>= 0) in quarters. */
double dumu_layout_measure_start(const dumu_layout *l, int64_t m);

/* The measure that holds position q (quarters; q < 0 counts as 0). */
int64_t dumu_layout_measure_of(const dumu_layout *l, double q);

/* Time signature of measure m: the bar's (beats_per_bar/4, or (3*beats_per_bar)/8 when
 * compound) or, for the pickup, its length in the finest unit it needs, 1/32 to 1/4 (1/8 when
 * compound), reduced (1/8, 3/16, 5/32, 2/4, 7/8; 2/8 in 6/8). *den is 4, 8, 16 or 32. */
void dumu_layout_time_signature(const dumu_layout *l, int64_t m, int32_t *num, int32_t *den);

#endif /* DUMU_MUSIC_LAYOUT_H */
