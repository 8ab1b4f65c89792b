/* audio.h - internals of the audio module (src/io/audio.c), shared with its tests and fuzzer.
 * The public entry points (dumu_decode_default_params, dumu_audio_decode_file/_memory,
 * dumu_audio_resample, dumu_audio_to_mono, dumu_audio_write_file, dumu_audio_deinit) are
 * declared in include/dumu/dumu.h. Nothing here allocates. */
#ifndef DUMU_IO_AUDIO_H
#define DUMU_IO_AUDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dumu/dumu.h"

/* Limits on decoded (and resampled) audio. Outside them a decode fails with
 * DUMU_E_UNSUPPORTED, a call with such a dumu_audio or rate with DUMU_E_INVALID_ARG. */
#define DUMU_AUDIO_MIN_RATE     1000   /* Hz */
#define DUMU_AUDIO_MAX_RATE     768000 /* Hz */
#define DUMU_AUDIO_MAX_CHANNELS 64

/* What the first bytes say the data is. */
typedef enum dumu_container {
    DUMU_CONTAINER_UNKNOWN = 0, /* not audio as far as we can tell -> DUMU_E_FORMAT */
    DUMU_CONTAINER_OTHER,       /* a known container we do not decode (AIFF, MP4, ...) */
    DUMU_CONTAINER_WAV,         /* RIFF/RIFX/RF64 WAVE */
    DUMU_CONTAINER_FLAC,        /* native FLAC, possibly after ID3v2 tags */
    DUMU_CONTAINER_OGG,         /* Ogg (the codec is in dumu_audio_probe.name) */
    DUMU_CONTAINER_MPEG,        /* MPEG-1/2/2.5 audio frames, possibly after ID3v2 tags */
} dumu_container;

/* What dumu_audio_probe_bytes learnt from the bytes alone, before any decoder runs. */
typedef struct dumu_audio_probe {
    dumu_container container;
    const char *name;         /* static: "WAV", "FLAC", "Ogg Vorbis", "MP3", "AIFF", ... or NULL */
    bool codec_known;         /* false: a codec libsndfile cannot decode (WAV tag, Ogg codec) */
    bool truncated;           /* the container shows that the data was cut (rules in audio.c) */
    size_t usable;            /* bytes to give the decoder: the size, except for Ogg, where it is
                            the end of the last whole page (libsndfile 1.2.0 loses the length
                            of a stream followed by junk) */
    uint32_t wav_tag;         /* WAV: format tag (a WAVE_FORMAT_EXTENSIBLE file's sub-format) */
    uint64_t wav_declared;    /* WAV: bytes the data chunk declares (0xFFFFFFFF = unknown) */
    uint64_t wav_present;     /* WAV: bytes present after the data chunk header */
    uint32_t wav_block_align; /* WAV: bytes per frame from the fmt chunk (0 if absent) */
    bool mpeg_length_tag;     /* MP3: a Xing/Info/VBRI header gives the exact length */
    bool ogg_headers_ok;      /* Ogg: a CRC-valid first page; for Vorbis also a valid
                             identification header alone on it and two more whole header
                             packets in sequence after it (see probe_ogg in audio.c) */
} dumu_audio_probe;

/* Looks at `size` bytes of `data` (borrowed; may be NULL when size is 0) and fills `probe`.
 * Never fails: unknown bytes give DUMU_CONTAINER_UNKNOWN. Reads no byte past data + size. */
void dumu_audio_probe_bytes(const uint8_t *data, size_t size, dumu_audio_probe *probe);

/* Output length of a resample of `n_frames` frames from `in_rate` to `out_rate` Hz (both >= 1):
 * round(n_frames * out_rate / in_rate), halves rounded up, computed exactly in integers.
 * Returns -1 if the result does not fit int64_t. */
int64_t dumu_audio_resampled_length(int64_t n_frames, int32_t in_rate, int32_t out_rate);

#endif /* DUMU_IO_AUDIO_H */
