/* ONNX / protobuf reader: varints, field headers, a tiny hand-built model, and malformed
 * input of every kind (truncation at every byte, wrong wire types, lengths past the end,
 * huge or negative dims, random bytes and bit flips), plus allocation failures. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/onnx.h"
#include "testutil.h"

/* ---- a tiny protobuf writer ---------------------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put_varint(buf *b, uint64_t v) {
    uint8_t tmp[10];
    size_t k = 0;
    do {
        tmp[k] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) tmp[k] |= 0x80;
        k++;
    } while (v);
    put(b, tmp, k);
}

static void put_key(buf *b, uint32_t field, uint32_t wt) {
    put_varint(b, (uint64_t)field << 3 | wt);
}

static void put_uint(buf *b, uint32_t field, uint64_t v) {
    put_key(b, field, 0);
    put_varint(b, v);
}

static void put_bytes(buf *b, uint32_t field, const void *data, size_t n) {
    put_key(b, field, 2);
    put_varint(b, n);
    put(b, data, n);
}

static void put_str(buf *b, uint32_t field, const char *s) {
    put_bytes(b, field, s, strlen(s));
}

static void put_msg(buf *b, uint32_t field, buf *m) {
    put_bytes(b, field, m->p, m->n);
    free(m->p);
    memset(m, 0, sizeof(*m));
}

static void put_fixed32(buf *b, uint32_t field, uint32_t v) {
    put_key(b, field, 5);
    uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, t, 4);
}

static void put_fixed64(buf *b, uint32_t field, uint64_t v) {
    put_key(b, field, 1);
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    put(b, t, 8);
}

/* TensorProto with float raw_data 0.5*k, dims packed (or not). */
static void make_tensor(buf *t, const char *name, const int64_t *dims, int ndim, bool packed) {
    int64_t n = 1;
    if (packed) {
        buf d = {0};
        for (int i = 0; i < ndim; i++)
            put_varint(&d, (uint64_t)dims[i]);
        put_msg(t, 1, &d);
    } else {
        for (int i = 0; i < ndim; i++)
            put_uint(t, 1, (uint64_t)dims[i]);
    }
    for (int i = 0; i < ndim; i++)
        n *= dims[i];
    put_uint(t, 2, DUMU_ONNX_FLOAT);
    put_str(t, 8, name);
    float *v = malloc((size_t)n * 4 + 4);
    assert_non_null(v);
    for (int64_t k = 0; k < n; k++)
        v[k] = 0.5f * (float)k;
    put_bytes(t, 9, v, (size_t)n * 4);
    free(v);
}

/* The tiny model: two nodes (one with interleaved inputs/outputs and attributes, one
 * Constant), two initializers, graph input/output, unknown fields of every wire type. The
 * graph comes last so that every strict prefix of the bytes is malformed. */
static buf make_model(void) {
    buf m = {0}, g = {0}, n1 = {0}, n2 = {0}, a = {0}, t = {0}, o = {0}, vi = {0};
    put_uint(&m, 1, 8);          /* ir_version */
    put_str(&m, 2, "dumu-test"); /* producer_name (skipped) */
    put_str(&o, 1, "");
    put_uint(&o, 2, 17);
    put_msg(&m, 8, &o); /* opset_import "" v17 */
    put_str(&o, 1, "com.example");
    put_uint(&o, 2, 3);
    put_msg(&m, 8, &o);                         /* another domain: ignored */
    put_fixed64(&m, 99, 0x1122334455667788ull); /* unknown fixed64 */
    put_fixed32(&m, 98, 0xdeadbeefu);           /* unknown fixed32 */

    put_str(&n1, 1, "x");
    put_str(&n1, 2, "y");
    put_str(&n1, 1, "w"); /* input after an output: must still be input #2 */
    put_str(&n1, 3, "/layer/MatMul");
    put_str(&n1, 4, "MatMul");
    put_str(&a, 1, "alpha");
    put_fixed32(&a, 2, 0x3f000000u); /* 0.5f */
    put_uint(&a, 20, 1);
    put_msg(&n1, 5, &a);
    put_str(&a, 1, "axis");
    put_uint(&a, 3, (uint64_t)-3); /* negative int64 as a 10-byte varint */
    put_uint(&a, 20, 2);
    put_msg(&n1, 5, &a);
    put_str(&n1, 2, "y2");
    put_uint(&n1, 77, 5); /* unknown varint */
    put_msg(&g, 1, &n1);

    int64_t cd[2] = {2, 2};
    make_tensor(&t, "c", cd, 2, true);
    put_str(&a, 1, "value");
    put_msg(&a, 5, &t);
    put_uint(&a, 20, 4);
    put_msg(&n2, 5, &a);
    put_str(&n2, 4, "Constant");
    put_str(&n2, 2, "/const_output_0");
    put_msg(&g, 1, &n2);

    int64_t wd[2] = {2, 3};
    make_tensor(&t, "w", wd, 2, true);
    put_msg(&g, 5, &t);
    int64_t bd[3] = {3, 1, 1};
    make_tensor(&t, "onnx::Add_7", bd, 3, false);
    put_msg(&g, 5, &t);
    put_str(&vi, 1, "x");
    put_msg(&g, 11, &vi);
    put_str(&vi, 1, "y");
    put_msg(&g, 12, &vi);
    put_str(&g, 2, "graph-name");
    put_msg(&m, 7, &g);
    return m;
}

static void test_varint(void **state) {
    (void)state;
    uint64_t v;
    const uint8_t one[] = {0x01}, two[] = {0xAC, 0x02};
    dumu_pb_reader r = {one, one + 1};
    assert_int_equal(dumu_pb_read_varint(&r, &v), DUMU_OK);
    assert_int_equal(v, 1);
    assert_ptr_equal(r.p, one + 1);
    r = (dumu_pb_reader){two, two + 2};
    assert_int_equal(dumu_pb_read_varint(&r, &v), DUMU_OK);
    assert_int_equal(v, 300);
    /* UINT64_MAX: nine 0xFF then 0x01. */
    const uint8_t max[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    r = (dumu_pb_reader){max, max + 10};
    assert_int_equal(dumu_pb_read_varint(&r, &v), DUMU_OK);
    assert_true(v == UINT64_MAX);
    /* Overflowing 10th byte, and an 11-byte varint: malformed. */
    const uint8_t over[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02};
    r = (dumu_pb_reader){over, over + 10};
    assert_int_equal(dumu_pb_read_varint(&r, &v), DUMU_E_FORMAT);
    assert_ptr_equal(r.p, over); /* not advanced on failure */
    const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    r = (dumu_pb_reader){eleven, eleven + 11};
    assert_int_equal(dumu_pb_read_varint(&r, &v), DUMU_E_FORMAT);
    /* Truncated: continuation bit on the last byte, and nothing at all. */
    r = (dumu_pb_reader){two, two + 1};
    assert_int_equal(dumu_pb_read_varint(&r, &v), DUMU_E_TRUNCATED);
    r = (dumu_pb_reader){two, two};
    assert_int_equal(dumu_pb_read_varint(&r, &v), DUMU_E_TRUNCATED);
}

static dumu_status next_of(const uint8_t *p, size_t n, dumu_pb_field *f) {
    dumu_pb_reader r = {p, p + n};
    return dumu_pb_next(&r, f);
}

static void test_field_headers(void **state) {
    (void)state;
    dumu_pb_field f;
    const uint8_t f0[] = {0x00, 0x01}; /* field number 0 */
    assert_int_equal(next_of(f0, sizeof(f0), &f), DUMU_E_FORMAT);
    const uint8_t group[] = {0x0B, 0x0C}; /* wire types 3, 4 */
    assert_int_equal(next_of(group, 1, &f), DUMU_E_FORMAT);
    assert_int_equal(next_of(group + 1, 1, &f), DUMU_E_FORMAT);
    const uint8_t wt6[] = {0x0E}, wt7[] = {0x0F};
    assert_int_equal(next_of(wt6, 1, &f), DUMU_E_FORMAT);
    assert_int_equal(next_of(wt7, 1, &f), DUMU_E_FORMAT);
    /* Key above 32 bits. */
    const uint8_t bigkey[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00};
    assert_int_equal(next_of(bigkey, sizeof(bigkey), &f), DUMU_E_FORMAT);
    /* Length past the end, and a length that would overflow a pointer. */
    const uint8_t len[] = {0x0A, 0x05, 'a', 'b'};
    assert_int_equal(next_of(len, sizeof(len), &f), DUMU_E_TRUNCATED);
    const uint8_t hugelen[] = {0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    assert_int_equal(next_of(hugelen, sizeof(hugelen), &f), DUMU_E_TRUNCATED);
    const uint8_t ok[] = {0x0A, 0x02, 'a', 'b'};
    assert_int_equal(next_of(ok, sizeof(ok), &f), DUMU_OK);
    assert_int_equal(f.number, 1);
    assert_int_equal(f.wire_type, 2);
    assert_int_equal(f.size, 2);
    assert_memory_equal(f.bytes, "ab", 2);
    /* Fixed widths: short data is truncated, full data decodes little-endian. */
    const uint8_t f64[] = {0x09, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(next_of(f64, 8, &f), DUMU_E_TRUNCATED);
    assert_int_equal(next_of(f64, 9, &f), DUMU_OK);
    assert_true(f.u == 0x0807060504030201ull);
    const uint8_t f32[] = {0x0D, 1, 2, 3, 4};
    assert_int_equal(next_of(f32, 4, &f), DUMU_E_TRUNCATED);
    assert_int_equal(next_of(f32, 5, &f), DUMU_OK);
    assert_int_equal(f.u, 0x04030201u);
    /* Field number 2^29-1, the largest legal. */
    const uint8_t maxfield[] = {0xF8, 0xFF, 0xFF, 0xFF, 0x0F, 0x00};
    assert_int_equal(next_of(maxfield, sizeof(maxfield), &f), DUMU_OK);
    assert_int_equal(f.number, (1u << 29) - 1);
}

static void test_tiny_model(void **state) {
    (void)state;
    buf b = make_model();
    dumu_onnx_model m;
    dumu_error err = {0};
    assert_int_equal(dumu_onnx_parse(b.p, b.n, &m, &err), DUMU_OK);
    assert_int_equal(m.ir_version, 8);
    assert_int_equal(m.opset, 17);
    assert_int_equal(m.n_nodes, 2);
    assert_int_equal(m.n_initializers, 2);
    assert_int_equal(m.n_inputs, 1);
    assert_int_equal(m.n_outputs, 1);
    assert_true(dumu_onnx_str_eq(m.inputs[0], "x"));
    assert_true(dumu_onnx_str_eq(m.outputs[0], "y"));

    const dumu_onnx_node *n = &m.nodes[0];
    assert_true(dumu_onnx_str_eq(n->op_type, "MatMul"));
    assert_true(dumu_onnx_str_eq(n->name, "/layer/MatMul"));
    assert_int_equal(n->n_inputs, 2);
    assert_true(dumu_onnx_str_eq(n->inputs[0], "x"));
    assert_true(dumu_onnx_str_eq(n->inputs[1], "w"));
    assert_int_equal(n->n_outputs, 2);
    assert_true(dumu_onnx_str_eq(n->outputs[0], "y"));
    assert_true(dumu_onnx_str_eq(n->outputs[1], "y2"));
    assert_int_equal(n->n_attrs, 2);
    assert_true(dumu_onnx_str_eq(n->attrs[0].name, "alpha"));
    assert_true(n->attrs[0].f == 0.5f);
    assert_int_equal(n->attrs[0].type, 1);
    assert_true(dumu_onnx_str_eq(n->attrs[1].name, "axis"));
    assert_int_equal(n->attrs[1].i, -3);
    assert_false(n->attrs[1].has_t);

    n = &m.nodes[1];
    assert_true(dumu_onnx_str_eq(n->op_type, "Constant"));
    assert_int_equal(n->name.len, 0);
    assert_int_equal(n->n_inputs, 0);
    assert_int_equal(n->n_outputs, 1);
    assert_int_equal(n->n_attrs, 1);
    assert_true(n->attrs[0].has_t);
    assert_true(dumu_onnx_str_eq(n->attrs[0].t.name, "c"));
    assert_int_equal(n->attrs[0].t.numel, 4);
    float c3;
    memcpy(&c3, n->attrs[0].t.raw_data + 12, 4);
    assert_true(c3 == 1.5f);

    const dumu_onnx_tensor *t = &m.initializers[0];
    assert_true(dumu_onnx_str_eq(t->name, "w"));
    assert_int_equal(t->data_type, DUMU_ONNX_FLOAT);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->dims[0], 2);
    assert_int_equal(t->dims[1], 3);
    assert_int_equal(t->numel, 6);
    assert_int_equal(t->raw_size, 24);
    float w5;
    memcpy(&w5, t->raw_data + 20, 4);
    assert_true(w5 == 2.5f);
    assert_false(t->external);
    t = &m.initializers[1];
    assert_true(dumu_onnx_str_eq(t->name, "onnx::Add_7"));
    assert_int_equal(t->ndim, 3); /* unpacked dims */
    assert_int_equal(t->dims[0], 3);
    assert_int_equal(t->dims[2], 1);
    assert_int_equal(t->numel, 3);
    dumu_onnx_model_deinit(&m);
    dumu_onnx_model_deinit(&m); /* a zeroed model is fine */
    free(b.p);
}

/* Every strict prefix is malformed; none may crash (ASan watches the reads). */
static void test_every_truncation_fails(void **state) {
    (void)state;
    buf b = make_model();
    for (size_t n = 0; n < b.n; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size, so any over-read is caught */
        assert_non_null(copy);
        memcpy(copy, b.p, n);
        dumu_onnx_model m;
        dumu_error err = {0};
        dumu_status rc = dumu_onnx_parse(copy, n, &m, &err);
        assert_true(rc == DUMU_E_TRUNCATED || rc == DUMU_E_FORMAT);
        assert_int_equal(err.status, rc);
        assert_true(strlen(err.message) > 0);
        assert_null(m.nodes);
        free(copy);
    }
    free(b.p);
}

static dumu_status parse_graph_bytes(buf *g, dumu_error *err) {
    buf m = {0};
    put_msg(&m, 7, g);
    dumu_onnx_model model;
    dumu_status rc = dumu_onnx_parse(m.p, m.n, &model, err);
    dumu_onnx_model_deinit(&model);
    free(m.p);
    return rc;
}

static void test_wrong_wire_types(void **state) {
    (void)state;
    dumu_error err = {0};
    /* graph as a varint */
    buf m = {0};
    put_uint(&m, 7, 5);
    dumu_onnx_model model;
    assert_int_equal(dumu_onnx_parse(m.p, m.n, &model, &err), DUMU_E_FORMAT);
    assert_non_null(strstr(err.message, "wire type"));
    free(m.p);
    /* tensor name as a varint */
    buf g = {0}, t = {0};
    put_uint(&t, 8, 1);
    put_msg(&g, 5, &t);
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_E_FORMAT);
    /* dims as fixed32 */
    put_fixed32(&t, 1, 4);
    put_msg(&g, 5, &t);
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_E_FORMAT);
    /* node input as a varint */
    buf n = {0};
    put_uint(&n, 1, 3);
    put_msg(&g, 1, &n);
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_E_FORMAT);
    /* node as fixed64 */
    put_fixed64(&g, 1, 3);
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_E_FORMAT);
    /* unpacked float_data is valid protobuf but not handled */
    put_str(&t, 8, "f");
    put_uint(&t, 2, DUMU_ONNX_FLOAT);
    put_fixed32(&t, 4, 0x3f800000u);
    put_msg(&g, 5, &t);
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_E_UNSUPPORTED);
    /* no graph at all */
    buf only = {0};
    put_uint(&only, 1, 8);
    assert_int_equal(dumu_onnx_parse(only.p, only.n, &model, &err), DUMU_E_FORMAT);
    assert_non_null(strstr(err.message, "no graph"));
    free(only.p);
    assert_int_equal(dumu_onnx_parse(NULL, 0, &model, &err), DUMU_E_FORMAT);
    assert_int_equal(dumu_onnx_parse(NULL, 5, &model, &err), DUMU_E_INVALID_ARG);
}

static void test_lengths_past_end(void **state) {
    (void)state;
    dumu_error err = {0};
    /* raw_data claims more bytes than its TensorProto holds, though the file has them:
     * the bound is the enclosing message, not the file. */
    buf g = {0}, t = {0};
    put_str(&t, 8, "w");
    put_key(&t, 9, 2);
    put_varint(&t, 100);
    put(&t, "abcd", 4);
    put_msg(&g, 5, &t);
    put_str(&g, 2,
            "padding padding padding padding padding padding padding padding "
            "padding padding padding padding padding");
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_E_TRUNCATED);
    assert_non_null(strstr(err.message, "TensorProto"));
    /* a node string running past its node */
    buf n = {0};
    put_key(&n, 1, 2);
    put_varint(&n, 50);
    put(&n, "x", 1);
    put_msg(&g, 1, &n);
    put_str(&g, 2, "padding padding padding padding padding padding padding padding");
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_E_TRUNCATED);
    assert_non_null(strstr(err.message, "NodeProto"));
}

static void test_huge_and_bad_dims(void **state) {
    (void)state;
    dumu_error err = {0};
    buf g = {0}, t = {0};
    /* 2^40 x 2^40 elements: the product overflows the limit */
    put_uint(&t, 1, (uint64_t)1 << 40);
    put_uint(&t, 1, (uint64_t)1 << 40);
    put_uint(&t, 2, DUMU_ONNX_FLOAT);
    put_msg(&g, 5, &t);
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_E_FORMAT);
    assert_non_null(strstr(err.message, "too large"));
    /* a single dim of 2^62 */
    put_uint(&t, 1, (uint64_t)1 << 62);
    put_msg(&g, 5, &t);
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_E_FORMAT);
    /* a negative dim (-1 as a 10-byte varint) */
    put_uint(&t, 1, (uint64_t)-1);
    put_msg(&g, 5, &t);
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_E_FORMAT);
    assert_non_null(strstr(err.message, "dim"));
    /* nine dims */
    for (int i = 0; i < 9; i++)
        put_uint(&t, 1, 1);
    put_msg(&g, 5, &t);
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_E_UNSUPPORTED);
    /* a packed dims list with a truncated varint inside */
    buf d = {0};
    put_varint(&d, 4);
    uint8_t cont = 0x80;
    put(&d, &cont, 1);
    put_msg(&t, 1, &d);
    put_msg(&g, 5, &t);
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_E_TRUNCATED);
    /* raw_data size that does not match the dims */
    put_uint(&t, 1, 3);
    put_uint(&t, 2, DUMU_ONNX_FLOAT);
    put_str(&t, 8, "w");
    put_bytes(&t, 9, "12345678", 8);
    put_msg(&g, 5, &t);
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_E_FORMAT);
    assert_non_null(strstr(err.message, "raw_data"));
    /* a zero dim is fine: 0 elements, 0 bytes */
    put_uint(&t, 1, 0);
    put_uint(&t, 1, 7);
    put_uint(&t, 2, DUMU_ONNX_FLOAT);
    put_bytes(&t, 9, "", 0);
    put_msg(&g, 5, &t);
    assert_int_equal(parse_graph_bytes(&g, &err), DUMU_OK);
}

/* Two graph fields merge: repeated fields add up (protobuf semantics). */
static void test_graph_merge(void **state) {
    (void)state;
    buf m = {0}, g = {0}, t = {0}, n = {0};
    int64_t d[1] = {2};
    make_tensor(&t, "a", d, 1, true);
    put_msg(&g, 5, &t);
    put_str(&n, 4, "Relu");
    put_msg(&g, 1, &n);
    put_msg(&m, 7, &g);
    make_tensor(&t, "b", d, 1, false);
    put_msg(&g, 5, &t);
    put_msg(&m, 7, &g);
    dumu_onnx_model model;
    assert_int_equal(dumu_onnx_parse(m.p, m.n, &model, NULL), DUMU_OK);
    assert_int_equal(model.n_initializers, 2);
    assert_int_equal(model.n_nodes, 1);
    assert_true(dumu_onnx_str_eq(model.initializers[1].name, "b"));
    dumu_onnx_model_deinit(&model);
    free(m.p);
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random bytes and random mutations of the tiny model: any status, no crash, no leak. */
static void test_random_and_mutated_bytes(void **state) {
    (void)state;
    buf b = make_model();
    uint64_t s = 0x1234567u;
    int n_ok = 0, n_fail = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n;
        uint8_t *p;
        if (iter % 2) {
            n = (size_t)(rng_next(&s) % 64);
            p = malloc(n ? n : 1);
            assert_non_null(p);
            for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t)rng_next(&s);
            if (n) p[0] = 0x3A; /* field 7, wire type 2: reach the graph parser */
        } else {
            n = b.n;
            p = malloc(n);
            assert_non_null(p);
            memcpy(p, b.p, n);
            int flips = 1 + (int)(rng_next(&s) % 4);
            for (int k = 0; k < flips; k++) {
                size_t at = (size_t)(rng_next(&s) % n);
                p[at] ^= (uint8_t)(1u << (rng_next(&s) % 8));
            }
        }
        dumu_onnx_model m;
        dumu_status rc = dumu_onnx_parse(p, n, &m, NULL);
        if (rc == DUMU_OK) {
            n_ok++;
            /* Everything the model points at lies inside the buffer. */
            for (int64_t i = 0; i < m.n_initializers; i++) {
                const dumu_onnx_tensor *t = &m.initializers[i];
                if (t->raw_data) {
                    assert_true(t->raw_data >= p && t->raw_data + t->raw_size <= p + n);
                }
            }
            for (int64_t i = 0; i < m.n_nodes; i++) {
                for (int32_t k = 0; k < m.nodes[i].n_inputs; k++) {
                    const dumu_onnx_str *in = &m.nodes[i].inputs[k];
                    assert_true(in->len == 0 || ((const uint8_t *)in->data >= p &&
                                                 (const uint8_t *)in->data + in->len <= p + n));
                }
            }
        } else {
            n_fail++;
            assert_true(rc == DUMU_E_FORMAT || rc == DUMU_E_TRUNCATED || rc == DUMU_E_UNSUPPORTED);
        }
        dumu_onnx_model_deinit(&m);
        free(p);
    }
    assert_true(n_ok > 0 && n_fail > 0);
    free(b.p);
}

static void test_allocation_failures(void **state) {
    (void)state;
    buf b = make_model();
    dumu_onnx_model m;
    dumu_alloc_fail_after(0);
    assert_int_equal(dumu_onnx_parse(b.p, b.n, &m, NULL), DUMU_OK);
    dumu_onnx_model_deinit(&m);
    int64_t n_allocs = dumu_alloc_fail_after(0);
    assert_true(n_allocs > 0);
    for (int64_t k = 1; k <= n_allocs; k++) {
        dumu_error err = {0};
        dumu_alloc_fail_after(k);
        assert_int_equal(dumu_onnx_parse(b.p, b.n, &m, &err), DUMU_E_NOMEM);
        dumu_alloc_fail_after(0);
        assert_null(m.nodes);
    }
    free(b.p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_field_headers),
        cmocka_unit_test(test_tiny_model),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_wrong_wire_types),
        cmocka_unit_test(test_lengths_past_end),
        cmocka_unit_test(test_huge_and_bad_dims),
        cmocka_unit_test(test_graph_merge),
        cmocka_unit_test(test_random_and_mutated_bytes),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
