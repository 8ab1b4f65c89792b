#!/usr/bin/env node
/* make_test_vector.js OUT.f32 - writes the test vector of docs/basic_pitch.md §9:
 * 66150 samples at 22050 Hz, a C4 sine (0.4) in [0.5 s, 2 s) plus a G4 sine (0.3) in
 * [1 s, 2.5 s), evaluated in double and rounded to float32. */
'use strict';
const fs = require('fs');
if (process.argv.length !== 3) {
    process.stderr.write('usage: node make_test_vector.js OUT.f32\n');
    process.exit(2);
}
const n = 66150;
const x = new Float32Array(n);
for (let i = 0; i < n; i++) {
    let v = 0;
    if (i >= 11025 && i < 44100) v += 0.4 * Math.sin(((2 * Math.PI * 261.6255653) * i) / 22050);
    if (i >= 22050 && i < 55125) v += 0.3 * Math.sin(((2 * Math.PI * 391.995436) * i) / 22050);
    x[i] = v;
}
fs.writeFileSync(process.argv[2], Buffer.from(x.buffer));
