/* onnx.h - a minimal, bounds-checked reader for ONNX model files (protobuf), enough to take
 * weights out of a model: ModelProto -> GraphProto -> initializers (name, dims, data_type,
 * raw_data) and nodes (name, op_type, inputs, outputs, attributes incl. Constant tensors).
 *
 * Everything returned is a view into the caller's bytes: the dumu_onnx_model borrows `data`
 * and is valid only while those bytes are; strings are NOT NUL-terminated (use
 * dumu_onnx_str_eq / the explicit length). The parser never reads outside [data, data+size),
 * has a fixed nesting depth (no recursion), and rejects malformed input with
 * DUMU_E_FORMAT or DUMU_E_TRUNCATED (and DUMU_E_UNSUPPORTED for valid protobuf it will not
 * handle: external data, dims past DUMU_ONNX_MAX_DIMS). Safe on hostile bytes (fuzzed:
 * tests/fuzz/fuzz_onnx.c). Not thread-affine: a parsed model is immutable. */
#ifndef DUMU_ONNX_H
#define DUMU_ONNX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dumu/dumu.h"

#define DUMU_ONNX_MAX_DIMS 8

/* TensorProto.DataType values used here. */
enum {
    DUMU_ONNX_FLOAT = 1,
    DUMU_ONNX_UINT8 = 2,
    DUMU_ONNX_INT8 = 3,
    DUMU_ONNX_INT32 = 6,
    DUMU_ONNX_INT64 = 7,
    DUMU_ONNX_DOUBLE = 11,
};

/* ---- protobuf wire layer ------------------------------------------------------------------ */

/* A cursor over [p, end). */
typedef struct dumu_pb_reader {
    const uint8_t *p;
    const uint8_t *end;
} dumu_pb_reader;

/* One field: its number and wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32),
 * and its value: `u` for wire types 0/1/5 (fixed32 zero-extended), `bytes` for 2. */
typedef struct dumu_pb_field {
    uint32_t number;
    uint32_t wire_type;
    uint64_t u;
    const uint8_t *bytes;
    size_t size;
} dumu_pb_field;

/* Reads a base-128 varint (at most 10 bytes; the 10th may only carry 1 bit). Returns DUMU_OK,
 * DUMU_E_TRUNCATED (ends mid-varint) or DUMU_E_FORMAT (overlong). Advances on success. */
dumu_status dumu_pb_read_varint(dumu_pb_reader *r, uint64_t *out);

/* Reads the next field. Field number 0, numbers above 2^29-1, wire types 3/4 (groups) and 6/7
 * are DUMU_E_FORMAT; a length or fixed value past the end is DUMU_E_TRUNCATED. */
dumu_status dumu_pb_next(dumu_pb_reader *r, dumu_pb_field *f);

/* ---- ONNX subset --------------------------------------------------------------------------- */

typedef struct dumu_onnx_str {
    const char *data; /* view into the model bytes; not NUL-terminated; NULL when len == 0 */
    size_t len;
} dumu_onnx_str;

/* True when `s` equals the NUL-terminated `c`. */
bool dumu_onnx_str_eq(dumu_onnx_str s, const char *c);

typedef struct dumu_onnx_tensor {
    dumu_onnx_str name;
    int32_t data_type;                /* TensorProto.DataType; 0 when absent */
    int32_t ndim;                     /* 0..DUMU_ONNX_MAX_DIMS */
    int64_t dims[DUMU_ONNX_MAX_DIMS]; /* each >= 0 */
    int64_t numel;                    /* product of dims (1 for a scalar), checked */
    const uint8_t *raw_data;          /* little-endian payload view, or NULL */
    size_t raw_size;                  /* bytes; == numel * element size when the type is known */
    const uint8_t *float_data;        /* packed TensorProto.float_data view, or NULL */
    size_t float_data_size;           /* bytes, a multiple of 4 */
    bool external;                    /* data_location == EXTERNAL: data is not in the file */
} dumu_onnx_tensor;

typedef struct dumu_onnx_attr {
    dumu_onnx_str name;
    int32_t type; /* AttributeProto.AttributeType; 0 when absent */
    float f;      /* field f */
    int64_t i;    /* field i */
    bool has_t;   /* a tensor value (field t, e.g. Constant's "value") */
    dumu_onnx_tensor t;
} dumu_onnx_attr;

typedef struct dumu_onnx_node {
    dumu_onnx_str name;
    dumu_onnx_str op_type;
    const dumu_onnx_str *inputs; /* n_inputs entries (may be empty strings: absent optional) */
    int32_t n_inputs;
    const dumu_onnx_str *outputs;
    int32_t n_outputs;
    const dumu_onnx_attr *attrs;
    int32_t n_attrs;
} dumu_onnx_node;

typedef struct dumu_onnx_model {
    int64_t ir_version;
    int64_t opset;                  /* default ("" / "ai.onnx") domain version; 0 if absent */
    dumu_onnx_tensor *initializers; /* n_initializers, in file order; owned */
    int64_t n_initializers;
    dumu_onnx_node *nodes; /* n_nodes, in file (topological) order; owned */
    int64_t n_nodes;
    dumu_onnx_str *inputs; /* graph input names; owned array */
    int64_t n_inputs;
    dumu_onnx_str *outputs; /* graph output names; owned array */
    int64_t n_outputs;
    /* private: pools the node arrays point into */
    dumu_onnx_str *str_pool;
    dumu_onnx_attr *attr_pool;
} dumu_onnx_model;

/* Parses `size` bytes of a serialised ModelProto into `out` (caller storage, overwritten).
 * The bytes are borrowed: keep them alive and unchanged while `out` is used. Tensors with
 * raw_data of a known element type must have raw_size == numel * element size
 * (DUMU_E_FORMAT otherwise). A file without a graph is DUMU_E_FORMAT. On failure `out` is left
 * deinitialised (nothing to free). */
dumu_status dumu_onnx_parse(const uint8_t *data, size_t size, dumu_onnx_model *out,
                            dumu_error *err);

/* Frees the arrays owned by `m` and zeroes it. A zeroed model is fine. */
void dumu_onnx_model_deinit(dumu_onnx_model *m);

/* Bytes per element of an ONNX data type, 0 when not a fixed-size type handled here. */
size_t dumu_onnx_type_size(int32_t data_type);

#endif /* DUMU_ONNX_H */
