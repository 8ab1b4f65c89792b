/* fuzz_decode.c - libFuzzer target for dumu_audio_decode_memory (src/io/audio.c).
 *
 * Any bytes must give a status, never a crash, a leak, a sanitizer report or a huge
 * allocation; a success must hold the promised shape (channels, rate, at least one frame,
 * only finite samples), a failure a zeroed dumu_audio and a matching error. The last input
 * byte picks the decode parameters, so channel mapping and resampling are fuzzed with the
 * parsers. max_duration_s is 2 s, which bounds the output (2 s x 768 kHz x 64 channels x
 * 4 bytes = 393 MB at worst) under run-fuzzers' -rss_limit_mb=2048.
 *
 * Seeds: tests/fuzz/corpus/fuzz_decode/, tiny files written with libsndfile (WAV PCM
 * 8/16/24/32, float, RIFX, WAVE_FORMAT_EXTENSIBLE, RF64; FLAC with and without a length;
 * Ogg Vorbis and Opus; MP3 with and without a Xing header).
 *
 * Build: CC=clang cmake -S . -B build-fuzz -G Ninja -DDUMU_FUZZ=ON && cmake --build build-fuzz
 * Run:   scripts/run-fuzzers build-fuzz 60 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dumu/dumu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int32_t rates[4] = {0, 22050, 16000, 44100};
    const uint8_t sel = size ? data[size - 1] : 0;
    dumu_decode_params p = dumu_decode_default_params();
    p.max_duration_s = 2.0;
    p.n_channels = sel % 3;
    p.sample_rate = rates[(sel / 3) % 4];

    dumu_audio a;
    dumu_error err;
    memset(&a, 0xA5, sizeof a);
    memset(&err, 0, sizeof err);
    dumu_status st = dumu_audio_decode_memory(data, size, &p, &a, &err);
    if (st == DUMU_OK) {
        if (!a.samples || a.n_frames < 1 || a.n_channels < 1 || a.n_channels > 64) abort();
        if (p.n_channels && a.n_channels != p.n_channels) abort();
        if (p.sample_rate && a.sample_rate != p.sample_rate) abort();
        if ((double)a.n_frames > p.max_duration_s * a.sample_rate + 1.0) abort();
        for (int64_t i = 0; i < a.n_frames * a.n_channels; i++)
            if (!isfinite(a.samples[i])) abort();
    } else {
        if (a.samples || a.n_frames || a.n_channels || a.sample_rate) abort();
        if (err.status != st || !err.message[0]) abort();
    }
    dumu_audio_deinit(&a);
    return 0;
}
