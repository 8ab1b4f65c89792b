/* basic_pitch.h - internal pieces of the Basic Pitch network (src/models/basic_pitch.c) that
 * tests reach: the model struct, one thread's scratch, the per-window network on the fast
 * or the reference path, and the run with a path switch.
 *
 * Spec: docs/basic_pitch.md. Shapes of one window: audio (43844) -> CQT (172, 309) ->
 * harmonic stack (172, 264, 8) -> contour (172, 264), note (172, 88), onset (172, 88); frames
 * 15..156 of each window are kept and stitched.
 */
#ifndef DUMU_MODELS_BASIC_PITCH_H
#define DUMU_MODELS_BASIC_PITCH_H

#include <stdint.h>

#include "dumu/dumu.h"

#include "dsp/cqt.h"
#include "nn/conv.h"

#define DUMU_BP_WINDOW    43844  /* samples per model window */
#define DUMU_BP_HOP       36164  /* window advance, 43844 - 30 * 256 */
#define DUMU_BP_LEAD      3840   /* zeros prepended to the signal */
#define DUMU_BP_FRAMES    172    /* frames per window */
#define DUMU_BP_TRIM      15     /* frames dropped at each side of a window */
#define DUMU_BP_KEPT      142    /* frames kept per window */
#define DUMU_BP_FILE_SIZE 742392 /* bytes of group1-shard1of1.bin */

/* Edge corrections of a conv over the harmonic stack computed from B: output bins whose
 * taps reach the stack's SAME zero padding (where B itself is not zero) start from
 * bias - sum(those taps). Each such bin has a tap plan over the transposed B (vectorised
 * over frames): tap offset = B bin * B row stride + (kh - pad). */
typedef struct dumu_bp_edge {
    int32_t n;             /* corrected output bins */
    int32_t *col;          /* (n) the bins */
    dumu_conv_plan *plans; /* (n) their taps and weights, bias 0; owned */
} dumu_bp_edge;

struct dumu_bp_model {
    dumu_cqt_plan cqt; /* front-end constants */
    /* Network weights, HWIO as stored (reference path). */
    float w1[3 * 39 * 8 * 8], b1[8];  /* conv2d_1 (BN folded), contour stem */
    float wcr[5 * 5 * 8], bcr[1];     /* contours-reduced */
    float w2[7 * 7 * 32], b2[32];     /* conv2d_2, stride 3 */
    float w3[7 * 3 * 32], b3[1];      /* conv2d_3 -> note */
    float w4[5 * 5 * 8 * 32], b4[32]; /* conv2d_4 (BN folded), stride 3, onset stem */
    float w5[3 * 3 * 33], b5[1];      /* conv2d_5 -> onset */
    /* Fast path, on the time-major planes of basic_pitch.c. conv2d_1 runs as a convolution
     * of B along frequency by 512-point FFTs: taps of equal offset merged, spectra
     * precomputed. */
    float fft_cos[256], fft_sin[256];             /* twiddles of the 512-point FFT */
    float u1_re[8 * 3 * 257], u1_im[8 * 3 * 257]; /* (o, kh, k) merged-tap spectra / 512 */
    dumu_bp_edge e1;                              /* conv2d_1 edge corrections */
    dumu_conv_plan pcr;                           /* contours-reduced on the conv2d_1 planes */
    dumu_conv_plan p2;                            /* conv2d_2 on the contour, row stride 3 */
    dumu_conv_plan p3;                            /* conv2d_3 on the conv2d_2 planes */
    /* conv2d_4: the same on 384 = 3 x 128 points, only every 3rd output bin inverted. */
    float fft3_cos[384], fft3_sin[384];             /* cos/sin(2 pi j / 384) */
    float fft7_cos[64], fft7_sin[64];               /* twiddles of the 128-point FFT */
    float u4_re[32 * 5 * 193], u4_im[32 * 5 * 193]; /* (o, kh, k) tap spectra / 384 */
    dumu_bp_edge e4;                                /* conv2d_4 edge corrections */
    dumu_conv_plan p5;                              /* conv2d_5 on [note, conv2d_4] planes */
};

/* One thread's scratch, allocated once per run (no allocation per window or layer). */
typedef struct dumu_bp_work {
    dumu_cqt_work cqt;
    float *x;     /* (43844) the window's samples */
    float *C, *N; /* (172, 309) CQT magnitude, then normalised log / batch norm */
    float *arena; /* fast-path planes, zeroed once */
    float *ref;   /* reference-path NHWC tensors, only when asked for */
} dumu_bp_work;

dumu_status dumu_bp_work_init(dumu_bp_work *w, int reference);
void dumu_bp_work_deinit(dumu_bp_work *w);

/* Runs the network on one window x (43844 samples) and writes its kept frames 15..156 to
 * note/onset (n_rows, 88) and contour (n_rows, 264), row-major, n_rows <= 142.
 * reference = 1 runs the bit-exact tfjs-cpu recipe everywhere (slow); 0 the fast path
 * (front end bit-identical, network float32 SIMD). Thread-safe for distinct `w`. */
void dumu_bp_window(const dumu_bp_model *m, const float *x, dumu_bp_work *w, int reference,
                    float *note, float *onset, float *contour, int n_rows);

/* dumu_bp_run with a path switch (see dumu_bp_window). */
dumu_status dumu_bp_run_path(const dumu_bp_model *model, const float *audio, int64_t n_samples,
                             const dumu_bp_params *params, int reference, dumu_bp_output *out,
                             dumu_error *err);

/* Number of model windows and stitched frames for n samples (§1.2, §1.3). */
int64_t dumu_bp_n_windows(int64_t n_samples);
int64_t dumu_bp_n_frames(int64_t n_samples);

#endif /* DUMU_MODELS_BASIC_PITCH_H */
