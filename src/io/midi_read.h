/* midi_read.h - internals of the Standard MIDI File grid reader (src/io/midi_read.c), shared
 * with its tests. The public entry points (dumu_midi_read_grid, dumu_midi_grid_deinit) are
 * declared in include/dumu/dumu.h. Nothing here allocates. */
#ifndef DUMU_IO_MIDI_READ_H
#define DUMU_IO_MIDI_READ_H

#include <stddef.h>
#include <stdint.h>

#include "dumu/dumu.h"

/* Reads a variable-length quantity (big-endian base 128, the high bit set on every byte but
 * the last, at most 4 bytes) from data[0..size). Returns the bytes it took, 1..4, and sets
 * *value; 0 when the bytes end inside it or it runs past 4 bytes (then *value is untouched). */
size_t dumu_midi_read_vlq(const uint8_t *data, size_t size, uint32_t *value);

#endif /* DUMU_IO_MIDI_READ_H */
