// Test data and a stand-in fetch for the tests of the pages.
import { vi } from 'vitest';
import type { Batch, Job } from '../api';

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

// A job document as GET /api/jobs/{id} gives it; a done song unless told otherwise.
export function makeJob(fields: Partial<Job> & { job_id: string }): Job {
  return {
    state: 'done',
    progress: 100,
    stage: 'midi',
    message: '',
    filename: 'song-bass.mid',
    title: 'song.flac',
    created: 1765000000,
    updated: 1765000060,
    duration: 192,
    bpm: 97.46,
    key: 'F# minor',
    batch_id: null,
    params: { onset_threshold: 0.5, frame_threshold: 0.3, min_note_ms: 127.7, stems: 'bass', bpm: null, mode: 'bass', quantize: 'off', quantize_strength: 100 },
    error: null,
    stems: ['bass'],
    ...fields,
  };
}

// A batch document of these jobs, its state, progress and counts worked out as the server does.
export function makeBatch(id: string, jobs: Job[]): Batch {
  const counts = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
  for (const j of jobs) counts[j.state]++;
  const ended = (j: Job) => j.state !== 'queued' && j.state !== 'running';
  const state = jobs.every(ended) ? 'done' : counts.queued === jobs.length ? 'queued' : 'running';
  const progress = jobs.length ? jobs.reduce((sum, j) => sum + (ended(j) ? 100 : j.progress), 0) / jobs.length : 0;
  return { batch_id: id, created: 1765000000, state, progress, counts, jobs: jobs.map((j) => ({ ...j, batch_id: id })) };
}

type Route = (url: string, init?: RequestInit) => Response | undefined;

// Stubs fetch with one function from (url, init) to an answer; what it leaves unanswered gets 404
// not_found. Returns the mock, to look at its calls.
export function stubFetch(route: Route) {
  const mock = vi.fn((url: string, init?: RequestInit) =>
    Promise.resolve(route(url, init) ?? jsonResponse(404, { code: 'not_found', message: `No ${url} here.` })),
  );
  vi.stubGlobal('fetch', mock);
  return mock;
}
