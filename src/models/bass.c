/* bass.c - bass-mode note decoding (see bass.h for the steps).
 *
 * DESIGN
 *   Salience (frame t, pitch p in the register, note bin j = p - 21):
 *       s = N[t][j] - N[t][j - 12]      (clamped to [0, 1])
 *   A bass note's second harmonic sits an octave up, and Basic Pitch often activates it as
 *   a note too; the fundamental's own activation is taken off it, so the upper octave only
 *   wins where it is clearly stronger than the octave below (a real octave jump).
 *
 *   Viterbi: states are silence and every pitch of the register. Emission of pitch p is
 *   logit(s) - logit(frame_threshold) (positive where the pitch is heard), silence 0.
 *   Transitions cost START (silence -> pitch), CHANGE (pitch -> another pitch) and nothing to
 *   stay or stop. A blip of another pitch must out-score the current one by more than two
 *   changes to interrupt it; a dip in a held note must cost more than a re-start to break it.
 *   The best predecessor of a pitch state is itself, silence or the best other pitch state,
 *   so a frame costs O(states).
 *
 *   Attacks in silence: the path falls silent where a pitch's activation is weak although
 *   its attack is clear (low fundamentals), so an onset peak in a silent stretch opens its
 *   pitch there while the salience stays at ATTACK_FLOOR or more (fill_attacks).
 *
 *   Re-attacks: within a run of one pitch, an onset peak of that pitch (above the onset
 *   threshold, a local maximum, at least MIN_SPLIT frames from either end) after which the
 *   pitch's activation climbs again (renewed) starts a new note.
 *   Each note's start moves to the strongest onset peak of its pitch within ONSET_REACH
 *   frames before it (the activation lags the attack).
 *
 *   Lengths: a note that begins on an onset peak is kept from MIN_ONSET_NOTE frames (a
 *   16th note at 180 BPM is ~7 frames); others need min_note_frames, like raw mode. Then two
 *   notes of one pitch with a gap of at most MERGE_GAP frames and no onset at the second are
 *   joined: the gap was a dip, not a new note.
 *
 *   Octave down: a note whose octave below is heard over it (mean activation at the frame
 *   threshold or more) becomes that lower note (fold_down); the salience's subtraction lets
 *   the second harmonic win where the fundamental is present but weaker.
 *
 *   Times: every note moves back by DUMU_BASS_NOTE_LAG_S, the measured lag of the
 *   activations behind the audio (frames keep the model's own times).
 *
 * Frames are Basic Pitch model frames (256 samples at 22050 Hz, ~11.6 ms). */
#include "bass.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define BASS_MIN_PITCH 23 /* B0: the low string of a five-string bass */
#define BASS_MAX_PITCH 67 /* G4: the 24th fret of the G string */
#define N_STATES       (BASS_MAX_PITCH - BASS_MIN_PITCH + 2) /* silence + pitches */
#define COST_START     1.0
#define COST_CHANGE    2.0
#define MIN_SPLIT      6   /* frames */
#define ONSET_REACH    4   /* frames */
#define MIN_ONSET_NOTE 5   /* frames (~58 ms) */
#define MERGE_GAP      3   /* frames */
#define SECOND_VOICE   0.4 /* mean activation a raw note needs to join the line */
/* Salience a note opened by an onset peak in a silence of the path must keep: a third of the
 * default frame threshold. Low fundamentals (under ~60 Hz) often sound at only 0.2-0.3 in the
 * note activations while their attacks are clear in the onsets (xd37, xd38 of the tuning
 * sets); 0.05-0.15 score alike on the tuning half, the background sits near 0.02. */
#define ATTACK_FLOOR 0.1
/* A re-attack inside a held note must renew its activation: a rise of 5 % over the lowest
 * value around the onset. A slap's second transient or a pick scrape peaks in the onsets
 * while the held note's activation goes on falling (xd27). Tuning half note F1: 0.568
 * without the rule, 0.570 at 1.05, 0.566 at 1.1. */
#define RENEW_RISE  1.05
#define RENEW_REACH 3 /* frames each side of the onset */
#define SAME_ATTACK 5 /* frames: two attacks this close are one */
#define SAL_EPS     1e-4
/* Confidence: a logistic model of whether a note is right, fitted (maximum likelihood) on
 * the notes of the tuning half of the developer sets; the held-out half checks it (README,
 * "Note timing, confidence, and what limits note F1"). Inputs: the logit of the strongest attack within CONF_REACH frames of
 * the start, and the mean activations an octave below and above over the note (a note whose
 * octave neighbours sound too is often the octave error or the harmonic). */
#define CONF_W_ATTACK 1.29
#define CONF_W_BELOW  (-1.58)
#define CONF_W_ABOVE  (-1.33)
#define CONF_REACH    2 /* frames */

static double logit(double p) {
    p = p < SAL_EPS ? SAL_EPS : p > 1.0 - SAL_EPS ? 1.0 - SAL_EPS : p;
    return log(p / (1.0 - p));
}

/* Pitch register after the caller's frequency limits: [*lo, *hi] MIDI, inclusive. */
static void bass_register(const dumu_note_params *p, int *lo, int *hi) {
    *lo = BASS_MIN_PITCH;
    *hi = BASS_MAX_PITCH;
    if (p->min_freq_hz > 0.0) {
        int m = (int)ceil(69.0 + 12.0 * log2(p->min_freq_hz / 440.0) - 1e-9);
        if (m > *lo) *lo = m;
    }
    if (p->max_freq_hz > 0.0) {
        int m = (int)floor(69.0 + 12.0 * log2(p->max_freq_hz / 440.0) + 1e-9);
        if (m < *hi) *hi = m;
    }
}

static double salience(const dumu_bp_output *o, int64_t t, int pitch) {
    const float *row = o->note + t * DUMU_BP_N_NOTES;
    int j = pitch - DUMU_BP_MIDI_OFFSET;
    double s = (double)row[j];
    if (j >= 12) s -= (double)row[j - 12];
    return s < 0.0 ? 0.0 : s;
}

static double onset_at(const dumu_bp_output *o, int64_t t, int pitch) {
    if (t < 0 || t >= o->n_frames) return 0.0;
    return (double)o->onset[t * DUMU_BP_N_NOTES + pitch - DUMU_BP_MIDI_OFFSET];
}

/* Onset evidence of `pitch` at t: its own onset or its second harmonic's (an attack shows
 * in both, and the harmonic's is often the clearer one on low notes). */
static double attack_at(const dumu_bp_output *o, int64_t t, int pitch) {
    double a = onset_at(o, t, pitch);
    if (pitch + 12 <= DUMU_BP_MIDI_OFFSET + DUMU_BP_N_NOTES - 1) {
        double b = onset_at(o, t, pitch + 12);
        if (b > a) a = b;
    }
    return a;
}

static int is_onset_peak(const dumu_bp_output *o, int64_t t, int pitch, double thr) {
    double v = attack_at(o, t, pitch);
    return v > thr && v >= attack_at(o, t - 1, pitch) && v > attack_at(o, t + 1, pitch) &&
           v >= attack_at(o, t - 2, pitch) && v > attack_at(o, t + 2, pitch);
}

/* True when the activation of `pitch` climbs after frame u: its peak over the MIN_SPLIT frames
 * from u is at least RENEW_RISE times its lowest value within RENEW_REACH frames of u. */
static int renewed(const dumu_bp_output *o, int64_t u, int pitch) {
    int j = pitch - DUMU_BP_MIDI_OFFSET;
    double low = 1.0, high = 0.0;
    for (int64_t t = u - RENEW_REACH; t < u + RENEW_REACH; t++)
        if (t >= 0 && t < o->n_frames) low = fmin(low, (double)o->note[t * DUMU_BP_N_NOTES + j]);
    for (int64_t t = u; t < u + MIN_SPLIT && t < o->n_frames; t++)
        high = fmax(high, (double)o->note[t * DUMU_BP_N_NOTES + j]);
    return high >= RENEW_RISE * low;
}

/* Fills silent stretches of the path where an onset peak (above othr) opens a pitch whose
 * salience averages ATTACK_FLOOR or more over its first MIN_ONSET_NOTE frames: the pitch holds
 * from the peak while its salience stays at ATTACK_FLOOR or more, up to the next non-silent
 * frame. Of several pitches with a peak at one frame the strongest attack wins. */
static void fill_attacks(const dumu_bp_output *o, int lo, int hi, double othr, int8_t *path) {
    int64_t T = o->n_frames;
    for (int64_t t = 0; t < T; t++) {
        if (path[t] != 0) continue;
        int best = -1;
        double best_attack = 0.0;
        int64_t end = t + MIN_ONSET_NOTE < T ? t + MIN_ONSET_NOTE : T;
        for (int p = lo; p <= hi; p++) {
            if (!is_onset_peak(o, t, p, othr) || attack_at(o, t, p) <= best_attack) continue;
            double sum = 0.0;
            for (int64_t u = t; u < end; u++)
                sum += salience(o, u, p);
            if (sum >= ATTACK_FLOOR * (double)(end - t)) {
                best = p;
                best_attack = attack_at(o, t, p);
            }
        }
        if (best < 0) continue;
        int64_t u = t;
        while (u < T && path[u] == 0 && salience(o, u, best) >= ATTACK_FLOOR)
            path[u++] = (int8_t)(best - lo + 1);
        if (u > t) t = u - 1;
    }
}

/* Viterbi over (n_frames, n_states): path[t] = 0 for silence, else pitch - lo + 1. */
static dumu_status viterbi(const dumu_bp_output *o, int lo, int hi, double thr, int8_t *path,
                           dumu_error *err) {
    int64_t T = o->n_frames;
    int K = hi - lo + 2;
    double *score = dumu_malloc(sizeof(double) * 2 * (size_t)K);
    uint8_t *back = dumu_malloc((size_t)T * (size_t)K);
    if (!score || !back) {
        dumu_free(score);
        dumu_free(back);
        return dumu_fail(err, DUMU_E_NOMEM, "bass notes: out of memory");
    }
    double *prev = score, *cur = score + K, lthr = logit(thr);
    for (int k = 0; k < K; k++)
        prev[k] = k == 0 ? 0.0 : -COST_START;
    for (int64_t t = 0; t < T; t++) {
        /* best pitch state of the previous frame (for changes), and the runner-up, so a
         * state never takes itself as "another pitch" */
        int b1 = -1, b2 = -1;
        for (int k = 1; k < K; k++) {
            if (b1 < 0 || prev[k] > prev[b1]) {
                b2 = b1;
                b1 = k;
            } else if (b2 < 0 || prev[k] > prev[b2]) {
                b2 = k;
            }
        }
        uint8_t *bk = back + t * K;
        cur[0] = prev[0];
        bk[0] = 0;
        if (prev[b1] > cur[0]) {
            cur[0] = prev[b1];
            bk[0] = (uint8_t)b1;
        }
        for (int k = 1; k < K; k++) {
            double best = prev[k];
            int from = k;
            double s = prev[0] - COST_START;
            if (s > best) {
                best = s;
                from = 0;
            }
            int other = b1 == k ? b2 : b1;
            if (other > 0 && prev[other] - COST_CHANGE > best) {
                best = prev[other] - COST_CHANGE;
                from = other;
            }
            cur[k] = best + logit(salience(o, t, lo + k - 1)) - lthr;
            bk[k] = (uint8_t)from;
        }
        double *tmp = prev;
        prev = cur;
        cur = tmp;
    }
    int k = 0;
    for (int i = 1; i < K; i++)
        if (prev[i] > prev[k]) k = i;
    for (int64_t t = T - 1; t >= 0; t--) {
        path[t] = (int8_t)k;
        k = back[t * K + k];
    }
    dumu_free(score);
    dumu_free(back);
    return DUMU_OK;
}

/* Mean activation of note bin j over frames [a, b); 0 outside the 88 bins. */
static double mean_activation(const dumu_bp_output *o, int64_t a, int64_t b, int j) {
    if (j < 0 || j >= DUMU_BP_N_NOTES || b <= a) return 0.0;
    double sum = 0.0;
    for (int64_t t = a; t < b; t++)
        sum += (double)o->note[t * DUMU_BP_N_NOTES + j];
    return sum / (double)(b - a);
}

/* The probability that note n is right (see CONF_*). */
static double note_confidence(const dumu_bp_output *o, const dumu_note *n) {
    double attack = 0.0;
    for (int64_t t = n->start_frame - CONF_REACH; t <= n->start_frame + CONF_REACH; t++) {
        double v = attack_at(o, t, n->pitch);
        if (v > attack) attack = v;
    }
    int j = n->pitch - DUMU_BP_MIDI_OFFSET;
    double z = CONF_W_ATTACK * logit(attack) +
               CONF_W_BELOW * mean_activation(o, n->start_frame, n->end_frame, j - 12) +
               CONF_W_ABOVE * mean_activation(o, n->start_frame, n->end_frame, j + 12);
    return 1.0 / (1.0 + exp(-z));
}

/* A note whose octave below is heard over it (mean activation at the frame threshold or more)
 * is that lower note: its fundamental was weak and its second harmonic took the line. */
static void fold_down(const dumu_bp_output *o, int lo, double thr, dumu_note *n) {
    if (n->pitch - 12 < lo) return;
    double below =
        mean_activation(o, n->start_frame, n->end_frame, n->pitch - 12 - DUMU_BP_MIDI_OFFSET);
    if (below < thr) return;
    n->pitch -= 12;
    n->amplitude = below;
}

/* Makes room for one more note in *notes (n used of *cap, doubling); -1 when out of memory. */
static int grow(dumu_note **notes, int64_t n, int64_t *cap) {
    if (n < *cap) return 0;
    int64_t nc = *cap ? *cap * 2 : 64;
    dumu_note *p = dumu_realloc(*notes, sizeof **notes * (size_t)nc);
    if (!p) return -1;
    *notes = p;
    *cap = nc;
    return 0;
}

/* Appends a note [a, b) of `pitch` if long enough; returns 0, or -1 when out of memory. */
static int emit(dumu_note **notes, int64_t *n, int64_t *cap, const dumu_bp_output *o, int64_t a,
                int64_t b, int pitch, int min_frames, double onset_thr) {
    int on_onset = is_onset_peak(o, a, pitch, onset_thr);
    if (b - a < (on_onset ? MIN_ONSET_NOTE : min_frames)) return 0;
    if (grow(notes, *n, cap)) return -1;
    dumu_note *nt = &(*notes)[(*n)++];
    memset(nt, 0, sizeof *nt);
    nt->start_frame = (int32_t)a;
    nt->end_frame = (int32_t)b;
    nt->pitch = pitch;
    nt->amplitude = mean_activation(o, a, b, pitch - DUMU_BP_MIDI_OFFSET);
    return 0;
}

/* True when raw note r is explained by line note b: sounding together an octave (or
 * octaves) or a twelfth / fifth apart (harmonics), or starting together an octave apart. */
static int explained_by(const dumu_note *r, const dumu_note *b) {
    int dp = r->pitch > b->pitch ? r->pitch - b->pitch : b->pitch - r->pitch;
    int overlap = b->start_frame < r->end_frame && r->start_frame < b->end_frame;
    if (overlap && (dp % 12 == 0 || dp == 19 || dp == 7)) return 1;
    return dp % 12 == 0 && abs(b->start_frame - r->start_frame) <= SAME_ATTACK;
}

/* Second voice: Basic Pitch's own notes in the register that the line does not explain and
 * that are strongly held (mean activation >= SECOND_VOICE): double stops, and notes the
 * monophonic path passed over. */
static dumu_status add_second_voice(const dumu_bp_output *out, const dumu_note_params *params,
                                    int lo, int hi, dumu_note **notes, int64_t *n, int64_t *cap,
                                    dumu_error *err) {
    dumu_note_params rp = *params;
    rp.pitch_bends = false;
    dumu_note_list raw = {0};
    dumu_status rc = dumu_notes_create(out, &rp, &raw, err);
    if (rc) return rc;
    int64_t n_line = *n;
    for (int64_t i = 0; i < raw.n_notes; i++) {
        const dumu_note *r = &raw.notes[i];
        if (r->pitch < lo || r->pitch > hi || r->amplitude < SECOND_VOICE) continue;
        int64_t k = 0;
        while (k < n_line && !explained_by(r, &(*notes)[k]))
            k++;
        if (k < n_line) continue;
        if (grow(notes, *n, cap)) {
            dumu_note_list_deinit(&raw);
            return dumu_fail(err, DUMU_E_NOMEM, "bass notes: out of memory");
        }
        (*notes)[(*n)++] = *r; /* no bends: rp.pitch_bends is off */
    }
    dumu_note_list_deinit(&raw);
    return DUMU_OK;
}

dumu_status dumu_bass_notes(const dumu_bp_output *out, const dumu_note_params *params,
                            dumu_note_list *list, dumu_error *err) {
    if (list) memset(list, 0, sizeof *list);
    if (!out || !params || !list)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "bass notes: NULL argument");
    if (!(params->onset_threshold >= 0.0 && params->onset_threshold <= 1.0) ||
        !(params->frame_threshold > 0.0 && params->frame_threshold < 1.0) ||
        params->min_note_frames < 0 || !(params->min_freq_hz >= 0.0) ||
        !(params->max_freq_hz >= 0.0) || isinf(params->min_freq_hz) || isinf(params->max_freq_hz))
        return dumu_fail(err, DUMU_E_INVALID_ARG,
                         "bass notes: thresholds must be in (0, 1), lengths and limits >= 0");
    int64_t T = out->n_frames;
    if (T <= 0) return DUMU_OK;
    for (int64_t i = 0; i < T * DUMU_BP_N_NOTES; i++) {
        if (!(out->note[i] >= 0.0f && out->note[i] <= 1.0f) ||
            !(out->onset[i] >= 0.0f && out->onset[i] <= 1.0f))
            return dumu_fail(err, DUMU_E_INVALID_ARG, "bass notes: activation out of [0, 1]");
    }
    int lo, hi;
    bass_register(params, &lo, &hi);
    if (lo > hi) return DUMU_OK; /* the limits leave no bass register */

    int8_t *path = dumu_malloc((size_t)T);
    if (!path) return dumu_fail(err, DUMU_E_NOMEM, "bass notes: out of memory");
    dumu_status rc = viterbi(out, lo, hi, params->frame_threshold, path, err);
    if (rc) {
        dumu_free(path);
        return rc;
    }

    dumu_note *notes = NULL;
    int64_t n = 0, cap = 0;
    double othr = params->onset_threshold;
    fill_attacks(out, lo, hi, othr, path);
    for (int64_t t = 0; t < T;) {
        if (path[t] == 0) {
            t++;
            continue;
        }
        int64_t a = t;
        while (t < T && path[t] == path[a])
            t++;
        int pitch = lo + path[a] - 1;
        /* start on the onset peak that opened the run, if one is near before it */
        int64_t best = a;
        double bv = othr;
        for (int64_t u = a - ONSET_REACH; u <= a; u++) {
            if (u >= 0 && (u == a || path[u] == 0) && is_onset_peak(out, u, pitch, 0.0) &&
                attack_at(out, u, pitch) > bv) {
                best = u;
                bv = attack_at(out, u, pitch);
            }
        }
        /* split at re-attacks of the same pitch */
        int64_t s = best;
        for (int64_t u = a + MIN_SPLIT; u < t - MIN_SPLIT; u++) {
            if (!is_onset_peak(out, u, pitch, othr) || !renewed(out, u, pitch)) continue;
            if (emit(&notes, &n, &cap, out, s, u, pitch, params->min_note_frames, othr)) goto nomem;
            s = u;
        }
        if (emit(&notes, &n, &cap, out, s, t, pitch, params->min_note_frames, othr)) goto nomem;
    }
    dumu_free(path);
    path = NULL;

    /* close dips: same pitch, short gap, no onset where the second note starts */
    int64_t w = 0;
    for (int64_t i = 0; i < n; i++) {
        if (w > 0) {
            dumu_note *pv = &notes[w - 1];
            if (pv->pitch == notes[i].pitch && notes[i].start_frame - pv->end_frame <= MERGE_GAP &&
                !is_onset_peak(out, notes[i].start_frame, notes[i].pitch, othr)) {
                double la = (double)(pv->end_frame - pv->start_frame);
                double lb = (double)(notes[i].end_frame - notes[i].start_frame);
                pv->amplitude = (pv->amplitude * la + notes[i].amplitude * lb) / (la + lb);
                pv->end_frame = notes[i].end_frame;
                continue;
            }
        }
        notes[w++] = notes[i];
    }
    n = w;
    for (int64_t i = 0; i < n; i++) {
        notes[i].start_s = dumu_bp_frame_to_time(notes[i].start_frame);
        notes[i].end_s = dumu_bp_frame_to_time(notes[i].end_frame);
    }
    rc = add_second_voice(out, params, lo, hi, &notes, &n, &cap, err);
    if (rc) {
        dumu_free(notes);
        return rc;
    }
    for (int64_t i = 0; i < n; i++) {
        fold_down(out, lo, params->frame_threshold, &notes[i]);
        notes[i].confidence = note_confidence(out, &notes[i]);
        notes[i].start_s = fmax(0.0, notes[i].start_s - DUMU_BASS_NOTE_LAG_S);
        notes[i].end_s = fmax(notes[i].start_s, notes[i].end_s - DUMU_BASS_NOTE_LAG_S);
    }
    list->notes = notes;
    list->n_notes = n;
    dumu_note_list_sort_by_time(list);
    return DUMU_OK;
nomem:
    dumu_free(path);
    dumu_free(notes);
    return dumu_fail(err, DUMU_E_NOMEM, "bass notes: out of memory");
}
