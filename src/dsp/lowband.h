/* lowband.h - the bass register of a recording (src/dsp/lowband.c): a Butterworth low-pass
 * and the mean power in a frequency band, for checking that a separated stem holds the bass
 * line and for falling back to another source when it does not (src/pipeline.c).
 *
 * Audio is dumu_audio: interleaved (n_frames, n_channels) float at sample_rate Hz. Thread-safe
 * for distinct outputs. */
#ifndef DUMU_DSP_LOWBAND_H
#define DUMU_DSP_LOWBAND_H

#include <stdbool.h>

#include "dumu/dumu.h"

/* Fills a new `out` (same rate and channels; free with dumu_audio_deinit) with `in` through a
 * 4th-order Butterworth low-pass at cutoff_hz (two cascaded biquads, run forwards: the group
 * delay below the cutoff is about 2.6 / (2 pi cutoff_hz) s, ~1 ms at 400 Hz). `out` must not
 * alias `in`. Errors: DUMU_E_INVALID_ARG (NULL, cutoff not in (0, sample_rate / 2)),
 * DUMU_E_NOMEM. */
dumu_status dumu_lowpass(const dumu_audio *in, double cutoff_hz, dumu_audio *out, dumu_error *err);

/* The mean power (mean square per sample, linear) of the channel mean of `a` in
 * [lo_hz, hi_hz]: a 2nd-order Butterworth high-pass at lo_hz and a 4th-order low-pass at
 * hi_hz, run forwards, summed in double. 0 for no frames. 0 < lo_hz < hi_hz < rate / 2
 * (asserted). Allocates nothing. */
double dumu_band_power(const dumu_audio *a, double lo_hz, double hi_hz);

/* The bass register, where levels are compared: B0 (31 Hz) to about B3 (247 Hz), the
 * fundamentals of nearly every bass note (kick drums sit there too). */
#define DUMU_BASS_BAND_LO_HZ 30.0
#define DUMU_BASS_BAND_HI_HZ 250.0

/* Mean powers in the bass register (dumu_band_power, linear) of the sources of one song. */
typedef struct dumu_bass_levels {
    double mix;
    double bass;  /* htdemucs' bass stem */
    double other; /* its "other" stem; < 0 when not available */
} dumu_bass_levels;

/* Which source holds the song's bass line (the rule and its measurements: SOURCE CHOICE in
 * src/pipeline.c). Pure; thread-safe. */
dumu_bass_source dumu_bass_source_choose(const dumu_bass_levels *levels);

/* True when the choice above is the bass stem but the other stem holds more of the register:
 * both may hold the line, and the caller decides by transcribing both. Pure; thread-safe. */
bool dumu_bass_source_contested(const dumu_bass_levels *levels);

#endif /* DUMU_DSP_LOWBAND_H */
