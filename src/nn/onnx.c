/* onnx.c - minimal ONNX (protobuf) reader: ModelProto -> GraphProto -> initializers and nodes.
 *
 * DESIGN
 *   Two passes over the bytes, no recursion:
 *     1. count: walk ModelProto and every GraphProto field in it (protobuf merges repeated
 *        fields of a message that occurs twice, so counts add up), counting initializers,
 *        nodes, graph inputs/outputs, and the node inputs, outputs and attributes; every
 *        field header and length is validated on the way;
 *     2. fill: allocate each array once at its exact size, walk again and fill it.
 *   Pointers into the arrays are therefore stable and nothing is reallocated. Every value
 *   returned is a view into the caller's bytes. The nesting is fixed (Model > Graph > Node >
 *   Attribute > Tensor), so hostile input cannot drive the stack; all length arithmetic is
 *   done against the remaining byte count, so it cannot overflow a pointer.
 *   Fields this reader does not know are skipped whatever their (valid) wire type; a known
 *   field with the wrong wire type is DUMU_E_FORMAT. Wire types 3/4 (groups, deprecated and
 *   never used by ONNX) are rejected.
 *
 * REFERENCES
 *   Protocol Buffers encoding (protobuf.dev/programming-guides/encoding): varints (at most 10
 *   bytes), field keys (number << 3 | wire type), packed repeated scalars, last-one-wins for
 *   scalar fields and concatenation for repeated fields when a message is merged.
 *   onnx/onnx.proto (IR version 8, opset 17 here): field numbers used below. */
#include "onnx.h"

#include <string.h>

#include "core/core.h"

/* ---- wire layer ---------------------------------------------------------------------------- */

dumu_status dumu_pb_read_varint(dumu_pb_reader *r, uint64_t *out) {
    uint64_t v = 0;
    const uint8_t *p = r->p;
    for (int i = 0; i < 10; i++) {
        if (p >= r->end) return DUMU_E_TRUNCATED;
        uint8_t b = *p++;
        if (i == 9 && b > 1) return DUMU_E_FORMAT; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            r->p = p;
            *out = v;
            return DUMU_OK;
        }
    }
    return DUMU_E_FORMAT; /* a 10th byte with the continuation bit */
}

dumu_status dumu_pb_next(dumu_pb_reader *r, dumu_pb_field *f) {
    dumu_pb_reader c = *r;
    uint64_t key;
    dumu_status rc = dumu_pb_read_varint(&c, &key);
    if (rc) return rc;
    if (key > UINT32_MAX || (key >> 3) == 0) return DUMU_E_FORMAT;
    f->number = (uint32_t)(key >> 3);
    f->wire_type = (uint32_t)(key & 7);
    f->u = 0;
    f->bytes = NULL;
    f->size = 0;
    size_t left = (size_t)(c.end - c.p);
    switch (f->wire_type) {
    case 0:
        rc = dumu_pb_read_varint(&c, &f->u);
        if (rc) return rc;
        break;
    case 1:
        if (left < 8) return DUMU_E_TRUNCATED;
        for (int i = 0; i < 8; i++)
            f->u |= (uint64_t)c.p[i] << (8 * i);
        c.p += 8;
        break;
    case 2: {
        uint64_t len;
        rc = dumu_pb_read_varint(&c, &len);
        if (rc) return rc;
        left = (size_t)(c.end - c.p);
        if (len > left) return DUMU_E_TRUNCATED;
        f->bytes = c.p;
        f->size = (size_t)len;
        c.p += len;
        break;
    }
    case 5:
        if (left < 4) return DUMU_E_TRUNCATED;
        for (int i = 0; i < 4; i++)
            f->u |= (uint64_t)c.p[i] << (8 * i);
        c.p += 4;
        break;
    default: return DUMU_E_FORMAT; /* 3, 4: groups; 6, 7: invalid */
    }
    *r = c;
    return DUMU_OK;
}

/* ---- parse context ------------------------------------------------------------------------- */

typedef struct parse_ctx {
    const uint8_t *base; /* start of the model bytes, for offsets in messages */
    dumu_error *err;
    /* pass 1 totals, then pass 2 fill positions */
    int64_t n_init, n_node, n_gin, n_gout, n_str, n_attr;
    dumu_onnx_model *m; /* NULL in pass 1 */
} parse_ctx;

static dumu_status wire_fail(parse_ctx *ctx, dumu_status rc, const uint8_t *at, const char *what) {
    const char *why = rc == DUMU_E_TRUNCATED ? "data ends early" : "malformed protobuf";
    return dumu_fail(ctx->err, rc, "onnx: %s in %s at byte %lld", why, what,
                     (long long)(at - ctx->base));
}

static dumu_status wrong_wire(parse_ctx *ctx, const dumu_pb_field *f, const uint8_t *at,
                              const char *what) {
    return dumu_fail(ctx->err, DUMU_E_FORMAT, "onnx: field %u of %s has wire type %u at byte %lld",
                     f->number, what, f->wire_type, (long long)(at - ctx->base));
}

static dumu_onnx_str make_str(const dumu_pb_field *f) {
    dumu_onnx_str s = {f->size ? (const char *)f->bytes : NULL, f->size};
    return s;
}

bool dumu_onnx_str_eq(dumu_onnx_str s, const char *c) {
    size_t n = strlen(c);
    return n == s.len && (n == 0 || memcmp(s.data, c, n) == 0);
}

size_t dumu_onnx_type_size(int32_t data_type) {
    switch (data_type) {
    case DUMU_ONNX_FLOAT: return 4;
    case DUMU_ONNX_UINT8: return 1;
    case DUMU_ONNX_INT8: return 1;
    case 4: return 2; /* UINT16 */
    case 5: return 2; /* INT16 */
    case DUMU_ONNX_INT32: return 4;
    case DUMU_ONNX_INT64: return 8;
    case 9: return 1;  /* BOOL */
    case 10: return 2; /* FLOAT16 */
    case DUMU_ONNX_DOUBLE: return 8;
    case 12: return 4; /* UINT32 */
    case 13: return 8; /* UINT64 */
    case 16: return 2; /* BFLOAT16 */
    default: return 0;
    }
}

/* ---- TensorProto --------------------------------------------------------------------------- */

/* Largest element count accepted: keeps numel * 16 far from overflow on any platform. */
#define MAX_NUMEL ((int64_t)1 << 52)

static dumu_status add_dim(parse_ctx *ctx, dumu_onnx_tensor *t, uint64_t v, const uint8_t *at) {
    int64_t d = (int64_t)v;
    if (d < 0 || d > MAX_NUMEL) {
        return dumu_fail(ctx->err, DUMU_E_FORMAT, "onnx: tensor dim %lld out of range at byte %lld",
                         (long long)d, (long long)(at - ctx->base));
    }
    if (t->ndim >= DUMU_ONNX_MAX_DIMS) {
        return dumu_fail(ctx->err, DUMU_E_UNSUPPORTED,
                         "onnx: tensor with more than %d dims at byte %lld", DUMU_ONNX_MAX_DIMS,
                         (long long)(at - ctx->base));
    }
    t->dims[t->ndim++] = d;
    return DUMU_OK;
}

static dumu_status parse_tensor(parse_ctx *ctx, const uint8_t *bytes, size_t size,
                                dumu_onnx_tensor *t) {
    memset(t, 0, sizeof(*t));
    dumu_pb_reader r = {bytes, bytes + size};
    dumu_pb_field f;
    while (r.p < r.end) {
        const uint8_t *at = r.p;
        dumu_status rc = dumu_pb_next(&r, &f);
        if (rc) return wire_fail(ctx, rc, at, "TensorProto");
        switch (f.number) {
        case 1: /* dims: repeated int64, packed or not */
            if (f.wire_type == 0) {
                rc = add_dim(ctx, t, f.u, at);
                if (rc) return rc;
            } else if (f.wire_type == 2) {
                dumu_pb_reader pr = {f.bytes, f.bytes + f.size};
                while (pr.p < pr.end) {
                    uint64_t v;
                    const uint8_t *vat = pr.p;
                    rc = dumu_pb_read_varint(&pr, &v);
                    if (rc) return wire_fail(ctx, rc, vat, "TensorProto.dims");
                    rc = add_dim(ctx, t, v, vat);
                    if (rc) return rc;
                }
            } else {
                return wrong_wire(ctx, &f, at, "TensorProto");
            }
            break;
        case 2: /* data_type */
            if (f.wire_type != 0) return wrong_wire(ctx, &f, at, "TensorProto");
            if ((int64_t)f.u < 0 || f.u > INT32_MAX) {
                return dumu_fail(ctx->err, DUMU_E_FORMAT, "onnx: bad data_type at byte %lld",
                                 (long long)(at - ctx->base));
            }
            t->data_type = (int32_t)f.u;
            break;
        case 4: /* float_data: packed only */
            if (f.wire_type == 5) {
                return dumu_fail(ctx->err, DUMU_E_UNSUPPORTED,
                                 "onnx: unpacked float_data at byte %lld",
                                 (long long)(at - ctx->base));
            }
            if (f.wire_type != 2) return wrong_wire(ctx, &f, at, "TensorProto");
            if (t->float_data || f.size % 4) {
                return dumu_fail(ctx->err, DUMU_E_UNSUPPORTED,
                                 "onnx: split or ragged float_data at byte %lld",
                                 (long long)(at - ctx->base));
            }
            t->float_data = f.bytes;
            t->float_data_size = f.size;
            break;
        case 8: /* name */
            if (f.wire_type != 2) return wrong_wire(ctx, &f, at, "TensorProto");
            t->name = make_str(&f);
            break;
        case 9: /* raw_data */
            if (f.wire_type != 2) return wrong_wire(ctx, &f, at, "TensorProto");
            t->raw_data = f.bytes;
            t->raw_size = f.size;
            break;
        case 14: /* data_location: 1 = EXTERNAL */
            if (f.wire_type != 0) return wrong_wire(ctx, &f, at, "TensorProto");
            t->external = f.u == 1;
            break;
        default: break;
        }
    }
    int64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->dims[i] != 0 && numel > MAX_NUMEL / t->dims[i]) {
            return dumu_fail(ctx->err, DUMU_E_FORMAT, "onnx: tensor '%.*s' is too large",
                             (int)(t->name.len > 200 ? 200 : t->name.len),
                             t->name.data ? t->name.data : "");
        }
        numel *= t->dims[i];
    }
    t->numel = numel;
    size_t esize = dumu_onnx_type_size(t->data_type);
    if (t->raw_data && esize && (uint64_t)t->raw_size != (uint64_t)numel * esize) {
        return dumu_fail(ctx->err, DUMU_E_FORMAT,
                         "onnx: tensor '%.*s' has %zu bytes of raw_data, dims need %llu",
                         (int)(t->name.len > 200 ? 200 : t->name.len),
                         t->name.data ? t->name.data : "", t->raw_size,
                         (unsigned long long)numel * esize);
    }
    if (t->float_data && t->data_type == DUMU_ONNX_FLOAT &&
        (uint64_t)t->float_data_size != (uint64_t)numel * 4) {
        return dumu_fail(ctx->err, DUMU_E_FORMAT, "onnx: tensor '%.*s': float_data size differs",
                         (int)(t->name.len > 200 ? 200 : t->name.len),
                         t->name.data ? t->name.data : "");
    }
    return DUMU_OK;
}

/* ---- AttributeProto / NodeProto ------------------------------------------------------------ */

static dumu_status parse_attr(parse_ctx *ctx, const uint8_t *bytes, size_t size,
                              dumu_onnx_attr *a) {
    memset(a, 0, sizeof(*a));
    dumu_pb_reader r = {bytes, bytes + size};
    dumu_pb_field f;
    while (r.p < r.end) {
        const uint8_t *at = r.p;
        dumu_status rc = dumu_pb_next(&r, &f);
        if (rc) return wire_fail(ctx, rc, at, "AttributeProto");
        switch (f.number) {
        case 1:
            if (f.wire_type != 2) return wrong_wire(ctx, &f, at, "AttributeProto");
            a->name = make_str(&f);
            break;
        case 2: {
            if (f.wire_type != 5) return wrong_wire(ctx, &f, at, "AttributeProto");
            uint32_t bits = (uint32_t)f.u;
            memcpy(&a->f, &bits, sizeof(bits));
            break;
        }
        case 3:
            if (f.wire_type != 0) return wrong_wire(ctx, &f, at, "AttributeProto");
            a->i = (int64_t)f.u;
            break;
        case 5:
            if (f.wire_type != 2) return wrong_wire(ctx, &f, at, "AttributeProto");
            rc = parse_tensor(ctx, f.bytes, f.size, &a->t);
            if (rc) return rc;
            a->has_t = true;
            break;
        case 20:
            if (f.wire_type != 0) return wrong_wire(ctx, &f, at, "AttributeProto");
            a->type = (int32_t)(uint32_t)f.u;
            break;
        default: break;
        }
    }
    return DUMU_OK;
}

/* Pass 1 (ctx->m == NULL): validates the node's fields and adds its counts. Pass 2: fills
 * `node` from the pools. */
static dumu_status parse_node(parse_ctx *ctx, const uint8_t *bytes, size_t size,
                              dumu_onnx_node *node) {
    dumu_pb_reader r = {bytes, bytes + size};
    dumu_pb_field f;
    int64_t n_in = 0, n_out = 0, n_attr = 0;
    /* Pass 1 counts; pass 2 writes inputs, then outputs, then attributes, each contiguous. */
    for (int sweep = 0; sweep < (ctx->m ? 3 : 1); sweep++) {
        r.p = bytes;
        while (r.p < r.end) {
            const uint8_t *at = r.p;
            dumu_status rc = dumu_pb_next(&r, &f);
            if (rc) return wire_fail(ctx, rc, at, "NodeProto");
            bool want = !ctx->m || (uint32_t)sweep + 1 == f.number ||
                        (sweep == 2 && (f.number == 3 || f.number == 4 || f.number == 5));
            if (!want) continue;
            switch (f.number) {
            case 1:
            case 2:
                if (f.wire_type != 2) return wrong_wire(ctx, &f, at, "NodeProto");
                if (!ctx->m) {
                    if (f.number == 1)
                        n_in++;
                    else
                        n_out++;
                } else {
                    ctx->m->str_pool[ctx->n_str++] = make_str(&f);
                    if (f.number == 1)
                        node->n_inputs++;
                    else
                        node->n_outputs++;
                }
                break;
            case 3:
            case 4:
                if (f.wire_type != 2) return wrong_wire(ctx, &f, at, "NodeProto");
                if (ctx->m && f.number == 3) node->name = make_str(&f);
                if (ctx->m && f.number == 4) node->op_type = make_str(&f);
                break;
            case 5:
                if (f.wire_type != 2) return wrong_wire(ctx, &f, at, "NodeProto");
                if (!ctx->m) {
                    dumu_onnx_attr tmp;
                    rc = parse_attr(ctx, f.bytes, f.size, &tmp);
                    if (rc) return rc;
                    n_attr++;
                } else {
                    rc = parse_attr(ctx, f.bytes, f.size, &ctx->m->attr_pool[ctx->n_attr++]);
                    if (rc) return rc;
                    node->n_attrs++;
                }
                break;
            default: break;
            }
        }
    }
    if (!ctx->m) {
        if (n_in > INT32_MAX || n_out > INT32_MAX || n_attr > INT32_MAX) {
            return dumu_fail(ctx->err, DUMU_E_UNSUPPORTED, "onnx: node with too many fields");
        }
        ctx->n_str += n_in + n_out;
        ctx->n_attr += n_attr;
    }
    return DUMU_OK;
}

/* ---- GraphProto / ModelProto --------------------------------------------------------------- */

/* ValueInfoProto: only its name (field 1). */
static dumu_status parse_value_info(parse_ctx *ctx, const uint8_t *bytes, size_t size,
                                    dumu_onnx_str *name) {
    dumu_pb_reader r = {bytes, bytes + size};
    dumu_pb_field f;
    name->data = NULL;
    name->len = 0;
    while (r.p < r.end) {
        const uint8_t *at = r.p;
        dumu_status rc = dumu_pb_next(&r, &f);
        if (rc) return wire_fail(ctx, rc, at, "ValueInfoProto");
        if (f.number == 1) {
            if (f.wire_type != 2) return wrong_wire(ctx, &f, at, "ValueInfoProto");
            *name = make_str(&f);
        }
    }
    return DUMU_OK;
}

static dumu_status parse_graph(parse_ctx *ctx, const uint8_t *bytes, size_t size) {
    dumu_pb_reader r = {bytes, bytes + size};
    dumu_pb_field f;
    dumu_onnx_model *m = ctx->m;
    while (r.p < r.end) {
        const uint8_t *at = r.p;
        dumu_status rc = dumu_pb_next(&r, &f);
        if (rc) return wire_fail(ctx, rc, at, "GraphProto");
        if (f.number != 1 && f.number != 5 && f.number != 11 && f.number != 12) continue;
        if (f.wire_type != 2) return wrong_wire(ctx, &f, at, "GraphProto");
        switch (f.number) {
        case 1:
            if (m) {
                dumu_onnx_node *node = &m->nodes[ctx->n_node];
                memset(node, 0, sizeof(*node));
                node->inputs = m->str_pool + ctx->n_str;
                node->attrs = m->attr_pool + ctx->n_attr;
                rc = parse_node(ctx, f.bytes, f.size, node);
                node->outputs = node->inputs + node->n_inputs;
            } else {
                rc = parse_node(ctx, f.bytes, f.size, NULL);
            }
            ctx->n_node++;
            break;
        case 5:
            if (m) {
                rc = parse_tensor(ctx, f.bytes, f.size, &m->initializers[ctx->n_init]);
            } else {
                dumu_onnx_tensor tmp;
                rc = parse_tensor(ctx, f.bytes, f.size, &tmp);
            }
            ctx->n_init++;
            break;
        case 11:
        case 12: {
            dumu_onnx_str name;
            rc = parse_value_info(ctx, f.bytes, f.size, &name);
            if (!rc && m && f.number == 11) m->inputs[ctx->n_gin] = name;
            if (!rc && m && f.number == 12) m->outputs[ctx->n_gout] = name;
            if (f.number == 11)
                ctx->n_gin++;
            else
                ctx->n_gout++;
            break;
        }
        default: break;
        }
        if (rc) return rc;
    }
    return DUMU_OK;
}

/* OperatorSetIdProto: domain (1), version (2). Sets m->opset for the default domain. */
static dumu_status parse_opset(parse_ctx *ctx, const uint8_t *bytes, size_t size,
                               int64_t *version) {
    dumu_pb_reader r = {bytes, bytes + size};
    dumu_pb_field f;
    dumu_onnx_str domain = {NULL, 0};
    int64_t v = 0;
    while (r.p < r.end) {
        const uint8_t *at = r.p;
        dumu_status rc = dumu_pb_next(&r, &f);
        if (rc) return wire_fail(ctx, rc, at, "OperatorSetIdProto");
        if (f.number == 1) {
            if (f.wire_type != 2) return wrong_wire(ctx, &f, at, "OperatorSetIdProto");
            domain = make_str(&f);
        } else if (f.number == 2) {
            if (f.wire_type != 0) return wrong_wire(ctx, &f, at, "OperatorSetIdProto");
            v = (int64_t)f.u;
        }
    }
    if (domain.len == 0 || dumu_onnx_str_eq(domain, "ai.onnx")) *version = v;
    return DUMU_OK;
}

/* One walk over ModelProto (pass 1 when ctx->m is NULL). Returns the number of graphs. */
static dumu_status parse_model(parse_ctx *ctx, const uint8_t *data, size_t size, int *n_graphs) {
    dumu_pb_reader r = {data, data + size};
    dumu_pb_field f;
    *n_graphs = 0;
    while (r.p < r.end) {
        const uint8_t *at = r.p;
        dumu_status rc = dumu_pb_next(&r, &f);
        if (rc) return wire_fail(ctx, rc, at, "ModelProto");
        switch (f.number) {
        case 1:
            if (f.wire_type != 0) return wrong_wire(ctx, &f, at, "ModelProto");
            if (ctx->m) ctx->m->ir_version = (int64_t)f.u;
            break;
        case 7:
            if (f.wire_type != 2) return wrong_wire(ctx, &f, at, "ModelProto");
            rc = parse_graph(ctx, f.bytes, f.size);
            if (rc) return rc;
            (*n_graphs)++;
            break;
        case 8: {
            if (f.wire_type != 2) return wrong_wire(ctx, &f, at, "ModelProto");
            int64_t v = 0;
            rc = parse_opset(ctx, f.bytes, f.size, &v);
            if (rc) return rc;
            if (ctx->m && v) ctx->m->opset = v;
            break;
        }
        default: break;
        }
    }
    return DUMU_OK;
}

void dumu_onnx_model_deinit(dumu_onnx_model *m) {
    if (!m) return;
    dumu_free(m->initializers);
    dumu_free(m->nodes);
    dumu_free(m->inputs);
    dumu_free(m->outputs);
    dumu_free(m->str_pool);
    dumu_free(m->attr_pool);
    memset(m, 0, sizeof(*m));
}

static void *alloc_array(int64_t n, size_t size) {
    return dumu_calloc((size_t)(n > 0 ? n : 1), size);
}

dumu_status dumu_onnx_parse(const uint8_t *data, size_t size, dumu_onnx_model *out,
                            dumu_error *err) {
    if (!out || (!data && size)) return dumu_fail(err, DUMU_E_INVALID_ARG, "onnx: NULL argument");
    memset(out, 0, sizeof(*out));
    if (size == 0) return dumu_fail(err, DUMU_E_FORMAT, "onnx: empty file");
    parse_ctx ctx = {.base = data, .err = err};
    int n_graphs = 0;
    dumu_status rc = parse_model(&ctx, data, size, &n_graphs);
    if (rc) return rc;
    if (n_graphs == 0) return dumu_fail(err, DUMU_E_FORMAT, "onnx: no graph in the model");

    dumu_onnx_model *m = out;
    m->initializers = alloc_array(ctx.n_init, sizeof(*m->initializers));
    m->nodes = alloc_array(ctx.n_node, sizeof(*m->nodes));
    m->inputs = alloc_array(ctx.n_gin, sizeof(*m->inputs));
    m->outputs = alloc_array(ctx.n_gout, sizeof(*m->outputs));
    m->str_pool = alloc_array(ctx.n_str, sizeof(*m->str_pool));
    m->attr_pool = alloc_array(ctx.n_attr, sizeof(*m->attr_pool));
    if (!m->initializers || !m->nodes || !m->inputs || !m->outputs || !m->str_pool ||
        !m->attr_pool) {
        dumu_onnx_model_deinit(m);
        return dumu_fail(err, DUMU_E_NOMEM, "onnx: out of memory for the graph index");
    }
    int64_t want_init = ctx.n_init, want_node = ctx.n_node, want_str = ctx.n_str,
            want_attr = ctx.n_attr, want_gin = ctx.n_gin, want_gout = ctx.n_gout;
    ctx.n_init = ctx.n_node = ctx.n_gin = ctx.n_gout = ctx.n_str = ctx.n_attr = 0;
    ctx.m = m;
    rc = parse_model(&ctx, data, size, &n_graphs);
    /* The second walk sees the same bytes, so it must agree with the first. */
    DUMU_ASSERT(rc ||
                (ctx.n_init == want_init && ctx.n_node == want_node && ctx.n_str == want_str &&
                 ctx.n_attr == want_attr && ctx.n_gin == want_gin && ctx.n_gout == want_gout));
    if (rc) {
        dumu_onnx_model_deinit(m);
        return rc;
    }
    m->n_initializers = ctx.n_init;
    m->n_nodes = ctx.n_node;
    m->n_inputs = ctx.n_gin;
    m->n_outputs = ctx.n_gout;
    return DUMU_OK;
}
