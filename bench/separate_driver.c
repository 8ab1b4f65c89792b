/* separate_driver.c - times htdemucs separation (libdumu), for bench runs and peak-RSS checks.
 *
 *   separate_driver separate IN.flac [--sources MASK] [--threads N] [--out DIR]
 *       decode IN, separate through the public API (dumu_separator; MASK: bit i = stem i),
 *       print wall/CPU seconds per audio second (run under /usr/bin/time -v for the peak
 *       RSS); --out writes the stems as float WAV
 *   separate_driver segment IN.flac [--threads N] [--reps R] [--sources MASK] [--pool 0|1]
 *       one 343980-frame segment from the start of IN through dumu_dm_segment, R times,
 *       with the per-stage breakdown; --pool 0 starts threads per parallel region instead
 *       of using a thread pool (as dumu_separate does); --isa avx2|scalar runs the kernel
 *       tables of that instruction set instead of the widest the CPU has
 *   both: --fast 1 takes the bf16 products (dumu_separate_params.fast)
 *
 * Build (from the checkout, after building libdumu into BUILD):
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc bench/separate_driver.c \
 *      BUILD/libdumu.a $(pkg-config --libs sndfile soxr fftw3f libcjson) \
 *      -lpthread -lm -o separate_driver
 * Env: DUMU_MODELS_DIR (default models). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dumu/dumu.h"

#include "core/core.h"
#include "models/demucs.h"
#include "nn/simd.h"

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr,
                "usage: %s separate|segment IN [--sources MASK] [--threads N] "
                "[--reps R] [--pool 0|1] [--isa NAME] [--out DIR]\n",
                argv[0]);
        return 2;
    }
    const char *mode = argv[1], *in = argv[2], *outdir = NULL;
    unsigned sources = 0xF;
    int threads = 2, reps = 1, use_pool = 1, fast = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--sources"))
            sources = (unsigned)strtoul(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--isa")) {
            for (int k = 0; k < DUMU_ISA_COUNT; k++)
                if (!strcmp(argv[i + 1], dumu_isa_name((dumu_isa)k))) dumu_simd_force((dumu_isa)k);
        } else if (!strcmp(argv[i], "--pool"))
            use_pool = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--out"))
            outdir = argv[i + 1];
        else if (!strcmp(argv[i], "--fast"))
            fast = atoi(argv[i + 1]);
    }
    const char *models = getenv("DUMU_MODELS_DIR") ? getenv("DUMU_MODELS_DIR") : "models";
    char path[4096];
    snprintf(path, sizeof path, "%s/demucs/htdemucs.onnx", models);
    dumu_error err = {0};
    dumu_audio a = {0};
    dumu_decode_params dp = dumu_decode_default_params();
    if (dumu_audio_decode_file(in, &dp, &a, &err)) {
        fprintf(stderr, "%s: %s\n", in, err.message);
        return 1;
    }
    double t0 = wall();
    if (!strcmp(mode, "separate")) {
        dumu_separator *sep = NULL;
        if (dumu_separator_open(path, &sep, &err)) {
            fprintf(stderr, "%s: %s\n", path, err.message);
            return 1;
        }
        printf("model open %.2f s\n", wall() - t0);
        dumu_separate_params p = dumu_separate_default_params();
        p.n_threads = threads;
        p.stems = sources;
        p.fast = fast;
        dumu_stems st = {0};
        double w0 = wall(), c0 = cpu();
        if (dumu_separate(sep, &a, &p, &st, &err)) {
            fprintf(stderr, "separate: %s\n", err.message);
            return 1;
        }
        double w = wall() - w0, c = cpu() - c0, secs = (double)a.n_frames / a.sample_rate;
        printf("separated %.2f s of audio in %.2f s wall (%.3f x real time), %.2f s CPU\n", secs, w,
               w / secs, c);
        for (int32_t s = 0; s < st.n_stems && outdir; s++) {
            if (!st.stem[s].audio.samples) continue;
            char op[4200];
            snprintf(op, sizeof op, "%s/%s.wav", outdir, st.stem[s].name);
            if (dumu_audio_write_file(op, &st.stem[s].audio, DUMU_AUDIO_WAV_FLOAT, &err)) {
                fprintf(stderr, "%s: %s\n", op, err.message);
            }
        }
        dumu_stems_deinit(&st);
        dumu_separator_free(sep);
    } else {
        /* the network itself, below the separator: htdemucs' own internals */
        dumu_dm_model *m = NULL;
        if (dumu_dm_model_open(path, &m, &err)) {
            fprintf(stderr, "%s: %s\n", path, err.message);
            return 1;
        }
        printf("model open %.2f s\n", wall() - t0);
        float *x = malloc(sizeof(float) * 2 * DUMU_DM_SEGMENT);
        for (int ch = 0; ch < 2; ch++)
            for (int64_t i = 0; i < DUMU_DM_SEGMENT; i++) {
                int64_t n = i < a.n_frames ? i : a.n_frames - 1;
                x[ch * DUMU_DM_SEGMENT + i] =
                    a.samples[n * a.n_channels + (a.n_channels > 1 ? ch : 0)];
            }
        dumu_dm_workspace *ws = NULL;
        if (dumu_dm_workspace_create(m, sources, threads, &ws, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        dumu_pool *pool = use_pool ? dumu_pool_begin(threads) : NULL;
        dumu_fast_products_set(fast && dumu_fast_available());
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            double w0 = wall(), c0 = cpu();
            dumu_dm_segment(m, ws, x, NULL);
            double w = wall() - w0, c = cpu() - c0;
            if (w < best) best = w;
            printf("segment %d: %.3f s wall, %.3f s CPU\n", r, w, c);
        }
        const double *st = dumu_dm_workspace_stage_seconds(ws, false);
        const double *sc = dumu_dm_workspace_stage_seconds(ws, true);
        const char *names[DUMU_DM_N_STAGES] = {"stft+norm", "time enc", "freq enc", "transformer",
                                               "time dec",  "freq dec", "istft"};
        printf("best %.3f s; mean per stage over %d runs (wall / CPU s):\n", best, reps);
        for (int i = 0; i < DUMU_DM_N_STAGES; i++) {
            printf("  %-12s %7.3f %7.3f\n", names[i], st[i] / reps, sc[i] / reps);
        }
        printf("workspace %.1f MiB\n", (double)dumu_dm_workspace_bytes(ws) / 1048576.0);
        dumu_pool_end(pool);
        dumu_dm_workspace_free(ws);
        free(x);
        dumu_dm_model_free(m);
    }
    dumu_audio_deinit(&a);
    return 0;
}
