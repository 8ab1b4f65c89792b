import { describe, expect, it } from 'vitest';
import type { Job, Result } from './api';
import { initialPhase, reduce, stepOf, type Event, type Phase } from './jobMachine';

const ID = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';
const OTHER = '6f1c8a4e-3c1b-4c55-9a43-0a6ea2a1f0b2';

function job(state: Job['state'], error: Job['error'] = null): Job {
  return {
    job_id: ID,
    state,
    progress: state === 'done' ? 100 : 10,
    stage: 'separate',
    message: '',
    filename: 'song.flac',
    created: 1,
    updated: 2,
    duration: 8,
    params: { onset_threshold: 0.5, frame_threshold: 0.3, min_note_ms: 127.7, stems: 'bass', bpm: null, mode: 'bass', quantize: 'off', quantize_strength: 100, fast: false },
    error,
    stems: ['bass'],
  };
}

function result(id = ID, n = 2): Result {
  return {
    job_id: id,
    bpm: 90,
    midi_b64: '',
    filename: 'song-bass.mid',
    duration: 8,
    notes: [],
    n_notes: n,
    mode: 'bass',
    key: { name: 'E minor', tonic: 4, minor: true, fifths: 1 },
    time_signature: '4/4',
    beats: [0.5, 1.17, 1.83],
    params: { mode: 'bass', quantize: 'off', quantize_strength: 100 },
  };
}

const run = (events: Event[], from: Phase = initialPhase) => events.reduce(reduce, from);

describe('job state machine', () => {
  it('walks upload → process → download', () => {
    let p = run([{ type: 'UPLOAD_START', fileName: 'song.flac' }, { type: 'UPLOAD_PROGRESS', sent: 0.5 }]);
    expect(p).toEqual({ kind: 'uploading', fileName: 'song.flac', sent: 0.5 });
    expect(stepOf(p)).toBe(0);
    p = run([{ type: 'UPLOADED', jobId: ID }], p);
    expect(p).toEqual({ kind: 'processing', jobId: ID });
    expect(stepOf(p)).toBe(1);
    p = run([{ type: 'STREAM_DONE', jobId: ID }, { type: 'RESULT', result: result() }], p);
    expect(p.kind).toBe('done');
    expect(stepOf(p)).toBe(2);
  });

  it('keeps a rejected file on the home page with its reason', () => {
    const p = run([{ type: 'REJECT', message: 'too big' }]);
    expect(p).toEqual({ kind: 'idle', error: 'too big' });
    expect(run([{ type: 'UPLOAD_START', fileName: 'a.wav' }, { type: 'UPLOAD_FAILED', message: 'unreachable' }])).toEqual({
      kind: 'idle',
      error: 'unreachable',
    });
  });

  it('opens a job page in the phase the server reports', () => {
    const open = (j: Job) => run([{ type: 'OPEN', jobId: ID }, { type: 'JOB', job: j }]);
    expect(open(job('queued')).kind).toBe('processing');
    expect(open(job('running')).kind).toBe('processing');
    expect(open(job('done')).kind).toBe('finishing');
    expect(open(job('cancelled')).kind).toBe('cancelled');
    expect(open(job('failed', { code: 'bad_audio', message: 'Cannot decode.' }))).toEqual({
      kind: 'failed',
      jobId: ID,
      code: 'bad_audio',
      message: 'Cannot decode.',
    });
  });

  it('ignores events of another job and events after the end', () => {
    const processing: Phase = { kind: 'processing', jobId: ID };
    expect(reduce(processing, { type: 'STREAM_DONE', jobId: OTHER })).toBe(processing);
    expect(reduce(processing, { type: 'FAILED', jobId: OTHER, code: 'failed', message: 'x' })).toBe(processing);
    const cancelled = reduce(processing, { type: 'CANCELLED', jobId: ID });
    expect(cancelled).toEqual({ kind: 'cancelled', jobId: ID });
    // A failure message that arrives after the cancel does not turn it into a failure.
    expect(reduce(cancelled, { type: 'FAILED', jobId: ID, code: 'cancelled', message: 'x' })).toBe(cancelled);
    // A result for another job does not land on this page.
    const finishing: Phase = { kind: 'finishing', jobId: ID };
    expect(reduce(finishing, { type: 'RESULT', result: result(OTHER) })).toBe(finishing);
  });

  it('re-transcribes one request at a time and keeps the old result on failure', () => {
    let p = run([{ type: 'STREAM_DONE', jobId: ID }, { type: 'RESULT', result: result(ID, 2) }], { kind: 'processing', jobId: ID });
    p = reduce(p, { type: 'RETRANSCRIBE_START' });
    expect(p.kind === 'done' && p.busy).toBe(true);
    expect(reduce(p, { type: 'RETRANSCRIBE_START' })).toBe(p);
    const updated = reduce(p, { type: 'RETRANSCRIBED', result: result(ID, 7) });
    expect(updated.kind === 'done' && updated.result.n_notes).toBe(7);
    const failed = reduce(p, { type: 'RETRANSCRIBE_FAILED', message: 'bad parameter' });
    expect(failed).toMatchObject({ kind: 'done', busy: false, error: 'bad parameter' });
    expect(failed.kind === 'done' && failed.result.n_notes).toBe(2);
  });

  it('places failures on the step they happened in', () => {
    expect(stepOf({ kind: 'failed', jobId: null, code: 'unreachable', message: '' })).toBe(0);
    expect(stepOf({ kind: 'failed', jobId: ID, code: 'failed', message: '' })).toBe(1);
    expect(run([{ type: 'RESET' }], { kind: 'cancelled', jobId: ID })).toEqual(initialPhase);
  });
});
