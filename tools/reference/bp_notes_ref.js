#!/usr/bin/env node
/* bp_notes_ref.js - the reference note creation (@spotify/basic-pitch 1.0.1 outputToNotesPoly +
 * addPitchBendsToNoteEvents + noteFramesToTime) on stored activations, without the network.
 *
 *   node bp_notes_ref.js --in DIR --out NOTES.json [--rows A:B]
 *        [--onset 0.5] [--frame 0.3|null] [--min-len 11] [--melodia 1] [--infer 1]
 *        [--energy-tol 11] [--min-freq HZ] [--max-freq HZ]
 *
 * DIR holds note.f32, onset.f32 (n x 88) and contour.f32 (n x 264), float32 LE row-major, as
 * basic_pitch_ref.js writes them. --rows keeps rows [A, B) only and treats them as the whole
 * output (frame numbers in NOTES.json then count from A). The layout of NOTES.json is described
 * in bp_common.js.
 */
'use strict';

const common = require('./bp_common');
const path = require('path');

function usage(msg) {
    if (msg) process.stderr.write(`bp_notes_ref: ${msg}\n`);
    process.stderr.write('usage: node bp_notes_ref.js --in DIR --out NOTES.json [--rows A:B]\n' +
                         common.NOTE_OPTIONS_USAGE);
    process.exit(2);
}

function main() {
    const opt = Object.assign(common.defaultNoteOptions(), { in: null, out: null, rows: null });
    const argv = process.argv;
    for (let i = 2; i < argv.length; i++) {
        const next = common.parseNoteOption(argv, i, opt, usage);
        if (next >= 0) {
            i = next;
            continue;
        }
        const v = argv[i + 1];
        switch (argv[i]) {
        case '--in': opt.in = v; i++; break;
        case '--out': opt.out = v; i++; break;
        case '--rows': {
            const m = /^(\d+):(\d+)$/.exec(v || '');
            if (!m || Number(m[1]) >= Number(m[2])) usage('--rows needs A:B with A < B');
            opt.rows = [Number(m[1]), Number(m[2])];
            i++;
            break;
        }
        case '-h': case '--help': usage(); break;
        default: usage(`unknown argument ${argv[i]}`);
        }
    }
    if (!opt.in || !opt.out) usage('--in and --out are required');
    const bp = require('@spotify/basic-pitch');
    let frames = common.toRows(common.readF32(path.join(opt.in, 'note.f32')), 88);
    let onsets = common.toRows(common.readF32(path.join(opt.in, 'onset.f32')), 88);
    let contours = common.toRows(common.readF32(path.join(opt.in, 'contour.f32')), 264);
    if (frames.length !== onsets.length || frames.length !== contours.length) {
        throw new Error('note, onset and contour have different frame counts');
    }
    if (opt.rows) {
        const [a, b] = opt.rows;
        if (b > frames.length) throw new Error(`--rows ${a}:${b} past ${frames.length} frames`);
        frames = frames.slice(a, b);
        onsets = onsets.slice(a, b);
        contours = contours.slice(a, b);
    }
    const { doc, seconds } = common.createNotes(bp, frames, onsets, contours, opt);
    if (opt.rows) doc.rows = opt.rows;
    common.writeNotesJson(opt.out, doc);
    process.stderr.write(`bp_notes_ref: ${frames.length} frames, ${doc.n_notes} notes, ` +
                         `${seconds.toFixed(2)} s\n`);
}

try {
    main();
} catch (e) {
    process.stderr.write(`bp_notes_ref: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
}
