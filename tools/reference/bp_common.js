/* bp_common.js - shared by basic_pitch_ref.js and bp_notes_ref.js: the reference note creation
 * (@spotify/basic-pitch 1.0.1) with explicit parameters, and the notes.json layout that
 * Dumu's parity test reads.
 *
 * notes.json = {
 *   order: "emitted",            notes in the package's emission order: onset-driven notes
 *                                (frame, pitch descending), then melodia notes as found
 *   params: {...},               the note-creation parameters used
 *   n_frames, n_notes,
 *   notes: [{start_frame, end_frame (exclusive), pitch, amplitude (double, shortest
 *            round-trip form), start_s, duration_s, bends: [int, one per frame]}],
 *   time_order: [indices into notes sorted by (start_frame, pitch, end_frame)]
 * }
 */
'use strict';

const fs = require('fs');
const { performance } = require('perf_hooks');

/* Parses the note-creation options shared by both scripts; returns the index of the next
 * unparsed argument or -1 if argv[i] is not one of them. */
function parseNoteOption(argv, i, opt, usage) {
    const a = argv[i];
    const v = argv[i + 1];
    const num = () => {
        const x = Number(v);
        if (v === undefined || !Number.isFinite(x)) usage(`${a} needs a number`);
        return x;
    };
    switch (a) {
    case '--onset': opt.onset = num(); return i + 1;
    case '--frame': opt.frame = v === 'null' ? null : num(); return i + 1;
    case '--min-len': opt.minLen = num(); return i + 1;
    case '--melodia': opt.melodia = num() !== 0; return i + 1;
    case '--infer': opt.infer = num() !== 0; return i + 1;
    case '--energy-tol': opt.energyTol = num(); return i + 1;
    case '--min-freq': opt.minFreq = num(); return i + 1;
    case '--max-freq': opt.maxFreq = num(); return i + 1;
    default: return -1;
    }
}

/* Dumu's defaults (the Python package's): the JS package's own default min length is 5. */
function defaultNoteOptions() {
    return {
        onset: 0.5,
        frame: 0.3,
        minLen: 11,
        melodia: true,
        infer: true,
        energyTol: 11,
        minFreq: null,
        maxFreq: null,
    };
}

const NOTE_OPTIONS_USAGE =
    '       [--onset 0.5] [--frame 0.3|null] [--min-len 11] [--melodia 1] [--infer 1]\n' +
    '       [--energy-tol 11] [--min-freq HZ] [--max-freq HZ]\n';

/* frames, onsets: arrays of rows of 88 numbers; contours: rows of 264. Returns the notes.json
 * object and the time note creation took. The arrays are not modified unless a frequency
 * limit is given (the package zeroes columns in place). */
function createNotes(bp, frames, onsets, contours, opt) {
    const t0 = performance.now();
    const notes = bp.outputToNotesPoly(frames, onsets, opt.onset, opt.frame, opt.minLen,
                                       opt.infer, opt.maxFreq, opt.minFreq, opt.melodia,
                                       opt.energyTol);
    const withBends = bp.addPitchBendsToNoteEvents(contours, notes, 25);
    const timed = bp.noteFramesToTime(withBends);
    const seconds = (performance.now() - t0) / 1000;
    const list = withBends.map((e, i) => ({
        start_frame: e.startFrame,
        end_frame: e.startFrame + e.durationFrames,
        pitch: e.pitchMidi,
        amplitude: e.amplitude,
        start_s: timed[i].startTimeSeconds,
        duration_s: timed[i].durationSeconds,
        bends: e.pitchBends,
    }));
    const order = list.map((_, i) => i);
    order.sort((a, b) => list[a].start_frame - list[b].start_frame ||
                         list[a].pitch - list[b].pitch ||
                         list[a].end_frame - list[b].end_frame || a - b);
    const params = {
        onset_threshold: opt.onset,
        frame_threshold: opt.frame,
        min_note_len: opt.minLen,
        infer_onsets: opt.infer,
        melodia_trick: opt.melodia,
        energy_tolerance: opt.energyTol,
        min_freq: opt.minFreq,
        max_freq: opt.maxFreq,
        pitch_bend_tolerance: 25,
    };
    const doc = {
        order: 'emitted',
        params,
        n_frames: frames.length,
        n_notes: list.length,
        notes: list,
        time_order: order,
    };
    return { doc, seconds };
}

function writeNotesJson(file, doc) {
    /* One note per line: diffable, still plain JSON. */
    const head = Object.assign({}, doc);
    delete head.notes;
    delete head.time_order;
    const parts = [];
    parts.push('{');
    for (const [k, v] of Object.entries(head)) {
        parts.push(` ${JSON.stringify(k)}: ${JSON.stringify(v)},`);
    }
    parts.push(' "notes": [');
    doc.notes.forEach((n, i) => {
        parts.push(`  ${JSON.stringify(n)}${i + 1 < doc.notes.length ? ',' : ''}`);
    });
    parts.push(' ],');
    parts.push(` "time_order": ${JSON.stringify(doc.time_order)}`);
    parts.push('}');
    fs.writeFileSync(file, parts.join('\n') + '\n');
}

/* A Float32Array (row-major, `width` columns) as an array of rows of numbers. */
function toRows(flat, width) {
    const rows = [];
    for (let i = 0; i < flat.length / width; i++) {
        rows.push(Array.from(flat.subarray(i * width, (i + 1) * width)));
    }
    return rows;
}

/* Rows of float32 values (as JS numbers) into one Float32Array, row-major. */
function flatten(rows, width) {
    const out = new Float32Array(rows.length * width);
    for (let i = 0; i < rows.length; i++) {
        if (rows[i].length !== width) throw new Error(`row ${i} has ${rows[i].length} values`);
        out.set(rows[i], i * width);
    }
    return out;
}

function readF32(file) {
    const buf = fs.readFileSync(file);
    if (buf.byteLength % 4 !== 0) throw new Error(`${file}: size is not a multiple of 4`);
    const out = new Float32Array(buf.byteLength / 4);
    Buffer.from(out.buffer).set(buf);
    return out;
}

function writeF32(file, arr) {
    if (require('os').endianness() !== 'LE') throw new Error('big-endian host');
    fs.writeFileSync(file, Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength));
}

module.exports = {
    parseNoteOption,
    defaultNoteOptions,
    NOTE_OPTIONS_USAGE,
    createNotes,
    writeNotesJson,
    toRows,
    flatten,
    readF32,
    writeF32,
};
