// End-to-end test of the web app in Debian's Chromium against a real `dumu serve`.
//
// Needs DUMU_URL (the server, already started with --web-dir web/dist) and DUMU_E2E_CLIP (a
// short song); tests/scripts/test_web.sh provides both. Walks what a musician does: pick a
// file, watch the progress reach 100 %, see tempo, meter and key, download the MIDI (parsed),
// MusicXML and bass tab, play the preview, switch to Basic Pitch's raw notes, quantise, move a
// slider and see the notes change; then a refused file, a cancel of a run with advanced
// settings, the 404 page, and a phone-sized screen. Screenshots go to web/e2e-screenshots/
// (DUMU_E2E_SHOTS overrides).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { axeViolations, base, check, checks, clip, shots } from './lib.mjs';

// Counts note-on events (velocity > 0) and reads the tempo map of a Standard MIDI File; throws
// on a malformed file.
function parseMidi(bytes) {
  const text = (o, n) => String.fromCharCode(...bytes.subarray(o, o + n));
  const u32 = (o) => ((bytes[o] << 24) | (bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3]) >>> 0;
  if (text(0, 4) !== 'MThd') throw new Error('no MThd header');
  const tracks = (bytes[10] << 8) | bytes[11];
  let at = 8 + u32(4);
  let noteOns = 0;
  const division = (bytes[12] << 8) | bytes[13]; // ticks per quarter note
  const tempos = []; // { tick, bpm } of each tempo event, in tick order (all in track 0)
  let lastTick = 0;
  for (let t = 0; t < tracks; t++) {
    if (text(at, 4) !== 'MTrk') throw new Error(`track ${t}: no MTrk`);
    const end = at + 8 + u32(at + 4);
    let p = at + 8;
    let status = 0;
    let tick = 0;
    const varlen = () => {
      let v = 0;
      for (;;) {
        const b = bytes[p++];
        v = (v << 7) | (b & 0x7f);
        if (!(b & 0x80)) return v;
      }
    };
    while (p < end) {
      tick += varlen(); // delta time
      if (bytes[p] & 0x80) status = bytes[p++];
      if (status === 0xff) {
        const type = bytes[p++];
        const len = varlen();
        if (type === 0x51) tempos.push({ tick, bpm: 60e6 / ((bytes[p] << 16) | (bytes[p + 1] << 8) | bytes[p + 2]) });
        p += len;
        status = 0;
      } else if (status === 0xf0 || status === 0xf7) {
        p += varlen();
        status = 0;
      } else {
        const kind = status & 0xf0;
        const n = kind === 0xc0 || kind === 0xd0 ? 1 : 2;
        if (kind === 0x90 && bytes[p + 1] > 0) noteOns++;
        p += n;
      }
    }
    if (p !== end) throw new Error(`track ${t}: events overrun the chunk`);
    lastTick = Math.max(lastTick, tick);
    at = end;
  }
  // Seconds of every quarter note (every `division` ticks from tick 0, as a DAW draws the
  // grid) up to the last event of any track, through the tempo map.
  const seconds = (tick) => {
    let t = 0;
    for (let i = 0; i < tempos.length && tempos[i].tick < tick; i++) {
      const next = i + 1 < tempos.length ? Math.min(tempos[i + 1].tick, tick) : tick;
      t += ((next - tempos[i].tick) / division) * (60 / tempos[i].bpm);
    }
    return t;
  };
  const quarterTimes = [];
  for (let tick = 0; tick <= lastTick + division; tick += division) quarterTimes.push(seconds(tick));
  return { tracks, noteOns, tempos: tempos.length, quarterTimes };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
});
const pageErrors = [];
const watch = (page) => page.on('pageerror', (e) => pageErrors.push(String(e)));
// Whether the element is wholly inside the window as it is scrolled now.
const inView = (locator) => locator.evaluate((e) => {
  const r = e.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight;
});
// A mono 16-bit WAV of `seconds` of digital silence at 22050 Hz.
function silentWav(seconds) {
  const n = Math.round(seconds * 22050);
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0); b.writeUInt32LE(36 + 2 * n, 4); b.write('WAVE', 8); b.write('fmt ', 12);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(22050, 24);
  b.writeUInt32LE(44100, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34); b.write('data', 36); b.writeUInt32LE(2 * n, 40);
  return b;
}
const started = Date.now();
let page;

try {
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await desktop.newPage();
  watch(page);

  // Home: notice with the server's expected time, recent jobs, drop zone.
  await page.goto(base);
  await page.getByRole('heading', { level: 1 }).waitFor();
  const notice = page.getByRole('note', { name: 'Processing time' });
  await notice.getByText('per minute of audio').waitFor();
  check(/\d+ s per minute of audio on this server/.test(await notice.innerText()), 'CPU notice gives the server benchmark figure');
  const homeAxe = await axeViolations(page);
  check(homeAxe.length === 0, `axe-core: no WCAG 2.2 AA violations (target size included) on the home page${homeAxe.length ? ': ' + homeAxe.join('; ') : ''}`);

  // Drag & drop: hover feedback, then a dropped text file is refused before any upload.
  const drop = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['just some words'], 'notes.txt', { type: 'text/plain' }));
    return dt;
  });
  const zone = page.getByTestId('dropzone');
  await zone.dispatchEvent('dragenter', { dataTransfer: drop });
  check(await zone.getByText('Drop it!').isVisible(), 'drop zone lights up while a file hovers');
  await zone.dispatchEvent('drop', { dataTransfer: drop });
  const dropRefusal = page.getByRole('alert').filter({ hasText: 'does not look like audio' });
  await dropRefusal.waitFor();
  check(await zone.getByText('Drop a song here').isVisible(), `dropped text file refused in the page: "${await dropRefusal.innerText()}"`.replace(/\s+/g, ' '));

  // A file the server cannot decode is refused with a clear message.
  await page.locator('input[type=file]').setInputFiles({ name: 'not-audio.wav', mimeType: 'audio/wav', buffer: Buffer.from('this is not a wave file at all '.repeat(40)) });
  await page.getByRole('button', { name: 'Extract the bass line' }).click();
  const refusal = page.getByRole('alert').filter({ hasText: 'File not accepted' });
  await refusal.waitFor({ timeout: 15000 });
  check(true, `server refusal shown: "${(await refusal.innerText()).replace(/\s+/g, ' ')}"`);
  check(await page.getByRole('button', { name: 'Extract the bass line' }).isDisabled(), 'Extract is disabled for the file the server refused');

  // The real clip: waveform and estimate, then upload.
  await page.locator('input[type=file]').setInputFiles(clip);
  await page.getByTestId('estimate').waitFor();
  check(await page.getByRole('img', { name: /^Waveform of/ }).isVisible(), 'waveform of the picked file is drawn');
  check(await inView(page.getByRole('button', { name: 'Extract the bass line' })), 'the Extract button is in view once a file is picked');
  await page.screenshot({ path: join(shots, 'desktop-1-picked.png'), fullPage: true });
  await page.getByRole('button', { name: 'Extract the bass line' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
  const jobUrl = page.url();
  const jobId = jobUrl.split('/').pop();
  check(true, `job page opened for ${jobId}`);
  // Bytes of the stems the page fetches, counted as they arrive (Chrome DevTools Protocol).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const stemRequests = new Set();
  let stemBytes = 0;
  cdp.on('Network.requestWillBeSent', (e) => e.request.url.includes('/stems/') && stemRequests.add(e.requestId));
  cdp.on('Network.dataReceived', (e) => {
    if (stemRequests.has(e.requestId)) stemBytes += e.dataLength;
  });

  // Progress over SSE; a screenshot while htdemucs works.
  const bar = page.getByRole('progressbar', { name: 'Processing progress' });
  await bar.waitFor();
  check(await inView(bar), 'the job page opens at the top, its progress bar in view');
  const jobAxe = await axeViolations(page);
  check(jobAxe.length === 0, `axe-core: no WCAG 2.2 AA violations (target size included) on the running job page${jobAxe.length ? ': ' + jobAxe.join('; ') : ''}`);
  await page.getByTestId('time-line').waitFor();
  check(/^Elapsed \d+:\d\d( · about \d+:\d\d left)?$/.test(await page.getByTestId('time-line').innerText()), `elapsed and remaining time shown: "${await page.getByTestId('time-line').innerText()}"`);
  await page.getByRole('img', { name: /stage separate/ }).waitFor({ timeout: 60000 });
  const midway = Number(await bar.getAttribute('aria-valuenow'));
  check(midway >= 3 && midway <= 85, `progress bar at ${midway} % during separation`);
  await page.waitForTimeout(700); // let particles fill the network drawing
  await page.screenshot({ path: join(shots, 'desktop-2-processing.png'), fullPage: true });
  await page.getByTestId('note-count').waitFor({ timeout: 120000 });
  // The bass stem plays at once: Play is enabled within 1.5 s of the result, having fetched
  // a small part of the stem (its streamed MP3 preview, not the WAV).
  const resultShown = Date.now();
  await page.waitForFunction(() => {
    const b = document.querySelector('button[aria-label=Play]');
    return b && !b.disabled;
  }, null, { timeout: 10000 });
  const playAfter = Date.now() - resultShown;
  const bytesBeforePlay = stemBytes;
  const log = page.getByRole('list', { name: 'Processing log' });
  const logText = await log.innerText();
  check(/done\s+100%/.test(logText), 'processing log ends with done at 100 %');
  const percents = [...logText.matchAll(/\s(\d+)%/g)].map((m) => Number(m[1]));
  check(percents.every((v, i) => i === 0 || v >= percents[i - 1]), `progress never goes back (${percents.join(' ')})`);
  check(/separate/.test(logText) && /transcribe/.test(logText), 'log shows separation and transcription');
  const logLines = logText.split('\n').filter((l) => l.trim()).length;
  check(logLines <= 14, `the log reads as stages and milestones (${logLines} lines)`);
  const bpm = Number(await page.getByTestId('bpm').innerText());
  check(bpm > 30 && bpm < 300, `BPM shown: ${bpm}`);
  const meter = await page.getByTestId('time-signature').innerText();
  check(/^[2-7]\/4$/.test(meter), `time signature shown: ${meter}`);
  const key = await page.getByTestId('key').innerText();
  check(/^[A-G][♯♭]? (major|minor)$/.test(key), `key shown: ${key}`);
  const notesBefore = Number(await page.getByTestId('note-count').innerText());
  check(notesBefore > 0, `notes found: ${notesBefore}`);
  check(await inView(page.getByTestId('download-midi')), 'the finished result is in view: Download MIDI without scrolling');

  // The MIDI download is a valid file holding the notes on screen.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-midi').click()]);
  const midiPath = join(shots, 'download.mid');
  await download.saveAs(midiPath);
  const midi = parseMidi(readFileSync(midiPath));
  check(download.suggestedFilename().endsWith('.mid'), `MIDI download named ${download.suggestedFilename()}`);
  check(midi.noteOns === notesBefore, `MIDI parses: ${midi.tracks} track(s), ${midi.noteOns} note-ons = the ${notesBefore} notes shown`);
  const firstResult = await (await page.request.get(`${base}/api/result/${jobId}`)).json();
  const { beats } = firstResult;
  // From bar 2 on every detected beat is a quarter of the file; before it the pickup rule
  // (src/music/layout.c) may move a beat by up to 1/16 beat to keep bar 1 on the downbeat.
  const period = (beats[beats.length - 1] - beats[0]) / Math.max(1, beats.length - 1);
  const beatsPerBar = Number(meter.split('/')[0]);
  const offBeat = beats.filter((b, i) => {
    const tol = i < 2 * beatsPerBar ? 0.002 + period / 16 : 0.002;
    return !midi.quarterTimes.some((q) => Math.abs(q - b) < tol);
  });
  check(beats.length >= 2 && offBeat.length === 0, `MIDI tempo map (${midi.tempos} tempos) puts a beat on each of the ${beats.length} detected beats`);
  // The same notes at one constant tempo, on request.
  await page.getByTestId('midi-tempo').selectOption('constant');
  const [constantDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-midi').click()]);
  const constant = parseMidi(readFileSync(await constantDownload.path()));
  check(constant.noteOns === notesBefore && constant.tempos <= 3, `constant-tempo MIDI ${constantDownload.suggestedFilename()}: ${constant.noteOns} notes, ${constant.tempos} tempo event(s)`);
  await page.getByTestId('midi-tempo').selectOption('map');

  // MusicXML and bass tab downloads, and the tab on the page for 4 and 5 strings.
  const [xmlDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-musicxml').click()]);
  const xml = readFileSync(await xmlDownload.path(), 'utf8');
  check(xml.includes('<score-partwise'), `MusicXML download ${xmlDownload.suggestedFilename()} is a partwise score (${xml.length} bytes)`);
  const [tabDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-tab').click()]);
  const tabText = readFileSync(await tabDownload.path(), 'utf8');
  check(/^G\|/m.test(tabText) && /^E\|/m.test(tabText) && !/^B\|/m.test(tabText), `bass tab download ${tabDownload.suggestedFilename()} has G to E string lines`);
  await page.getByText(/^Show the bass tab/).click();
  const tabPanel = page.getByTestId('tab-text');
  await page.waitForFunction(() => /^G\|/m.test(document.querySelector('[data-testid=tab-text]')?.textContent ?? ''));
  const shown = await tabPanel.textContent();
  // each string's columns across all systems: the same whatever the line width
  const fretsOf = (t) => {
    const line = {};
    for (const l of t.split('\n')) if (/^[GDAEB]\|/.test(l)) line[l[0]] = (line[l[0]] ?? '') + l.slice(2).replace(/\|/g, '');
    return JSON.stringify(line);
  };
  check(/\n {2}1\s/.test(shown) && fretsOf(shown) === fretsOf(tabText), "tab panel shows bar numbers and the downloaded tab's frets");
  const tabFit = await tabPanel.evaluate((e) => e.scrollWidth - e.clientWidth);
  check(tabFit <= 0, `the tab's lines fit the panel (${tabFit}px over)`);
  await page.getByRole('combobox', { name: 'Strings on the tab' }).selectOption('5');
  await page.waitForFunction(() => /^B\|/m.test(document.querySelector('[data-testid=tab-text]')?.textContent ?? ''));
  check(/strings=5$/.test(await page.getByTestId('download-tab').getAttribute('href')), 'five-string tab shown with a B string, download follows');

  // The bass stem downloads as 24-bit FLAC and WAV; the page played it from far fewer bytes.
  const stem = await page.request.get(`${base}/api/jobs/${jobId}/stems/bass?format=wav`);
  const wavBytes = await stem.body();
  check(stem.ok() && wavBytes.subarray(0, 4).toString() === 'RIFF', `bass stem downloads as WAV (${wavBytes.length} bytes)`);
  const flac = await page.request.get(`${base}${await page.getByRole('link', { name: /^⬇ bass stem$/ }).getAttribute('href')}`);
  check(flac.ok() && (await flac.body()).subarray(0, 4).toString() === 'fLaC', 'the stem link downloads FLAC');
  check(await page.getByRole('link', { name: 'bass stem as WAV' }).isVisible(), 'a WAV link beside it');
  check(playAfter <= 1500, `Play enabled ${playAfter} ms after the result`);
  check(bytesBeforePlay > 0 && bytesBeforePlay <= wavBytes.length / 5, `${bytesBeforePlay} bytes of stem fetched before Play, ${((100 * bytesBeforePlay) / wavBytes.length).toFixed(1)} % of the WAV`);

  // Spectrograms of the bass stem and the mix finish computing.
  await page.waitForFunction(() => {
    const caps = [...document.querySelectorAll('figcaption')].map((f) => f.textContent ?? '');
    return caps.length === 2 && caps.every((c) => !c.includes('computing'));
  }, null, { timeout: 30000 });
  check(true, 'bass stem and mix spectrograms drawn');

  // Preview: the stem plays and the playhead moves.
  await page.getByRole('button', { name: 'Play' }).click();
  await page.waitForFunction(() => (document.querySelector('audio')?.currentTime ?? 0) > 0.3, null, { timeout: 10000 });
  await page.getByRole('button', { name: 'Pause' }).click();
  check((await page.getByText('MIDI preview could not start').count()) === 0, 'bass stem plays with the Tone.js MIDI preview started');
  const roll = page.getByTestId('piano-roll');
  const box = await roll.boundingBox();
  await roll.click({ position: { x: box.width * 0.75, y: box.height / 2 } });
  const seeked = await page.evaluate(() => { const a = document.querySelector('audio'); return a.currentTime / a.duration; });
  check(seeked > 0.6 && seeked < 0.9, `clicking the piano roll seeks the stem (to ${(seeked * 100).toFixed(0)} %)`);
  // Bar numbers from the MIDI file's grid, and keyboard zoom on the focused roll.
  const barsInView = async () => (await roll.getAttribute('aria-label')).match(/bars (\d+) to (\d+) in view/)?.slice(1).map(Number);
  const wide = await barsInView();
  check(wide && wide[0] === 1 && wide[1] >= 3, `piano roll shows bar numbers: bars ${wide?.join(' to ')} of the MIDI grid in view`);
  await roll.focus();
  await page.keyboard.press('+');
  const narrow = await barsInView();
  check(narrow && narrow[1] - narrow[0] < wide[1] - wide[0], `"+" on the focused roll zooms in (bars ${narrow?.join(' to ')})`);
  await page.keyboard.press('-');

  await page.screenshot({ path: join(shots, 'desktop-3-result.png'), fullPage: true });
  const resultAxe = await axeViolations(page);
  check(resultAxe.length === 0, `axe-core: no WCAG 2.2 AA violations (target size included) on the result page${resultAxe.length ? ': ' + resultAxe.join('; ') : ''}`);

  // Raw Basic Pitch notes instead of the bass line: another note count.
  const bassLineNotes = notesBefore;
  await page.getByText('Raw Basic Pitch', { exact: true }).click();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=note-count]')?.textContent) !== n, bassLineNotes, { timeout: 30000 });
  const rawNotes = Number(await page.getByTestId('note-count').innerText());
  check(rawNotes > 0 && rawNotes !== bassLineNotes, `raw Basic Pitch notes: ${bassLineNotes} → ${rawNotes}`);
  await page.waitForFunction(() => document.querySelector('[data-testid=retranscribe-status]')?.textContent === '');

  // Quantise to 1/16: the roll is redrawn and every note inside the beat grid starts on it.
  const rollPixels = () => page.getByTestId('piano-roll').evaluate((c) => c.toDataURL());
  const unquantised = await rollPixels();
  const [quantised] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/transcribe') && r.request().postDataJSON().quantize === '1/16'),
    page.getByRole('combobox', { name: /Quantise/ }).selectOption('1/16'),
  ]);
  const q = await quantised.json();
  check(q.params.quantize === '1/16' && q.params.quantize_strength === 100, 'quantise 1/16 at 100 % sent and echoed');
  await page.waitForFunction(() => document.querySelector('[data-testid=retranscribe-status]')?.textContent === '');
  await page.waitForFunction((before) => document.querySelector('[data-testid=piano-roll]').toDataURL() !== before, unquantised, { timeout: 5000 });
  check(await page.getByRole('slider', { name: /Strength/ }).isVisible(), 'piano roll redrawn; strength slider shown while quantising');
  const offGrid = q.notes.filter((n) => {
    const i = q.beats.findIndex((b, j) => j + 1 < q.beats.length && n.start >= b && n.start < q.beats[j + 1]);
    if (i < 0) return false; // outside the detected beats
    const step = (4 * (n.start - q.beats[i])) / (q.beats[i + 1] - q.beats[i]);
    // before bar 2 the file's grid may sit up to 1/16 beat (a quarter step) off the beats
    return Math.abs(step - Math.round(step)) > 0.02 + (i < 2 * beatsPerBar ? 0.25 : 0);
  });
  check(offGrid.length === 0, `all ${q.notes.length} quantised notes start on the 1/16 grid${offGrid.length ? ` (off: ${offGrid.map((n) => n.start).join(' ')})` : ''}`);
  const qMidi = parseMidi(Buffer.from(q.midi_b64, 'base64'));
  check(qMidi.noteOns === q.n_notes && q.n_notes === q.notes.length, `the quantised MIDI holds the ${q.n_notes} notes the result counts (${qMidi.noteOns})`);
  await page.screenshot({ path: join(shots, 'desktop-4-raw-quantised.png'), fullPage: true });

  // The sliders' ranges and the Reset values are the server's (its OpenAPI description, made
  // from libdumu's parameter table), not the page's own.
  const spec = (await (await page.request.get(`${base}/openapi.json`)).json()).components.schemas.TranscribeParams.properties;
  const rangeOf = async (name) => page.getByRole('slider', { name }).evaluate((e) => [Number(e.min), Number(e.max)]);
  const [onsetRange, noteRange] = [await rangeOf(/Onset threshold/), await rangeOf(/Minimum note length/)];
  check(
    onsetRange.join() === [spec.onset_threshold.minimum, spec.onset_threshold.maximum].join() && noteRange.join() === [spec.min_note_ms.minimum, spec.min_note_ms.maximum].join(),
    `slider ranges from the server's OpenAPI description (onset ${onsetRange.join('..')}, note length ${noteRange.join('..')} ms)`,
  );

  // A slider re-transcribes the cached stem and the piano roll follows.
  const onset = page.getByRole('slider', { name: /Onset threshold/ });
  await onset.focus();
  await onset.press('End'); // the top of the range: only the surest onsets
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=note-count]')?.textContent) !== n, rawNotes, { timeout: 30000 });
  check((await page.getByTestId('retranscribe-status').textContent()) === '', 're-transcription finished');
  const notesAfter = Number(await page.getByTestId('note-count').innerText());
  check(notesAfter !== rawNotes, `onset threshold at its top re-transcribed: ${rawNotes} → ${notesAfter} notes`);
  check((await page.getByTestId('piano-roll').getAttribute('aria-label')).startsWith(`Piano roll of ${notesAfter} notes`), 'piano roll shows the new notes');
  await page.screenshot({ path: join(shots, 'desktop-5-retranscribed.png'), fullPage: true });

  // Reset to defaults (the first run's values here): exactly the first result again, and the
  // panel says so.
  check(await page.getByRole('button', { name: 'Back to the first result' }).isEnabled(), 'going back to the first result is offered');
  const [reset] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/transcribe') && r.request().postDataJSON().onset_threshold === 0.5),
    page.getByRole('button', { name: 'Reset to defaults' }).click(),
  ]);
  const again = await reset.json();
  check(
    JSON.stringify(again.notes) === JSON.stringify(firstResult.notes) && again.midi_b64 === firstResult.midi_b64,
    `Reset to defaults: the same ${again.n_notes} notes and MIDI bytes as the first run (${firstResult.n_notes})`,
  );
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=note-count]')?.textContent) === n, firstResult.n_notes);
  check(await page.getByRole('button', { name: 'This is the first result' }).isDisabled(), 'the first result is marked as such');

  // Recent jobs list the job.
  await page.goto(base);
  await page.getByTestId('recent-jobs').locator(`a[href="/jobs/${jobId}"]`).waitFor();
  check(true, 'recent jobs link to the job');

  // A second run with advanced settings (raw notes, 1/8 triplets), cancelled right away.
  await page.locator('input[type=file]').setInputFiles(clip);
  await page.getByText('Advanced settings').click();
  await page.getByText('Raw Basic Pitch', { exact: true }).click();
  await page.getByRole('combobox', { name: /Quantise/ }).selectOption('1/8t');
  await page.getByLabel(/Known tempo/).fill('97.5');
  // the exact / fast choice shows where the server can separate fast (AVX512_BF16)
  const health = await (await page.request.get(`${base}/health`)).json();
  check(
    ((await page.getByTestId('separation-choice').count()) > 0) === health.fast_available,
    `the separation choice is offered exactly when the server has it (${health.fast_available})`,
  );
  if (health.fast_available) {
    check(await page.getByLabel(/^Exact:/).isChecked(), "exact separation is the server's default");
    await page.getByLabel(/^Fast:/).check();
  }
  await page.waitForTimeout(300); // the switch's colour transition
  await page.screenshot({ path: join(shots, 'desktop-8-advanced.png'), fullPage: true });
  await page.getByRole('button', { name: 'Extract the bass line' }).click();
  await page.waitForURL(/\/jobs\//);
  const second = (await (await page.request.get(`${base}/api/jobs/${page.url().split('/').pop()}`)).json()).params;
  check(
    second.mode === 'raw' && second.quantize === '1/8t' && second.quantize_strength === 100 && second.bpm === 97.5 &&
      second.fast === health.fast_available,
    `advanced settings, the known tempo and the separation too, reached the server (${JSON.stringify(second)})`,
  );
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByText('Job cancelled').waitFor({ timeout: 15000 });
  check(true, 'cancel stops the job and says so');

  // Silence: the job ends by saying no bass line was found, with no tempo or key made up.
  await page.goto(base);
  await page.locator('input[type=file]').setInputFiles({ name: 'silence.wav', mimeType: 'audio/wav', buffer: silentWav(5) });
  await page.getByRole('button', { name: 'Extract the bass line' }).click();
  await page.waitForURL(/\/jobs\//);
  const noBass = page.getByTestId('no-bass');
  await noBass.waitFor({ timeout: 120000 });
  check(/^No bass line found/.test(await noBass.innerText()), 'a silent file says "No bass line found"');
  check((await page.getByTestId('bpm').innerText()) === '—' && (await page.getByTestId('key').innerText()) === '—', 'no tempo or key shown for silence');
  await page.screenshot({ path: join(shots, 'desktop-9-silence.png'), fullPage: true });

  // Unknown route: the app's 404 page.
  await page.goto(`${base}/no/such/page`);
  await page.getByText('This page dropped out of the mix').waitFor();
  check(await page.getByText('404', { exact: true }).isVisible(), '404 page for an unknown route');
  await page.screenshot({ path: join(shots, 'desktop-6-404.png'), fullPage: true });

  // An unknown job id: a clear message, not a blank page.
  await page.goto(`${base}/jobs/00000000-0000-4000-8000-000000000000`);
  await page.getByRole('alert').filter({ hasText: 'Job not found' }).waitFor();
  check(true, 'unknown job id says "Job not found"');

  // Server unreachable (API requests fail at the network level): a banner that says so.
  const offline = await desktop.newPage();
  watch(offline);
  await offline.route(/\/(health|api\/)/, (route) => route.abort('connectionrefused'));
  await offline.goto(base);
  const banner = offline.getByRole('alert').filter({ hasText: 'Server unreachable' });
  await banner.waitFor();
  check(/dumu serve/.test(await banner.innerText()), 'unreachable server gets a clear banner');
  await offline.screenshot({ path: join(shots, 'desktop-7-unreachable.png') });
  await offline.close();

  // Phone.
  // The phone also asks for reduced motion: the network drawing is then still frames.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, reducedMotion: 'reduce' });
  const mobile = await phone.newPage();
  watch(mobile);
  await mobile.goto(base);
  await mobile.getByRole('heading', { level: 1 }).waitFor();
  check(await mobile.getByText('Tap to choose a song').isVisible(), 'on a phone the drop zone says "Tap to choose a song"');
  await mobile.screenshot({ path: join(shots, 'phone-1-home.png'), fullPage: true });
  await mobile.locator('input[type=file]').setInputFiles(clip);
  await mobile.getByTestId('estimate').waitFor();
  check(await inView(mobile.getByRole('button', { name: 'Extract the bass line' })), 'on a phone too, the Extract button is in view once a file is picked');
  await mobile.goto(jobUrl);
  await mobile.getByTestId('note-count').waitFor();
  check(await inView(mobile.getByTestId('download-midi')), 'on a phone, a finished job opens with Download MIDI in view');
  const clipName = clip.split('/').pop();
  check((await mobile.getByTestId('job-title').innerText()) === clipName, `a fresh tab keeps the song's name: "${clipName}"`);
  await mobile.getByRole('img', { name: `Waveform of ${clipName}` }).waitFor({ timeout: 15000 });
  await mobile.waitForFunction(() => [...document.querySelectorAll('figcaption')].some((f) => /^full mix · loudest/.test(f.textContent ?? '')), null, { timeout: 30000 });
  check(true, "a fresh tab draws the song's waveform and mix spectrogram from the server's summary");
  await mobile.getByText(/^Show the bass tab/).click();
  await mobile.waitForFunction(() => /^G\|/m.test(document.querySelector('[data-testid=tab-text]')?.textContent ?? ''));
  const overflow = await mobile.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `no sideways scrolling on a phone, tab open (overflow ${overflow}px)`);
  const tabScroll = await mobile.getByTestId('tab-text').evaluate((e) => e.scrollWidth - e.clientWidth);
  check(tabScroll <= 0, `on a phone the tab's lines fit its panel too (${tabScroll}px over)`);
  const phoneAxe = await axeViolations(mobile);
  check(phoneAxe.length === 0, `axe-core: no WCAG 2.2 AA violations (target size included) on the result page on a phone${phoneAxe.length ? ': ' + phoneAxe.join('; ') : ''}`);
  await mobile.waitForTimeout(500);
  await mobile.screenshot({ path: join(shots, 'phone-2-result.png'), fullPage: true });

  check(pageErrors.length === 0, `no uncaught errors in the page${pageErrors.length ? ': ' + pageErrors.join('; ') : ''}`);
  console.log(`e2e: ${checks} checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${shots}`);
} catch (e) {
  console.error(`e2e FAILED: ${e.message}`);
  if (pageErrors.length) console.error(`page errors: ${pageErrors.join('; ')}`);
  if (page) await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
