/* midi.h - internals of the Standard MIDI File writer (src/io/midi.c), shared with its tests.
 * The public entry points (dumu_midi_default_params, dumu_midi_encode, dumu_midi_write_file)
 * are declared in include/dumu/dumu.h. Nothing here allocates. */
#ifndef DUMU_IO_MIDI_H
#define DUMU_IO_MIDI_H

#include <stddef.h>
#include <stdint.h>

#include "dumu/dumu.h"

/* Largest value a variable-length quantity may hold (SMF 1.0: at most 4 bytes). */
#define DUMU_MIDI_VLQ_MAX 0x0FFFFFFFu

/* Latest tick an event may land on. Every delta time is at most this, so it always fits one
 * VLQ. At 120 BPM and 480 PPQ (960 ticks/s) that is about 77 hours. */
#define DUMU_MIDI_MAX_TICK 0x0FFFFFFF

/* Largest tempo the set_tempo meta event can carry: 24 bits of microseconds per quarter. */
#define DUMU_MIDI_MAX_TEMPO_US 0xFFFFFFu

/* Centre (no bend) of the 14-bit pitch-bend range [0, 16383]. */
#define DUMU_MIDI_BEND_CENTER 8192

/* Writes `value` (<= DUMU_MIDI_VLQ_MAX, asserted) as a big-endian base-128 VLQ, 7 bits per
 * byte, the high bit set on every byte but the last, into out[0..3]. Returns the byte count,
 * 1..4. */
size_t dumu_midi_vlq(uint32_t value, uint8_t out[4]);

/* Microseconds per quarter note for `bpm`: round(60e6 / bpm) clamped to [1, 0xFFFFFF];
 * bpm <= 0 or not finite means 120 (500000 us). */
uint32_t dumu_midi_tempo_us(double bpm);

/* 14-bit pitch-bend value for a bend of `bend` thirds of a semitone on a receiver whose bend
 * range is `range_semitones` (> 0): 8192 + round(bend/3 / range * 8192), clamped to
 * [0, 16383]. */
int32_t dumu_midi_bend_value(int32_t bend, double range_semitones);

#endif /* DUMU_IO_MIDI_H */
