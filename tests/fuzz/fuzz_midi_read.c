/* fuzz_midi_read.c - libFuzzer target for the MIDI grid reader (src/io/midi_read.c) and the
 * grid built from what it reads (dumu_midi_grid_times in src/music/score.c).
 *
 * Any bytes must give a status, never a crash, a leak or a sanitizer report (an overread of
 * the input shows up as an ASan heap-buffer-overflow: libFuzzer hands over an exact-size
 * copy). A success must hold what dumu.h promises: ppq 1..32767, events sorted by tick, tempi
 * of at least 1 us, time signatures with numerator >= 1 and exponent <= 31; and its grid over
 * 30 s must either be built (ascending lines inside [0, 30 s], a tempo map starting at 0 s)
 * or stop at DUMU_E_TOO_LONG. A failure must leave the output zeroed.
 *
 * Seeds: tests/fuzz/corpus/fuzz_midi_read/, files from dumu_midi_encode (a constant tempo,
 * and a beat-following map with a pickup bar, 3/4, a key signature and pitch bends).
 *
 * Build: CC=clang cmake -S . -B build-fuzz -G Ninja -DDUMU_FUZZ=ON && cmake --build build-fuzz
 * Run:   scripts/run-fuzzers build-fuzz 60 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dumu/dumu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_grid(const dumu_grid *g) {
    if (g->n_tempo < 1 || g->tempo[0].time_s != 0.0) abort();
    for (int64_t i = 1; i < g->n_tempo; i++)
        if (!(g->tempo[i].time_s > g->tempo[i - 1].time_s) || !(g->tempo[i].bpm > 0.0)) abort();
    for (int64_t i = 0; i < g->n_beats; i++)
        if (!(g->beats[i] >= 0.0 && g->beats[i] <= 30.0) || (i && g->beats[i] < g->beats[i - 1]))
            abort();
    for (int64_t i = 0; i < g->n_bars; i++)
        if (!(g->bars[i] >= 0.0 && g->bars[i] <= 30.0) || (i && g->bars[i] < g->bars[i - 1]))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dumu_midi_grid g;
    dumu_error err;
    memset(&g, 0xA5, sizeof g);
    memset(&err, 0, sizeof err);
    dumu_status st = dumu_midi_read_grid(data, size, &g, &err);
    if (st != DUMU_OK) {
        if (g.tempos || g.n_tempos || g.time_signatures || g.n_time_signatures) abort();
        if (err.status != st || !err.message[0]) abort();
        return 0;
    }
    if (g.ppq < 1 || g.ppq > 32767) abort();
    for (int64_t i = 0; i < g.n_tempos; i++)
        if (g.tempos[i].us_per_quarter < 1 || (i && g.tempos[i].tick < g.tempos[i - 1].tick))
            abort();
    for (int64_t i = 0; i < g.n_time_signatures; i++) {
        const dumu_midi_time_signature *s = &g.time_signatures[i];
        if (s->numerator < 1 || s->denominator_log2 < 0 || s->denominator_log2 > 31 ||
            (i && s->tick < g.time_signatures[i - 1].tick))
            abort();
    }
    dumu_grid grid;
    dumu_status gs = dumu_midi_grid_times(&g, 30.0, &grid, &err);
    if (gs == DUMU_OK)
        check_grid(&grid);
    else if (gs != DUMU_E_TOO_LONG || grid.beats || grid.tempo)
        abort();
    dumu_grid_deinit(&grid);
    dumu_midi_grid_deinit(&g);
    return 0;
}
