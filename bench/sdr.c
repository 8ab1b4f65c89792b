/* sdr.c - plain signal-to-distortion ratio of an estimated stem against its ground truth.
 *
 *   sdr REFERENCE ESTIMATE
 *
 * Reads two audio files (anything libsndfile opens: WAV, FLAC, ...; samples as float, so 16-bit
 * PCM becomes x / 32768) and prints one line on stdout, the SDR in dB with 4 decimals:
 *
 *     SDR = 10 log10( sum s^2 / sum (s - s_hat)^2 )
 *
 * with s the reference and s_hat the estimate, summed over every channel and every frame. This
 * is the plain SDR: no scale invariance (no projection onto s, no gain fit), no allowed
 * distortion filter (not the BSS Eval v4 SDR), no framing or median over windows. Sums are
 * accumulated in double. A perfect estimate prints "inf"; a silent reference is an error.
 *
 * The two files must have the same channel count and sample rate (else exit 2). When their
 * lengths differ, both are cut to the shorter one (aligned at frame 0) and a note saying so goes
 * to stderr; nothing is shifted in time. The files are streamed in blocks, so any length works.
 *
 * Exit: 0 ok, 1 cannot read, 2 mismatch or unusable input.
 * Build: cc -O2 -std=c11 bench/sdr.c $(pkg-config --cflags --libs sndfile) -lm -o sdr */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>

#define BLOCK_FRAMES 4096
#define MAX_CHANNELS 64

static SNDFILE *open_audio(const char *path, SF_INFO *info) {
    info->format = 0;
    SNDFILE *f = sf_open(path, SFM_READ, info);
    if (!f) fprintf(stderr, "sdr: cannot read %s: %s\n", path, sf_strerror(NULL));
    return f;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s REFERENCE ESTIMATE   (prints the plain SDR in dB)\n", argv[0]);
        return 2;
    }
    int code = 0;
    SF_INFO ri = {0}, ei = {0};
    SNDFILE *rf = NULL, *ef = NULL;
    float *rb = NULL, *eb = NULL;
    rf = open_audio(argv[1], &ri);
    ef = open_audio(argv[2], &ei);
    if (!rf || !ef) {
        code = 1;
        goto done;
    }
    if (ri.channels != ei.channels || ri.channels < 1 || ri.channels > MAX_CHANNELS) {
        fprintf(stderr, "sdr: channel counts differ or are unusable: %s has %d, %s has %d\n",
                argv[1], ri.channels, argv[2], ei.channels);
        code = 2;
        goto done;
    }
    if (ri.samplerate != ei.samplerate) {
        fprintf(stderr, "sdr: sample rates differ: %s %d Hz, %s %d Hz\n", argv[1], ri.samplerate,
                argv[2], ei.samplerate);
        code = 2;
        goto done;
    }
    sf_count_t n = ri.frames < ei.frames ? ri.frames : ei.frames;
    if (ri.frames != ei.frames)
        fprintf(stderr,
                "sdr: lengths differ (%s %lld frames, %s %lld frames): both cut to the first "
                "%lld frames\n",
                argv[1], (long long)ri.frames, argv[2], (long long)ei.frames, (long long)n);
    if (n <= 0) {
        fprintf(stderr, "sdr: no frames to compare\n");
        code = 2;
        goto done;
    }
    size_t ch = (size_t)ri.channels;
    rb = malloc(sizeof *rb * BLOCK_FRAMES * ch);
    eb = malloc(sizeof *eb * BLOCK_FRAMES * ch);
    if (!rb || !eb) {
        fprintf(stderr, "sdr: out of memory\n");
        code = 1;
        goto done;
    }
    double sig = 0.0, err = 0.0;
    for (sf_count_t done_frames = 0; done_frames < n;) {
        sf_count_t want = n - done_frames < BLOCK_FRAMES ? n - done_frames : BLOCK_FRAMES;
        if (sf_readf_float(rf, rb, want) != want || sf_readf_float(ef, eb, want) != want) {
            fprintf(stderr, "sdr: short read at frame %lld\n", (long long)done_frames);
            code = 1;
            goto done;
        }
        for (size_t i = 0; i < (size_t)want * ch; i++) {
            double s = (double)rb[i], d = s - (double)eb[i];
            sig += s * s;
            err += d * d;
        }
        done_frames += want;
    }
    if (!isfinite(sig) || !isfinite(err)) {
        fprintf(stderr, "sdr: %s holds NaN or Inf\n", isfinite(sig) ? argv[2] : argv[1]);
        code = 2;
        goto done;
    }
    if (sig == 0.0) {
        fprintf(stderr, "sdr: %s is silent: SDR undefined\n", argv[1]);
        code = 2;
        goto done;
    }
    if (err == 0.0)
        printf("inf\n");
    else
        printf("%.4f\n", 10.0 * log10(sig / err));
done:
    free(eb);
    free(rb);
    if (ef) sf_close(ef);
    if (rf) sf_close(rf);
    return code;
}
