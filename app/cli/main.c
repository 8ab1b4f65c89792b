/* dumu - the command-line front end of libdumu.
 *
 * Only argument parsing, terminal output and exit codes live here; every computation is a
 * libdumu call. Exit codes (documented in usage() and the README):
 *   0 ok, 1 usage error, 2 bad input audio, 3 model missing or invalid, 4 cannot write output,
 *   5 internal error (out of memory, ...), 130 interrupted (Ctrl-C).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dumu/dumu.h"

#include "cli/eval.h"
#include "cli/exit_codes.h"
#include "common/models.h"
#include "server/server.h"

enum progress_mode { PROGRESS_AUTO, PROGRESS_BAR, PROGRESS_JSON, PROGRESS_NONE };

static volatile sig_atomic_t g_interrupted; /* set by SIGINT/SIGTERM, polled by progress */

static void on_signal(int sig) {
    (void)sig;
    g_interrupted = 1;
}

/* One option's line of the help, its range and default from libdumu's table. */
static void param_help(FILE *f, const char *option, const char *name) {
    const dumu_param_spec *p = dumu_param_find(name);
    fprintf(f, "      %-20s %s; %g..%g%s%s", option, p->help, p->min, p->max, *p->unit ? " " : "",
            p->unit);
    if (p->zero_off)
        fprintf(f, " (default: none)\n");
    else
        fprintf(f, " (default %g)\n", p->def);
}

/* --fast: true, or a word on stderr that this CPU runs exact mode instead. */
static bool fast_or_say(const char *cmd) {
    if (dumu_fast_available()) return true;
    fprintf(stderr, "dumu %s: --fast needs AVX512_BF16, which this CPU lacks: exact mode\n", cmd);
    return false;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: dumu extract IN -o OUT.mid [--stem-out BASS.wav] [--overlap X] [--fast] "
            "[options]\n"
            "       dumu transcribe IN -o OUT.mid [options]\n"
            "       dumu separate IN [-o DIR] [--stems bass|all|drums,bass,...] [--format "
            "wav|flac]\n"
            "                        [--overlap X] [--fast] [--threads N] [--keep-rate]\n"
            "       dumu convert IN -o OUT.(wav|flac|mp3) [--rate HZ] [--mono] [--format F]\n"
            "       dumu serve [--host H] [--port N] [--data-dir DIR] [options] (serve --help)\n"
            "       dumu worker --db postgresql://USER@HOST/DB [options] (worker --help)\n"
            "       dumu admin users | keys create EMAIL [--name N] | keys list EMAIL |\n"
            "                  keys revoke ID | tiers [list] | tiers set NAME [--rpm N ...] |\n"
            "                  users set-tier EMAIL TIER | usage [EMAIL]\n"
            "                  [--data-dir DIR | --db URL] (admin --help)\n"
            "       dumu eval MANIFEST... [--json OUT] [--stem-cache DIR] (eval --help)\n"
            "       dumu --help | --version\n"
            "\n"
            "extract: a song to the MIDI of its bass line (htdemucs bass stem -> Basic Pitch; the\n"
            "  other stem's bass register when the bass stem is nearly silent; the tempo comes "
            "from\n"
            "  the whole mix). Takes every transcribe option, and:\n"
            "      --stem-out FILE      also write the bass stem (.wav float or .flac 24-bit)\n"
            "      --fast               bf16 products in the separation (CPUs with AVX512_BF16):\n"
            "                           12-26 %% less time, stems about 45 dB from exact\n");
    param_help(f, "--overlap X", "overlap");
    fprintf(
        f, "\n"
           "transcribe: audio (WAV, FLAC, OGG, MP3; a bass stem or a solo bass recording) to MIDI\n"
           "  -o, --output FILE        MIDI file to write (required)\n"
           "      --json FILE          also write the notes, tempo and beats as JSON ('-' = "
           "stdout)\n");
    param_help(f, "--onset-threshold X", "onset_threshold");
    param_help(f, "--frame-threshold X", "frame_threshold");
    param_help(f, "--min-note-ms N", "min_note_ms");
    param_help(f, "--min-freq HZ", "min_freq");
    param_help(f, "--max-freq HZ", "max_freq");
    fprintf(f,
            "      --mode bass|raw      bass: one clean bass line (default); raw: Basic Pitch's\n"
            "                           own polyphonic notes (the options below apply to raw)\n"
            "      --quantize GRID      snap notes to the beat grid: 1/4 1/8 1/16 1/32, triplets\n"
            "                           1/8t 1/16t 1/32t, or off (default)\n");
    param_help(f, "--quantize-strength P", "quantize_strength");
    fprintf(f,
            "      --musicxml FILE      also write the notes as MusicXML (bass clef, key, meter)\n"
            "      --tab FILE           also write bass tablature as text\n"
            "      --tab-strings 4|5    four (E A D G, default) or five strings (B E A D G)\n"
            "      --no-melodia         turn the melodia trick off\n"
            "      --no-infer-onsets    do not infer onsets from note activations\n"
            "      --energy-tolerance N frames under the threshold a note may span (default 11)\n"
            "      --pitch-bends        write pitch bends to the MIDI file\n");
    param_help(f, "--tempo auto|BPM", "bpm");
    fprintf(
        f, "      --program N          General MIDI program 1..128 (default 34, Electric Bass "
           "finger)\n"
           "      --threads N          worker threads (default 2)\n"
           "      --models DIR         model folder (default: $DUMU_MODELS_DIR or ./models)\n"
           "      --max-duration S     refuse longer input (default 1800 s)\n"
           "      --progress MODE      bar | json | none (default: bar on a terminal, else none)\n"
           "  -q, --quiet              no progress, no summary\n"
           "\n"
           "separate: split a song into drums, bass, other and vocals (htdemucs)\n"
           "  -o DIR                   output folder (default ./separated), one file per stem\n"
           "      --stems LIST         bass | all | a comma list (default all)\n"
           "      --format wav|flac    32-bit float WAV (default) or 24-bit FLAC\n"
           "      --keep-rate          write stems at the input's sample rate (default 44100 Hz)\n"
           "\n"
           "convert: decode any supported input and write WAV, FLAC or MP3\n"
           "      --rate HZ            resample (libsoxr, high quality)\n"
           "      --mono               mix down to one channel\n"
           "      --format F           wav16 | wav24 | wavf32 | flac16 | flac24 | mp3 (VBR, 32,\n"
           "                           44.1 or 48 kHz; default from the extension: .wav -> wav16,\n"
           "                           .flac -> flac16, .mp3 -> mp3)\n"
           "\n"
           "exit codes: 0 ok, 1 usage, 2 bad input audio, 3 model missing or invalid,\n"
           "            4 cannot write output, 5 internal error, 130 interrupted\n");
}

/* Maps a library status to the CLI's exit code for an error while reading input. */
static int exit_for_status(dumu_status rc) {
    switch (rc) {
    case DUMU_OK: return 0;
    case DUMU_E_INVALID_ARG: return EXIT_USAGE;
    case DUMU_E_MODEL: return EXIT_MODEL;
    case DUMU_E_CANCELLED: return EXIT_INTERRUPTED;
    case DUMU_E_NOMEM: return EXIT_INTERNAL;
    default: return EXIT_INPUT;
    }
}

static int parse_double(const char *s, double lo, double hi, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

/* A number for the libdumu parameter `name` (dumu_param_find), checked against its range. */
static int parse_param(const char *s, const char *name, double *out) {
    const dumu_param_spec *spec = dumu_param_find(name);
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!spec || errno || end == s || *end || !dumu_param_valid(spec, v)) return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Progress */

struct progress_state {
    enum progress_mode mode;
    int last_permille; /* last value drawn, to redraw only on change */
    int last_stage;    /* a dumu_stage, -1 before the first */
};

static int on_progress(dumu_stage stage, float fraction, void *user) {
    struct progress_state *p = user;
    const char *name = dumu_stage_name(stage);
    int permille = (int)(fraction * 1000.0f);
    if (p->mode == PROGRESS_BAR &&
        (permille / 5 != p->last_permille / 5 || (int)stage != p->last_stage)) {
        int width = 30, filled = permille * width / 1000;
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %3d%%  %-12s", bar, permille / 10, name);
        fflush(stderr);
    } else if (p->mode == PROGRESS_JSON &&
               (permille / 10 != p->last_permille / 10 || (int)stage != p->last_stage)) {
        fprintf(stderr, "{\"stage\":\"%s\",\"progress\":%.3f}\n", name, (double)fraction);
        fflush(stderr);
    }
    p->last_permille = permille;
    p->last_stage = (int)stage;
    return g_interrupted ? 1 : 0;
}

static void progress_end(const struct progress_state *p) {
    if (p->mode == PROGRESS_BAR) fprintf(stderr, "\r%60s\r", "");
}

/* ---------------------------------------------------------------------------------------- */
/* Output files */

static dumu_status write_bytes(const char *path, const void *data, size_t size, dumu_error *err) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err->message, sizeof err->message, "cannot write %s: %s", path, strerror(errno));
        return err->status = DUMU_E_IO;
    }
    size_t put = fwrite(data, 1, size, f);
    int bad = put != size || ferror(f);
    bad |= fclose(f);
    if (bad) {
        snprintf(err->message, sizeof err->message, "cannot write %s: %s", path, strerror(errno));
        return err->status = DUMU_E_IO;
    }
    return DUMU_OK;
}

/* The MIDI file (tempo map, meter and key of the transcription) and the optional notation. */
static dumu_status write_outputs(const dumu_transcription *tr, const dumu_midi_params *mp,
                                 const dumu_notation_params *np, const char *midi_path,
                                 const char *xml_path, const char *tab_path, dumu_error *err) {
    uint8_t *midi = NULL;
    char *text = NULL;
    size_t size = 0;
    dumu_status rc = dumu_transcription_midi(tr, mp, &midi, &size, err);
    if (!rc) rc = write_bytes(midi_path, midi, size, err);
    dumu_free(midi);
    if (!rc && xml_path) {
        rc = dumu_transcription_musicxml(tr, np, &text, &size, err);
        if (!rc) rc = write_bytes(xml_path, text, size, err);
        dumu_free(text);
        text = NULL;
    }
    if (!rc && tab_path) {
        rc = dumu_transcription_tab(tr, np, &text, err);
        if (!rc) rc = write_bytes(tab_path, text, strlen(text), err);
        dumu_free(text);
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* JSON output */

/* The transcription's JSON document (dumu_transcription_json), with the run's own members
 * first: the version, the input and its format, and the note parameters. `source`: the
 * extraction's, or NULL for transcribe (no stems to choose from). Returns 0, or -1 with a
 * message in err. */
static int write_json(const char *path, const char *input, const dumu_audio *audio,
                      const dumu_transcription *tr, const dumu_transcribe_params *tp,
                      const dumu_midi_params *mp, const dumu_bass_source *source, dumu_error *err) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dumu_version", dumu_version());
    cJSON_AddStringToObject(o, "input", input);
    cJSON_AddNumberToObject(o, "sample_rate", audio->sample_rate);
    cJSON_AddNumberToObject(o, "channels", audio->n_channels);
    cJSON *p = cJSON_AddObjectToObject(o, "params");
    cJSON_AddNumberToObject(p, "onset_threshold", tp->notes.onset_threshold);
    cJSON_AddNumberToObject(p, "frame_threshold", tp->notes.frame_threshold);
    cJSON_AddNumberToObject(p, "min_note_frames", tp->notes.min_note_frames);
    cJSON_AddBoolToObject(p, "infer_onsets", tp->notes.infer_onsets);
    cJSON_AddBoolToObject(p, "melodia_trick", tp->notes.melodia_trick);
    char *extra = cJSON_PrintUnformatted(o), *doc = NULL;
    cJSON_Delete(o);
    dumu_result_info info = {
        (double)audio->n_frames / audio->sample_rate,  tp->mode, source != NULL,
        source ? *source : DUMU_BASS_SOURCE_BASS_STEM, mp,       extra};
    dumu_status rc = extra ? dumu_transcription_json(tr, &info, &doc, err)
                           : (snprintf(err->message, sizeof err->message, "out of memory"),
                              err->status = DUMU_E_NOMEM);
    cJSON_free(extra);
    if (!rc && strcmp(path, "-") == 0) {
        if (puts(doc) < 0 || fflush(stdout)) {
            snprintf(err->message, sizeof err->message, "cannot write the JSON: %s",
                     strerror(errno));
            rc = err->status = DUMU_E_IO;
        }
    } else if (!rc) {
        rc = write_bytes(path, doc, strlen(doc), err);
    }
    dumu_free(doc);
    return rc ? -1 : 0;
}

/* What to tell the user about where an extraction's notes come from; NULL for the usual
 * case, the bass stem. */
static const char *source_note(dumu_bass_source source) {
    switch (source) {
    case DUMU_BASS_SOURCE_BASS_STEM: return NULL;
    case DUMU_BASS_SOURCE_OTHER_STEM:
        return "the bass stem is nearly silent; notes from the other stem's bass register";
    case DUMU_BASS_SOURCE_MIX:
        return "the bass stem is nearly silent; notes from the mix's bass register";
    case DUMU_BASS_SOURCE_NONE:
        return "no bass line found (silence, or drums alone in the bass register): no notes";
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* transcribe */

enum {
    OPT_JSON = 256,
    OPT_ONSET,
    OPT_FRAME,
    OPT_MIN_NOTE,
    OPT_MIN_FREQ,
    OPT_MAX_FREQ,
    OPT_NO_MELODIA,
    OPT_NO_INFER,
    OPT_BENDS,
    OPT_TEMPO,
    OPT_PROGRAM,
    OPT_THREADS,
    OPT_MODELS,
    OPT_MAX_DURATION,
    OPT_PROGRESS,
    OPT_RATE,
    OPT_MONO,
    OPT_FORMAT,
    OPT_STEM_OUT,
    OPT_OVERLAP,
    OPT_FAST,
    OPT_STEMS,
    OPT_KEEP_RATE,
    OPT_ENERGY_TOL,
    OPT_MODE,
    OPT_QUANTIZE,
    OPT_QSTRENGTH,
    OPT_MUSICXML,
    OPT_TAB,
    OPT_TAB_STRINGS,
};

/* Options every command that runs a network takes. */
struct common_opts {
    int32_t threads;         /* --threads, 0 = the library default */
    const char *models;      /* --models, NULL = search */
    double max_duration_s;   /* --max-duration */
    enum progress_mode mode; /* --progress */
    int quiet;               /* -q */
};

static struct common_opts common_defaults(void) {
    struct common_opts o = {0, NULL, dumu_decode_default_params().max_duration_s, PROGRESS_AUTO, 0};
    return o;
}

/* Returns 1 when `c` was a common option (stored in *o), 0 when it is not one, -1 when its
 * value is invalid. */
static int parse_common(int c, const char *arg, struct common_opts *o) {
    long l;
    switch (c) {
    case OPT_THREADS:
        if (parse_int(arg, 1, 64, &l)) return -1;
        o->threads = (int32_t)l;
        return 1;
    case OPT_MODELS: o->models = arg; return 1;
    case OPT_MAX_DURATION: return parse_double(arg, 1.0, 86400.0, &o->max_duration_s) ? -1 : 1;
    case OPT_PROGRESS:
        if (strcmp(arg, "bar") == 0)
            o->mode = PROGRESS_BAR;
        else if (strcmp(arg, "json") == 0)
            o->mode = PROGRESS_JSON;
        else if (strcmp(arg, "none") == 0)
            o->mode = PROGRESS_NONE;
        else
            return -1;
        return 1;
    case 'q': o->quiet = 1; return 1;
    default: return 0;
    }
}

/* The model file or folder `sub` (DUMU_APP_SEPARATOR_FILE, "basic-pitch") under the model
 * folder into out (`cap` bytes). */
static int model_path(const char *models, const char *sub, char *out, size_t cap) {
    char buf[PATH_MAX];
    int len = snprintf(out, cap, "%s/%s", dumu_app_find_models(models, buf, sizeof buf), sub);
    if (len < 0 || (size_t)len >= cap) {
        fprintf(stderr, "dumu: model path too long\n");
        return -1;
    }
    return 0;
}

static void setup_progress(struct progress_state *prog, int quiet) {
    if (quiet) prog->mode = PROGRESS_NONE;
    if (prog->mode == PROGRESS_AUTO)
        prog->mode = isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_NONE;
}

/* transcribe (extract == 0): notes of IN itself. extract (extract == 1): the bass stem of IN by
 * the separator, then its notes, with the tempo of the whole mix. */
static int cmd_transcribe(int argc, char **argv, int extract) {
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"json", required_argument, NULL, OPT_JSON},
        {"onset-threshold", required_argument, NULL, OPT_ONSET},
        {"frame-threshold", required_argument, NULL, OPT_FRAME},
        {"min-note-ms", required_argument, NULL, OPT_MIN_NOTE},
        {"min-freq", required_argument, NULL, OPT_MIN_FREQ},
        {"max-freq", required_argument, NULL, OPT_MAX_FREQ},
        {"mode", required_argument, NULL, OPT_MODE},
        {"quantize", required_argument, NULL, OPT_QUANTIZE},
        {"quantize-strength", required_argument, NULL, OPT_QSTRENGTH},
        {"musicxml", required_argument, NULL, OPT_MUSICXML},
        {"tab", required_argument, NULL, OPT_TAB},
        {"tab-strings", required_argument, NULL, OPT_TAB_STRINGS},
        {"no-melodia", no_argument, NULL, OPT_NO_MELODIA},
        {"no-infer-onsets", no_argument, NULL, OPT_NO_INFER},
        {"energy-tolerance", required_argument, NULL, OPT_ENERGY_TOL},
        {"pitch-bends", no_argument, NULL, OPT_BENDS},
        {"tempo", required_argument, NULL, OPT_TEMPO},
        {"program", required_argument, NULL, OPT_PROGRAM},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"models", required_argument, NULL, OPT_MODELS},
        {"max-duration", required_argument, NULL, OPT_MAX_DURATION},
        {"progress", required_argument, NULL, OPT_PROGRESS},
        {"stem-out", required_argument, NULL, OPT_STEM_OUT},
        {"overlap", required_argument, NULL, OPT_OVERLAP},
        {"fast", no_argument, NULL, OPT_FAST},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = extract ? "extract" : "transcribe";
    const char *out_path = NULL, *json_path = NULL, *stem_path = NULL, *xml_path = NULL,
               *tab_path = NULL;
    dumu_notation_params np = dumu_notation_default_params();
    dumu_extract_params ep = dumu_extract_default_params();
    dumu_transcribe_params *tp = &ep.transcribe;
    dumu_midi_params mp = dumu_midi_default_params();
    dumu_decode_params dp = dumu_decode_default_params();
    struct common_opts co = common_defaults();
    int c, li = -1;
    double d;
    long l;

    while ((c = getopt_long(argc, argv, "o:qh", opts, &li)) != -1) {
        switch (c) {
        case 'o': out_path = optarg; break;
        case OPT_JSON: json_path = optarg; break;
        case OPT_ONSET:
            if (parse_param(optarg, "onset_threshold", &tp->notes.onset_threshold)) goto bad_value;
            break;
        case OPT_FRAME:
            if (parse_param(optarg, "frame_threshold", &tp->notes.frame_threshold)) goto bad_value;
            break;
        case OPT_MIN_NOTE:
            if (parse_param(optarg, "min_note_ms", &d)) goto bad_value;
            tp->notes.min_note_frames = dumu_note_ms_to_frames(d);
            break;
        case OPT_MIN_FREQ:
            if (parse_param(optarg, "min_freq", &tp->notes.min_freq_hz)) goto bad_value;
            break;
        case OPT_MAX_FREQ:
            if (parse_param(optarg, "max_freq", &tp->notes.max_freq_hz)) goto bad_value;
            break;
        case OPT_QUANTIZE:
            if (strcmp(optarg, "off") == 0)
                tp->quantize = 0;
            else if (dumu_quantize_parse_grid(optarg, &tp->quantize, NULL))
                goto bad_value;
            break;
        case OPT_QSTRENGTH:
            if (parse_param(optarg, "quantize_strength", &d)) goto bad_value;
            tp->quantize_strength = d / 100.0;
            break;
        case OPT_MUSICXML: xml_path = optarg; break;
        case OPT_TAB: tab_path = optarg; break;
        case OPT_TAB_STRINGS:
            if (parse_int(optarg, 4, 5, &l)) goto bad_value;
            np.tab_strings = (int32_t)l;
            break;
        case OPT_MODE:
            if (strcmp(optarg, "bass") == 0)
                tp->mode = DUMU_NOTES_BASS;
            else if (strcmp(optarg, "raw") == 0)
                tp->mode = DUMU_NOTES_RAW;
            else
                goto bad_value;
            break;
        case OPT_NO_MELODIA: tp->notes.melodia_trick = false; break;
        case OPT_NO_INFER: tp->notes.infer_onsets = false; break;
        case OPT_ENERGY_TOL:
            if (parse_int(optarg, 1, 1000, &l)) goto bad_value;
            tp->notes.energy_tolerance = (int32_t)l;
            break;
        case OPT_BENDS: mp.pitch_bends = true; break;
        case OPT_TEMPO:
            if (strcmp(optarg, "auto") == 0)
                tp->fixed_bpm = 0.0;
            else if (parse_param(optarg, "bpm", &tp->fixed_bpm))
                goto bad_value;
            break;
        case OPT_PROGRAM:
            if (parse_int(optarg, 1, 128, &l)) goto bad_value;
            mp.program = (int32_t)l - 1;
            break;
        case OPT_STEM_OUT:
            if (!extract) goto extract_only;
            stem_path = optarg;
            break;
        case OPT_OVERLAP:
            if (!extract) goto extract_only;
            if (parse_param(optarg, "overlap", &ep.separate.overlap)) goto bad_value;
            break;
        case OPT_FAST:
            if (!extract) goto extract_only;
            ep.separate.fast = fast_or_say(cmd);
            break;
        case 'h': usage(stdout); return 0;
        default:
            switch (parse_common(c, optarg, &co)) {
            case 1: break;
            case 0: usage(stderr); return EXIT_USAGE;
            default: goto bad_value;
            }
        }
    }
    if (optind + 1 != argc || !out_path) {
        fprintf(stderr, "dumu %s: need one input file and -o OUT.mid (see --help)\n", cmd);
        return EXIT_USAGE;
    }
    const char *in_path = argv[optind], *models = co.models;
    int quiet = co.quiet;
    struct progress_state prog = {co.mode, -1000, -1};
    dp.max_duration_s = co.max_duration_s;
    if (co.threads) tp->bp.n_threads = ep.separate.n_threads = co.threads;
    setup_progress(&prog, quiet);
    if (prog.mode != PROGRESS_NONE) {
        tp->progress = on_progress;
        tp->progress_user = &prog;
        ep.progress = on_progress;
        ep.progress_user = &prog;
    }
    char bp_dir[PATH_MAX], sep_path[PATH_MAX];
    if (model_path(models, "basic-pitch", bp_dir, sizeof bp_dir) ||
        model_path(models, DUMU_APP_SEPARATOR_FILE, sep_path, sizeof sep_path))
        return EXIT_USAGE;

    int code = 0;
    double t0 = now_s();
    dumu_error err = {0};
    dumu_audio audio = {0};
    dumu_bp_model *bp = NULL;
    dumu_separator *sep = NULL;
    dumu_extraction ex = {0};
    dumu_transcription *tr = &ex.transcription;
    dumu_status rc = dumu_bp_model_open(bp_dir, &bp, &err);
    if (!rc && extract) rc = dumu_separator_open(sep_path, &sep, &err);
    if (rc) {
        fprintf(stderr, "dumu: %s\n", err.message);
        code = exit_for_status(rc);
        goto done;
    }
    if (prog.mode != PROGRESS_NONE) on_progress(DUMU_STAGE_DECODE, 0.0f, &prog);
    rc = dumu_audio_decode_file(in_path, &dp, &audio, &err);
    if (rc) {
        fprintf(stderr, "dumu: %s: %s\n", in_path, err.message);
        code = exit_for_status(rc);
        goto done;
    }
    if (extract)
        rc = dumu_extract(sep, bp, &audio, &ep, &ex, &err);
    else
        rc = dumu_transcribe(bp, &audio, tp, tr, &err);
    progress_end(&prog);
    if (rc) {
        fprintf(stderr, "dumu: %s: %s\n", in_path, err.message);
        code = exit_for_status(rc);
        goto done;
    }
    rc = write_outputs(tr, &mp, &np, out_path, xml_path, tab_path, &err);
    if (!rc && stem_path) {
        dumu_audio_format fmt =
            ends_with(stem_path, ".flac") ? DUMU_AUDIO_FLAC_24 : DUMU_AUDIO_WAV_FLOAT;
        rc = dumu_audio_write_file(stem_path, dumu_stems_find(&ex.stems, "bass"), fmt, &err);
    }
    if (rc) {
        fprintf(stderr, "dumu: %s\n", err.message);
        code = rc == DUMU_E_NOMEM ? EXIT_INTERNAL : EXIT_OUTPUT;
        goto done;
    }
    if (json_path &&
        write_json(json_path, in_path, &audio, tr, tp, &mp, extract ? &ex.source : NULL, &err)) {
        fprintf(stderr, "dumu: %s\n", err.message);
        code = err.status == DUMU_E_NOMEM ? EXIT_INTERNAL : EXIT_OUTPUT;
        goto done;
    }
    if (!quiet && extract && source_note(ex.source))
        fprintf(stderr, "dumu: %s: %s\n", in_path, source_note(ex.source));
    if (!quiet)
        fprintf(stderr, "dumu: %s: %lld notes, %.1f BPM%s -> %s (%.2f s)\n", in_path,
                (long long)tr->notes.n_notes, tr->tempo.bpm,
                tr->tempo.bpm > 0.0 ? "" : " (no pulse found)", out_path, now_s() - t0);
done:
    dumu_extraction_deinit(&ex);
    dumu_audio_deinit(&audio);
    dumu_bp_model_free(bp);
    dumu_separator_free(sep);
    return code;
bad_value:
    fprintf(stderr, "dumu %s: invalid value '%s' for --%s\n", cmd, optarg,
            li >= 0 ? opts[li].name : "?");
    return EXIT_USAGE;
extract_only:
    fprintf(stderr, "dumu transcribe: --%s is an option of dumu extract\n", opts[li].name);
    return EXIT_USAGE;
}

/* ---------------------------------------------------------------------------------------- */
/* separate */

/* Parses "all" or a comma list of the separator's stem names like "drums,bass" into a
 * dumu_separate_params.stems mask; -1 for a name the separator does not have. */
static int parse_stems(const dumu_separator *sep, const char *s, uint32_t *mask) {
    *mask = 0;
    if (strcmp(s, "all") == 0) {
        *mask = DUMU_STEMS_ALL;
        return 0;
    }
    char buf[128];
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int32_t i = dumu_separator_stem_index(sep, tok);
        if (i < 0) return -1;
        *mask |= 1u << i;
    }
    return *mask ? 0 : -1;
}

static int cmd_separate(int argc, char **argv) {
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"stems", required_argument, NULL, OPT_STEMS},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"overlap", required_argument, NULL, OPT_OVERLAP},
        {"fast", no_argument, NULL, OPT_FAST},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"keep-rate", no_argument, NULL, OPT_KEEP_RATE},
        {"models", required_argument, NULL, OPT_MODELS},
        {"max-duration", required_argument, NULL, OPT_MAX_DURATION},
        {"progress", required_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_dir = "separated", *ext = "wav", *stems_arg = "all";
    dumu_separate_params sp = dumu_separate_default_params();
    dumu_decode_params dp = dumu_decode_default_params();
    dumu_audio_format fmt = DUMU_AUDIO_WAV_FLOAT;
    struct common_opts co = common_defaults();
    int keep_rate = 0, c, li = -1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, &li)) != -1) {
        switch (c) {
        case 'o': out_dir = optarg; break;
        case OPT_STEMS: stems_arg = optarg; break; /* the separator knows the names */
        case OPT_FORMAT:
            if (strcmp(optarg, "wav") == 0)
                fmt = DUMU_AUDIO_WAV_FLOAT, ext = "wav";
            else if (strcmp(optarg, "flac") == 0)
                fmt = DUMU_AUDIO_FLAC_24, ext = "flac";
            else
                goto bad_value;
            break;
        case OPT_OVERLAP:
            if (parse_param(optarg, "overlap", &sp.overlap)) goto bad_value;
            break;
        case OPT_FAST: sp.fast = fast_or_say("separate"); break;
        case OPT_KEEP_RATE: keep_rate = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            switch (parse_common(c, optarg, &co)) {
            case 1: break;
            case 0: usage(stderr); return EXIT_USAGE;
            default: goto bad_value;
            }
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "dumu separate: need one input file (see --help)\n");
        return EXIT_USAGE;
    }
    const char *in_path = argv[optind], *models = co.models;
    int quiet = co.quiet;
    struct progress_state prog = {co.mode, -1000, -1};
    dp.max_duration_s = co.max_duration_s;
    if (co.threads) sp.n_threads = co.threads;
    setup_progress(&prog, quiet);
    if (prog.mode != PROGRESS_NONE) {
        sp.progress = on_progress;
        sp.progress_user = &prog;
    }
    char sep_path[PATH_MAX];
    if (model_path(models, DUMU_APP_SEPARATOR_FILE, sep_path, sizeof sep_path)) return EXIT_USAGE;

    int code = 0;
    double t0 = now_s();
    dumu_error err = {0};
    dumu_audio audio = {0}, resampled = {0};
    dumu_separator *sep = NULL;
    dumu_stems stems = {0};
    dumu_status rc = dumu_separator_open(sep_path, &sep, &err);
    if (rc) {
        fprintf(stderr, "dumu: %s\n", err.message);
        code = exit_for_status(rc);
        goto done;
    }
    if (parse_stems(sep, stems_arg, &sp.stems)) {
        fprintf(stderr, "dumu separate: invalid value '%s' for --stems\n", stems_arg);
        code = EXIT_USAGE;
        goto done;
    }
    rc = dumu_audio_decode_file(in_path, &dp, &audio, &err);
    if (!rc) rc = dumu_separate(sep, &audio, &sp, &stems, &err);
    progress_end(&prog);
    if (rc) {
        fprintf(stderr, "dumu: %s: %s\n", in_path, err.message);
        code = exit_for_status(rc);
        goto done;
    }
    if (mkdir(out_dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "dumu: cannot create %s: %s\n", out_dir, strerror(errno));
        code = EXIT_OUTPUT;
        goto done;
    }
    for (int32_t i = 0; i < stems.n_stems; i++) {
        const dumu_audio *stem = &stems.stem[i].audio;
        if (!stem->samples) continue; /* not asked for */
        if (keep_rate && audio.sample_rate != stem->sample_rate) {
            rc = dumu_audio_resample(stem, audio.sample_rate, &resampled, &err);
            if (rc) break;
            stem = &resampled;
        }
        char path[PATH_MAX];
        int len = snprintf(path, sizeof path, "%s/%s.%s", out_dir, stems.stem[i].name, ext);
        if (len < 0 || (size_t)len >= sizeof path) {
            rc = DUMU_E_INVALID_ARG;
            snprintf(err.message, sizeof err.message, "output path too long");
            break;
        }
        rc = dumu_audio_write_file(path, stem, fmt, &err);
        dumu_audio_deinit(&resampled);
        if (rc) break;
        if (!quiet) fprintf(stderr, "dumu: wrote %s\n", path);
    }
    if (rc) {
        fprintf(stderr, "dumu: %s\n", err.message);
        code = rc == DUMU_E_NOMEM ? EXIT_INTERNAL : EXIT_OUTPUT;
        goto done;
    }
    if (!quiet) fprintf(stderr, "dumu: separated %s in %.2f s\n", in_path, now_s() - t0);
done:
    dumu_audio_deinit(&resampled);
    dumu_stems_deinit(&stems);
    dumu_audio_deinit(&audio);
    dumu_separator_free(sep);
    return code;
bad_value:
    fprintf(stderr, "dumu separate: invalid value '%s' for --%s\n", optarg,
            li >= 0 ? opts[li].name : "?");
    return EXIT_USAGE;
}

/* ---------------------------------------------------------------------------------------- */
/* convert */

static int cmd_convert(int argc, char **argv) {
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"rate", required_argument, NULL, OPT_RATE},
        {"mono", no_argument, NULL, OPT_MONO},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"max-duration", required_argument, NULL, OPT_MAX_DURATION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };

    static const struct {
        const char *name;
        dumu_audio_format format;
    } formats[] = {
        {"wav16", DUMU_AUDIO_WAV_PCM16},  {"wav24", DUMU_AUDIO_WAV_PCM24},
        {"wavf32", DUMU_AUDIO_WAV_FLOAT}, {"flac16", DUMU_AUDIO_FLAC_16},
        {"flac24", DUMU_AUDIO_FLAC_24},   {"mp3", DUMU_AUDIO_MP3},
    };

    const char *out_path = NULL, *format_name = NULL;
    dumu_decode_params dp = dumu_decode_default_params();
    int c;
    long l;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out_path = optarg; break;
        case OPT_RATE:
            if (parse_int(optarg, 1000, 768000, &l)) goto bad_value;
            dp.sample_rate = (int32_t)l;
            break;
        case OPT_MONO: dp.n_channels = 1; break;
        case OPT_FORMAT: format_name = optarg; break;
        case OPT_MAX_DURATION:
            if (parse_double(optarg, 1.0, 86400.0, &dp.max_duration_s)) goto bad_value;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !out_path) {
        fprintf(stderr, "dumu convert: need one input file and -o OUT (see --help)\n");
        return EXIT_USAGE;
    }
    if (!format_name)
        format_name = ends_with(out_path, ".flac")  ? "flac16"
                      : ends_with(out_path, ".mp3") ? "mp3"
                                                    : "wav16";
    int fmt = -1;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i].name, format_name) == 0) fmt = (int)formats[i].format;
    if (fmt < 0) {
        fprintf(stderr, "dumu convert: unknown format '%s'\n", format_name);
        return EXIT_USAGE;
    }
    dumu_error err = {0};
    dumu_audio audio = {0};
    int code = 0;
    dumu_status rc = dumu_audio_decode_file(argv[optind], &dp, &audio, &err);
    if (rc) {
        fprintf(stderr, "dumu: %s: %s\n", argv[optind], err.message);
        code = exit_for_status(rc);
    } else if ((rc = dumu_audio_write_file(out_path, &audio, (dumu_audio_format)fmt, &err))) {
        fprintf(stderr, "dumu: %s\n", err.message);
        code = rc == DUMU_E_NOMEM ? EXIT_INTERNAL : EXIT_OUTPUT;
    }
    dumu_audio_deinit(&audio);
    return code;
bad_value:
    fprintf(stderr, "dumu convert: invalid value '%s'\n", optarg);
    return EXIT_USAGE;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("dumu %s\n", dumu_version());
        return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (strcmp(cmd, "transcribe") == 0) return cmd_transcribe(argc - 1, argv + 1, 0);
    if (strcmp(cmd, "extract") == 0) return cmd_transcribe(argc - 1, argv + 1, 1);
    if (strcmp(cmd, "separate") == 0) return cmd_separate(argc - 1, argv + 1);
    if (strcmp(cmd, "convert") == 0) return cmd_convert(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0) return dumu_serve_main(argc - 1, argv + 1);
    if (strcmp(cmd, "worker") == 0) return dumu_worker_main(argc - 1, argv + 1);
    if (strcmp(cmd, "admin") == 0) return dumu_admin_main(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0) return dumu_cli_eval(argc - 1, argv + 1);
    fprintf(stderr, "dumu: unknown command '%s' (see dumu --help)\n", cmd);
    return EXIT_USAGE;
}
