#!/usr/bin/env node
// dump_segment.js - runs htdemucs on ONE segment (343980 stereo frames) and records the
// network's intermediate tensors: for each, its shape, float64 sum and sum of squares (Neumaier
// compensated, so exact to double rounding), min, max and a deterministic subsample.
//
//   node dump_segment.js --input SEG.f32 --out DIR [--threads 2] [--k 4096]
//
// SEG.f32: raw float32 LE interleaved stereo, exactly 343980 frames. The graph inputs are built
// with the PATCHED host code (true reflect padding, see host.js), i.e. what Dumu feeds.
// Intermediate values are made graph outputs by appending GraphProto.output entries
// (ValueInfoProto: name + float tensor type) to the model bytes before the session is created.
//
// Subsample of a tensor with n elements (flat index in the graph's row-major layout):
// K = min(k, n) values, value j = element floor(j * n / K), j = 0..K-1, stored as float32 LE
// in DIR/<label>.f32. DIR/meta.json lists every tensor.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadHost, modelPath, readStereoF32, versions } from './host.js';

const S = 343980;

// label -> value name in htdemucs.onnx (found by reading the node list; see README.md).
export const INTERMEDIATES = [
    ['norm_x', '/Div_1_output_0'],                 // (X - mean)/(std + 1e-5), [1,4,2048,336]
    ['norm_xt', '/Div_3_output_0'],                // same for the waveform, [1,2,343980]
    ...[0, 1, 2, 3].flatMap((i) => [
        [`tencoder.${i}`, `/tencoder.${i}/Mul_2_output_0`],
        ...(i === 0 ? [['encoder.0.pre_emb', '/encoder.0/Mul_2_output_0'],
            ['encoder.0', '/Add_2_output_0']]   // after += 0.2 * freq embedding
            : [[`encoder.${i}`, `/encoder.${i}/Mul_2_output_0`]]),
    ]),
    ['channel_upsampler', '/Reshape_1_output_0'],
    ['channel_upsampler_t', '/channel_upsampler_t/Conv_output_0'],
    ['crosstransformer.tokens', '/crosstransformer/Add_8_output_0'],   // norm_in + 2-D pos emb
    ['crosstransformer.tokens_t', '/crosstransformer/Add_9_output_0'], // norm_in_t + 1-D pos emb
    ...[0, 1, 2, 3, 4].flatMap((k) => [
        [`crosstransformer.layers.${k}`, `/crosstransformer/layers.${k}/norm_out/Transpose_1_output_0`],
        [`crosstransformer.layers_t.${k}`, k < 4
            ? `/crosstransformer/layers_t.${k}/norm_out/Transpose_1_output_0`
            : `/crosstransformer/layers_t.${k}/norm_out/Add_output_0`],
    ]),
    ['crosstransformer', '/crosstransformer/Transpose_8_output_0'],
    ['channel_downsampler', '/Reshape_3_output_0'],
    ['channel_downsampler_t', '/channel_downsampler_t/Conv_output_0'],
    ...[0, 1, 2, 3].flatMap((i) => [
        [`decoder.${i}`, i < 3 ? `/decoder.${i}/Mul_2_output_0` : '/decoder.3/Slice_output_0'],
        [`tdecoder.${i}`, i < 3 ? `/tdecoder.${i}/Mul_2_output_0` : '/tdecoder.3/Slice_output_0'],
    ]),
    ['output', 'output'],
    ['5073', '5073'],
];

// ---- protobuf surgery: append graph outputs ----------------------------------------------
function readVarint(buf, pos) {
    let v = 0, mul = 1;
    for (;;) {
        if (pos >= buf.length) throw new Error('varint past the end');
        const b = buf[pos++];
        v += (b & 0x7f) * mul;
        mul *= 128;
        if (!(b & 0x80)) return [v, pos];
    }
}

function varint(v) {
    const out = [];
    do {
        let b = v % 128;
        v = Math.floor(v / 128);
        if (v) b |= 0x80;
        out.push(b);
    } while (v);
    return Buffer.from(out);
}

function lenField(field, body) {
    return Buffer.concat([varint(field * 8 + 2), varint(body.length), body]);
}

// ValueInfoProto { name = 1; type = 2: TypeProto { tensor_type = 1: { elem_type = 1 (FLOAT) } } }
function valueInfo(name) {
    const tensorType = Buffer.from([0x08, 0x01]);
    return lenField(12, Buffer.concat([lenField(1, Buffer.from(name, 'utf8')),
        lenField(2, lenField(1, tensorType))]));
}

export function addGraphOutputs(model, names) {
    const parts = [];
    let pos = 0, graphs = 0;
    while (pos < model.length) {
        const start = pos;
        let key;
        [key, pos] = readVarint(model, pos);
        const field = Math.floor(key / 8), wt = key & 7;
        if (wt === 0) [, pos] = readVarint(model, pos);
        else if (wt === 1) pos += 8;
        else if (wt === 5) pos += 4;
        else if (wt === 2) {
            let len;
            [len, pos] = readVarint(model, pos);
            const body = model.subarray(pos, pos + len);
            pos += len;
            if (field === 7) {
                const extra = Buffer.concat(names.map(valueInfo));
                parts.push(lenField(7, Buffer.concat([body, extra])));
                graphs++;
                continue;
            }
        } else throw new Error(`wire type ${wt} at ${start}`);
        parts.push(model.subarray(start, pos));
    }
    if (graphs !== 1) throw new Error(`expected one graph, found ${graphs}`);
    return Buffer.concat(parts);
}

// ---- statistics ----------------------------------------------------------------------------
function neumaier(data, f) {
    let s = 0, c = 0;
    for (let i = 0; i < data.length; i++) {
        const x = f(data[i]);
        const t = s + x;
        c += Math.abs(s) >= Math.abs(x) ? (s - t) + x : (x - t) + s;
        s = t;
    }
    return s + c;
}

function summarise(label, onnxName, data, shape, k, dir) {
    const n = data.length;
    const K = Math.min(k, n);
    const sub = new Float32Array(K);
    for (let j = 0; j < K; j++) sub[j] = data[Math.floor((j * n) / K)];
    let min = Infinity, max = -Infinity, nonfinite = 0;
    for (let i = 0; i < n; i++) {
        const x = data[i];
        if (!Number.isFinite(x)) nonfinite++;
        else {
            if (x < min) min = x;
            if (x > max) max = x;
        }
    }
    const file = `${label}.f32`;
    fs.writeFileSync(path.join(dir, file), Buffer.from(sub.buffer));
    return {
        label, onnx_name: onnxName, shape, n,
        sum: neumaier(data, (x) => x),
        sumsq: neumaier(data, (x) => x * x),
        min, max, nonfinite,
        subsample: { file, k: K },
    };
}

// ---- main ----------------------------------------------------------------------------------
const { values: args } = parseArgs({
    options: {
        input: { type: 'string' },
        out: { type: 'string' },
        threads: { type: 'string', default: '2' },
        k: { type: 'string', default: '4096' },
        source: { type: 'string', default: '' },
        'start-frame': { type: 'string', default: '-1' },
    },
});
if (!args.input || !args.out) {
    console.error('usage: node dump_segment.js --input SEG.f32 --out DIR [--threads 2] [--k 4096]');
    process.exit(2);
}
const k = parseInt(args.k, 10);
const [left, right] = readStereoF32(args.input);
if (left.length !== S) throw new Error(`${args.input}: ${left.length} frames, need exactly ${S}`);
fs.mkdirSync(args.out, { recursive: true });

const host = await loadHost(true);
const now = () => Number(process.hrtime.bigint()) / 1e9;
const t0 = now();
const bytes = addGraphOutputs(fs.readFileSync(modelPath()), INTERMEDIATES.slice(0, -2).map((x) => x[1]));
const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: parseInt(args.threads, 10), interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionProviders: ['cpu'],
});
const x = new Float32Array(2 * S);
x.set(left, 0);
x.set(right, S);
const mix = { data: x, shape: [1, 2, S] };
const magspec = host.dsp.magnitude(host.dsp.spec(mix)); // [1,4,2048,336] CaC, patched STFT
const feeds = {
    input: new ort.Tensor('float32', x, [1, 2, S]),
    'onnx::ReduceMean_1': new ort.Tensor('float32', magspec.data, magspec.shape),
};
const t1 = now();
const results = await session.run(feeds, INTERMEDIATES.map((x) => x[1]));
const t2 = now();

const tensors = [];
tensors.push(summarise('input', 'input', x, [1, 2, S], k, args.out));
tensors.push(summarise('input_cac', 'onnx::ReduceMean_1', magspec.data, magspec.shape, k, args.out));
for (const [label, name] of INTERMEDIATES) {
    const r = results[name];
    if (!r) throw new Error(`no result for ${name}`);
    tensors.push(summarise(label, name, r.data, r.dims.map(Number), k, args.out));
}
// The segment's stems as the patched host computes them: 5073 + ISTFT(output), [1,4,2,S].
const spec = results.output;
const zout = (() => {
    // mask(): CaC [1,4,4,2048,336] -> complex [1,4,2,2048,336] (same as apply.js mask()).
    const [B, Sr, C, Fr, T] = spec.dims.map(Number);
    const n = B * Sr * (C / 2) * Fr * T;
    const re = new Float32Array(n), im = new Float32Array(n);
    for (let s = 0; s < Sr; s++) {
        for (let c = 0; c < C / 2; c++) {
            const src = ((s * C + 2 * c) * Fr) * T, dst = ((s * (C / 2) + c) * Fr) * T;
            re.set(spec.data.subarray(src, src + Fr * T), dst);
            im.set(spec.data.subarray(src + Fr * T, src + 2 * Fr * T), dst);
        }
    }
    const shape = [B, Sr, C / 2, Fr, T];
    return { real: { data: re, shape }, imag: { data: im, shape } };
})();
const wav = host.dsp.ispec(zout, S);
const stems = new Float32Array(wav.data.length);
const xt = results['5073'].data;
for (let i = 0; i < stems.length; i++) stems[i] = xt[i] + wav.data[i];
tensors.push(summarise('stems', '5073 + ispec(output)', stems, [1, 4, 2, S], k, args.out));

const meta = {
    tool: 'tools/reference/demucs/dump_segment.js',
    source: args.source,
    start_frame: parseInt(args['start-frame'], 10),
    n_frames: S,
    host: 'patched (true reflect pad, exact-length ISTFT)',
    versions: versions(),
    threads: parseInt(args.threads, 10),
    subsample_rule: 'K = min(k, n); value j = flat element floor(j*n/K), j = 0..K-1; float32 LE',
    sum_rule: 'float64 Neumaier-compensated sum of the float32 values (sumsq: of their squares)',
    timings_s: { load: +(t1 - t0).toFixed(3), run: +(t2 - t1).toFixed(3) },
    tensors,
};
fs.writeFileSync(path.join(args.out, 'meta.json'), JSON.stringify(meta, null, 1) + '\n');
console.log(`dumped ${tensors.length} tensors in ${(t2 - t1).toFixed(2)} s`);
