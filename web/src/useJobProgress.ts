// Live progress of one job over Server-Sent Events (GET /api/progress/{id}).
//
// The browser's EventSource reconnects by itself and sends Last-Event-ID, and the server then
// replays only newer events; we still drop any event whose id we have seen, so the log never
// shows a line twice. The stream ends with `event: done` or a server `event: error`; we close
// it then, or EventSource would reconnect forever.
import { useEffect, useReducer } from 'react';
import { urls, type Stage } from './api';

export type StreamStatus = 'connecting' | 'open' | 'reconnecting' | 'lost' | 'done' | 'error';

export interface LogEntry {
  id: number; // the SSE event id
  ts: number; // unix seconds, from the server
  stage: Stage | 'done' | 'error';
  progress: number; // 0..100
  message: string;
}

export interface ProgressState {
  status: StreamStatus;
  progress: number; // 0..100
  stage: Stage;
  message: string;
  log: LogEntry[];
  error: { code: string; message: string } | null;
  lastId: number; // highest event id applied, -1 before any
}

export const initialProgress: ProgressState = {
  status: 'connecting',
  progress: 0,
  stage: 'queued',
  message: 'Waiting for the server…',
  log: [],
  error: null,
  lastId: -1,
};

export type StreamEvent =
  | { type: 'open' }
  | { type: 'connection_error'; closed: boolean } // closed: the browser gave up for good
  | { type: 'progress'; id: number; data: { progress: number; stage: Stage; message: string; ts: number } }
  | { type: 'done'; id: number; data: { progress?: number; ts: number } }
  | { type: 'error'; id: number; data: { code: string; message: string; ts: number } };

export function reduceProgress(s: ProgressState, ev: StreamEvent): ProgressState {
  if (s.status === 'done' || s.status === 'error') return s; // the stream is over
  switch (ev.type) {
    case 'open':
      return { ...s, status: 'open' };
    case 'connection_error':
      return { ...s, status: ev.closed ? 'lost' : 'reconnecting' };
    case 'progress': {
      if (ev.id <= s.lastId) return s;
      const { progress, stage, message, ts } = ev.data;
      return {
        ...s,
        status: 'open',
        progress: Math.max(0, Math.min(100, progress)),
        stage,
        message,
        lastId: ev.id,
        log: [...s.log, { id: ev.id, ts, stage, progress, message }],
      };
    }
    case 'done':
      return {
        ...s,
        status: 'done',
        progress: 100,
        message: 'Done',
        lastId: Math.max(s.lastId, ev.id),
        log: [...s.log, { id: ev.id, ts: ev.data.ts, stage: 'done', progress: 100, message: 'Done' }],
      };
    case 'error':
      return {
        ...s,
        status: 'error',
        error: { code: ev.data.code, message: ev.data.message },
        lastId: Math.max(s.lastId, ev.id),
        log: [...s.log, { id: ev.id, ts: ev.data.ts, stage: 'error', progress: s.progress, message: ev.data.message }],
      };
  }
}

function parse(e: MessageEvent): { id: number; data: unknown } | null {
  try {
    return { id: Number(e.lastEventId || 0), data: JSON.parse(e.data) };
  } catch {
    return null; // a malformed event is skipped, not fatal
  }
}

// Subscribes while jobId is non-null; a new jobId starts from a clean state, and going back
// to null keeps the last state (the log stays on screen after the job ends).
export function useJobProgress(jobId: string | null): ProgressState {
  const [state, dispatch] = useReducer(
    (s: ProgressState, ev: StreamEvent | { type: 'reset' }) =>
      ev.type === 'reset' ? initialProgress : reduceProgress(s, ev),
    initialProgress,
  );

  useEffect(() => {
    if (jobId === null) return;
    dispatch({ type: 'reset' });
    const es = new EventSource(urls.progress(jobId));
    es.onopen = () => dispatch({ type: 'open' });
    es.addEventListener('progress', (e) => {
      const p = parse(e as MessageEvent);
      if (p) dispatch({ type: 'progress', id: p.id, data: p.data as never });
    });
    es.addEventListener('done', (e) => {
      const p = parse(e as MessageEvent);
      es.close();
      dispatch({ type: 'done', id: p?.id ?? 0, data: (p?.data ?? { ts: Date.now() / 1000 }) as never });
    });
    // 'error' is both the server's final `event: error` (a MessageEvent with data) and the
    // browser's own connection error (a plain Event).
    es.addEventListener('error', (e) => {
      const data = (e as MessageEvent).data;
      if (typeof data === 'string' && data !== '') {
        const p = parse(e as MessageEvent);
        es.close();
        if (p) {
          dispatch({ type: 'error', id: p.id, data: p.data as never });
          return;
        }
        dispatch({ type: 'error', id: 0, data: { code: 'failed', message: 'The job failed.', ts: Date.now() / 1000 } });
        return;
      }
      dispatch({ type: 'connection_error', closed: es.readyState === EventSource.CLOSED });
    });
    return () => es.close();
  }, [jobId]);

  return state;
}
