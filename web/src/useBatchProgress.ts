// Live state of a batch (several songs uploaded at once).
//
// GET /api/batches/{id} comes first: it tells a missing batch (or someone else's) apart, which
// an EventSource cannot. Then, unless every job has ended already, the batch's Server-Sent
// Events (GET /api/progress/batch/{id}): `event: batch` with the whole batch document each time
// anything changes, and `event: done` with the last one when every job has ended. Each event
// carries the whole document, so a replay after a reconnect does no harm. We close the stream
// on done (or EventSource would reconnect forever); if the browser gives up on it, the batch
// is asked for every 2 s until it is done, as the job page does.
import { useEffect, useState } from 'react';
import { api, ApiError, urls, type Batch } from './api';
import type { StreamStatus } from './useJobProgress';

export interface BatchProgress {
  batch: Batch | null; // null until the server has answered
  error: ApiError | null; // the batch could not be loaded (not_found, unreachable, ...)
  status: StreamStatus; // 'done' once every job has ended
}

export const POLL_MS = 2000;

const loading: BatchProgress = { batch: null, error: null, status: 'connecting' };

function parse(e: Event): Batch | null {
  try {
    return JSON.parse((e as MessageEvent).data) as Batch;
  } catch {
    return null; // a malformed event is skipped, not fatal
  }
}

export function useBatchProgress(id: string): BatchProgress {
  const [state, setState] = useState<BatchProgress>(loading);

  useEffect(() => {
    let stop = false;
    let es: EventSource | null = null;
    let timer: ReturnType<typeof setInterval> | undefined;
    setState(loading);
    // A new document; the status follows it to 'done' when every job has ended.
    const apply = (batch: Batch, status: StreamStatus) => {
      if (!stop) setState({ batch, error: null, status: batch.state === 'done' ? 'done' : status });
    };
    const setStatus = (status: StreamStatus) => {
      if (!stop) setState((s) => (s.status === 'done' ? s : { ...s, status }));
    };
    const poll = () =>
      api.batch(id).then(
        (b) => {
          apply(b, 'lost');
          if (b.state === 'done') clearInterval(timer);
        },
        () => {}, // keep asking: the server may be restarting
      );

    api.batch(id).then(
      (first) => {
        apply(first, 'connecting');
        if (stop || first.state === 'done') return;
        const stream = new EventSource(urls.batchProgress(id));
        es = stream;
        stream.onopen = () => setStatus('open');
        stream.addEventListener('batch', (e) => {
          const b = parse(e);
          if (b) apply(b, 'open');
        });
        stream.addEventListener('done', (e) => {
          stream.close();
          const b = parse(e);
          if (b) apply(b, 'done');
          else poll();
        });
        stream.addEventListener('error', () => {
          if (stream.readyState !== EventSource.CLOSED) {
            setStatus('reconnecting');
            return;
          }
          setStatus('lost');
          poll();
          timer = setInterval(poll, POLL_MS);
        });
      },
      (e: ApiError) => {
        if (!stop) setState({ batch: null, error: e, status: 'error' });
      },
    );
    return () => {
      stop = true;
      es?.close();
      clearInterval(timer);
    };
  }, [id]);

  return state;
}
