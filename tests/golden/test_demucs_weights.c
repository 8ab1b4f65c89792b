/* htdemucs weights from the real htdemucs.onnx: totals, every layer's shape, the 215 mangled
 * onnx:: tensors resolved (checked against rule B of docs/htdemucs.md §3.3, by file order, and
 * bit-for-bit against the raw bytes, transposes included), the phase tables, and failures on
 * damaged copies (flipped byte, truncation, a renamed tensor, a changed shape). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "models/demucs_weights.h"
#include "nn/onnx.h"
#include "testutil.h"

typedef struct fixture {
    const char *path;
    uint8_t *bytes; /* the whole file */
    size_t size;
    dumu_onnx_model onnx;
    dumu_dm_weights *w;
} fixture;

static int setup(void **state) {
    static fixture fx;
    static char path[4096];
    snprintf(path, sizeof(path), "%s", test_path("DUMU_MODELS_DIR", "demucs/htdemucs.onnx"));
    fx.path = path;
    fx.bytes = test_read_file(path, &fx.size);
    if (dumu_onnx_parse(fx.bytes, fx.size, &fx.onnx, NULL) != DUMU_OK) return -1;
    dumu_error err = {0};
    if (dumu_dm_weights_open(path, true, &fx.w, &err) != DUMU_OK) {
        fprintf(stderr, "open failed: %s\n", err.message);
        return -1;
    }
    double sha_s, load_s = dumu_dm_weights_load_seconds(fx.w, &sha_s);
    printf("htdemucs weights: loaded in %.3f s (of which sha256 %.3f s), %lld tensors\n", load_s,
           sha_s, (long long)dumu_dm_weights_count(fx.w));
    *state = &fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    if (!fx) return 0;
    dumu_dm_weights_free(fx->w);
    dumu_onnx_model_deinit(&fx->onnx);
    free(fx->bytes);
    return 0;
}

static bool is_mangled(dumu_onnx_str s) {
    return s.len >= 6 && memcmp(s.data, "onnx::", 6) == 0;
}

static void test_totals(void **state) {
    fixture *fx = *state;
    const dumu_onnx_model *m = &fx->onnx;
    assert_int_equal(m->n_initializers, DUMU_DM_N_INITIALIZERS);
    int64_t floats = 0, mangled = 0;
    for (int64_t i = 0; i < m->n_initializers; i++) {
        assert_int_equal(m->initializers[i].data_type, DUMU_ONNX_FLOAT);
        floats += m->initializers[i].numel;
        mangled += is_mangled(m->initializers[i].name);
    }
    assert_int_equal(floats, DUMU_DM_N_FLOATS);
    assert_int_equal(mangled, 215);
    /* 537 initializers - 8 split in_proj pieces + 4 reassembled + 2 phase tables. */
    assert_int_equal(dumu_dm_weights_count(fx->w), 535);
    const dumu_dm_tensor *pt = dumu_dm_weights_get(fx->w, "crosstransformer.phase_t");
    const dumu_dm_tensor *pf = dumu_dm_weights_get(fx->w, "crosstransformer.phase_f");
    assert_non_null(pt);
    assert_non_null(pf);
    assert_int_equal(dumu_dm_weights_n_floats(fx->w) - pt->n - pf->n, DUMU_DM_N_FLOATS);
    /* Sorted, unique, aligned, shapes consistent. */
    const char *prev = "";
    for (int64_t i = 0; i < dumu_dm_weights_count(fx->w); i++) {
        const char *name;
        const dumu_dm_tensor *t = dumu_dm_weights_at(fx->w, i, &name);
        assert_non_null(t);
        assert_true(strcmp(prev, name) < 0);
        prev = name;
        assert_int_equal((uintptr_t)t->data % 64, 0);
        int64_t n = 1;
        for (int d = 0; d < t->ndim; d++)
            n *= t->shape[d];
        assert_int_equal(n, t->n);
        assert_ptr_equal(dumu_dm_weights_get(fx->w, name), t);
    }
    assert_null(dumu_dm_weights_at(fx->w, dumu_dm_weights_count(fx->w), NULL));
    assert_null(dumu_dm_weights_get(fx->w, "encoder.9.conv.weight"));
    assert_null(dumu_dm_weights_get(fx->w, "onnx::Mul_5074"));
}

static void expect_dconv(const dumu_dm_weights *w, const char *p, int i, int c) {
    char nm[96];
    int h = c / 8;
    for (int j = 0; j < 2; j++) {
        snprintf(nm, sizeof(nm), "%s.%d.dconv.layers.%d.0.weight", p, i, j);
        dumu_dm_weights_expect(w, nm, 3, h, c, 3);
        snprintf(nm, sizeof(nm), "%s.%d.dconv.layers.%d.0.bias", p, i, j);
        dumu_dm_weights_expect(w, nm, 1, h);
        snprintf(nm, sizeof(nm), "%s.%d.dconv.layers.%d.1.weight", p, i, j);
        dumu_dm_weights_expect(w, nm, 1, h);
        snprintf(nm, sizeof(nm), "%s.%d.dconv.layers.%d.1.bias", p, i, j);
        dumu_dm_weights_expect(w, nm, 1, h);
        snprintf(nm, sizeof(nm), "%s.%d.dconv.layers.%d.3.weight", p, i, j);
        dumu_dm_weights_expect(w, nm, 3, 2 * c, h, 1);
        snprintf(nm, sizeof(nm), "%s.%d.dconv.layers.%d.3.bias", p, i, j);
        dumu_dm_weights_expect(w, nm, 1, 2 * c);
        snprintf(nm, sizeof(nm), "%s.%d.dconv.layers.%d.4.weight", p, i, j);
        dumu_dm_weights_expect(w, nm, 1, 2 * c);
        snprintf(nm, sizeof(nm), "%s.%d.dconv.layers.%d.4.bias", p, i, j);
        dumu_dm_weights_expect(w, nm, 1, 2 * c);
        snprintf(nm, sizeof(nm), "%s.%d.dconv.layers.%d.6.scale", p, i, j);
        dumu_dm_weights_expect(w, nm, 1, c);
    }
}

/* The shapes of docs/htdemucs.md §2.3-§2.9 and the §3.2 table, layer by layer. */
static void test_layer_shapes(void **state) {
    fixture *fx = *state;
    const dumu_dm_weights *w = fx->w;
    char nm[96];
    static const int ch[4] = {48, 96, 192, 384};
    for (int i = 0; i < 4; i++) {
        int c = ch[i];
        snprintf(nm, sizeof(nm), "encoder.%d.conv.weight", i);
        dumu_dm_weights_expect(w, nm, 4, c, i ? ch[i - 1] : 4, 8, 1);
        snprintf(nm, sizeof(nm), "encoder.%d.conv.bias", i);
        dumu_dm_weights_expect(w, nm, 1, c);
        snprintf(nm, sizeof(nm), "encoder.%d.rewrite.weight", i);
        dumu_dm_weights_expect(w, nm, 4, 2 * c, c, 1, 1);
        snprintf(nm, sizeof(nm), "encoder.%d.rewrite.bias", i);
        dumu_dm_weights_expect(w, nm, 1, 2 * c);
        expect_dconv(w, "encoder", i, c);
        snprintf(nm, sizeof(nm), "tencoder.%d.conv.weight", i);
        dumu_dm_weights_expect(w, nm, 3, c, i ? ch[i - 1] : 2, 8);
        snprintf(nm, sizeof(nm), "tencoder.%d.rewrite.weight", i);
        dumu_dm_weights_expect(w, nm, 3, 2 * c, c, 1);
        snprintf(nm, sizeof(nm), "tencoder.%d.rewrite.bias", i);
        dumu_dm_weights_expect(w, nm, 1, 2 * c);
        expect_dconv(w, "tencoder", i, c);

        int cd = ch[3 - i];
        int co = i == 3 ? 16 : ch[2 - i], cot = i == 3 ? 8 : ch[2 - i];
        snprintf(nm, sizeof(nm), "decoder.%d.conv_tr.weight", i);
        dumu_dm_weights_expect(w, nm, 4, cd, co, 8, 1);
        snprintf(nm, sizeof(nm), "decoder.%d.conv_tr.bias", i);
        dumu_dm_weights_expect(w, nm, 1, co);
        snprintf(nm, sizeof(nm), "decoder.%d.rewrite.weight", i);
        dumu_dm_weights_expect(w, nm, 4, 2 * cd, cd, 3, 3);
        snprintf(nm, sizeof(nm), "decoder.%d.rewrite.bias", i);
        dumu_dm_weights_expect(w, nm, 1, 2 * cd);
        expect_dconv(w, "decoder", i, cd);
        snprintf(nm, sizeof(nm), "tdecoder.%d.conv_tr.weight", i);
        dumu_dm_weights_expect(w, nm, 3, cd, cot, 8);
        snprintf(nm, sizeof(nm), "tdecoder.%d.conv_tr.bias", i);
        dumu_dm_weights_expect(w, nm, 1, cot);
        snprintf(nm, sizeof(nm), "tdecoder.%d.rewrite.weight", i);
        dumu_dm_weights_expect(w, nm, 3, 2 * cd, cd, 3);
        expect_dconv(w, "tdecoder", i, cd);
    }
    dumu_dm_weights_expect(w, "freq_emb.folded", 2, 48, 512);
    dumu_dm_weights_expect(w, "channel_upsampler.weight", 3, 512, 384, 1);
    dumu_dm_weights_expect(w, "channel_upsampler_t.bias", 1, 512);
    dumu_dm_weights_expect(w, "channel_downsampler.weight", 3, 384, 512, 1);
    dumu_dm_weights_expect(w, "channel_downsampler_t.weight", 3, 384, 512, 1);
    dumu_dm_weights_expect(w, "crosstransformer.norm_in.weight", 1, 512);
    dumu_dm_weights_expect(w, "crosstransformer.norm_in_t.bias", 1, 512);
    for (int t = 0; t < 2; t++) {
        for (int k = 0; k < 5; k++) {
            const char *br = t ? "layers_t" : "layers", *at = k % 2 ? "cross_attn" : "self_attn";
            snprintf(nm, sizeof(nm), "crosstransformer.%s.%d.%s.in_proj_weight", br, k, at);
            dumu_dm_weights_expect(w, nm, 2, 1536, 512);
            snprintf(nm, sizeof(nm), "crosstransformer.%s.%d.%s.in_proj_bias", br, k, at);
            dumu_dm_weights_expect(w, nm, 1, 1536);
            snprintf(nm, sizeof(nm), "crosstransformer.%s.%d.%s.out_proj.weight", br, k, at);
            dumu_dm_weights_expect(w, nm, 2, 512, 512);
            snprintf(nm, sizeof(nm), "crosstransformer.%s.%d.linear1.weight", br, k);
            dumu_dm_weights_expect(w, nm, 2, 2048, 512);
            snprintf(nm, sizeof(nm), "crosstransformer.%s.%d.linear2.weight", br, k);
            dumu_dm_weights_expect(w, nm, 2, 512, 2048);
            snprintf(nm, sizeof(nm), "crosstransformer.%s.%d.norm_out.weight", br, k);
            dumu_dm_weights_expect(w, nm, 1, 512);
            snprintf(nm, sizeof(nm), "crosstransformer.%s.%d.norm_out.bias", br, k);
            dumu_dm_weights_expect(w, nm, 1, 512);
            snprintf(nm, sizeof(nm), "crosstransformer.%s.%d.gamma_2.scale", br, k);
            dumu_dm_weights_expect(w, nm, 1, 512);
            snprintf(nm, sizeof(nm), "crosstransformer.%s.%d.norm3.weight", br, k);
            if (k % 2)
                dumu_dm_weights_expect(w, nm, 1, 512);
            else
                assert_null(dumu_dm_weights_get(w, nm));
        }
    }
    dumu_dm_weights_expect(w, "crosstransformer.phase_t", 2, 336, 128);
    dumu_dm_weights_expect(w, "crosstransformer.phase_f", 2, 8, 128);
}

/* ---- rule B (docs/htdemucs.md §3.3): the mangled tensors by file order, an independent check */

typedef enum how { EXACT, TRANSPOSED, Q_ROWS, KV_ROWS, Q_BIAS, KV_BIAS } how;

typedef struct ruleb {
    char name[96];
    how how;
} ruleb;

static int add_dconv10(ruleb *r, int n, const char *p, int i) {
    static const char *const sfx[5] = {"1.weight", "1.bias", "4.weight", "4.bias", "6.scale"};
    for (int j = 0; j < 2; j++) {
        for (int q = 0; q < 5; q++) {
            snprintf(r[n].name, sizeof(r[n].name), "%s.%d.dconv.layers.%d.%s", p, i, j, sfx[q]);
            r[n++].how = EXACT;
        }
    }
    return n;
}

static int add_one(ruleb *r, int n, how h, const char *br, int k, const char *what) {
    snprintf(r[n].name, sizeof(r[n].name), "crosstransformer.%s.%d.%s", br, k, what);
    r[n].how = h;
    return n + 1;
}

static int build_rule_b(ruleb *r) {
    int n = 0;
    for (int i = 0; i < 4; i++) {
        n = add_dconv10(r, n, "tencoder", i);
        n = add_dconv10(r, n, "encoder", i);
        if (i == 0) {
            snprintf(r[n].name, sizeof(r[n].name), "freq_emb.folded");
            r[n++].how = EXACT;
        }
    }
    for (int k = 0; k < 5; k++) {
        for (int t = 0; t < 2; t++) {
            const char *br = t ? "layers_t" : "layers";
            if (k % 2 == 0) {
                n = add_one(r, n, TRANSPOSED, br, k, "self_attn.in_proj_weight");
            } else if (!t) {
                n = add_one(r, n, Q_BIAS, br, k, "cross_attn.in_proj_bias");
                n = add_one(r, n, KV_BIAS, br, k, "cross_attn.in_proj_bias");
                n = add_one(r, n, Q_ROWS, br, k, "cross_attn.in_proj_weight");
                n = add_one(r, n, KV_ROWS, br, k, "cross_attn.in_proj_weight");
            }
            n = add_one(r, n, TRANSPOSED, br, k, "linear1.weight");
            n = add_one(r, n, TRANSPOSED, br, k, "linear2.weight");
            n = add_one(r, n, EXACT, br, k, "norm_out.weight");
            n = add_one(r, n, EXACT, br, k, "norm_out.bias");
        }
    }
    for (int i = 0; i < 4; i++) {
        n = add_dconv10(r, n, "decoder", i);
        n = add_dconv10(r, n, "tdecoder", i);
    }
    return n;
}

static uint32_t bits_at(const uint8_t *raw, int64_t i) {
    return (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 | (uint32_t)raw[4 * i + 2] << 16 |
           (uint32_t)raw[4 * i + 3] << 24;
}

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void test_mangled_resolved_rule_b(void **state) {
    fixture *fx = *state;
    const dumu_onnx_model *m = &fx->onnx;
    static ruleb rb[215];
    assert_int_equal(build_rule_b(rb), 215);
    for (int q = 0; q < 215; q++) {
        const dumu_onnx_tensor *src = &m->initializers[322 + q];
        assert_true(is_mangled(src->name));
        const dumu_dm_tensor *t = dumu_dm_weights_get(fx->w, rb[q].name);
        if (!t) fail_msg("rule B name %s not exposed", rb[q].name);
        const uint8_t *raw = src->raw_data;
        int64_t rows = src->ndim == 2 ? src->dims[0] : 0, cols = src->ndim == 2 ? src->dims[1] : 0;
        int64_t bad = -1;
        switch (rb[q].how) {
        case EXACT:
            assert_int_equal(t->n, src->numel);
            for (int64_t i = 0; i < t->n && bad < 0; i++) {
                if (fbits(t->data[i]) != bits_at(raw, i)) bad = i;
            }
            break;
        case TRANSPOSED: /* stored [in, out], exposed [out, in] */
            assert_int_equal(t->shape[0], cols);
            assert_int_equal(t->shape[1], rows);
            for (int64_t r = 0; r < rows && bad < 0; r++) {
                for (int64_t c = 0; c < cols; c++) {
                    if (fbits(t->data[c * rows + r]) != bits_at(raw, r * cols + c)) bad = r;
                }
            }
            break;
        case Q_ROWS: /* stored Wq^T [512,512] -> rows 0..511 */
        case KV_ROWS: /* stored [Wk;Wv]^T [512,1024] -> rows 512..1535 */ {
            int64_t row0 = rb[q].how == Q_ROWS ? 0 : 512;
            assert_int_equal(rows, 512);
            assert_int_equal(cols, rb[q].how == Q_ROWS ? 512 : 1024);
            for (int64_t r = 0; r < rows && bad < 0; r++) {
                for (int64_t c = 0; c < cols; c++) {
                    if (fbits(t->data[(row0 + c) * 512 + r]) != bits_at(raw, r * cols + c)) {
                        bad = r;
                    }
                }
            }
            break;
        }
        case Q_BIAS:
        case KV_BIAS: {
            int64_t off = rb[q].how == Q_BIAS ? 0 : 512;
            assert_int_equal(src->numel, rb[q].how == Q_BIAS ? 512 : 1024);
            for (int64_t i = 0; i < src->numel && bad < 0; i++) {
                if (fbits(t->data[off + i]) != bits_at(raw, i)) bad = i;
            }
            break;
        }
        }
        if (bad >= 0)
            fail_msg("%s differs from %.*s at %lld", rb[q].name, (int)src->name.len, src->name.data,
                     (long long)bad);
    }
}

/* The 322 named initializers are exposed unchanged. */
static void test_named_unchanged(void **state) {
    fixture *fx = *state;
    const dumu_onnx_model *m = &fx->onnx;
    int64_t n_named = 0;
    for (int64_t i = 0; i < m->n_initializers; i++) {
        const dumu_onnx_tensor *src = &m->initializers[i];
        if (is_mangled(src->name)) continue;
        n_named++;
        char nm[128];
        snprintf(nm, sizeof(nm), "%.*s", (int)src->name.len, src->name.data);
        const dumu_dm_tensor *t = dumu_dm_weights_get(fx->w, nm);
        assert_non_null(t);
        assert_int_equal(t->ndim, src->ndim);
        for (int d = 0; d < t->ndim; d++)
            assert_int_equal(t->shape[d], src->dims[d]);
        assert_memory_equal(t->data, src->raw_data, src->raw_size);
    }
    assert_int_equal(n_named, 322);
}

/* Phase tables: t*div[k] and f*div[k], div[k] = exp(-2k ln(10000)/256) (docs/htdemucs.md §2.7). */
static void test_phase_tables(void **state) {
    fixture *fx = *state;
    const dumu_dm_tensor *pt = dumu_dm_weights_get(fx->w, "crosstransformer.phase_t");
    const dumu_dm_tensor *pf = dumu_dm_weights_get(fx->w, "crosstransformer.phase_f");
    for (int k = 0; k < 128; k++) {
        double div = exp(-(2.0 * k) * log(10000.0) / 256.0);
        for (int t = 0; t < 336; t++) {
            double want = t * div;
            assert_true(fabs((double)pt->data[t * 128 + k] - want) <= 1e-6 + 2e-6 * want);
        }
        for (int f = 0; f < 8; f++) {
            double want = f * div;
            assert_true(fabs((double)pf->data[f * 128 + k] - want) <= 1e-6 + 2e-6 * want);
        }
    }
}

/* dumu_dm_weights_expect aborts on a wrong shape or a missing name (run in a child). */
static void test_expect_aborts(void **state) {
    fixture *fx = *state;
    for (int c = 0; c < 2; c++) {
        fflush(stdout);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (c == 0)
                dumu_dm_weights_expect(fx->w, "encoder.0.conv.weight", 4, 48, 4, 8, 2);
            else
                dumu_dm_weights_expect(fx->w, "encoder.0.no.such", 1, 48);
            _exit(0);
        }
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    }
}

/* ---- damaged copies ------------------------------------------------------------------------ */

static void write_temp(char *path, size_t cap, const uint8_t *data, size_t n) {
    const char *dir = getenv("TMPDIR");
    snprintf(path, cap, "%s/dumu_htdemucs_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t off = 0;
    while (off < n) {
        ssize_t k = write(fd, data + off, n - off);
        assert_true(k > 0);
        off += (size_t)k;
    }
    close(fd);
}

static dumu_status open_copy(const uint8_t *data, size_t n, bool verify, dumu_error *err) {
    char path[512];
    write_temp(path, sizeof(path), data, n);
    dumu_dm_weights *w = (dumu_dm_weights *)(uintptr_t)1;
    dumu_status rc = dumu_dm_weights_open(path, verify, &w, err);
    if (rc) assert_null(w);
    dumu_dm_weights_free(w);
    unlink(path);
    return rc;
}

static uint8_t *find_bytes(uint8_t *hay, size_t n, const void *needle, size_t k) {
    for (size_t i = 0; i + k <= n; i++) {
        if (hay[i] != *(const uint8_t *)needle) continue;
        if (memcmp(hay + i, needle, k) == 0) return hay + i;
    }
    return NULL;
}

static void test_flipped_byte(void **state) {
    fixture *fx = *state;
    dumu_error err = {0};
    size_t at = fx->size / 2; /* inside some tensor's raw data */
    fx->bytes[at] ^= 0x10;
    dumu_status rc = open_copy(fx->bytes, fx->size, true, &err);
    assert_int_equal(rc, DUMU_E_MODEL);
    assert_int_equal(err.status, DUMU_E_MODEL);
    assert_non_null(strstr(err.message, "checksum"));
    printf("flipped byte: %s\n", err.message);
    /* Without the checksum the file still parses: only the hash can catch this damage. */
    assert_int_equal(open_copy(fx->bytes, fx->size, false, &err), DUMU_OK);
    fx->bytes[at] ^= 0x10;
}

static void test_truncated(void **state) {
    fixture *fx = *state;
    dumu_error err = {0};
    assert_int_equal(open_copy(fx->bytes, fx->size - 1000, true, &err), DUMU_E_MODEL);
    assert_non_null(strstr(err.message, "checksum"));
    static const size_t cuts[] = {1, 2, 100, 4096, 1000000};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        dumu_status rc = open_copy(fx->bytes, cuts[i], false, &err);
        assert_true(rc == DUMU_E_TRUNCATED || rc == DUMU_E_FORMAT);
    }
    assert_int_equal(open_copy(fx->bytes, fx->size / 2, false, &err), DUMU_E_TRUNCATED);
    printf("truncated: %s\n", err.message);
    assert_int_equal(open_copy(fx->bytes, fx->size - 1, false, &err), DUMU_E_TRUNCATED);
    /* An empty file and a missing one. */
    assert_int_equal(open_copy(fx->bytes, 0, false, &err), DUMU_E_FORMAT);
    dumu_dm_weights *w = NULL;
    assert_int_equal(dumu_dm_weights_open("/nonexistent/htdemucs.onnx", true, &w, &err), DUMU_E_IO);
    assert_null(w);
    assert_int_equal(dumu_dm_weights_open(NULL, true, &w, &err), DUMU_E_INVALID_ARG);
}

static void test_renamed_tensor(void **state) {
    fixture *fx = *state;
    dumu_error err = {0};
    /* The initializer's name field (key 0x42, length 19) followed by its raw_data key (0x4A):
     * node inputs with the same text are not touched. */
    static const char pat[] = "\x42\x13"
                              "encoder.0.conv.bias"
                              "\x4a";
    uint8_t *p = find_bytes(fx->bytes, fx->size, pat, sizeof(pat) - 1);
    assert_non_null(p);
    uint8_t *last = p + sizeof(pat) - 3;
    assert_int_equal(*last, 's');
    *last = 'z'; /* "encoder.0.conv.biaz" */
    assert_int_equal(open_copy(fx->bytes, fx->size, false, &err), DUMU_E_MODEL);
    printf("renamed: %s\n", err.message);
    assert_non_null(strstr(err.message, "encoder.0.conv.bias"));
    assert_non_null(strstr(err.message, "missing"));
    *last = 's';
}

static void test_changed_shape(void **state) {
    fixture *fx = *state;
    dumu_error err = {0};
    /* encoder.0.conv.weight's TensorProto starts with its dims [48,4,8,1] (unpacked varints,
     * key 0x08), data_type float, then its name. Make the dims [48,8,4,1]: same element count,
     * so the protobuf stays valid and only the shape check can tell. */
    static const char pat[] = "\x08\x30\x08\x04\x08\x08\x08\x01\x10\x01\x42\x15"
                              "encoder.0.conv.weight";
    uint8_t *d = find_bytes(fx->bytes, fx->size, pat, sizeof(pat) - 1);
    assert_non_null(d);
    d[3] = 0x08;
    d[5] = 0x04;
    assert_int_equal(open_copy(fx->bytes, fx->size, false, &err), DUMU_E_MODEL);
    printf("reshaped: %s\n", err.message);
    assert_non_null(strstr(err.message, "encoder.0.conv.weight"));
    assert_non_null(strstr(err.message, "[48,8,4,1]"));
    d[3] = 0x04;
    d[5] = 0x08;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totals),
        cmocka_unit_test(test_layer_shapes),
        cmocka_unit_test(test_mangled_resolved_rule_b),
        cmocka_unit_test(test_named_unchanged),
        cmocka_unit_test(test_phase_tables),
        cmocka_unit_test(test_expect_aborts),
        cmocka_unit_test(test_flipped_byte),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_renamed_tensor),
        cmocka_unit_test(test_changed_shape),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
