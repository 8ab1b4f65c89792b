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
