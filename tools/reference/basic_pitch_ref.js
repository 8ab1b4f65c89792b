#!/usr/bin/env node
/* basic_pitch_ref.js - runs the reference Basic Pitch (@spotify/basic-pitch 1.0.1 on
 * @tensorflow/tfjs 3.21.0) on raw 22050 Hz mono float32 audio and writes its activations,
 * note list and timings, for Dumu's parity fixtures and speed benchmark.
 *
 *   node basic_pitch_ref.js --backend cpu|wasm --input IN.f32 --out DIR
 *        [--onset 0.5] [--frame 0.3] [--min-len 11] [--melodia 1] [--infer 1]
 *        [--energy-tol 11] [--min-freq HZ] [--max-freq HZ] [--threads N] [--no-activations]
 *
 * IN.f32 is raw float32 little-endian mono at 22050 Hz (the package never resamples).
 * DIR receives:
 *   note.f32, onset.f32 (n_frames x 88), contour.f32 (n_frames x 264): the stitched network
 *       outputs, float32 LE, row-major (skipped with --no-activations, for benchmarks);
 *   notes.json: outputToNotesPoly + addPitchBendsToNoteEvents(contours, notes, 25) +
 *       noteFramesToTime, in the order the package emits them (onset-driven notes in reverse
 *       time order, then melodia notes), plus `time_order` (indices sorted by start frame,
 *       pitch, end frame);
 *   meta.json: n_samples, n_frames, shapes, backend, parameters and timings.
 *
 * The model is read from the npm package's model/ folder through an in-memory tf.io handler:
 * no network. The `cpu` backend is the bit-exact reference; `wasm` is ~10x faster and agrees
 * within ~4e-5. tfjs-backend-wasm 3.21's Fill kernel crashes when no dtype is given, which
 * tf.signal.frame(pad_end) does; this script re-registers it with a float32 default.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { performance } = require('perf_hooks');

const common = require('./bp_common');

function usage(msg) {
    if (msg) process.stderr.write(`basic_pitch_ref: ${msg}\n`);
    process.stderr.write(
        'usage: node basic_pitch_ref.js --backend cpu|wasm --input IN.f32 --out DIR\n' +
            common.NOTE_OPTIONS_USAGE +
            '       [--threads N] [--no-activations]\n');
    process.exit(2);
}

function parseArgs(argv) {
    const opt = Object.assign(common.defaultNoteOptions(), {
        backend: 'cpu',
        input: null,
        out: null,
        threads: 0,
        activations: true,
    });
    for (let i = 2; i < argv.length; i++) {
        const a = argv[i];
        const v = argv[i + 1];
        const next = common.parseNoteOption(argv, i, opt, usage);
        if (next >= 0) {
            i = next;
            continue;
        }
        switch (a) {
        case '--backend': opt.backend = v; i++; break;
        case '--input': opt.input = v; i++; break;
        case '--out': opt.out = v; i++; break;
        case '--threads':
            opt.threads = Number(v);
            if (!Number.isInteger(opt.threads) || opt.threads < 1) usage('--threads needs N >= 1');
            i++;
            break;
        case '--no-activations': opt.activations = false; break;
        case '-h': case '--help': usage(); break;
        default: usage(`unknown argument ${a}`);
        }
    }
    if (opt.backend !== 'cpu' && opt.backend !== 'wasm') usage('--backend must be cpu or wasm');
    if (!opt.input || !opt.out) usage('--input and --out are required');
    return opt;
}

/* The package's model/ folder, found through node's resolver (works from any cwd). */
function modelDir() {
    const pkg = require.resolve('@spotify/basic-pitch/package.json', { paths: [__dirname] });
    return path.join(path.dirname(pkg), 'model');
}

/* An in-memory tf.io handler for model.json + its weight shards. */
function fileModelHandler(dir) {
    return {
        load: async () => {
            const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
            const specs = [];
            const buffers = [];
            for (const group of json.weightsManifest) {
                specs.push(...group.weights);
                for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
            }
            const all = Buffer.concat(buffers);
            const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
            return {
                modelTopology: json.modelTopology,
                format: json.format,
                generatedBy: json.generatedBy,
                convertedBy: json.convertedBy,
                signature: json.signature,
                userDefinedMetadata: json.userDefinedMetadata,
                weightSpecs: specs,
                weightData,
            };
        },
    };
}

/* tfjs-backend-wasm 3.21: its Fill kernel passes attrs.dtype (undefined when tf.fill is called
 * without one, as tf.signal.frame does) to makeOutput, which then fails. Wrap it so a missing
 * dtype means float32, the dtype tf.fill documents as its default. */
function patchWasmFill(tf) {
    const orig = tf.getKernel('Fill', 'wasm');
    if (!orig) throw new Error('wasm Fill kernel not registered');
    tf.unregisterKernel('Fill', 'wasm');
    tf.registerKernel({
        kernelName: 'Fill',
        backendName: 'wasm',
        kernelFunc: (args) => {
            const attrs = Object.assign({}, args.attrs);
            if (!attrs.dtype) attrs.dtype = 'float32';
            return orig.kernelFunc(Object.assign({}, args, { attrs }));
        },
        setupFunc: orig.setupFunc,
        disposeFunc: orig.disposeFunc,
    });
}

async function main() {
    const opt = parseArgs(process.argv);
    const tf = require('@tensorflow/tfjs');
    if (opt.backend === 'wasm') {
        const wasm = require('@tensorflow/tfjs-backend-wasm');
        if (opt.threads > 0) wasm.setThreadsCount(opt.threads);
        patchWasmFill(tf);
    }
    if (!(await tf.setBackend(opt.backend))) throw new Error(`backend ${opt.backend} failed`);
    await tf.ready();
    const bp = require('@spotify/basic-pitch');

    const audio = common.readF32(opt.input);

    const t0 = performance.now();
    const model = await tf.loadGraphModel(fileModelHandler(modelDir()));
    const t1 = performance.now();
    const basicPitch = new bp.BasicPitch(Promise.resolve(model));
    const frames = [];
    const onsets = [];
    const contours = [];
    await basicPitch.evaluateModel(
        audio,
        (f, o, c) => {
            frames.push(...f);
            onsets.push(...o);
            contours.push(...c);
        },
        () => {});
    const t2 = performance.now();
    const { doc, seconds } = common.createNotes(bp, frames, onsets, contours, opt);

    fs.mkdirSync(opt.out, { recursive: true });
    const n = frames.length;
    if (opt.activations) {
        common.writeF32(path.join(opt.out, 'note.f32'), common.flatten(frames, 88));
        common.writeF32(path.join(opt.out, 'onset.f32'), common.flatten(onsets, 88));
        common.writeF32(path.join(opt.out, 'contour.f32'), common.flatten(contours, 264));
    }
    common.writeNotesJson(path.join(opt.out, 'notes.json'), doc);
    const meta = {
        reference: '@spotify/basic-pitch 1.0.1 on @tensorflow/tfjs 3.21.0',
        backend: opt.backend,
        threads: opt.backend === 'wasm'
            ? require('@tensorflow/tfjs-backend-wasm').getThreadsCount() : 1,
        sample_rate: 22050,
        n_samples: audio.length,
        n_frames: n,
        shapes: { note: [n, 88], onset: [n, 88], contour: [n, 264] },
        activations_written: opt.activations,
        params: doc.params,
        n_notes: doc.n_notes,
        timing_s: {
            model_load: (t1 - t0) / 1000,
            model: (t2 - t1) / 1000,
            notes: seconds,
            total: (t2 - t0) / 1000 + seconds,
        },
    };
    fs.writeFileSync(path.join(opt.out, 'meta.json'), JSON.stringify(meta, null, 1) + '\n');
    process.stderr.write(`basic_pitch_ref: ${opt.backend}: ${n} frames, ${doc.n_notes} notes, ` +
                         `model ${meta.timing_s.model.toFixed(2)} s, ` +
                         `notes ${meta.timing_s.notes.toFixed(2)} s\n`);
}

main().catch((e) => {
    process.stderr.write(`basic_pitch_ref: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
});
