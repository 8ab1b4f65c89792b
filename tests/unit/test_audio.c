/* Audio (src/io/audio.c): decode, channel mapping, resampling and writing.
 *
 * Inputs are generated in a scratch directory with libsndfile (WAV PCM 8/16/24/32/float,
 * RIFX, FLAC, Ogg Vorbis and Opus, MP3 through LAME) and with the module's own writer, then
 * cut, patched and corrupted to reach every documented error. Lossless formats must come back
 * within their quantisation step, lossy ones by correlation and level; resampled sines must
 * keep frequency, amplitude and timing (least-squares fit); every failing call must leave
 * `out` zeroed; allocation failures are swept with dumu_alloc_fail_after. The real developer
 * recordings (DUMU_TESTDATA_DIR) are decoded too. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "io/audio.h"
#include "testutil.h"

#ifndef M_PI
#    define M_PI 3.14159265358979323846
#endif

static int group_setup(void **state) {
    (void)state;
    return test_scratch_create("dumu_audio");
}

static int group_teardown(void **state) {
    (void)state;
    return test_scratch_remove();
}

/* ---------------------------------------------------------------------------------------- */
/* Signals and files */

/* Deterministic uniform noise in [-1, 1). */
static double noise(uint64_t *s) {
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return (double)(*s >> 11) / 4503599627370496.0 - 1.0;
}

/* (n, ch) interleaved: channel c is a sine of freqs[c] Hz, amplitude amp, plus `hiss` of
 * noise. Free with free(). */
static float *make_signal(int64_t n, int ch, int rate, const double *freqs, double amp,
                          double hiss) {
    float *x = malloc((size_t)(n * ch) * sizeof *x + 1);
    assert_non_null(x);
    uint64_t seed = 12345;
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < ch; c++)
            x[i * ch + c] =
                (float)(amp * sin(2.0 * M_PI * freqs[c] * (double)i / rate) + hiss * noise(&seed));
    return x;
}

/* Channel 5 is low: it is the LFE of 5.1, which the Vorbis encoder low-passes. */
static const double k_freqs[8] = {440.0, 660.0, 300.0, 1000.0, 150.0, 80.0, 520.0, 880.0};

/* Writes x (n, ch) with libsndfile directly, as `format` (SF_FORMAT_*). */
static void sf_write_path(const char *path, int format, int rate, int ch, const float *x,
                          int64_t n) {
    SF_INFO si = {.samplerate = rate, .channels = ch, .format = format};
    SNDFILE *s = sf_open(path, SFM_WRITE, &si);
    if (!s) fprintf(stderr, "sf_open(%s): %s\n", path, sf_strerror(NULL));
    assert_non_null(s);
    if (n > 0) assert_true(sf_writef_float(s, x, n) == n);
    assert_int_equal(sf_close(s), 0);
}

static void write_bytes(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

static bool is_zeroed(const dumu_audio *a) {
    return !a->samples && a->n_frames == 0 && a->n_channels == 0 && a->sample_rate == 0;
}

/* Checks a call's status; a failure must leave `out` zeroed and say something. */
static void check_status_impl(dumu_status got, dumu_status want, const dumu_error *err,
                              const dumu_audio *out, const char *file, int line) {
    if (got != want) {
        fprintf(stderr, "%s:%d: status %d (%s), want %d (%s); message: %s\n", file, line, got,
                dumu_status_str(got), want, dumu_status_str(want), err ? err->message : "");
        fail();
    }
    if (want != DUMU_OK) {
        if (out && !is_zeroed(out)) {
            fprintf(stderr, "%s:%d: out not zeroed after a failure\n", file, line);
            fail();
        }
        if (err) {
            assert_int_equal(err->status, want);
            assert_true(strlen(err->message) > 0);
        }
    }
}

#define check_status(got, want, err, out) \
    check_status_impl((got), (want), (err), (out), __FILE__, __LINE__)

/* Decodes `path` into a junk-filled `out` (so zeroing is observable). */
static dumu_status decode_path(const char *path, const dumu_decode_params *p, dumu_audio *out,
                               dumu_error *err) {
    memset(out, 0xA5, sizeof *out);
    memset(err, 0, sizeof *err);
    return dumu_audio_decode_file(path, p, out, err);
}

static dumu_status decode_mem(const void *data, size_t size, const dumu_decode_params *p,
                              dumu_audio *out, dumu_error *err) {
    memset(out, 0xA5, sizeof *out);
    memset(err, 0, sizeof *err);
    return dumu_audio_decode_memory(data, size, p, out, err);
}

/* Least-squares fit of a*sin + b*cos at `freq` Hz over frames [from, to) of channel c:
 * returns the amplitude, the phase (radians, 0 = in step with sin(2 pi f t) from frame 0)
 * and the RMS of the residual. */
static void fit_sine(const float *x, int ch, int c, int64_t from, int64_t to, double freq,
                     double rate, double *amp, double *phase, double *resid) {
    double ss = 0, sc = 0, cc = 0, xs = 0, xc = 0;
    for (int64_t i = from; i < to; i++) {
        double w = 2.0 * M_PI * freq * (double)i / rate, s = sin(w), k = cos(w);
        double v = (double)x[i * ch + c];
        ss += s * s, sc += s * k, cc += k * k, xs += v * s, xc += v * k;
    }
    double det = ss * cc - sc * sc;
    double a = (xs * cc - xc * sc) / det, b = (xc * ss - xs * sc) / det;
    *amp = sqrt(a * a + b * b);
    *phase = atan2(b, a);
    double r = 0;
    for (int64_t i = from; i < to; i++) {
        double w = 2.0 * M_PI * freq * (double)i / rate;
        double d = (double)x[i * ch + c] - (a * sin(w) + b * cos(w));
        r += d * d;
    }
    *resid = sqrt(r / (double)(to - from));
}

/* Frequency of channel c over frames [from, to) from its count of sign changes. */
static double zero_crossing_freq(const float *x, int ch, int c, int64_t from, int64_t to,
                                 double rate) {
    int64_t crossings = 0;
    for (int64_t i = from + 1; i < to; i++)
        if ((x[(i - 1) * ch + c] < 0.0f) != (x[i * ch + c] < 0.0f)) crossings++;
    return (double)crossings / 2.0 / ((double)(to - from) / rate);
}

/* Pearson correlation of channel c of a and b (same layout) over frames [from, to), and the
 * RMS ratio a/b. */
static double correlation(const float *a, const float *b, int ch, int c, int64_t from, int64_t to,
                          double *rms_ratio) {
    double ab = 0, aa = 0, bb = 0;
    for (int64_t i = from; i < to; i++) {
        double x = (double)a[i * ch + c], y = (double)b[i * ch + c];
        ab += x * y, aa += x * x, bb += y * y;
    }
    *rms_ratio = sqrt(aa / bb);
    return ab / sqrt(aa * bb);
}

static double rms(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * (double)x[i];
    return sqrt(s / (double)n);
}

/* FLAC STREAMINFO total_samples (36 bits at byte 21.4 of a file that starts with fLaC). */
static void flac_set_total(uint8_t *f, uint64_t total) {
    f[21] = (uint8_t)((f[21] & 0xF0) | ((total >> 32) & 0x0F));
    f[22] = (uint8_t)(total >> 24);
    f[23] = (uint8_t)(total >> 16);
    f[24] = (uint8_t)(total >> 8);
    f[25] = (uint8_t)total;
}

/* Offset of the first `tag` chunk in a RIFF file. */
static size_t riff_find(const uint8_t *f, size_t size, const char *tag) {
    for (size_t pos = 12; pos + 8 <= size;) {
        uint32_t len = (uint32_t)f[pos + 4] | (uint32_t)f[pos + 5] << 8 |
                       (uint32_t)f[pos + 6] << 16 | (uint32_t)f[pos + 7] << 24;
        if (!memcmp(f + pos, tag, 4)) return pos;
        pos += 8 + len + (len & 1);
    }
    fail_msg("no %s chunk", tag);
    return 0;
}

/* Recomputes the CRC of the Ogg page at f (bitwise, RFC 3533: polynomial 0x04C11DB7, MSB
 * first, initial 0, CRC field zeroed). */
static void ogg_fix_crc(uint8_t *f) {
    size_t len = 27 + f[26];
    for (int i = 0; i < f[26]; i++)
        len += f[27 + i];
    memset(f + 22, 0, 4);
    uint32_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint32_t)f[i] << 24;
        for (int k = 0; k < 8; k++)
            crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
    }
    f[22] = (uint8_t)crc, f[23] = (uint8_t)(crc >> 8), f[24] = (uint8_t)(crc >> 16);
    f[25] = (uint8_t)(crc >> 24);
}

static void put_u32le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

/* ---------------------------------------------------------------------------------------- */
/* Parameters and small helpers */

static void test_default_params(void **state) {
    (void)state;
    dumu_decode_params p = dumu_decode_default_params();
    assert_true(p.max_duration_s == 1800.0);
    assert_int_equal(p.sample_rate, 0);
    assert_int_equal(p.n_channels, 0);
}

static void test_resampled_length_rule(void **state) {
    (void)state;
    assert_int_equal(dumu_audio_resampled_length(1000, 44100, 22050), 500);
    assert_int_equal(dumu_audio_resampled_length(1001, 44100, 22050), 501); /* 500.5: up */
    assert_int_equal(dumu_audio_resampled_length(12345, 48000, 22050), 5671);
    assert_int_equal(dumu_audio_resampled_length(777, 8000, 22050), 2142);
    assert_int_equal(dumu_audio_resampled_length(0, 8000, 22050), 0);
    assert_int_equal(dumu_audio_resampled_length(1, 44100, 48000), 1);
    /* Long inputs stay exact (a double would round 2^53 + 1). */
    int64_t n = ((int64_t)1 << 53) + 1;
    assert_true(dumu_audio_resampled_length(n, 1000, 1000) == n);
    assert_true(dumu_audio_resampled_length(n, 2000, 1000) == ((int64_t)1 << 52) + 1);
    assert_int_equal(dumu_audio_resampled_length(INT64_MAX, 1000, 768000), -1);
    assert_int_equal(dumu_audio_resampled_length(-1, 1000, 1000), -1);
}

static void test_deinit_null_and_zeroed(void **state) {
    (void)state;
    dumu_audio_deinit(NULL);
    dumu_audio a = {0};
    dumu_audio_deinit(&a);
    assert_true(is_zeroed(&a));
    a.samples = dumu_malloc(16);
    a.n_frames = 2, a.n_channels = 2, a.sample_rate = 8000;
    dumu_audio_deinit(&a);
    assert_true(is_zeroed(&a));
}

/* ---------------------------------------------------------------------------------------- */
/* Round trips */

struct layout {
    int rate, ch;
};
static const struct layout k_layouts[] = {{8000, 1}, {44100, 2}, {48000, 6}, {96000, 2}};
#define N_LAYOUTS (sizeof k_layouts / sizeof k_layouts[0])

/* Writes a signal with `write` (our writer when fmt >= 0, else libsndfile with sf_format),
 * decodes it back and compares within `atol`. */
static void round_trip(const char *name, int fmt, int sf_format, double atol) {
    for (size_t l = 0; l < N_LAYOUTS; l++) {
        const int rate = k_layouts[l].rate, ch = k_layouts[l].ch;
        const int64_t n = 10007; /* prime, > 2 read chunks */
        float *x = make_signal(n, ch, rate, k_freqs, 0.6, 0.3);
        char file[128];
        snprintf(file, sizeof file, "rt_%s_%d_%d", name, rate, ch);
        const char *path = test_scratch_path(file);
        dumu_error err = {0};
        if (fmt >= 0) {
            dumu_audio a = {x, n, ch, rate};
            check_status(dumu_audio_write_file(path, &a, (dumu_audio_format)fmt, &err), DUMU_OK,
                         &err, NULL);
        } else {
            sf_write_path(path, sf_format, rate, ch, x, n);
        }
        dumu_audio out;
        check_status(decode_path(path, NULL, &out, &err), DUMU_OK, &err, &out);
        assert_int_equal(out.n_frames, n);
        assert_int_equal(out.n_channels, ch);
        assert_int_equal(out.sample_rate, rate);
        char what[160];
        snprintf(what, sizeof what, "%s %d Hz x%d", name, rate, ch);
        double worst = assert_allclose_f32(out.samples, x, (size_t)(n * ch), atol, 0.0, what);
        assert_true(worst > 0.0 || atol == 0.0); /* really quantised (or exact for float) */
        dumu_audio_deinit(&out);
        free(x);
    }
}

static void test_round_trip_wav_pcm16(void **state) {
    (void)state;
    round_trip("wav16", DUMU_AUDIO_WAV_PCM16, 0, 1.5 / 32768.0);
}

static void test_round_trip_wav_pcm24(void **state) {
    (void)state;
    round_trip("wav24", DUMU_AUDIO_WAV_PCM24, 0, 1.5 / 8388608.0);
}

static void test_round_trip_wav_float(void **state) {
    (void)state;
    round_trip("wavf", DUMU_AUDIO_WAV_FLOAT, 0, 0.0);
}

static void test_round_trip_flac16(void **state) {
    (void)state;
    round_trip("flac16", DUMU_AUDIO_FLAC_16, 0, 1.5 / 32768.0);
}

static void test_round_trip_flac24(void **state) {
    (void)state;
    round_trip("flac24", DUMU_AUDIO_FLAC_24, 0, 1.5 / 8388608.0);
}

/* Formats our writer does not produce, written by libsndfile. */
static void test_round_trip_wav_8_32_rifx(void **state) {
    (void)state;
    round_trip("wavu8", -1, SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 1.5 / 128.0);
    round_trip("wav32", -1, SF_FORMAT_WAV | SF_FORMAT_PCM_32, 1e-7);
    round_trip("rifx16", -1, SF_FORMAT_WAV | SF_FORMAT_PCM_16 | SF_ENDIAN_BIG, 1.5 / 32768.0);
    round_trip("wavex24", -1, SF_FORMAT_WAVEX | SF_FORMAT_PCM_24, 1.5 / 8388608.0);
    round_trip("rf64f", -1, SF_FORMAT_RF64 | SF_FORMAT_FLOAT, 0.0);
}

/* Lossy codecs, written by our writer when fmt >= 0 (else libsndfile with sf_format): same
 * length, correlation and level per channel. The level of a 5.1 LFE channel (index 5) is left
 * out: codecs code it coarsely (libvorbis: +22% RMS on an 80 Hz tone). */
static void lossy_round_trip(const char *file, int fmt, int sf_format, int rate, int ch,
                             double min_corr) {
    const int64_t n = rate; /* 1 s */
    float *x = make_signal(n, ch, rate, k_freqs, 0.4, 0.0);
    const char *path = test_scratch_path(file);
    if (fmt >= 0) {
        dumu_audio a = {x, n, ch, rate};
        dumu_error werr = {0};
        check_status(dumu_audio_write_file(path, &a, (dumu_audio_format)fmt, &werr), DUMU_OK, &werr,
                     NULL);
    } else {
        sf_write_path(path, sf_format, rate, ch, x, n);
    }
    dumu_audio out;
    dumu_error err;
    check_status(decode_path(path, NULL, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_frames, n);
    assert_int_equal(out.n_channels, ch);
    assert_int_equal(out.sample_rate, rate);
    for (int c = 0; c < ch; c++) {
        double ratio, r = correlation(out.samples, x, ch, c, n / 10, n - n / 10, &ratio);
        bool lfe = ch == 6 && c == 5;
        if (r < min_corr || (!lfe && fabs(ratio - 1.0) > 0.1))
            fail_msg("%s channel %d: correlation %.4f, RMS ratio %.3f", file, c, r, ratio);
    }
    dumu_audio_deinit(&out);
    free(x);
}

static void test_round_trip_ogg_vorbis(void **state) {
    (void)state;
    lossy_round_trip("v.ogg", -1, SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, 2, 0.99);
    /* 5 channels, not 6: libvorbisenc 1.3.7 leaks in its 5.1 setup (seen by LSan). */
    lossy_round_trip("v5.ogg", -1, SF_FORMAT_OGG | SF_FORMAT_VORBIS, 48000, 5, 0.99);
    lossy_round_trip("v8k.ogg", -1, SF_FORMAT_OGG | SF_FORMAT_VORBIS, 8000, 1, 0.99);
}

static void test_round_trip_ogg_opus(void **state) {
    (void)state;
    lossy_round_trip("o.opus", -1, SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 2, 0.99);
    lossy_round_trip("o6.opus", -1, SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 6, 0.99);
}

static void test_round_trip_mp3(void **state) {
    (void)state;
    lossy_round_trip("m.mp3", -1, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100, 2, 0.99);
    lossy_round_trip("m1.mp3", -1, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 48000, 1, 0.99);
    lossy_round_trip("m8k.mp3", -1, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 8000, 1, 0.95);
    /* our writer's preview setting (VBR) */
    lossy_round_trip("ours.mp3", DUMU_AUDIO_MP3, 0, 44100, 2, 0.99);
    lossy_round_trip("ours1.mp3", DUMU_AUDIO_MP3, 0, 48000, 1, 0.99);
    float x[64] = {0};
    dumu_audio a = {x, 32, 2, 96000};
    dumu_error err = {0};
    check_status(dumu_audio_write_file(test_scratch_path("hi.mp3"), &a, DUMU_AUDIO_MP3, &err),
                 DUMU_E_UNSUPPORTED, &err, NULL);
}

/* The writer's headers: plain tags 1 / 3 for 1-2 channels, no PEAK chunk, EXTENSIBLE above. */
static void test_written_headers(void **state) {
    (void)state;

    const struct {
        int fmt, ch;
        unsigned tag;
        unsigned bits;
    } cases[] = {
        {DUMU_AUDIO_WAV_PCM16, 1, 1, 16},      {DUMU_AUDIO_WAV_PCM16, 2, 1, 16},
        {DUMU_AUDIO_WAV_PCM24, 2, 1, 24},      {DUMU_AUDIO_WAV_FLOAT, 1, 3, 32},
        {DUMU_AUDIO_WAV_FLOAT, 2, 3, 32},      {DUMU_AUDIO_WAV_PCM16, 6, 0xFFFE, 16},
        {DUMU_AUDIO_WAV_FLOAT, 3, 0xFFFE, 32},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int ch = cases[i].ch;
        float *x = make_signal(100, ch, 44100, k_freqs, 0.5, 0.0);
        dumu_audio a = {x, 100, ch, 44100};
        const char *path = test_scratch_path("hdr.wav");
        dumu_error err;
        check_status(dumu_audio_write_file(path, &a, (dumu_audio_format)cases[i].fmt, &err),
                     DUMU_OK, &err, NULL);
        size_t size;
        uint8_t *f = test_read_file(path, &size);
        assert_memory_equal(f, "RIFF", 4);
        assert_memory_equal(f + 8, "WAVEfmt ", 8);
        assert_int_equal(f[20] | f[21] << 8, cases[i].tag);
        assert_int_equal(f[22] | f[23] << 8, ch);
        assert_int_equal(f[24] | f[25] << 8 | f[26] << 16, 44100);
        assert_int_equal(f[34] | f[35] << 8, cases[i].bits);
        for (size_t k = 0; k + 4 <= size && k < 200; k++)
            assert_memory_not_equal(f + k, "PEAK", 4);
        size_t data = riff_find(f, size, "data");
        assert_int_equal(f[data + 4] | f[data + 5] << 8 | f[data + 6] << 16,
                         100 * ch * (int)cases[i].bits / 8);
        free(f);
        free(x);
    }
    float *x = make_signal(100, 2, 44100, k_freqs, 0.5, 0.0);
    dumu_audio a = {x, 100, 2, 44100};
    dumu_error err;
    check_status(dumu_audio_write_file(test_scratch_path("hdr.flac"), &a, DUMU_AUDIO_FLAC_24, &err),
                 DUMU_OK, &err, NULL);
    size_t size;
    uint8_t *f = test_read_file(test_scratch_path("hdr.flac"), &size);
    assert_memory_equal(f, "fLaC", 4);
    assert_int_equal(((f[20] & 1) << 4 | f[21] >> 4) + 1, 24); /* STREAMINFO bits per sample */
    free(f);
    free(x);
}

/* Integer formats clip (and write NaN as 0); float keeps everything. */
static void test_write_clipping(void **state) {
    (void)state;
    float x[6] = {1.5f, -3.0f, NAN, 0.25f, 1.0f, -1.0f};
    dumu_audio a = {x, 6, 1, 16000};
    dumu_error err;
    dumu_audio out;
    const int fmts[] = {DUMU_AUDIO_WAV_PCM16, DUMU_AUDIO_WAV_PCM24, DUMU_AUDIO_FLAC_16,
                        DUMU_AUDIO_FLAC_24};
    for (size_t i = 0; i < 4; i++) {
        check_status(
            dumu_audio_write_file(test_scratch_path("clip"), &a, (dumu_audio_format)fmts[i], &err),
            DUMU_OK, &err, NULL);
        check_status(decode_path(test_scratch_path("clip"), NULL, &out, &err), DUMU_OK, &err, &out);
        const float want[6] = {1.0f, -1.0f, 0.0f, 0.25f, 1.0f, -1.0f};
        assert_allclose_f32(out.samples, want, 6, 1.5 / 32768.0, 0.0, "clipped");
        dumu_audio_deinit(&out);
    }
    float y[4] = {1.5f, -3.0f, 0.25f, 1e-30f};
    dumu_audio b = {y, 4, 1, 16000};
    check_status(dumu_audio_write_file(test_scratch_path("clip"), &b, DUMU_AUDIO_WAV_FLOAT, &err),
                 DUMU_OK, &err, NULL);
    check_status(decode_path(test_scratch_path("clip"), NULL, &out, &err), DUMU_OK, &err, &out);
    assert_memory_equal(out.samples, y, sizeof y);
    dumu_audio_deinit(&out);
}

static void test_silence_decodes_as_zeros(void **state) {
    (void)state;
    const int64_t n = 30000;
    float *z = calloc((size_t)n * 2, sizeof *z);
    assert_non_null(z);
    dumu_audio a = {z, n, 2, 44100};
    const int fmts[] = {DUMU_AUDIO_WAV_PCM16, DUMU_AUDIO_FLAC_16, DUMU_AUDIO_WAV_FLOAT};
    for (size_t i = 0; i < 3; i++) {
        dumu_error err;
        check_status(dumu_audio_write_file(test_scratch_path("silence"), &a,
                                           (dumu_audio_format)fmts[i], &err),
                     DUMU_OK, &err, NULL);
        dumu_audio out;
        dumu_decode_params p = dumu_decode_default_params();
        p.sample_rate = 22050;
        p.n_channels = 1;
        check_status(decode_path(test_scratch_path("silence"), i == 2 ? &p : NULL, &out, &err),
                     DUMU_OK, &err, &out);
        assert_int_equal(out.n_frames, i == 2 ? n / 2 : n);
        for (int64_t k = 0; k < out.n_frames * out.n_channels; k++)
            assert_true(out.samples[k] == 0.0f);
        dumu_audio_deinit(&out);
    }
    free(z);
}

/* NaN and Inf in a float WAV become 0; large finite values stay. */
static void test_nonfinite_samples(void **state) {
    (void)state;
    float *x = make_signal(2000, 2, 8000, k_freqs, 0.5, 0.0);
    x[10] = NAN, x[11] = INFINITY, x[500] = -INFINITY, x[501] = 3.5f, x[777] = -2.0f;
    float *want = malloc(4000 * sizeof *want);
    assert_non_null(want);
    memcpy(want, x, 4000 * sizeof *x);
    want[10] = want[11] = want[500] = 0.0f;
    sf_write_path(test_scratch_path("nan.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 2, x, 2000);
    dumu_audio out;
    dumu_error err;
    check_status(decode_path(test_scratch_path("nan.wav"), NULL, &out, &err), DUMU_OK, &err, &out);
    assert_allclose_f32(out.samples, want, 4000, 0.0, 0.0, "non-finite -> 0");
    dumu_audio_deinit(&out);
    /* Resampled and mixed down: still all finite. */
    dumu_decode_params p = dumu_decode_default_params();
    p.sample_rate = 44100;
    p.n_channels = 1;
    check_status(decode_path(test_scratch_path("nan.wav"), &p, &out, &err), DUMU_OK, &err, &out);
    for (int64_t k = 0; k < out.n_frames; k++)
        assert_true(isfinite(out.samples[k]));
    dumu_audio_deinit(&out);
    free(x);
    free(want);
}

/* ---------------------------------------------------------------------------------------- */
/* Channels and rates */

static void test_to_mono_is_mean(void **state) {
    (void)state;
    for (int ch = 1; ch <= 7; ch += 2) {
        const int64_t n = 1009;
        float *x = malloc((size_t)(n * ch) * sizeof *x);
        float *want = malloc((size_t)n * sizeof *want);
        assert_non_null(x);
        assert_non_null(want);
        uint64_t seed = (uint64_t)ch;
        for (int64_t i = 0; i < n * ch; i++)
            x[i] = (float)noise(&seed);
        for (int64_t i = 0; i < n; i++) {
            double s = 0;
            for (int c = 0; c < ch; c++)
                s += (double)x[i * ch + c];
            want[i] = (float)(s / ch);
        }
        dumu_audio in = {x, n, ch, 12345}, out;
        dumu_error err;
        memset(&out, 0xA5, sizeof out);
        check_status(dumu_audio_to_mono(&in, &out, &err), DUMU_OK, &err, &out);
        assert_int_equal(out.n_frames, n);
        assert_int_equal(out.n_channels, 1);
        assert_int_equal(out.sample_rate, 12345);
        assert_allclose_f32(out.samples, want, (size_t)n, 1e-7, 0.0, "mono = mean");
        dumu_audio_deinit(&out);
        free(x);
        free(want);
    }
    dumu_audio empty = {NULL, 0, 2, 44100}, out;
    dumu_error err;
    check_status(dumu_audio_to_mono(&empty, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_frames, 0);
    dumu_audio_deinit(&out);
}

/* Decode-time channel mapping: mean, first two, mono duplicated, Vorbis front right. */
static void test_decode_channel_mapping(void **state) {
    (void)state;
    const int64_t n = 5000;
    float *x = make_signal(n, 6, 48000, k_freqs, 0.4, 0.2);
    sf_write_path(test_scratch_path("six.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 6, x, n);
    dumu_decode_params p = dumu_decode_default_params();
    dumu_audio out;
    dumu_error err;

    p.n_channels = 1;
    check_status(decode_path(test_scratch_path("six.wav"), &p, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_channels, 1);
    float *mean = malloc((size_t)n * sizeof *mean);
    assert_non_null(mean);
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int c = 0; c < 6; c++)
            s += (double)x[i * 6 + c];
        mean[i] = (float)(s / 6);
    }
    assert_allclose_f32(out.samples, mean, (size_t)n, 1e-7, 0.0, "6 -> 1 mean");
    dumu_audio_deinit(&out);

    p.n_channels = 2;
    check_status(decode_path(test_scratch_path("six.wav"), &p, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_channels, 2);
    for (int64_t i = 0; i < n; i++) {
        assert_true(out.samples[2 * i] == x[6 * i]);
        assert_true(out.samples[2 * i + 1] == x[6 * i + 1]);
    }
    dumu_audio_deinit(&out);

    sf_write_path(test_scratch_path("mono.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 1, x, n);
    check_status(decode_path(test_scratch_path("mono.wav"), &p, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_channels, 2);
    for (int64_t i = 0; i < n; i++) {
        assert_true(out.samples[2 * i] == x[i]);
        assert_true(out.samples[2 * i + 1] == x[i]);
    }
    dumu_audio_deinit(&out);
    p.n_channels = 1; /* mono stays mono */
    check_status(decode_path(test_scratch_path("mono.wav"), &p, &out, &err), DUMU_OK, &err, &out);
    assert_allclose_f32(out.samples, x, (size_t)n, 0.0, 0.0, "1 -> 1");
    dumu_audio_deinit(&out);
    free(x);
    free(mean);

    /* Vorbis order for 5 channels is FL, C, FR, RL, RR (6: then LFE; Opus uses the same):
     * stereo takes stored channels 0 and 2. (No 6-channel Vorbis: libvorbisenc 1.3.7 leaks
     * in its 5.1 setup.) */
    const int64_t m = 48000;

    const struct {
        const char *file;
        int format, ch;
    } ogg[] = {{"five.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 5},
               {"six.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 6},
               {"three.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 3}};

    for (size_t i = 0; i < sizeof ogg / sizeof ogg[0]; i++) {
        float *y = make_signal(m, ogg[i].ch, 48000, k_freqs, 0.4, 0.0);
        sf_write_path(test_scratch_path(ogg[i].file), ogg[i].format, 48000, ogg[i].ch, y, m);
        p.n_channels = 2;
        check_status(decode_path(test_scratch_path(ogg[i].file), &p, &out, &err), DUMU_OK, &err,
                     &out);
        double amp, ph, res;
        fit_sine(out.samples, 2, 0, m / 4, 3 * m / 4, k_freqs[0], 48000, &amp, &ph, &res);
        assert_true(fabs(amp - 0.4) < 0.02);
        fit_sine(out.samples, 2, 1, m / 4, 3 * m / 4, k_freqs[2], 48000, &amp, &ph, &res);
        assert_true(fabs(amp - 0.4) < 0.02); /* front right = stored channel 2 */
        fit_sine(out.samples, 2, 1, m / 4, 3 * m / 4, k_freqs[1], 48000, &amp, &ph, &res);
        assert_true(amp < 0.01); /* not the centre */
        dumu_audio_deinit(&out);
        free(y);
    }
}

/* A resampled sine keeps frequency, amplitude and timing; the length follows the rule. */
static void test_resample_sine(void **state) {
    (void)state;
    const int rates[][2] = {{44100, 22050}, {48000, 22050}, {8000, 22050},
                            {22050, 44100}, {96000, 44100}, {44100, 48000}};
    const double freqs[2] = {440.0, 1000.0};
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        const int in_rate = rates[r][0], out_rate = rates[r][1];
        const int64_t n = 2 * (int64_t)in_rate + 7;
        float *x = make_signal(n, 2, in_rate, freqs, 0.5, 0.0);
        for (int64_t i = 0; i < n; i++)
            x[2 * i + 1] *= 0.5f; /* channel 1 at 0.25 */
        dumu_audio in = {x, n, 2, in_rate}, out;
        dumu_error err;
        memset(&out, 0xA5, sizeof out);
        check_status(dumu_audio_resample(&in, out_rate, &out, &err), DUMU_OK, &err, &out);
        int64_t want = (int64_t)floor((double)n * out_rate / in_rate + 0.5);
        assert_int_equal(out.n_frames, want);
        assert_int_equal(out.n_channels, 2);
        assert_int_equal(out.sample_rate, out_rate);
        const int64_t a = out.n_frames / 4, b = 3 * out.n_frames / 4;
        for (int c = 0; c < 2; c++) {
            double amp, ph, res, target = c ? 0.25 : 0.5;
            fit_sine(out.samples, 2, c, a, b, freqs[c], out_rate, &amp, &ph, &res);
            double zc = zero_crossing_freq(out.samples, 2, c, a, b, out_rate);
            if (fabs(amp / target - 1.0) > 1e-3 || fabs(ph) > 1e-3 || res > 1e-4 ||
                fabs(zc / freqs[c] - 1.0) > 5e-3)
                fail_msg("%d -> %d Hz channel %d: amplitude %.6f (want %.2f), phase %.2e rad, "
                         "residual %.2e, zero-crossing frequency %.2f Hz",
                         in_rate, out_rate, c, amp, target, ph, res, zc);
        }
        dumu_audio_deinit(&out);
        free(x);
    }
}

static void test_resample_edge_cases(void **state) {
    (void)state;
    float x[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    dumu_audio in = {x, 3, 2, 16000}, out;
    dumu_error err;
    check_status(dumu_audio_resample(&in, 16000, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_frames, 3);
    assert_memory_equal(out.samples, x, sizeof x); /* same rate: a copy */
    assert_true(out.samples != x);
    dumu_audio_deinit(&out);

    dumu_audio empty = {NULL, 0, 1, 44100};
    check_status(dumu_audio_resample(&empty, 22050, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_frames, 0);
    assert_int_equal(out.sample_rate, 22050);
    dumu_audio_deinit(&out);

    /* Invalid: aliasing, NULLs, rates, channel counts. Aliasing leaves `in` untouched. */
    assert_int_equal(dumu_audio_resample(&in, 22050, (dumu_audio *)&in, &err), DUMU_E_INVALID_ARG);
    assert_true(in.samples == x && in.n_frames == 3);
    assert_int_equal(dumu_audio_to_mono(&in, (dumu_audio *)&in, &err), DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_audio_resample(&in, 22050, NULL, &err), DUMU_E_INVALID_ARG);
    memset(&out, 0xA5, sizeof out);
    check_status(dumu_audio_resample(NULL, 22050, &out, &err), DUMU_E_INVALID_ARG, &err, &out);
    memset(&out, 0xA5, sizeof out);
    check_status(dumu_audio_resample(&in, 999, &out, &err), DUMU_E_INVALID_ARG, &err, &out);
    memset(&out, 0xA5, sizeof out);
    check_status(dumu_audio_resample(&in, 768001, &out, &err), DUMU_E_INVALID_ARG, &err, &out);
    dumu_audio bad = {NULL, 5, 1, 44100};
    memset(&out, 0xA5, sizeof out);
    check_status(dumu_audio_resample(&bad, 22050, &out, &err), DUMU_E_INVALID_ARG, &err, &out);
    memset(&out, 0xA5, sizeof out);
    check_status(dumu_audio_to_mono(&bad, &out, &err), DUMU_E_INVALID_ARG, &err, &out);
    dumu_audio bad_ch = {x, 3, 0, 44100};
    memset(&out, 0xA5, sizeof out);
    check_status(dumu_audio_to_mono(&bad_ch, &out, &err), DUMU_E_INVALID_ARG, &err, &out);
    dumu_audio huge = {x, INT64_MAX / 2, 2, 44100};
    memset(&out, 0xA5, sizeof out);
    check_status(dumu_audio_resample(&huge, 22050, &out, &err), DUMU_E_INVALID_ARG, &err, &out);
}

/* Decode with sample_rate and n_channels set: the pipeline's use. */
static void test_decode_with_resample(void **state) {
    (void)state;
    const double freqs[2] = {220.0, 330.0};
    const int64_t n = 44100 * 3 + 1;
    float *x = make_signal(n, 2, 44100, freqs, 0.5, 0.0);
    dumu_audio a = {x, n, 2, 44100};
    dumu_error err;
    check_status(dumu_audio_write_file(test_scratch_path("rs.flac"), &a, DUMU_AUDIO_FLAC_24, &err),
                 DUMU_OK, &err, NULL);
    dumu_decode_params p = dumu_decode_default_params();
    p.sample_rate = 22050;
    p.n_channels = 1;
    dumu_audio out;
    check_status(decode_path(test_scratch_path("rs.flac"), &p, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_frames, dumu_audio_resampled_length(n, 44100, 22050));
    assert_int_equal(out.n_channels, 1);
    assert_int_equal(out.sample_rate, 22050);
    for (int c = 0; c < 2; c++) { /* the mean of two sines holds each at half amplitude */
        double amp, ph, res;
        fit_sine(out.samples, 1, 0, out.n_frames / 4, 3 * out.n_frames / 4, freqs[c], 22050, &amp,
                 &ph, &res);
        assert_true(fabs(amp - 0.25) < 1e-3);
        assert_true(fabs(ph) < 1e-3);
    }
    dumu_audio_deinit(&out);
    free(x);
}

/* ---------------------------------------------------------------------------------------- */
/* Bad input */

static void test_not_audio(void **state) {
    (void)state;
    dumu_audio out;
    dumu_error err;
    uint8_t buf[4096];
    for (uint64_t seed = 1; seed <= 16; seed++) {
        uint64_t s = seed;
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (uint8_t)(noise(&s) * 127.0 + 128.0);
        check_status(decode_mem(buf, sizeof buf, NULL, &out, &err), DUMU_E_FORMAT, &err, &out);
        assert_non_null(strstr(err.message, "not an audio file (or unsupported container)"));
    }
    const char *text = "Just some text, clearly not audio.\n";
    write_bytes(test_scratch_path("text.wav"), text, strlen(text));
    check_status(decode_path(test_scratch_path("text.wav"), NULL, &out, &err), DUMU_E_FORMAT, &err,
                 &out);
    assert_non_null(strstr(err.message, test_scratch_path("text.wav")));

    /* Empty input is not an audio file: DUMU_E_FORMAT (EMPTY is for valid files). */
    write_bytes(test_scratch_path("empty.wav"), "", 0);
    check_status(decode_path(test_scratch_path("empty.wav"), NULL, &out, &err), DUMU_E_FORMAT, &err,
                 &out);
    check_status(decode_mem(NULL, 0, NULL, &out, &err), DUMU_E_FORMAT, &err, &out);
    check_status(decode_mem(buf, 0, NULL, &out, &err), DUMU_E_FORMAT, &err, &out);

    /* Magic alone, and a WAV header cut inside the fmt chunk. */
    check_status(decode_mem("RIFF\0\0\0\0WAVE", 12, NULL, &out, &err), DUMU_E_FORMAT, &err, &out);
    check_status(decode_mem("fLaC", 4, NULL, &out, &err), DUMU_E_FORMAT, &err, &out);
    check_status(decode_mem("OggS", 4, NULL, &out, &err), DUMU_E_FORMAT, &err, &out);
    check_status(decode_mem("ID3\3\0\0\0\0\0\0", 10, NULL, &out, &err), DUMU_E_FORMAT, &err, &out);
}

static void test_zero_frames_is_empty(void **state) {
    (void)state;
    dumu_audio out;
    dumu_error err;
    sf_write_path(test_scratch_path("zero.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, NULL,
                  0);
    check_status(decode_path(test_scratch_path("zero.wav"), NULL, &out, &err), DUMU_E_EMPTY, &err,
                 &out);
    dumu_audio none = {NULL, 0, 1, 22050};
    check_status(
        dumu_audio_write_file(test_scratch_path("zero.flac"), &none, DUMU_AUDIO_FLAC_16, &err),
        DUMU_OK, &err, NULL);
    check_status(decode_path(test_scratch_path("zero.flac"), NULL, &out, &err), DUMU_E_EMPTY, &err,
                 &out);
    check_status(
        dumu_audio_write_file(test_scratch_path("zero2.wav"), &none, DUMU_AUDIO_WAV_FLOAT, &err),
        DUMU_OK, &err, NULL);
    check_status(decode_path(test_scratch_path("zero2.wav"), NULL, &out, &err), DUMU_E_EMPTY, &err,
                 &out);
    /* One frame at 96 kHz resampled to 16 kHz rounds to no frame. */
    float one[2] = {0.5f, -0.5f};
    sf_write_path(test_scratch_path("one.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, 96000, 2, one, 1);
    dumu_decode_params p = dumu_decode_default_params();
    check_status(decode_path(test_scratch_path("one.wav"), &p, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_frames, 1);
    dumu_audio_deinit(&out);
    p.sample_rate = 16000;
    check_status(decode_path(test_scratch_path("one.wav"), &p, &out, &err), DUMU_E_EMPTY, &err,
                 &out);
}

static void test_unsupported(void **state) {
    (void)state;
    dumu_audio out;
    dumu_error err;
    float *x = make_signal(1000, 2, 44100, k_freqs, 0.5, 0.0);

    sf_write_path(test_scratch_path("a.aiff"), SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 44100, 2, x,
                  1000);
    check_status(decode_path(test_scratch_path("a.aiff"), NULL, &out, &err), DUMU_E_UNSUPPORTED,
                 &err, &out);
    assert_non_null(strstr(err.message, "AIFF"));
    sf_write_path(test_scratch_path("a.au"), SF_FORMAT_AU | SF_FORMAT_PCM_16, 44100, 2, x, 1000);
    check_status(decode_path(test_scratch_path("a.au"), NULL, &out, &err), DUMU_E_UNSUPPORTED, &err,
                 &out);

    /* A WAV whose codec libsndfile lacks (0x0161, WMA v2). */
    sf_write_path(test_scratch_path("wma.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, x,
                  1000);
    size_t size;
    uint8_t *f = test_read_file(test_scratch_path("wma.wav"), &size);
    f[20] = 0x61, f[21] = 0x01;
    check_status(decode_mem(f, size, NULL, &out, &err), DUMU_E_UNSUPPORTED, &err, &out);
    assert_non_null(strstr(err.message, "0x0161"));
    free(f);

    /* An Ogg stream of another codec: the Vorbis identification packet relabelled Speex. */
    sf_write_path(test_scratch_path("s.ogg"), SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, 2, x, 1000);
    f = test_read_file(test_scratch_path("s.ogg"), &size);
    size_t body = 27 + f[26];
    assert_memory_equal(f + body, "\x01vorbis", 7);
    memcpy(f + body, "Speex   ", 8);
    ogg_fix_crc(f);
    check_status(decode_mem(f, size, NULL, &out, &err), DUMU_E_UNSUPPORTED, &err, &out);
    assert_non_null(strstr(err.message, "Speex"));
    free(f);

    /* Absurd rates and channel counts. */
    sf_write_path(test_scratch_path("r500.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 500, 1, x, 1000);
    check_status(decode_path(test_scratch_path("r500.wav"), NULL, &out, &err), DUMU_E_UNSUPPORTED,
                 &err, &out);
    sf_write_path(test_scratch_path("r800k.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 800000, 1, x,
                  1000);
    check_status(decode_path(test_scratch_path("r800k.wav"), NULL, &out, &err), DUMU_E_UNSUPPORTED,
                 &err, &out);
    float *wide = calloc(65 * 10, sizeof *wide);
    assert_non_null(wide);
    sf_write_path(test_scratch_path("c65.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 65, wide,
                  10);
    check_status(decode_path(test_scratch_path("c65.wav"), NULL, &out, &err), DUMU_E_UNSUPPORTED,
                 &err, &out);
    assert_non_null(strstr(err.message, "65 channels"));
    sf_write_path(test_scratch_path("c64.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 64, wide,
                  10);
    check_status(decode_path(test_scratch_path("c64.wav"), NULL, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_channels, 64);
    dumu_audio_deinit(&out);
    free(wide);
    free(x);
}

static void test_invalid_args(void **state) {
    (void)state;
    dumu_audio out;
    dumu_error err;
    float *x = make_signal(100, 1, 8000, k_freqs, 0.5, 0.0);
    sf_write_path(test_scratch_path("ok.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, x, 100);
    assert_int_equal(dumu_audio_decode_file(test_scratch_path("ok.wav"), NULL, NULL, &err),
                     DUMU_E_INVALID_ARG);
    assert_int_equal(dumu_audio_decode_memory(x, 4, NULL, NULL, NULL), DUMU_E_INVALID_ARG);
    check_status(decode_path(NULL, NULL, &out, &err), DUMU_E_INVALID_ARG, &err, &out);
    check_status(decode_mem(NULL, 10, NULL, &out, &err), DUMU_E_INVALID_ARG, &err, &out);
    dumu_decode_params bad[5];
    for (int i = 0; i < 5; i++)
        bad[i] = dumu_decode_default_params();
    bad[0].max_duration_s = 0.0;
    bad[1].max_duration_s = (double)NAN;
    bad[2].sample_rate = 999;
    bad[3].n_channels = 3;
    bad[4].n_channels = -1;
    for (int i = 0; i < 5; i++)
        check_status(decode_path(test_scratch_path("ok.wav"), &bad[i], &out, &err),
                     DUMU_E_INVALID_ARG, &err, &out);
    /* The error pointer is optional. */
    memset(&out, 0xA5, sizeof out);
    assert_int_equal(dumu_audio_decode_file(test_scratch_path("nope.wav"), NULL, &out, NULL),
                     DUMU_E_IO);
    assert_true(is_zeroed(&out));
    free(x);
}

/* ---------------------------------------------------------------------------------------- */
/* Truncation and hostile headers */

static void test_truncated_wav(void **state) {
    (void)state;
    const int64_t n = 8000;
    float *x = make_signal(n, 2, 16000, k_freqs, 0.5, 0.0);
    sf_write_path(test_scratch_path("t.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 2, x, n);
    size_t size;
    uint8_t *f = test_read_file(test_scratch_path("t.wav"), &size);
    dumu_audio out;
    dumu_error err;
    check_status(decode_mem(f, size * 6 / 10, NULL, &out, &err), DUMU_E_TRUNCATED, &err, &out);
    assert_non_null(strstr(err.message, "truncated WAV"));
    /* Through the file path too, with the path in the message. */
    write_bytes(test_scratch_path("t_cut.wav"), f, size - 4);
    check_status(decode_path(test_scratch_path("t_cut.wav"), NULL, &out, &err), DUMU_E_TRUNCATED,
                 &err, &out);
    assert_non_null(strstr(err.message, test_scratch_path("t_cut.wav")));
    /* Less than one frame (4 bytes) missing: accepted, the partial frame dropped. */
    check_status(decode_mem(f, size - 2, NULL, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_frames, n - 1);
    dumu_audio_deinit(&out);
    /* The size streaming writers leave (0xFFFFFFFF): read to the end. */
    size_t data = riff_find(f, size, "data");
    put_u32le(f + data + 4, 0xFFFFFFFFu);
    put_u32le(f + 4, 0xFFFFFFFFu);
    check_status(decode_mem(f, size, NULL, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_frames, n);
    dumu_audio_deinit(&out);
    free(f);
    free(x);
}

static void test_truncated_flac_ogg_mp3(void **state) {
    (void)state;
    const int64_t n = 48000;
    float *x = make_signal(n, 2, 48000, k_freqs, 0.5, 0.05);
    dumu_audio out;
    dumu_error err;

    const struct {
        const char *file;
        int format;
    } cases[] = {
        {"t.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16},
        {"t.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS},
        {"t.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS},
        {"t.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sf_write_path(test_scratch_path(cases[i].file), cases[i].format, 48000, 2, x, n);
        size_t size;
        uint8_t *f = test_read_file(test_scratch_path(cases[i].file), &size);
        check_status(decode_mem(f, size, NULL, &out, &err), DUMU_OK, &err, &out);
        dumu_audio_deinit(&out);
        for (int pct = 30; pct <= 90; pct += 30) {
            check_status(decode_mem(f, size * (size_t)pct / 100, NULL, &out, &err),
                         DUMU_E_TRUNCATED, &err, &out);
            assert_non_null(strstr(err.message, "truncated"));
        }
        free(f);
    }
    free(x);
}

/* ID3v2 tags in front of MP3 (common) and FLAC (seen in the wild) are skipped. */
static void test_id3_prefixed(void **state) {
    (void)state;
    const int64_t n = 11025;
    float *x = make_signal(n, 2, 22050, k_freqs, 0.5, 0.0);
    static const uint8_t tag[40] = {'I', 'D', '3', 3,   0, 0, 0, 0, 0, 30, /* 30 bytes follow */
                                    'T', 'I', 'T', '2', 0, 0, 0, 5, 0, 0,  3, 'b', 'a', 's', 's'};
    const char *files[] = {"id3.mp3", "id3.flac"};
    const int formats[] = {SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III,
                           SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
    for (int i = 0; i < 2; i++) {
        sf_write_path(test_scratch_path(files[i]), formats[i], 22050, 2, x, n);
        size_t size;
        uint8_t *f = test_read_file(test_scratch_path(files[i]), &size);
        uint8_t *g = malloc(size + sizeof tag);
        assert_non_null(g);
        memcpy(g, tag, sizeof tag);
        memcpy(g + sizeof tag, f, size);
        dumu_audio_probe probe;
        dumu_audio_probe_bytes(g, size + sizeof tag, &probe);
        assert_int_equal(probe.container, i ? DUMU_CONTAINER_FLAC : DUMU_CONTAINER_MPEG);
        assert_true(i || probe.mpeg_length_tag);
        dumu_audio a, b;
        dumu_error err;
        check_status(decode_mem(f, size, NULL, &a, &err), DUMU_OK, &err, &a);
        check_status(decode_mem(g, size + sizeof tag, NULL, &b, &err), DUMU_OK, &err, &b);
        assert_int_equal(a.n_frames, n);
        assert_int_equal(b.n_frames, n);
        assert_memory_equal(a.samples, b.samples, (size_t)(n * 2) * sizeof(float));
        dumu_audio_deinit(&a);
        dumu_audio_deinit(&b);
        free(g);
        free(f);
    }
    free(x);
}

/* Junk after the last Ogg page is ignored (libsndfile alone loses the length then). */
static void test_ogg_trailing_junk(void **state) {
    (void)state;
    const int64_t n = 20000;
    float *x = make_signal(n, 1, 22050, k_freqs, 0.5, 0.0);
    sf_write_path(test_scratch_path("j.ogg"), SF_FORMAT_OGG | SF_FORMAT_VORBIS, 22050, 1, x, n);
    size_t size;
    uint8_t *f = test_read_file(test_scratch_path("j.ogg"), &size);
    uint8_t *g = malloc(size + 300);
    assert_non_null(g);
    memcpy(g, f, size);
    memset(g + size, 'J', 300);
    memcpy(g + size, "TAG", 3);
    dumu_audio out;
    dumu_error err;
    check_status(decode_mem(g, size + 300, NULL, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_frames, n);
    dumu_audio_deinit(&out);
    dumu_audio_probe probe;
    dumu_audio_probe_bytes(g, size + 300, &probe);
    assert_int_equal(probe.container, DUMU_CONTAINER_OGG);
    assert_int_equal(probe.usable, size);
    assert_false(probe.truncated);
    assert_string_equal(probe.name, "Ogg Vorbis");
    free(g);
    free(f);
    free(x);
}

/* Broken Vorbis headers are DUMU_E_FORMAT, decided before libsndfile (which leaks when it
 * fails on them; LSan watches this test under ASan). */
static void test_ogg_malformed_headers(void **state) {
    (void)state;
    float *x = make_signal(8000, 1, 8000, k_freqs, 0.5, 0.0);
    sf_write_path(test_scratch_path("mh.ogg"), SF_FORMAT_OGG | SF_FORMAT_VORBIS, 8000, 1, x, 8000);
    size_t size;
    uint8_t *f = test_read_file(test_scratch_path("mh.ogg"), &size);
    uint8_t *g = malloc(size);
    assert_non_null(g);
    const size_t page1 = 27 + f[26] + f[27]; /* the identification page holds one segment */
    assert_memory_equal(f + page1, "OggS", 4);
    dumu_audio out;
    dumu_error err;
    dumu_audio_probe probe;
    dumu_audio_probe_bytes(f, size, &probe);
    assert_true(probe.ogg_headers_ok);

    /* 1: a byte of the setup header flipped: its page fails the CRC, the headers are lost. */
    memcpy(g, f, size);
    g[page1 + 27 + g[page1 + 26] + 40] ^= 0x55;
    check_status(decode_mem(g, size, NULL, &out, &err), DUMU_E_FORMAT, &err, &out);
    assert_non_null(strstr(err.message, "Vorbis headers"));
    /* 2: blocksize 2^5 (< 64) in the identification header. */
    memcpy(g, f, size);
    g[27 + g[26] + 28] = 0x85;
    ogg_fix_crc(g);
    check_status(decode_mem(g, size, NULL, &out, &err), DUMU_E_FORMAT, &err, &out);
    /* 3: a gap in the page sequence numbers. */
    memcpy(g, f, size);
    g[page1 + 18] += 1;
    ogg_fix_crc(g + page1);
    check_status(decode_mem(g, size, NULL, &out, &err), DUMU_E_FORMAT, &err, &out);
    /* 4: the first page without its beginning-of-stream flag. */
    memcpy(g, f, size);
    g[5] &= (uint8_t)~0x02;
    ogg_fix_crc(g);
    check_status(decode_mem(g, size, NULL, &out, &err), DUMU_E_FORMAT, &err, &out);
    /* 5: cut inside the setup header: truncated. */
    check_status(decode_mem(f, page1 + 100, NULL, &out, &err), DUMU_E_TRUNCATED, &err, &out);
    /* 6: cut inside the first page: not recognisable. */
    check_status(decode_mem(f, 20, NULL, &out, &err), DUMU_E_FORMAT, &err, &out);
    /* And the original still decodes. */
    check_status(decode_mem(f, size, NULL, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_frames, 8000);
    dumu_audio_deinit(&out);
    free(g);
    free(f);
    free(x);
}

/* A FLAC without a length (total_samples 0, as written to a pipe) decodes as far as it goes. */
static void test_flac_without_length(void **state) {
    (void)state;
    const int64_t n = 3 * 16000;
    float *x = make_signal(n, 1, 16000, k_freqs, 0.5, 0.0);
    sf_write_path(test_scratch_path("nl.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, x, n);
    size_t size;
    uint8_t *f = test_read_file(test_scratch_path("nl.flac"), &size);
    flac_set_total(f, 0);
    dumu_audio out;
    dumu_error err;
    check_status(decode_mem(f, size, NULL, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_frames, n);
    assert_allclose_f32(out.samples, x, (size_t)n, 1.5 / 32768.0, 0.0, "FLAC, total 0");
    dumu_audio_deinit(&out);
    check_status(decode_mem(f, size / 2, NULL, &out, &err), DUMU_OK, &err, &out);
    assert_true(out.n_frames > 0 && out.n_frames < n);
    dumu_audio_deinit(&out);
    /* Its length is unknown up front, so the limit is checked while decoding. */
    dumu_decode_params p = dumu_decode_default_params();
    p.max_duration_s = 1.0;
    check_status(decode_mem(f, size, &p, &out, &err), DUMU_E_TOO_LONG, &err, &out);
    free(f);
    free(x);
}

/* Headers that promise far more than the bytes hold: a clean error, no big allocation. */
static void test_hostile_headers(void **state) {
    (void)state;
    float *x = make_signal(1000, 1, 44100, k_freqs, 0.5, 0.0);
    sf_write_path(test_scratch_path("h.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 1, x, 1000);
    size_t size;
    uint8_t *f = test_read_file(test_scratch_path("h.wav"), &size);
    size_t data = riff_find(f, size, "data");
    put_u32le(f + data + 4, 0xFFFFFFFEu); /* 2^31 - 1 frames of 16-bit mono */
    dumu_audio out;
    dumu_error err;
    dumu_alloc_fail_after(0);
    check_status(decode_mem(f, data + 108, NULL, &out, &err), DUMU_E_TRUNCATED, &err, &out);
    assert_int_equal(dumu_alloc_fail_after(0), 0); /* rejected before any allocation */
    free(f);

    sf_write_path(test_scratch_path("h.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 1, x,
                  1000);
    f = test_read_file(test_scratch_path("h.flac"), &size);
    flac_set_total(f, ((uint64_t)1 << 36) - 1); /* 2^36 frames: 18 days */
    dumu_alloc_fail_after(0);
    check_status(decode_mem(f, size, NULL, &out, &err), DUMU_E_TOO_LONG, &err, &out);
    assert_int_equal(dumu_alloc_fail_after(0), 0);
    flac_set_total(f, (uint64_t)44100 * 1700); /* under the limit, but the data is not there */
    check_status(decode_mem(f, size, NULL, &out, &err), DUMU_E_TRUNCATED, &err, &out);
    free(f);
    free(x);
}

static void test_too_long(void **state) {
    (void)state;
    const int64_t n = 3 * 8000;
    float *x = make_signal(n, 1, 8000, k_freqs, 0.5, 0.0);
    dumu_decode_params p = dumu_decode_default_params();
    dumu_audio out;
    dumu_error err;
    sf_write_path(test_scratch_path("long.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, x, n);
    sf_write_path(test_scratch_path("long.mp3"), SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 8000, 1,
                  x, n);
    sf_write_path(test_scratch_path("long.ogg"), SF_FORMAT_OGG | SF_FORMAT_VORBIS, 8000, 1, x, n);
    const char *files[] = {"long.wav", "long.mp3", "long.ogg"};
    for (int i = 0; i < 3; i++) {
        p.max_duration_s = 2.5;
        dumu_alloc_fail_after(0);
        check_status(decode_path(test_scratch_path(files[i]), &p, &out, &err), DUMU_E_TOO_LONG,
                     &err, &out);
        assert_int_equal(dumu_alloc_fail_after(0), 0); /* from the header, before allocating */
        p.max_duration_s = 3.0;                        /* exactly at the limit is fine */
        check_status(decode_path(test_scratch_path(files[i]), &p, &out, &err), DUMU_OK, &err, &out);
        assert_int_equal(out.n_frames, n);
        dumu_audio_deinit(&out);
    }
    /* An MP3 without a Xing/Info header: its length is an estimate, checked while decoding. */
    size_t size;
    uint8_t *f = test_read_file(test_scratch_path("long.mp3"), &size);
    dumu_audio_probe probe;
    dumu_audio_probe_bytes(f, size, &probe);
    assert_int_equal(probe.container, DUMU_CONTAINER_MPEG);
    assert_true(probe.mpeg_length_tag);
    for (size_t i = 0; i + 4 <= size && i < 200; i++)
        if (!memcmp(f + i, "Xing", 4) || !memcmp(f + i, "Info", 4)) memcpy(f + i, "Junk", 4);
    dumu_audio_probe_bytes(f, size, &probe);
    assert_false(probe.mpeg_length_tag);
    p.max_duration_s = 1.0;
    check_status(decode_mem(f, size, &p, &out, &err), DUMU_E_TOO_LONG, &err, &out);
    p.max_duration_s = 100.0;
    check_status(decode_mem(f, size, &p, &out, &err), DUMU_OK, &err, &out);
    assert_true(out.n_frames >= n);
    dumu_audio_deinit(&out);
    free(f);
    free(x);
}

/* ---------------------------------------------------------------------------------------- */
/* I/O */

static void test_io_errors(void **state) {
    (void)state;
    dumu_audio out;
    dumu_error err;
    const char *missing = "/nonexistent-dumu-dir/missing.flac";
    check_status(decode_path(missing, NULL, &out, &err), DUMU_E_IO, &err, &out);
    assert_non_null(strstr(err.message, missing));
    assert_non_null(strstr(err.message, strerror(ENOENT)));
    check_status(decode_path(test_scratch_dir(), NULL, &out, &err), DUMU_E_IO, &err, &out);
    assert_non_null(strstr(err.message, strerror(EISDIR)));

    float *x = make_signal(500, 2, 8000, k_freqs, 0.5, 0.0);
    dumu_audio a = {x, 500, 2, 8000};
    const char *nodir = "/nonexistent-dumu-dir/out.wav";
    check_status(dumu_audio_write_file(nodir, &a, DUMU_AUDIO_WAV_PCM16, &err), DUMU_E_IO, &err,
                 NULL);
    assert_non_null(strstr(err.message, nodir));
    assert_non_null(strstr(err.message, strerror(ENOENT)));
    check_status(dumu_audio_write_file(test_scratch_dir(), &a, DUMU_AUDIO_FLAC_16, &err), DUMU_E_IO,
                 &err, NULL);
    assert_non_null(strstr(err.message, strerror(EISDIR)));
    /* A full disk: the device stays (we only ever remove regular files we wrote). */
    struct stat st;
    if (stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
        check_status(dumu_audio_write_file("/dev/full", &a, DUMU_AUDIO_WAV_FLOAT, &err), DUMU_E_IO,
                     &err, NULL);
        assert_non_null(strstr(err.message, strerror(ENOSPC)));
        assert_int_equal(stat("/dev/full", &st), 0);
        assert_true(S_ISCHR(st.st_mode));
    }
    /* Not writable as FLAC (9 channels): nothing is left behind. */
    float *nine = calloc(9 * 10, sizeof *nine);
    assert_non_null(nine);
    dumu_audio b = {nine, 10, 9, 8000};
    check_status(
        dumu_audio_write_file(test_scratch_path("nine.flac"), &b, DUMU_AUDIO_FLAC_16, &err),
        DUMU_E_UNSUPPORTED, &err, NULL);
    assert_false(test_exists(test_scratch_path("nine.flac")));
    check_status(
        dumu_audio_write_file(test_scratch_path("nine.wav"), &b, DUMU_AUDIO_WAV_PCM16, &err),
        DUMU_OK, &err, NULL); /* WAV is fine */
    /* Invalid arguments. */
    check_status(dumu_audio_write_file(NULL, &a, DUMU_AUDIO_WAV_PCM16, &err), DUMU_E_INVALID_ARG,
                 &err, NULL);
    check_status(dumu_audio_write_file("", &a, DUMU_AUDIO_WAV_PCM16, &err), DUMU_E_INVALID_ARG,
                 &err, NULL);
    check_status(
        dumu_audio_write_file(test_scratch_path("x.wav"), NULL, DUMU_AUDIO_WAV_PCM16, &err),
        DUMU_E_INVALID_ARG, &err, NULL);
    check_status(dumu_audio_write_file(test_scratch_path("x.wav"), &a, (dumu_audio_format)99, &err),
                 DUMU_E_INVALID_ARG, &err, NULL);
    dumu_audio no_rate = {x, 500, 2, 0};
    check_status(
        dumu_audio_write_file(test_scratch_path("x.wav"), &no_rate, DUMU_AUDIO_WAV_PCM16, &err),
        DUMU_E_INVALID_ARG, &err, NULL);
    assert_false(test_exists(test_scratch_path("x.wav")));
    free(nine);
    free(x);
}

/* A pipe is read to its end (not mapped). */
static void test_decode_from_pipe(void **state) {
    (void)state;
    const int64_t n = 1500;
    float *x = make_signal(n, 1, 8000, k_freqs, 0.5, 0.0);
    dumu_audio a = {x, n, 1, 8000};
    dumu_error err;
    check_status(dumu_audio_write_file(test_scratch_path("p.wav"), &a, DUMU_AUDIO_WAV_PCM16, &err),
                 DUMU_OK, &err, NULL);
    size_t size;
    uint8_t *f = test_read_file(test_scratch_path("p.wav"), &size);
    assert_true(size < 16384); /* fits the pipe buffer */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], f, size), (ssize_t)size);
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fds[0]);
    dumu_audio out;
    check_status(decode_path(path, NULL, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_frames, n);
    assert_allclose_f32(out.samples, x, (size_t)n, 1.5 / 32768.0, 0.0, "from a pipe");
    dumu_audio_deinit(&out);
    close(fds[0]);
    free(f);
    free(x);
}

static void test_file_equals_memory(void **state) {
    (void)state;
    const int64_t n = 7777;
    float *x = make_signal(n, 2, 32000, k_freqs, 0.5, 0.1);
    sf_write_path(test_scratch_path("fm.mp3"), SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 32000, 2,
                  x, n);
    size_t size;
    uint8_t *f = test_read_file(test_scratch_path("fm.mp3"), &size);
    dumu_decode_params p = dumu_decode_default_params();
    p.sample_rate = 22050;
    dumu_audio a, b;
    dumu_error err;
    check_status(decode_mem(f, size, &p, &a, &err), DUMU_OK, &err, &a);
    check_status(decode_path(test_scratch_path("fm.mp3"), &p, &b, &err), DUMU_OK, &err, &b);
    assert_int_equal(a.n_frames, b.n_frames);
    assert_int_equal(a.n_frames, dumu_audio_resampled_length(n, 32000, 22050));
    assert_memory_equal(a.samples, b.samples, (size_t)(a.n_frames * 2) * sizeof(float));
    dumu_audio_deinit(&a);
    dumu_audio_deinit(&b);
    free(f);
    free(x);
}

/* ---------------------------------------------------------------------------------------- */
/* Allocation failures: fail the k-th allocation for k = 1, 2, ... until the call no longer
 * reaches k allocations. Each failing run must return DUMU_E_NOMEM with `out` zeroed (or
 * succeed, if the failed allocation was optional); ASan checks that nothing leaks. */

typedef dumu_status (*fault_fn)(void *ctx, dumu_audio *out, dumu_error *err);

static void sweep_alloc_failures(const char *what, fault_fn fn, void *ctx) {
    int64_t k;
    for (k = 1; k < 1000; k++) {
        dumu_audio out;
        dumu_error err = {0};
        memset(&out, 0xA5, sizeof out);
        dumu_alloc_fail_after(k);
        dumu_status st = fn(ctx, &out, &err);
        int64_t made = dumu_alloc_fail_after(0);
        if (made < k) {
            check_status(st, DUMU_OK, &err, &out);
            dumu_audio_deinit(&out);
            break;
        }
        if (st == DUMU_OK) {
            dumu_audio_deinit(&out);
            continue;
        }
        if (st != DUMU_E_NOMEM)
            fail_msg("%s, allocation %lld failing: %s", what, (long long)k, err.message);
        check_status(st, DUMU_E_NOMEM, &err, &out);
    }
    if (k < 2 || k >= 1000) fail_msg("%s: %lld allocations", what, (long long)k);
}

struct bytes {
    const uint8_t *data;
    size_t size;
    dumu_decode_params p;
    const char *path;
    dumu_audio in;
    int format;
};

static dumu_status fault_decode_mem(void *ctx, dumu_audio *out, dumu_error *err) {
    struct bytes *b = ctx;
    return dumu_audio_decode_memory(b->data, b->size, &b->p, out, err);
}

static dumu_status fault_decode_file(void *ctx, dumu_audio *out, dumu_error *err) {
    struct bytes *b = ctx;
    return dumu_audio_decode_file(b->path, &b->p, out, err);
}

static dumu_status fault_resample(void *ctx, dumu_audio *out, dumu_error *err) {
    struct bytes *b = ctx;
    return dumu_audio_resample(&b->in, 22050, out, err);
}

static dumu_status fault_mono(void *ctx, dumu_audio *out, dumu_error *err) {
    struct bytes *b = ctx;
    return dumu_audio_to_mono(&b->in, out, err);
}

static dumu_status fault_write(void *ctx, dumu_audio *out, dumu_error *err) {
    struct bytes *b = ctx;
    memset(out, 0, sizeof *out);
    unlink(b->path);
    dumu_status st = dumu_audio_write_file(b->path, &b->in, (dumu_audio_format)b->format, err);
    if (st) assert_false(test_exists(b->path)); /* nothing half-written is left */
    return st;
}

static void test_alloc_failures(void **state) {
    (void)state;
    const int64_t n = 20 * 8000;
    float *x = make_signal(n, 2, 8000, k_freqs, 0.5, 0.0);
    sf_write_path(test_scratch_path("fa.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 8000, 2, x, n);
    size_t size;
    uint8_t *f = test_read_file(test_scratch_path("fa.flac"), &size);
    struct bytes b = {f, size, dumu_decode_default_params(), NULL, {x, n, 2, 8000}, 0};
    b.p.n_channels = 1;
    b.p.sample_rate = 22050;
    sweep_alloc_failures("decode FLAC", fault_decode_mem, &b);
    free(f);

    /* 20 s of silence is a few hundred bytes of FLAC; without its length the output buffer
     * starts small, doubles twice and is trimmed at the end. */
    float *z = calloc((size_t)n * 2, sizeof *z);
    assert_non_null(z);
    sf_write_path(test_scratch_path("fz.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 8000, 2, z, n);
    f = test_read_file(test_scratch_path("fz.flac"), &size);
    flac_set_total(f, 0);
    b.data = f;
    b.size = size;
    b.p.sample_rate = 0;
    sweep_alloc_failures("decode FLAC without length", fault_decode_mem, &b);
    free(z);

    sf_write_path(test_scratch_path("fa.mp3"), SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 8000, 2,
                  x, 8000);
    b.path = test_scratch_path("fa.mp3");
    b.p.n_channels = 2;
    b.p.sample_rate = 16000;
    sweep_alloc_failures("decode MP3 file", fault_decode_file, &b);

    b.in.n_frames = 3000;
    sweep_alloc_failures("resample", fault_resample, &b);
    sweep_alloc_failures("mono", fault_mono, &b);
    b.path = test_scratch_path("fa_out.wav");
    b.format = DUMU_AUDIO_WAV_PCM24;
    sweep_alloc_failures("write WAV", fault_write, &b);
    b.path = test_scratch_path("fa_out.flac");
    b.format = DUMU_AUDIO_FLAC_16;
    sweep_alloc_failures("write FLAC", fault_write, &b);
    free(f);
    free(x);
}

/* ---------------------------------------------------------------------------------------- */
/* Real recordings */

static void test_real_testdata(void **state) {
    (void)state;
    dumu_audio out;
    dumu_error err;
    /* dm01: 44.1 kHz stereo 16-bit FLAC, duration_s 21.517234 in the manifest. */
    check_status(decode_path(test_path("DUMU_TESTDATA_DIR", "dm01_freedoom2_d_ddtbl2/mix.flac"),
                             NULL, &out, &err),
                 DUMU_OK, &err, &out);
    assert_int_equal(out.sample_rate, 44100);
    assert_int_equal(out.n_channels, 2);
    assert_true(llabs(out.n_frames - llround(21.517234 * 44100)) <= 1);
    double level = rms(out.samples, (size_t)(out.n_frames * 2));
    assert_true(level > 0.01 && level < 0.9);
    const int64_t n44 = out.n_frames;
    dumu_audio_deinit(&out);

    /* dr01: 30 s excerpt, decoded the way the pipeline does (22050 Hz mono). */
    dumu_decode_params p = dumu_decode_default_params();
    p.sample_rate = 22050;
    p.n_channels = 1;
    check_status(decode_path(test_path("DUMU_TESTDATA_DIR", "dr01_frozen_bubble_introzik/mix.flac"),
                             &p, &out, &err),
                 DUMU_OK, &err, &out);
    assert_int_equal(out.sample_rate, 22050);
    assert_int_equal(out.n_channels, 1);
    assert_true(llabs(out.n_frames - 30 * 22050) <= 1);
    level = rms(out.samples, (size_t)out.n_frames);
    assert_true(level > 0.01 && level < 0.9);
    dumu_audio_deinit(&out);

    /* dm01 again through memory with a resample: the length rule on real data. */
    size_t size;
    uint8_t *f =
        test_read_file(test_path("DUMU_TESTDATA_DIR", "dm01_freedoom2_d_ddtbl2/mix.flac"), &size);
    p.n_channels = 0;
    check_status(decode_mem(f, size, &p, &out, &err), DUMU_OK, &err, &out);
    assert_int_equal(out.n_frames, dumu_audio_resampled_length(n44, 44100, 22050));
    assert_int_equal(out.n_channels, 2);
    dumu_audio_deinit(&out);
    free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_params),
        cmocka_unit_test(test_resampled_length_rule),
        cmocka_unit_test(test_deinit_null_and_zeroed),
        cmocka_unit_test(test_round_trip_wav_pcm16),
        cmocka_unit_test(test_round_trip_wav_pcm24),
        cmocka_unit_test(test_round_trip_wav_float),
        cmocka_unit_test(test_round_trip_flac16),
        cmocka_unit_test(test_round_trip_flac24),
        cmocka_unit_test(test_round_trip_wav_8_32_rifx),
        cmocka_unit_test(test_round_trip_ogg_vorbis),
        cmocka_unit_test(test_round_trip_ogg_opus),
        cmocka_unit_test(test_round_trip_mp3),
        cmocka_unit_test(test_written_headers),
        cmocka_unit_test(test_write_clipping),
        cmocka_unit_test(test_silence_decodes_as_zeros),
        cmocka_unit_test(test_nonfinite_samples),
        cmocka_unit_test(test_to_mono_is_mean),
        cmocka_unit_test(test_decode_channel_mapping),
        cmocka_unit_test(test_resample_sine),
        cmocka_unit_test(test_resample_edge_cases),
        cmocka_unit_test(test_decode_with_resample),
        cmocka_unit_test(test_not_audio),
        cmocka_unit_test(test_zero_frames_is_empty),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_invalid_args),
        cmocka_unit_test(test_truncated_wav),
        cmocka_unit_test(test_truncated_flac_ogg_mp3),
        cmocka_unit_test(test_id3_prefixed),
        cmocka_unit_test(test_ogg_trailing_junk),
        cmocka_unit_test(test_ogg_malformed_headers),
        cmocka_unit_test(test_flac_without_length),
        cmocka_unit_test(test_hostile_headers),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_decode_from_pipe),
        cmocka_unit_test(test_file_equals_memory),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_real_testdata),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
