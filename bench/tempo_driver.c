/* tempo_driver.c - a tiny command-line driver for bench/bench_tempo.sh: decodes each FILE with
 * dumu_audio_decode_file, runs dumu_tempo_detect with the default parameters and prints one
 * tab-separated line per file:
 *
 *     FILE <tab> bpm <tab> confidence <tab> n_beats <tab> seconds (decode excluded)
 *
 * With --beats, a second line "beats: t0 t1 ..." (seconds) follows each. Exit status 1 if a
 * file cannot be decoded or analysed (the reason goes to stderr). Built by the bench script
 * against libdumu.a; not part of the CMake build. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dumu/dumu.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    int beats = 0, rc = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--beats")) {
            beats = 1;
            continue;
        }
        dumu_error err = {0};
        dumu_audio audio = {0};
        dumu_decode_params dp = dumu_decode_default_params();
        if (dumu_audio_decode_file(argv[i], &dp, &audio, &err)) {
            fprintf(stderr, "%s: %s\n", argv[i], err.message);
            rc = 1;
            continue;
        }
        dumu_tempo_params tp = dumu_tempo_default_params();
        dumu_tempo t = {0};
        double t0 = now_s();
        if (dumu_tempo_detect(&audio, &tp, &t, &err)) {
            fprintf(stderr, "%s: %s\n", argv[i], err.message);
            rc = 1;
        } else {
            printf("%s\t%.2f\t%.3f\t%lld\t%.3f\n", argv[i], t.bpm, t.confidence,
                   (long long)t.n_beats, now_s() - t0);
            if (beats) {
                printf("beats:");
                for (int64_t b = 0; b < t.n_beats; b++)
                    printf(" %.3f", t.beats[b]);
                printf("\n");
            }
        }
        dumu_tempo_deinit(&t);
        dumu_audio_deinit(&audio);
    }
    return rc;
}
