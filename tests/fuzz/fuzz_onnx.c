/* fuzz_onnx.c - libFuzzer target for the ONNX/protobuf reader (src/nn/onnx.c).
 *
 * Any bytes must give a status, never a crash, a leak or a sanitizer report. A success must
 * hold only views inside the input (names, raw_data, node strings, Constant tensors) and
 * consistent counts (raw_size == numel * element size for known float types); a failure an
 * error status with a message and an empty model.
 *
 * Seeds: tests/fuzz/corpus/fuzz_onnx/, tiny hand-built models (see tests/unit/test_onnx.c for
 * the layout): a MatMul + Constant graph with two initializers, a model whose graph is split
 * over two GraphProto fields, and one with packed dims and a zero-sized tensor.
 *
 * Build: CC=clang cmake -S . -B build-fuzz -G Ninja -DDUMU_FUZZ=ON && cmake --build build-fuzz
 * Run:   scripts/run-fuzzers build-fuzz 60 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/nn/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_view(const void *p, size_t n, const uint8_t *data, size_t size) {
    if (n == 0) return;
    const uint8_t *b = p;
    if (!b || b < data || n > size || b > data + (size - n)) abort();
}

static void check_tensor(const dumu_onnx_tensor *t, const uint8_t *data, size_t size) {
    check_view(t->name.data, t->name.len, data, size);
    check_view(t->raw_data, t->raw_size, data, size);
    check_view(t->float_data, t->float_data_size, data, size);
    if (t->ndim < 0 || t->ndim > DUMU_ONNX_MAX_DIMS || t->numel < 0) abort();
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->dims[i] < 0) abort();
        n *= t->dims[i];
    }
    if (n != t->numel) abort();
    size_t es = dumu_onnx_type_size(t->data_type);
    if (t->raw_data && es && t->raw_size != (size_t)t->numel * es) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dumu_onnx_model m;
    dumu_error err;
    memset(&m, 0xA5, sizeof m);
    memset(&err, 0, sizeof err);
    dumu_status st = dumu_onnx_parse(data, size, &m, &err);
    if (st == DUMU_OK) {
        if (m.n_initializers < 0 || m.n_nodes < 0 || m.n_inputs < 0 || m.n_outputs < 0) abort();
        for (int64_t i = 0; i < m.n_initializers; i++)
            check_tensor(&m.initializers[i], data, size);
        for (int64_t i = 0; i < m.n_inputs; i++) {
            check_view(m.inputs[i].data, m.inputs[i].len, data, size);
        }
        for (int64_t i = 0; i < m.n_outputs; i++) {
            check_view(m.outputs[i].data, m.outputs[i].len, data, size);
        }
        for (int64_t i = 0; i < m.n_nodes; i++) {
            const dumu_onnx_node *n = &m.nodes[i];
            check_view(n->name.data, n->name.len, data, size);
            check_view(n->op_type.data, n->op_type.len, data, size);
            if (n->n_inputs < 0 || n->n_outputs < 0 || n->n_attrs < 0) abort();
            for (int32_t k = 0; k < n->n_inputs; k++) {
                check_view(n->inputs[k].data, n->inputs[k].len, data, size);
            }
            for (int32_t k = 0; k < n->n_outputs; k++) {
                check_view(n->outputs[k].data, n->outputs[k].len, data, size);
            }
            for (int32_t k = 0; k < n->n_attrs; k++) {
                check_view(n->attrs[k].name.data, n->attrs[k].name.len, data, size);
                if (n->attrs[k].has_t) check_tensor(&n->attrs[k].t, data, size);
            }
        }
        dumu_onnx_model_deinit(&m);
    } else {
        if (err.status != st || err.message[0] == '\0') abort();
        if (m.initializers || m.nodes || m.str_pool || m.attr_pool) abort();
    }
    return 0;
}
