/* score.c - transcription scores (mir_eval.transcription's rules), tempo and key accuracy.
 *
 * MATCHING
 *     A reference note and an estimated note are admissible when the onsets differ by at most
 *     onset_tol_s and the pitches agree (exact MIDI pitch, or pitch class for the chroma rule);
 *     the onset-offset rule also needs the offsets within max(offset_min_tol_s, offset_ratio *
 *     reference duration). Distances are rounded to 1e-4 s first, as mir_eval does, so a note
 *     exactly 50 ms off counts despite floating-point noise. Each note may be matched once, and
 *     the score uses the LARGEST such one-to-one matching (maximum bipartite matching). A greedy
 *     pass (each reference takes its nearest free estimate) can lose matches: two reference
 *     notes 40 ms apart that both reach the earlier estimate, one of which also reaches a later
 *     one (tests/unit/test_music_score.c has that case).
 *
 *     Algorithm: the admissible pairs as an adjacency list (reference -> estimates), built by a
 *     plain double loop over the notes (excerpts and songs have at most a few thousand notes);
 *     then, for each reference note, one breadth-first search for an augmenting path through
 *     the current matching, flipping it when found (Kuhn's method with BFS: no recursion, so
 *     no stack depth to worry about on long lists). By Berge's theorem the result is maximum.
 *
 * NOTE ERRORS
 *     dumu_score_note_errors puts every note the onset matching leaves unmatched in one class
 *     (rules at dumu_note_errors in dumu.h), so `dumu eval` shows where a change to the note
 *     stage helps and hurts, not only that F1 moved.
 *
 * REFERENCES
 *     C. Raffel et al., "mir_eval: a transparent implementation of common MIR metrics",
 *     ISMIR 2014 (transcription: precision_recall_f1_overlap, match_notes). MIREX "Audio Key
 *     Detection" scoring (fifth 0.5, relative 0.3, parallel 0.2). */
#include "music/score.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

dumu_score_params dumu_score_default_params(void) {
    dumu_score_params p;
    p.onset_tol_s = 0.05;
    p.offset_ratio = 0.2;
    p.offset_min_tol_s = 0.05;
    p.beat_tol_s = 0.07;
    p.tempo_tol = 0.04;
    return p;
}

/* |a - b| rounded to 1e-4 s, mir_eval's np.around(..., decimals=4). */
static double rounded_distance(double a, double b) {
    return round(fabs(a - b) * 1e4) / 1e4;
}

static bool admissible(const dumu_note *r, const dumu_note *e, dumu_match_rule rule,
                       const dumu_score_params *p) {
    if (rounded_distance(r->start_s, e->start_s) > p->onset_tol_s) return false;
    int32_t dp = abs(r->pitch - e->pitch);
    if (rule == DUMU_MATCH_ONSET_CHROMA) return dp % 12 == 0;
    if (dp != 0) return false;
    if (rule == DUMU_MATCH_ONSET) return true;
    double tol = fmax(p->offset_min_tol_s, p->offset_ratio * (r->end_s - r->start_s));
    return rounded_distance(r->end_s, e->end_s) <= tol;
}

static dumu_status check_list(const dumu_note *notes, int64_t n, const char *what,
                              dumu_error *err) {
    if (n < 0 || (n > 0 && !notes)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "score: %s list of %lld notes at %p", what,
                         (long long)n, (const void *)notes);
    }
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(notes[i].start_s) || !isfinite(notes[i].end_s)) {
            return dumu_fail(err, DUMU_E_INVALID_ARG, "score: %s note %lld has a non-finite time",
                             what, (long long)i);
        }
    }
    return DUMU_OK;
}

dumu_status dumu_score_match(const dumu_note *ref, int64_t n_ref, const dumu_note *est,
                             int64_t n_est, dumu_match_rule rule, const dumu_score_params *params,
                             int64_t *n_matched, int64_t *match_of_ref, dumu_error *err) {
    DUMU_ASSERT(n_matched);
    *n_matched = 0;
    dumu_score_params p = params ? *params : dumu_score_default_params();
    if (!(isfinite(p.onset_tol_s) && p.onset_tol_s >= 0 && isfinite(p.offset_ratio) &&
          p.offset_ratio >= 0 && isfinite(p.offset_min_tol_s) && p.offset_min_tol_s >= 0)) {
        return dumu_fail(err, DUMU_E_INVALID_ARG, "score: tolerances must be finite and >= 0");
    }
    dumu_status rc = check_list(ref, n_ref, "reference", err);
    if (!rc) rc = check_list(est, n_est, "estimated", err);
    if (rc) return rc;
    if (match_of_ref) {
        for (int64_t i = 0; i < n_ref; i++)
            match_of_ref[i] = -1;
    }
    if (n_ref == 0 || n_est == 0) return DUMU_OK;

    /* Adjacency in CSR form: the estimates admissible for reference i are
     * adj[first[i] .. first[i + 1]). Two passes: count, then fill. */
    int64_t *first = dumu_calloc((size_t)n_ref + 1, sizeof *first);
    int64_t *ref_of_est = dumu_malloc((size_t)n_est * sizeof *ref_of_est);
    int64_t *est_of_ref = dumu_malloc((size_t)n_ref * sizeof *est_of_ref);
    int64_t *seen = dumu_malloc((size_t)n_est * sizeof *seen); /* BFS stamp: the root's index */
    int64_t *via = dumu_malloc((size_t)n_est * sizeof *via);   /* reference that reached est j */
    int64_t *queue = dumu_malloc((size_t)n_ref * sizeof *queue);
    int64_t *adj = NULL;
    if (!first || !ref_of_est || !est_of_ref || !seen || !via || !queue) goto nomem;
    for (int64_t i = 0; i < n_ref; i++) {
        int64_t c = 0;
        for (int64_t j = 0; j < n_est; j++)
            c += admissible(&ref[i], &est[j], rule, &p);
        first[i + 1] = first[i] + c;
    }
    adj = dumu_malloc((size_t)(first[n_ref] ? first[n_ref] : 1) * sizeof *adj);
    if (!adj) goto nomem;
    for (int64_t i = 0; i < n_ref; i++) {
        int64_t k = first[i];
        for (int64_t j = 0; j < n_est; j++) {
            if (admissible(&ref[i], &est[j], rule, &p)) adj[k++] = j;
        }
    }

    for (int64_t j = 0; j < n_est; j++) {
        ref_of_est[j] = -1;
        seen[j] = -1;
    }
    for (int64_t i = 0; i < n_ref; i++)
        est_of_ref[i] = -1;

    int64_t matched = 0;
    for (int64_t root = 0; root < n_ref; root++) {
        /* BFS over alternating paths: reference -> admissible estimate -> its current partner. */
        int64_t head = 0, tail = 0, free_est = -1;
        queue[tail++] = root;
        while (head < tail && free_est < 0) {
            int64_t u = queue[head++];
            for (int64_t k = first[u]; k < first[u + 1]; k++) {
                int64_t j = adj[k];
                if (seen[j] == root) continue;
                seen[j] = root;
                via[j] = u;
                if (ref_of_est[j] < 0) {
                    free_est = j;
                    break;
                }
                queue[tail++] = ref_of_est[j];
            }
        }
        /* Flip the path: every estimate on it takes the reference that reached it. */
        for (int64_t j = free_est; j >= 0;) {
            int64_t u = via[j];
            int64_t next = est_of_ref[u];
            est_of_ref[u] = j;
            ref_of_est[j] = u;
            j = next;
        }
        matched += free_est >= 0;
    }
    *n_matched = matched;
    if (match_of_ref) memcpy(match_of_ref, est_of_ref, (size_t)n_ref * sizeof *est_of_ref);
    rc = DUMU_OK;
    goto done;
nomem:
    rc = dumu_fail(err, DUMU_E_NOMEM, "score: out of memory matching %lld x %lld notes",
                   (long long)n_ref, (long long)n_est);
done:
    dumu_free(adj);
    dumu_free(queue);
    dumu_free(via);
    dumu_free(seen);
    dumu_free(est_of_ref);
    dumu_free(ref_of_est);
    dumu_free(first);
    return rc;
}

static dumu_prf prf(int64_t n_ref, int64_t n_est, int64_t n_matched) {
    dumu_prf s = {0};
    s.n_ref = n_ref;
    s.n_est = n_est;
    s.n_matched = n_matched;
    if (n_ref == 0 || n_est == 0) return s;
    s.precision = (double)n_matched / (double)n_est;
    s.recall = (double)n_matched / (double)n_ref;
    if (s.precision + s.recall > 0) {
        s.f1 = 2.0 * s.precision * s.recall / (s.precision + s.recall);
    }
    return s;
}

dumu_status dumu_score_notes(const dumu_note *ref, int64_t n_ref, const dumu_note *est,
                             int64_t n_est, const dumu_score_params *params, dumu_note_scores *out,
                             dumu_error *err) {
    DUMU_ASSERT(out);
    memset(out, 0, sizeof *out);
    int64_t m[3];
    const dumu_match_rule rules[3] = {DUMU_MATCH_ONSET, DUMU_MATCH_ONSET_OFFSET,
                                      DUMU_MATCH_ONSET_CHROMA};
    for (int r = 0; r < 3; r++) {
        dumu_status rc =
            dumu_score_match(ref, n_ref, est, n_est, rules[r], params, &m[r], NULL, err);
        if (rc) return rc;
    }
    out->onset = prf(n_ref, n_est, m[0]);
    out->onset_offset = prf(n_ref, n_est, m[1]);
    out->chroma = prf(n_ref, n_est, m[2]);
    return DUMU_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Note errors: the class of every note the onset matching leaves unmatched. The rules are at
 * dumu_note_errors in dumu.h; each is a plain scan over the other list (a few thousand notes
 * at most, and only the unmatched ones are scanned). The order of the classes puts the
 * strongest evidence first: a note of the same pitch overlapping in time (the note is there,
 * its onset is off), then an onset at the same time (the pitch is off), then a note sounding
 * under it (a partial or a re-trigger), then nothing. */

typedef enum est_class {
    EST_TIMING,
    EST_OCTAVE,
    EST_HARMONIC,
    EST_PITCH,
    EST_FRAGMENT,
    EST_GHOST,
    EST_OTHER,
} est_class;

/* Register index of dumu_note_errors: [0] MIDI <= 29 (F1, 43.7 Hz), [1] 30-35, [2] >= 36 (C2). */
static int register_of(int32_t pitch) {
    return pitch <= 29 ? 0 : pitch <= 35 ? 1 : 2;
}

static bool onsets_near(const dumu_note *a, const dumu_note *b, double tol) {
    return rounded_distance(a->start_s, b->start_s) <= tol;
}

/* e starts while r sounds: in [r.start - tol, r.end). */
static bool starts_during(const dumu_note *e, const dumu_note *r, double tol) {
    return (e->start_s >= r->start_s || onsets_near(e, r, tol)) && e->start_s < r->end_s;
}

static bool overlap(const dumu_note *a, const dumu_note *b) {
    return a->start_s < b->end_s && b->start_s < a->end_s;
}

/* The class of unmatched estimate e; *octave_ref gets the nearest-onset reference note an
 * octave away when the class is EST_OCTAVE. ref_matched: (n_ref) whether each is matched. */
static est_class classify_est(const dumu_note *e, const dumu_note *ref, int64_t n_ref,
                              const bool *ref_matched, double tol, int64_t *octave_ref) {
    bool octave = false, harmonic = false, pitch = false, fragment = false, sounding = false;
    double best = HUGE_VAL;
    for (int64_t i = 0; i < n_ref; i++) {
        const dumu_note *r = &ref[i];
        const int32_t up = e->pitch - r->pitch;
        const bool near = onsets_near(e, r, tol), during = starts_during(e, r, tol);
        if (up == 0 && !ref_matched[i] && overlap(e, r)) return EST_TIMING;
        if (near && up != 0 && up % 12 == 0 && fabs(e->start_s - r->start_s) < best) {
            octave = true;
            best = fabs(e->start_s - r->start_s);
            *octave_ref = i;
        }
        harmonic |= during && (up == 7 || up == 12 || up == 19 || up == 24);
        pitch |= near && up != 0;
        fragment |= during && up == 0 && ref_matched[i];
        sounding |= during;
    }
    if (octave) return EST_OCTAVE;
    if (harmonic) return EST_HARMONIC;
    if (pitch) return EST_PITCH;
    if (fragment) return EST_FRAGMENT;
    return sounding ? EST_OTHER : EST_GHOST;
}

/* Counts the class of unmatched reference note i into out. est_matched: (n_est). */
static void classify_ref(int64_t i, const dumu_note *ref, int64_t n_ref, const dumu_note *est,
                         int64_t n_est, const bool *est_matched, double tol,
                         dumu_note_errors *out) {
    const dumu_note *r = &ref[i];
    bool merged = false, timing = false, pitch = false;
    for (int64_t j = 0; j < n_est; j++) {
        const dumu_note *e = &est[j];
        if (e->pitch != r->pitch) {
            pitch |= onsets_near(e, r, tol);
            continue;
        }
        timing |= !est_matched[j] && overlap(e, r);
        if (merged || e->start_s >= r->start_s || onsets_near(e, r, tol) || e->end_s <= r->start_s)
            continue;
        /* e sounds through r's onset: merged if it also covers an earlier note of r's pitch */
        for (int64_t k = 0; k < n_ref && !merged; k++)
            merged = k != i && ref[k].pitch == r->pitch && ref[k].start_s < r->start_s &&
                     overlap(e, &ref[k]);
    }
    if (merged)
        out->n_ref_merged++;
    else if (timing)
        out->n_ref_timing++;
    else if (pitch)
        out->n_ref_pitch++;
    else
        out->n_ref_missed++;
}

static int compare_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

dumu_status dumu_score_note_errors(const dumu_note *ref, int64_t n_ref, const dumu_note *est,
                                   int64_t n_est, const dumu_score_params *params,
                                   dumu_note_errors *out, dumu_error *err) {
    DUMU_ASSERT(out);
    memset(out, 0, sizeof *out);
    dumu_score_params p = params ? *params : dumu_score_default_params();
    dumu_status rc = check_list(ref, n_ref, "reference", err);
    if (!rc) rc = check_list(est, n_est, "estimated", err);
    if (rc) return rc;
    int64_t *match_of_ref = dumu_malloc((size_t)(n_ref ? n_ref : 1) * sizeof *match_of_ref);
    bool *ref_matched = dumu_calloc((size_t)(n_ref ? n_ref : 1), sizeof *ref_matched);
    bool *est_matched = dumu_calloc((size_t)(n_est ? n_est : 1), sizeof *est_matched);
    double *diff_ms = dumu_malloc((size_t)(n_ref ? n_ref : 1) * sizeof *diff_ms);
    if (!match_of_ref || !ref_matched || !est_matched || !diff_ms) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "score: out of memory classifying %lld x %lld notes",
                       (long long)n_ref, (long long)n_est);
        goto done;
    }
    rc = dumu_score_match(ref, n_ref, est, n_est, DUMU_MATCH_ONSET, &p, &out->n_matched,
                          match_of_ref, err);
    if (rc) goto done;
    int64_t n_diff = 0;
    for (int64_t i = 0; i < n_ref; i++) {
        out->n_ref_by_register[register_of(ref[i].pitch)]++;
        if (match_of_ref[i] < 0) continue;
        ref_matched[i] = est_matched[match_of_ref[i]] = true;
        diff_ms[n_diff++] = 1e3 * (est[match_of_ref[i]].start_s - ref[i].start_s);
    }
    if (n_diff) {
        qsort(diff_ms, (size_t)n_diff, sizeof *diff_ms, compare_double);
        out->onset_bias_ms = 0.5 * (diff_ms[(n_diff - 1) / 2] + diff_ms[n_diff / 2]);
    }
    int64_t *counts[7] = {&out->n_est_timing, &out->n_est_octave,   &out->n_est_harmonic,
                          &out->n_est_pitch,  &out->n_est_fragment, &out->n_est_ghost,
                          &out->n_est_other};
    for (int64_t j = 0; j < n_est; j++) {
        double conf = isfinite(est[j].confidence) ? fmin(fmax(est[j].confidence, 0.0), 1.0) : 0.0;
        int bin = (int)fmin(conf * DUMU_CONFIDENCE_BINS, DUMU_CONFIDENCE_BINS - 1);
        out->n_by_confidence[bin]++;
        out->n_right_by_confidence[bin] += est_matched[j];
        out->confidence_sum[bin] += conf;
        if (est_matched[j]) continue;
        int64_t octave_ref = -1;
        est_class c = classify_est(&est[j], ref, n_ref, ref_matched, p.onset_tol_s, &octave_ref);
        (*counts[c])++;
        if (c == EST_OCTAVE) {
            out->n_octave_by_register[register_of(ref[octave_ref].pitch)]++;
            out->n_est_octave_below += est[j].pitch < ref[octave_ref].pitch;
        }
    }
    for (int64_t i = 0; i < n_ref; i++) {
        if (!ref_matched[i])
            classify_ref(i, ref, n_ref, est, n_est, est_matched, p.onset_tol_s, out);
    }
done:
    dumu_free(diff_ms);
    dumu_free(est_matched);
    dumu_free(ref_matched);
    dumu_free(match_of_ref);
    return rc;
}

bool dumu_score_tempo(double est_bpm, double ref_bpm, double tol) {
    return ref_bpm > 0 && fabs(est_bpm - ref_bpm) <= tol * ref_bpm;
}

bool dumu_score_tempo_tolerant(double est_bpm, double ref_bpm, double tol) {
    const double factors[5] = {1.0, 2.0, 0.5, 1.5, 2.0 / 3.0};
    for (int k = 0; k < 5; k++) {
        if (dumu_score_tempo(est_bpm, ref_bpm * factors[k], tol)) return true;
    }
    return false;
}

double dumu_score_key(int32_t ref_tonic, bool ref_minor, int32_t est_tonic, bool est_minor) {
    DUMU_ASSERT(ref_tonic >= 0 && ref_tonic < 12 && est_tonic >= 0 && est_tonic < 12);
    int32_t up = (est_tonic - ref_tonic + 12) % 12; /* semitones from ref tonic up to est's */
    if (ref_minor == est_minor) {
        if (up == 0) return 1.0;
        return up == 7 ? 0.5 : 0.0;
    }
    if (!ref_minor && up == 9) return 0.3; /* estimate is the relative minor */
    if (ref_minor && up == 3) return 0.3;  /* estimate is the relative major */
    return up == 0 ? 0.2 : 0.0;
}

double dumu_score_sdr(const float *ref, const float *est, int64_t n) {
    DUMU_ASSERT(n >= 0 && (n == 0 || (ref && est)));
    double signal = 0.0, noise = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double r = ref[i], d = (double)ref[i] - (double)est[i];
        signal += r * r;
        noise += d * d;
    }
    return 10.0 * log10((signal + 1e-8) / (noise + 1e-8));
}

dumu_status dumu_notes_read_csv(const char *path, dumu_note **notes, int64_t *n_notes,
                                dumu_error *err) {
    DUMU_ASSERT(path && notes && n_notes);
    *notes = NULL;
    *n_notes = 0;
    FILE *f = fopen(path, "r");
    if (!f) return dumu_fail(err, DUMU_E_IO, "cannot open %s: %s", path, strerror(errno));
    dumu_status rc = DUMU_OK;
    dumu_note *list = NULL;
    int64_t n = 0, cap = 0, line_no = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line_no++;
        if (line_no == 1) continue; /* the header */
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        double on, off, pitch, vel;
        char tail;
        int got = sscanf(line, "%lf,%lf,%lf,%lf %c", &on, &off, &pitch, &vel, &tail);
        if (got != 4 || !isfinite(on) || !isfinite(off) || off < on || pitch < 0 || pitch > 127 ||
            pitch != floor(pitch) || vel < 0 || vel > 127) {
            rc = dumu_fail(err, DUMU_E_FORMAT, "%s:%lld: not onset_s,offset_s,midi_pitch,velocity",
                           path, (long long)line_no);
            goto done;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            dumu_note *grown = dumu_realloc(list, (size_t)cap * sizeof *list);
            if (!grown) {
                rc = dumu_fail(err, DUMU_E_NOMEM, "out of memory reading %s", path);
                goto done;
            }
            list = grown;
        }
        memset(&list[n], 0, sizeof list[n]);
        list[n].pitch = (int32_t)pitch;
        list[n].start_s = on;
        list[n].end_s = off;
        list[n].amplitude = vel / 127.0;
        n++;
    }
    if (ferror(f)) rc = dumu_fail(err, DUMU_E_IO, "cannot read %s", path);
done:
    fclose(f);
    if (rc) {
        dumu_free(list);
        return rc;
    }
    *notes = list;
    *n_notes = n;
    return DUMU_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Beat grids: tempo maps in seconds, grid lines, beat F-measure and tempo deviation.
 *
 * A tempo map is piecewise constant in quarter notes per minute, so the quarter-note count
 * q(t) from 0 s is piecewise linear and a grid line at position q has one time, found by
 * walking the map forwards (grid lines are produced in ascending order). Grid lines are
 * "runs": from start_q every step_q quarter notes until the next run starts. A true tempo map
 * has one run of beats (0, 1) and one of bars (0, bar); a MIDI file one of each per time
 * signature, since a DAW counts beats and bars from each time signature's tick: after a
 * pickup bar of, say, one eighth (1/8), the beats of the 4/4 bar that follows fall on its bar
 * line and every quarter after it, not every quarter from tick 0. */

/* At most this many lines per grid: 30 minutes at 500 BPM is 15000; only nonsense tempos
 * (a MIDI tempo of 1 us per quarter is 60 million BPM) get near it. */
#define GRID_MAX_LINES ((int64_t)1 << 20)

/* Positions closer than this (in quarter notes) to the next run's start belong to that run,
 * so tick / ppq rounding cannot put a second bar line next to a time signature's first. */
#define GRID_EPS_Q 1e-9

typedef struct grid_run {
    double start_q, step_q; /* quarter notes from 0 s; step_q > 0 */
} grid_run;

static dumu_status check_map(const dumu_tempo_change *map, int64_t n, const char *what,
                             dumu_error *err) {
    if (n < 1 || !map) return dumu_fail(err, DUMU_E_INVALID_ARG, "%s: empty tempo map", what);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(map[i].time_s) || !isfinite(map[i].bpm) || !(map[i].bpm > 0.0) ||
            (i > 0 && map[i].time_s < map[i - 1].time_s))
            return dumu_fail(err, DUMU_E_INVALID_ARG,
                             "%s: tempo change %lld (%g s, %g BPM) is not finite, > 0 BPM and "
                             "in time order",
                             what, (long long)i, map[i].time_s, map[i].bpm);
    }
    return DUMU_OK;
}

/* The map as dumu_grid.tempo holds it: starting at 0 s, strictly ascending (of changes at one
 * time, or at or before 0 s, the last counts). `map` is checked. *out is dumu_malloc'ed. */
static dumu_status normalize_map(const dumu_tempo_change *map, int64_t n, dumu_tempo_change **out,
                                 int64_t *n_out, dumu_error *err) {
    dumu_tempo_change *m = dumu_malloc((size_t)n * sizeof *m);
    if (!m) return dumu_fail(err, DUMU_E_NOMEM, "grid: out of memory");
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        dumu_tempo_change c = map[i];
        if (c.time_s < 0.0) c.time_s = 0.0;
        if (k > 0 && c.time_s <= m[k - 1].time_s)
            m[k - 1].bpm = c.bpm;
        else
            m[k++] = c;
    }
    m[0].time_s = 0.0; /* the first tempo also holds before its time */
    *out = m;
    *n_out = k;
    return DUMU_OK;
}

/* Walks a normalized map forwards: quarter notes <-> seconds for ascending arguments. */
typedef struct map_walk {
    const dumu_tempo_change *map;
    int64_t n;
    int64_t i;  /* the change in force */
    double q_i; /* quarter notes from 0 s to map[i].time_s */
} map_walk;

/* Quarter notes from 0 s to map[i + 1] (the walker's next change). */
static double next_q(const map_walk *w) {
    return w->q_i + (w->map[w->i + 1].time_s - w->map[w->i].time_s) * w->map[w->i].bpm / 60.0;
}

static double walk_time(map_walk *w, double q) {
    while (w->i + 1 < w->n && q >= next_q(w)) {
        w->q_i = next_q(w);
        w->i++;
    }
    return w->map[w->i].time_s + (q - w->q_i) * 60.0 / w->map[w->i].bpm;
}

static double walk_quarters(map_walk *w, double t) {
    while (w->i + 1 < w->n && t >= w->map[w->i + 1].time_s) {
        w->q_i = next_q(w);
        w->i++;
    }
    return w->q_i + (t - w->map[w->i].time_s) * w->map[w->i].bpm / 60.0;
}

/* Times in [0, duration] of the runs' positions on the normalized map, into *out
 * (dumu_malloc'ed) and *n_out. */
static dumu_status grid_lines(const dumu_tempo_change *map, int64_t n_map, const grid_run *runs,
                              int64_t n_runs, double duration, double **out, int64_t *n_out,
                              dumu_error *err) {
    map_walk w = {map, n_map, 0, 0.0};
    double *t = NULL;
    int64_t n = 0, cap = 0;
    for (int64_t r = 0; r < n_runs; r++) {
        double stop = r + 1 < n_runs ? runs[r + 1].start_q - GRID_EPS_Q : HUGE_VAL;
        for (int64_t j = 0;; j++) {
            double q = runs[r].start_q + (double)j * runs[r].step_q;
            if (q >= stop) break;
            double time = walk_time(&w, q);
            if (time > duration) goto finished; /* later runs start later still */
            if (n == GRID_MAX_LINES) {
                dumu_free(t);
                return dumu_fail(err, DUMU_E_TOO_LONG, "grid: more than %lld grid lines",
                                 (long long)GRID_MAX_LINES);
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                double *grown = dumu_realloc(t, (size_t)cap * sizeof *t);
                if (!grown) {
                    dumu_free(t);
                    return dumu_fail(err, DUMU_E_NOMEM, "grid: out of memory");
                }
                t = grown;
            }
            t[n++] = time;
        }
    }
finished:
    *out = t ? t : dumu_malloc(0);
    if (!*out) return dumu_fail(err, DUMU_E_NOMEM, "grid: out of memory");
    *n_out = n;
    return DUMU_OK;
}

/* Fills out (zeroed; freed by the caller on failure) from a checked map and the runs of beats
 * and of bar lines. */
static dumu_status make_grid(const dumu_tempo_change *map, int64_t n_map, const grid_run *beats,
                             int64_t n_beat_runs, const grid_run *bars, int64_t n_bars,
                             double duration, dumu_grid *out, dumu_error *err) {
    out->duration_s = duration;
    dumu_status rc = normalize_map(map, n_map, &out->tempo, &out->n_tempo, err);
    if (rc) return rc;
    rc = grid_lines(out->tempo, out->n_tempo, beats, n_beat_runs, duration, &out->beats,
                    &out->n_beats, err);
    if (rc) return rc;
    rc =
        grid_lines(out->tempo, out->n_tempo, bars, n_bars, duration, &out->bars, &out->n_bars, err);
    if (rc) return rc;
    map_walk w = {out->tempo, out->n_tempo, 0, 0.0};
    out->mean_bpm = duration > 0.0 ? 60.0 * walk_quarters(&w, duration) / duration : 0.0;
    return DUMU_OK;
}

static dumu_status check_duration(double duration, dumu_error *err) {
    if (!isfinite(duration) || duration < 0.0)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "grid: duration %g s", duration);
    return DUMU_OK;
}

dumu_status dumu_tempo_map_grid(const dumu_tempo_change *map, int64_t n_map, double bar_quarters,
                                double duration_s, dumu_grid *out, dumu_error *err) {
    if (!out) return dumu_fail(err, DUMU_E_INVALID_ARG, "grid: NULL output");
    memset(out, 0, sizeof *out);
    dumu_status rc = check_map(map, n_map, "grid", err);
    if (!rc) rc = check_duration(duration_s, err);
    if (!rc && !(isfinite(bar_quarters) && bar_quarters > 0.0))
        rc = dumu_fail(err, DUMU_E_INVALID_ARG, "grid: %g quarter notes per bar", bar_quarters);
    if (rc) return rc;
    const grid_run beats = {0.0, 1.0}, bars = {0.0, bar_quarters};
    rc = make_grid(map, n_map, &beats, 1, &bars, 1, duration_s, out, err);
    if (rc) dumu_grid_deinit(out);
    return rc;
}

dumu_status dumu_midi_grid_times(const dumu_midi_grid *midi, double duration_s, dumu_grid *out,
                                 dumu_error *err) {
    if (!out) return dumu_fail(err, DUMU_E_INVALID_ARG, "grid: NULL output");
    memset(out, 0, sizeof *out);
    if (!midi || midi->ppq < 1 || midi->n_tempos < 0 || midi->n_time_signatures < 0 ||
        (midi->n_tempos && !midi->tempos) || (midi->n_time_signatures && !midi->time_signatures))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "grid: invalid MIDI grid");
    dumu_status rc = check_duration(duration_s, err);
    if (rc) return rc;
    const double ppq = midi->ppq;
    /* The tempo events in seconds, after the implicit 120 BPM at tick 0; beats and bar lines
     * start afresh at each time signature, after the implicit 4/4 at tick 0. */
    dumu_tempo_change *map = dumu_malloc((size_t)(midi->n_tempos + 1) * sizeof *map);
    grid_run *beats = dumu_malloc((size_t)(midi->n_time_signatures + 1) * sizeof *beats);
    grid_run *bars = dumu_malloc((size_t)(midi->n_time_signatures + 1) * sizeof *bars);
    if (!map || !beats || !bars) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "grid: out of memory");
        goto done;
    }
    map[0] = (dumu_tempo_change){0.0, 120.0};
    double t = 0.0, us = 500000.0;
    int64_t tick = 0;
    for (int64_t i = 0; i < midi->n_tempos; i++) {
        const dumu_midi_tempo_event *e = &midi->tempos[i];
        if (e->tick < tick || e->us_per_quarter < 1) {
            rc = dumu_fail(err, DUMU_E_INVALID_ARG, "grid: tempo event %lld out of order or 0",
                           (long long)i);
            goto done;
        }
        t += (double)(e->tick - tick) * us / (ppq * 1e6);
        tick = e->tick;
        us = e->us_per_quarter;
        map[i + 1] = (dumu_tempo_change){t, 60e6 / us};
    }
    beats[0] = (grid_run){0.0, 1.0};
    bars[0] = (grid_run){0.0, 4.0};
    for (int64_t i = 0; i < midi->n_time_signatures; i++) {
        const dumu_midi_time_signature *s = &midi->time_signatures[i];
        if (s->tick < (i ? midi->time_signatures[i - 1].tick : 0) || s->numerator < 1 ||
            s->denominator_log2 < 0 || s->denominator_log2 > 31) {
            rc = dumu_fail(err, DUMU_E_INVALID_ARG,
                           "grid: time signature %lld out of order or invalid", (long long)i);
            goto done;
        }
        beats[i + 1] = (grid_run){(double)s->tick / ppq, 1.0};
        bars[i + 1] =
            (grid_run){(double)s->tick / ppq, s->numerator * 4.0 / ldexp(1.0, s->denominator_log2)};
    }
    rc = make_grid(map, midi->n_tempos + 1, beats, midi->n_time_signatures + 1, bars,
                   midi->n_time_signatures + 1, duration_s, out, err);
done:
    dumu_free(map);
    dumu_free(beats);
    dumu_free(bars);
    if (rc) dumu_grid_deinit(out);
    return rc;
}

void dumu_grid_deinit(dumu_grid *grid) {
    if (!grid) return;
    dumu_free(grid->tempo);
    dumu_free(grid->beats);
    dumu_free(grid->bars);
    memset(grid, 0, sizeof *grid);
}

static dumu_status check_times(const double *t, int64_t n, const char *what, dumu_error *err) {
    if (n < 0 || (n > 0 && !t))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "beats: invalid %s list", what);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(t[i]) || (i > 0 && t[i] < t[i - 1]))
            return dumu_fail(err, DUMU_E_INVALID_ARG,
                             "beats: %s time %lld is not finite or not ascending", what,
                             (long long)i);
    }
    return DUMU_OK;
}

dumu_status dumu_score_beats(const double *ref, int64_t n_ref, const double *est, int64_t n_est,
                             double tol_s, dumu_prf *out, dumu_error *err) {
    DUMU_ASSERT(out);
    memset(out, 0, sizeof *out);
    dumu_status rc = check_times(ref, n_ref, "reference", err);
    if (!rc) rc = check_times(est, n_est, "estimated", err);
    if (!rc && !(isfinite(tol_s) && tol_s >= 0.0))
        rc = dumu_fail(err, DUMU_E_INVALID_ARG, "beats: tolerance %g s", tol_s);
    if (rc) return rc;
    /* On sorted lists the admissible pairs of each reference are a window of estimates that
     * only moves forwards, and then matching each reference to the earliest free estimate in
     * reach is a maximum matching (an exchange argument: any matching can be rearranged into
     * this one without losing a pair). */
    int64_t i = 0, j = 0, m = 0;
    while (i < n_ref && j < n_est) {
        if (est[j] < ref[i] - tol_s) {
            j++;
        } else if (est[j] > ref[i] + tol_s) {
            i++;
        } else {
            m++;
            i++;
            j++;
        }
    }
    *out = prf(n_ref, n_est, m);
    return DUMU_OK;
}

/* Overlaps of a tempo event with a true tempo this short do not count: a file's tempo events
 * sit on whole ticks and microseconds (at 480 ppq and 120 BPM a tick is ~1 ms), so an event
 * that starts on a true change can reach a hair into the segment before it. */
#define TEMPO_MIN_OVERLAP_S 1e-3

dumu_status dumu_score_tempo_events(const dumu_tempo_change *ref, int64_t n_ref,
                                    const dumu_tempo_change *est, int64_t n_est, double duration_s,
                                    double *max_dev, dumu_error *err) {
    DUMU_ASSERT(max_dev);
    *max_dev = 0.0;
    dumu_status rc = check_map(ref, n_ref, "tempo events (reference)", err);
    if (!rc) rc = check_map(est, n_est, "tempo events (estimate)", err);
    if (!rc) rc = check_duration(duration_s, err);
    if (rc) return rc;
    double worst = 0.0;
    for (int64_t i = 0; i < n_est; i++) {
        /* [a, b): when change i is in force, clipped to [0, duration] */
        double a = i > 0 ? fmax(est[i].time_s, 0.0) : 0.0;
        double b = i + 1 < n_est ? fmin(est[i + 1].time_s, duration_s) : duration_s;
        if (a >= b) continue;
        for (int64_t j = 0; j < n_ref; j++) {
            double c = j > 0 ? ref[j].time_s : -HUGE_VAL;
            double d = j + 1 < n_ref ? ref[j + 1].time_s : HUGE_VAL;
            if (fmin(b, d) - fmax(a, c) > TEMPO_MIN_OVERLAP_S)
                worst = fmax(worst, fabs(est[i].bpm / ref[j].bpm - 1.0));
        }
    }
    *max_dev = worst;
    return DUMU_OK;
}

dumu_status dumu_score_grid(const dumu_grid *ref, const dumu_grid *est, double ref_bpm,
                            const dumu_score_params *params, dumu_grid_scores *out,
                            dumu_error *err) {
    DUMU_ASSERT(out);
    memset(out, 0, sizeof *out);
    dumu_score_params p = params ? *params : dumu_score_default_params();
    if (!ref || !est || !ref->tempo || !est->tempo)
        return dumu_fail(err, DUMU_E_INVALID_ARG, "grid scores: missing grid");
    if (!(isfinite(ref_bpm) && ref_bpm > 0.0) || !(isfinite(p.tempo_tol) && p.tempo_tol >= 0.0))
        return dumu_fail(err, DUMU_E_INVALID_ARG, "grid scores: tempo %g BPM, tolerance %g",
                         ref_bpm, p.tempo_tol);
    out->bpm = est->mean_bpm;
    out->tempo_ok = dumu_score_tempo(out->bpm, ref_bpm, p.tempo_tol);
    /* Acc2: the metrical levels of Gouyon et al. 2006, duple and triple */
    const double factors[5] = {1.0, 2.0, 0.5, 3.0, 1.0 / 3.0};
    for (int k = 0; k < 5; k++)
        out->tempo_ok_tolerant |= dumu_score_tempo(out->bpm, ref_bpm * factors[k], p.tempo_tol);
    dumu_status rc = dumu_score_beats(ref->beats, ref->n_beats, est->beats, est->n_beats,
                                      p.beat_tol_s, &out->beats, err);
    if (!rc)
        rc = dumu_score_beats(ref->bars, ref->n_bars, est->bars, est->n_bars, p.beat_tol_s,
                              &out->downbeats, err);
    if (!rc)
        rc = dumu_score_tempo_events(ref->tempo, ref->n_tempo, est->tempo, est->n_tempo,
                                     ref->duration_s, &out->max_tempo_dev, err);
    return rc;
}
