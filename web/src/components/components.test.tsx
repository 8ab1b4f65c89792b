import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Layout, ROUTER_FUTURE } from '../App';
import CpuNotice, { FALLBACK_TEXT } from './CpuNotice';
import { barLabelStep, clampView, followView, initialView, noteName, pitchRange, zoomView } from './PianoRoll';
import { compactLog } from './ProcessLog';
import { queueText, remainingSeconds } from '../pages/JobPage';
import ResultCard, { keyLabel, signatureLabel, sourceLabel, tempoTile } from './ResultCard';
import { parseSpecs } from '../params';
import TranscribeControls, { DEBOUNCE_MS, defaultNoteParams } from './TranscribeControls';

// TranscribeParams as an OpenAPI document states them (test data: the page reads the server's).
const num = (minimum: number, maximum: number, def?: number) => ({ type: 'number', minimum, maximum, default: def });
const SPECS = parseSpecs({
  components: {
    schemas: {
      TranscribeParams: {
        properties: {
          onset_threshold: num(0, 1, 0.5),
          frame_threshold: num(0, 1, 0.3),
          min_note_ms: num(10, 2000, 127.7),
          quantize_strength: num(0, 100, 100),
          bpm: num(30, 300),
          mode: { default: 'bass' },
          quantize: { default: 'off' },
        },
      },
    },
  },
});
const DEFAULT_NOTE_PARAMS = defaultNoteParams(SPECS);
import type { Result } from '../api';
import { HealthProvider } from '../health';

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('routes', () => {
  it('shows the 404 page for an unknown route', () => {
    vi.stubGlobal('fetch', vi.fn().mockRejectedValue(new TypeError('offline')));
    render(
      <MemoryRouter initialEntries={['/no/such/page']} future={ROUTER_FUTURE}>
        <Layout />
      </MemoryRouter>,
    );
    expect(screen.getByText('404')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Back to the start' }).getAttribute('href')).toBe('/');
  });
});

describe('parameter specs', () => {
  it('reads ranges and defaults from the OpenAPI description, and refuses one without them', () => {
    expect(SPECS.min_note_ms).toEqual({ min: 10, max: 2000, def: 127.7 });
    expect(SPECS.bpm.def).toBe(0);
    expect(DEFAULT_NOTE_PARAMS).toEqual({ onset_threshold: 0.5, frame_threshold: 0.3, min_note_ms: 127.7, mode: 'bass', quantize: 'off', quantize_strength: 100 });
    expect(() => parseSpecs({})).toThrow();
  });
});

describe('TranscribeControls', () => {
  it('sends the newest values once, after the sliders rest', () => {
    vi.useFakeTimers();
    const onApply = vi.fn();
    render(<TranscribeControls initial={DEFAULT_NOTE_PARAMS} specs={SPECS} busy={false} onApply={onApply} />);
    const onset = screen.getByRole('slider', { name: /Onset threshold/ });
    fireEvent.change(onset, { target: { value: '0.6' } });
    fireEvent.change(onset, { target: { value: '0.7' } });
    act(() => vi.advanceTimersByTime(DEBOUNCE_MS - 1));
    expect(onApply).not.toHaveBeenCalled();
    act(() => vi.advanceTimersByTime(1));
    expect(onApply).toHaveBeenCalledTimes(1);
    expect(onApply).toHaveBeenCalledWith({ ...DEFAULT_NOTE_PARAMS, onset_threshold: 0.7 });
    expect(screen.getByText('0.70')).toBeTruthy();
  });

  it('re-transcribes when the note mode switches, after the same rest', () => {
    vi.useFakeTimers();
    const onApply = vi.fn();
    render(<TranscribeControls initial={DEFAULT_NOTE_PARAMS} specs={SPECS} busy={false} onApply={onApply} />);
    expect((screen.getByRole('radio', { name: 'Bass line' }) as HTMLInputElement).checked).toBe(true);
    fireEvent.click(screen.getByRole('radio', { name: 'Raw Basic Pitch' }));
    act(() => vi.advanceTimersByTime(DEBOUNCE_MS - 1));
    expect(onApply).not.toHaveBeenCalled();
    act(() => vi.advanceTimersByTime(1));
    expect(onApply).toHaveBeenCalledWith({ ...DEFAULT_NOTE_PARAMS, mode: 'raw' });
  });

  it('shows the strength slider only while quantising, and sends grid and strength', () => {
    vi.useFakeTimers();
    const onApply = vi.fn();
    render(<TranscribeControls initial={DEFAULT_NOTE_PARAMS} specs={SPECS} busy={false} onApply={onApply} />);
    expect(screen.queryByRole('slider', { name: /Strength/ })).toBeNull();
    fireEvent.change(screen.getByRole('combobox', { name: /Quantise/ }), { target: { value: '1/16t' } });
    fireEvent.change(screen.getByRole('slider', { name: /Strength/ }), { target: { value: '40' } });
    expect(screen.getByText('40 %')).toBeTruthy();
    act(() => vi.advanceTimersByTime(DEBOUNCE_MS));
    expect(onApply).toHaveBeenCalledTimes(1);
    expect(onApply).toHaveBeenCalledWith({ ...DEFAULT_NOTE_PARAMS, quantize: '1/16t', quantize_strength: 40 });
    fireEvent.change(screen.getByRole('combobox', { name: /Quantise/ }), { target: { value: 'off' } });
    expect(screen.queryByRole('slider', { name: /Strength/ })).toBeNull();
  });
});

describe('ResultCard', () => {
  const result: Result = {
    job_id: 'j1',
    bpm: 120.2,
    midi_b64: 'TVRoZA==',
    filename: 'song-bass.mid',
    duration: 8,
    notes: [],
    n_notes: 25,
    mode: 'bass',
    source: 'other_stem',
    key: { name: 'F# minor', tonic: 6, minor: true, fifths: 3 },
    time_signature: '3/4',
    beats: [0.3, 0.8, 1.3],
    params: { mode: 'bass', quantize: 'off', quantize_strength: 100 },
  };

  it('shows key and meter, links MusicXML and tab, and shows the tab for the chosen strings', async () => {
    URL.createObjectURL = vi.fn(() => 'blob:midi');
    URL.revokeObjectURL = vi.fn();
    const fetchMock = vi.fn((url: string) =>
      Promise.resolve(new Response(url.endsWith('strings=5') ? 'G|--0--|\nB|-----|\n' : 'G|--2--|\nE|-----|\n', { status: 200 })),
    );
    vi.stubGlobal('fetch', fetchMock);
    render(<ResultCard result={result} stems={['bass']} />);
    expect(screen.getByTestId('key').textContent).toBe('F♯ minor');
    expect(screen.getByText('3 sharps')).toBeTruthy();
    expect(screen.getByTestId('time-signature').textContent).toBe('3/4');
    expect(screen.getByTestId('note-source').textContent).toBe(sourceLabel('other_stem'));
    expect(screen.getByTestId('bpm').textContent).toBe('120.2');
    expect(screen.queryByTestId('no-bass')).toBeNull();
    expect(screen.getByTestId('download-musicxml').getAttribute('href')).toBe('/api/jobs/j1/musicxml');
    expect(screen.getByTestId('download-tab').getAttribute('href')).toBe('/api/jobs/j1/tab?strings=4');
    expect((await screen.findByText(/G\|--2--\|/)).tagName).toBe('PRE');
    fireEvent.change(screen.getByRole('combobox', { name: 'Strings on the tab' }), { target: { value: '5' } });
    expect(screen.getByTestId('download-tab').getAttribute('href')).toBe('/api/jobs/j1/tab?strings=5');
    expect(await screen.findByText(/B\|-----\|/)).toBeTruthy();
    expect(fetchMock.mock.calls.map((c) => c[0])).toEqual(['/api/jobs/j1/tab?strings=4', '/api/jobs/j1/tab?strings=5']);
  });

  it('says plainly that no bass line was found, with no invented tempo or key', () => {
    URL.createObjectURL = vi.fn(() => 'blob:midi');
    URL.revokeObjectURL = vi.fn();
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(new Response('', { status: 200 })));
    render(<ResultCard result={{ ...result, n_notes: 0, source: 'none', tempo_status: 'no_pulse', key_found: false }} stems={['bass']} />);
    expect(screen.getByTestId('no-bass').textContent).toMatch(/^No bass line found/);
    expect(screen.getByTestId('bpm').textContent).toBe('—');
    expect(screen.getByText('no steady beat')).toBeTruthy();
    expect(screen.getByTestId('time-signature').textContent).toBe('—');
    expect(screen.getByTestId('key').textContent).toBe('—');
    expect(screen.queryByTestId('note-source')).toBeNull();
  });

  it('says so when the tab cannot be loaded', async () => {
    URL.createObjectURL = vi.fn(() => 'blob:midi');
    URL.revokeObjectURL = vi.fn();
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(new Response(JSON.stringify({ code: 'bad_request', message: 'No beats to write a tab on.' }), { status: 400 })));
    render(<ResultCard result={result} stems={['bass']} />);
    expect(await screen.findByText('The tab could not be loaded: No beats to write a tab on.')).toBeTruthy();
  });
});

describe('source labels', () => {
  it('names every source of the notes', () => {
    expect(sourceLabel('bass_stem')).toBe('Notes from the separated bass.');
    expect(sourceLabel('other_stem')).toMatch(/^Notes from the low end of the other instruments/);
    expect(sourceLabel('mix')).toMatch(/^Notes from the low end of the whole mix/);
    expect(sourceLabel('none')).toMatch(/silence or drums alone/);
  });

  it('shows a tempo only when one was found', () => {
    expect(tempoTile(97.46, 'found')).toEqual({ value: '97.5', unit: 'BPM' });
    expect(tempoTile(97.46, undefined)).toEqual({ value: '97.5', unit: 'BPM' });
    expect(tempoTile(184.6, 'too_short')).toEqual({ value: '—', unit: 'too short for a tempo' });
    expect(tempoTile(120, 'no_pulse')).toEqual({ value: '—', unit: 'no steady beat' });
  });
});

describe('key labels', () => {
  it('writes accidentals and the key signature', () => {
    expect(keyLabel('E minor')).toBe('E minor');
    expect(keyLabel('F# minor')).toBe('F♯ minor');
    expect(keyLabel('Bb major')).toBe('B♭ major');
    expect(signatureLabel({ name: 'C major', tonic: 0, minor: false, fifths: 0 })).toBe('no sharps or flats');
    expect(signatureLabel({ name: 'E minor', tonic: 4, minor: true, fifths: 1 })).toBe('1 sharp');
    expect(signatureLabel({ name: 'Eb major', tonic: 3, minor: false, fifths: -3 })).toBe('3 flats');
  });
});

describe('CpuNotice', () => {
  it('gives our benchmark figure when the server cannot be asked', async () => {
    vi.stubGlobal('fetch', vi.fn().mockRejectedValue(new TypeError('offline')));
    render(
      <HealthProvider>
        <CpuNotice duration={240} />
      </HealthProvider>,
    );
    expect(screen.getByRole('note').textContent).toContain(FALLBACK_TEXT);
    expect(screen.getByTestId('estimate').textContent).toContain('expect about 1 min 40 s'); // 4 min × 25 s
  });

  it("uses the server's seconds per audio minute", async () => {
    const health = { status: 'ok', version: '0.1.0', workers: 1, threads_per_worker: 2, max_upload_mb: 100, seconds_per_audio_minute: 30 };
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(new Response(JSON.stringify(health), { status: 200 })));
    render(
      <HealthProvider>
        <CpuNotice duration={120} />
      </HealthProvider>,
    );
    expect((await screen.findByText(/about 30 s per minute of audio on this server \(1 worker × 2 threads\)/)).tagName).toBe('STRONG');
    expect(screen.getByTestId('estimate').textContent).toContain('expect about 1 min.');
  });
});

describe('piano roll helpers', () => {
  it('names notes in scientific pitch notation', () => {
    expect(noteName(60)).toBe('C4');
    expect(noteName(28)).toBe('E1');
    expect(noteName(46)).toBe('A♯2');
  });
  it('shows the notes with a margin and at least two octaves', () => {
    const n = (pitch: number) => ({ pitch, start: 0, end: 1, velocity: 100 });
    expect(pitchRange([n(40), n(43)])).toEqual([30, 54]);
    expect(pitchRange([n(30), n(70)])).toEqual([28, 72]);
    expect(pitchRange([])).toEqual([28, 52]);
  });
});

describe('piano roll view', () => {
  const n = (start: number) => ({ pitch: 40, start, end: start + 0.5, velocity: 100 });
  const bars = Array.from({ length: 60 }, (_, i) => i * 2); // 2 s bars over 120 s

  it('opens on eight bars from the bar of the first note', () => {
    expect(initialView([n(31), n(40)], bars, 120)).toEqual({ start: 30, span: 16 });
    expect(initialView([], bars, 120)).toEqual({ start: 0, span: 16 });
    expect(initialView([n(115)], bars, 120)).toEqual({ start: 104, span: 16 }); // kept inside
    expect(initialView([n(3)], [], 120)).toEqual({ start: 2, span: 20 }); // no bar lines
    expect(initialView([n(1)], [0, 2], 3)).toEqual({ start: 0, span: 3 }); // a short song
  });
  it('stays inside the song, zooms about a time and follows the playhead', () => {
    expect(clampView({ start: -5, span: 500 }, 120)).toEqual({ start: 0, span: 120 });
    expect(clampView({ start: 119, span: 0.1 }, 120)).toEqual({ start: 118, span: 2 });
    expect(zoomView({ start: 10, span: 20 }, 0.5, 20, 120)).toEqual({ start: 15, span: 10 });
    expect(zoomView({ start: 10, span: 20 }, 2, 10, 120)).toEqual({ start: 10, span: 40 });
    expect(followView({ start: 10, span: 20 }, 25, 120)).toEqual({ start: 10, span: 20 });
    expect(followView({ start: 10, span: 20 }, 31, 120)).toEqual({ start: 26, span: 20 });
  });
  it('numbers every bar, or every 2nd, 4th ... when bars are narrow', () => {
    expect(barLabelStep(60)).toBe(1);
    expect(barLabelStep(20)).toBe(2);
    expect(barLabelStep(5)).toBe(8);
  });
});

describe('job time and log', () => {
  it('keeps one log line per stage, each quarter of the way, and the end', () => {
    const e = (id: number, stage: string, progress: number) => ({ id, ts: id, stage, progress, message: '' });
    const log = [e(0, 'decode', 0), e(1, 'decode', 3), e(2, 'separate', 6), e(3, 'separate', 12), e(4, 'separate', 24), e(5, 'separate', 26), e(6, 'separate', 49), e(7, 'separate', 51), e(8, 'transcribe', 86), e(9, 'done', 100)];
    expect(compactLog(log as never).map((x) => x.id)).toEqual([0, 2, 5, 7, 8, 9]);
  });
  it('estimates the time left from the progress, else from the server speed', () => {
    expect(remainingSeconds(20, 50, 240, 25)).toBe(20);
    expect(remainingSeconds(3, 5, 240, 25)).toBe(97); // 4 min at 25 s a minute, 3 s gone
    expect(remainingSeconds(3, 5, null, 25)).toBeNull();
    expect(remainingSeconds(3, 100, 240, 25)).toBe(0);
  });
  it('says where a queued job stands and when it should start', () => {
    expect(queueText({ position: 1, starts_in_s: 40 })).toBe('Next in line · starts in about 0:40');
    expect(queueText({ position: 2, starts_in_s: 95 })).toBe('1 song ahead · starts in about 1:35');
    expect(queueText({ position: 4, starts_in_s: 0 })).toBe('3 songs ahead');
  });
});
