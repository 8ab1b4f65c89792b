#!/usr/bin/env node
// encode_stems.js - stores reference stems compactly for the parity fixtures.
//
//   node encode_stems.js --stems DIR --out DIR [--min-snr 80] [--source REL --start-frame N]
//
// Reads DIR/{drums,bass,other,vocals}.f32 (run_demucs.js output: float32 LE interleaved
// stereo) and writes OUT/<stem>.flac: the stem divided by its peak |x|, quantised to the
// fewest bits b in 16..24 that keep at least --min-snr dB: q = round(x/peak * (2^(b-1) - 1)).
// b = 16 is stored as 16-bit FLAC; b > 16 as 24-bit FLAC holding q * 2^(24-b) (FLAC's
// "wasted bits" make the low zero bits free). A reader decoding the FLAC to float the usual
// way (int / 2^15 or int / 2^23) gets the stem back as decoded * gain,
// gain = peak * 2^(b-1) / (2^(b-1) - 1), recorded in OUT/meta.json with the storage SNR
// actually measured by decoding the written FLAC with ffmpeg.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { readStereoF32 } from './host.js';

const { values: args } = parseArgs({
    options: {
        stems: { type: 'string' },
        out: { type: 'string' },
        'min-snr': { type: 'string', default: '80' },
        source: { type: 'string', default: '' },
        'start-frame': { type: 'string', default: '-1' },
    },
});
if (!args.stems || !args.out) {
    console.error('usage: node encode_stems.js --stems DIR --out DIR [--min-snr 80]');
    process.exit(2);
}
const minSnr = parseFloat(args['min-snr']);
fs.mkdirSync(args.out, { recursive: true });

function encode(file, q, bits) {
    const n = q.length;
    let raw;
    if (bits === 16) {
        raw = Buffer.alloc(2 * n);
        for (let i = 0; i < n; i++) raw.writeInt16LE(q[i], 2 * i);
    } else {
        raw = Buffer.alloc(4 * n); // s32 with the 24-bit value q * 2^(24-bits) in the top bits
        const scale = 2 ** (24 - bits) * 256;
        for (let i = 0; i < n; i++) raw.writeInt32LE(q[i] * scale, 4 * i);
    }
    const fmt = bits === 16 ? 's16le' : 's32le';
    const extra = bits === 16 ? ['-sample_fmt', 's16'] : ['-sample_fmt', 's32', '-bits_per_raw_sample', '24'];
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', fmt, '-ar', '44100', '-ac', '2', '-i', 'pipe:0',
        '-c:a', 'flac', '-compression_level', '12', ...extra, file], { input: raw });
}

function decode(file) {
    const out = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'f32le', '-ac', '2', 'pipe:1'],
        { maxBuffer: 1 << 30 });
    return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.length));
}

function probeBits(file) {
    const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries',
        'stream=bits_per_raw_sample,sample_fmt', '-of', 'json', file]).toString();
    return JSON.parse(out).streams[0];
}

const stems = [];
let nFrames = -1;
for (const name of ['drums', 'bass', 'other', 'vocals']) {
    const [l, r] = readStereoF32(path.join(args.stems, `${name}.f32`));
    nFrames = l.length;
    const x = new Float64Array(2 * l.length);
    let peak = 0, energy = 0;
    for (let i = 0; i < l.length; i++) {
        x[2 * i] = l[i];
        x[2 * i + 1] = r[i];
    }
    for (const v of x) {
        if (!Number.isFinite(v)) throw new Error(`${name}: non-finite sample`);
        peak = Math.max(peak, Math.abs(v));
        energy += v * v;
    }
    if (peak === 0) peak = 1;
    let result = null;
    for (let bits = 16; bits <= 24; bits++) {
        const full = 2 ** (bits - 1) - 1, denom = 2 ** (bits - 1);
        const q = new Int32Array(x.length);
        for (let i = 0; i < x.length; i++) q[i] = Math.round((x[i] / peak) * full);
        const file = path.join(args.out, `${name}.flac`);
        encode(file, q, bits);
        const gain = (peak * denom) / full;
        const dec = decode(file);
        if (dec.length !== x.length) throw new Error(`${name}: decoded ${dec.length} samples, wrote ${x.length}`);
        let err = 0;
        for (let i = 0; i < x.length; i++) {
            const d = dec[i] * gain - x[i];
            err += d * d;
        }
        const snr = 10 * Math.log10(energy / Math.max(err, 1e-300));
        result = { name, file: `${name}.flac`, bits, gain, peak, rms: Math.sqrt(energy / x.length),
            storage_snr_db: +snr.toFixed(2), bytes: fs.statSync(file).size, probe: probeBits(file) };
        if (snr >= minSnr) break;
    }
    if (result.storage_snr_db < minSnr) throw new Error(`${name}: storage SNR ${result.storage_snr_db} dB < ${minSnr}`);
    stems.push(result);
    console.log(`${name}: ${result.bits}-bit, storage SNR ${result.storage_snr_db} dB, ${result.bytes} bytes`);
}
const ref = JSON.parse(fs.readFileSync(path.join(args.stems, 'meta.json')));
const meta = {
    tool: 'tools/reference/demucs/encode_stems.js',
    source: args.source,
    start_frame: parseInt(args['start-frame'], 10),
    n_frames: nFrames,
    sample_rate: 44100,
    channels: 2,
    decode_rule: 'stem = (FLAC sample as float: int/2^15 for 16-bit, int/2^23 for 24-bit files) * gain',
    min_storage_snr_db: minSnr,
    reference: { patched: ref.patched, patches: ref.patches, versions: ref.versions, threads: ref.threads,
        overlap: ref.overlap, timings_s: ref.timings_s },
    stems,
};
fs.writeFileSync(path.join(args.out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
