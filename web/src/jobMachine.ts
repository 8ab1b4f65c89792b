// The page's state machine: one phase at a time, one pure reducer, so that a late event (a
// progress message after a cancel, a result after a reset) can never put the page in a state
// that mixes two jobs. Events that do not apply to the current phase are ignored.
import type { Job, Result } from './api';

export type Phase =
  | { kind: 'idle'; error: string | null } // home page; error = why the last file was refused
  | { kind: 'uploading'; fileName: string; sent: number } // sent: fraction 0..1
  | { kind: 'loading'; jobId: string } // opening a job page: asking the server for its state
  | { kind: 'processing'; jobId: string } // queued or running, progress comes over SSE
  | { kind: 'finishing'; jobId: string } // the job is done, its result is being fetched
  | { kind: 'done'; jobId: string; result: Result; busy: boolean; error: string | null }
  | { kind: 'failed'; jobId: string | null; code: string; message: string }
  | { kind: 'cancelled'; jobId: string };

export type Event =
  | { type: 'REJECT'; message: string } // client-side check refused the picked file
  | { type: 'UPLOAD_START'; fileName: string }
  | { type: 'UPLOAD_PROGRESS'; sent: number }
  | { type: 'UPLOAD_FAILED'; message: string }
  | { type: 'UPLOADED'; jobId: string }
  | { type: 'OPEN'; jobId: string }
  | { type: 'JOB'; job: Job }
  | { type: 'STREAM_DONE'; jobId: string }
  | { type: 'RESULT'; result: Result }
  | { type: 'FAILED'; jobId: string | null; code: string; message: string }
  | { type: 'CANCELLED'; jobId: string }
  | { type: 'RETRANSCRIBE_START' }
  | { type: 'RETRANSCRIBED'; result: Result }
  | { type: 'RETRANSCRIBE_FAILED'; message: string }
  | { type: 'RESET' };

export const initialPhase: Phase = { kind: 'idle', error: null };

function jobIdOf(phase: Phase): string | null {
  return 'jobId' in phase ? phase.jobId : null;
}

export function reduce(phase: Phase, ev: Event): Phase {
  switch (ev.type) {
    case 'REJECT':
      return phase.kind === 'idle' ? { kind: 'idle', error: ev.message } : phase;
    case 'UPLOAD_START':
      return phase.kind === 'idle' ? { kind: 'uploading', fileName: ev.fileName, sent: 0 } : phase;
    case 'UPLOAD_PROGRESS':
      return phase.kind === 'uploading' ? { ...phase, sent: Math.min(1, Math.max(0, ev.sent)) } : phase;
    case 'UPLOAD_FAILED':
      return phase.kind === 'uploading' ? { kind: 'idle', error: ev.message } : phase;
    case 'UPLOADED':
      return phase.kind === 'uploading' ? { kind: 'processing', jobId: ev.jobId } : phase;
    case 'OPEN':
      return { kind: 'loading', jobId: ev.jobId };
    case 'JOB': {
      const { job } = ev;
      if (phase.kind !== 'loading' || phase.jobId !== job.job_id) return phase;
      switch (job.state) {
        case 'queued':
        case 'running':
          return { kind: 'processing', jobId: job.job_id };
        case 'done':
          return { kind: 'finishing', jobId: job.job_id };
        case 'cancelled':
          return { kind: 'cancelled', jobId: job.job_id };
        case 'failed':
          return {
            kind: 'failed',
            jobId: job.job_id,
            code: job.error?.code ?? 'failed',
            message: job.error?.message ?? 'The job failed.',
          };
      }
      return phase;
    }
    case 'STREAM_DONE':
      return phase.kind === 'processing' && phase.jobId === ev.jobId ? { kind: 'finishing', jobId: ev.jobId } : phase;
    case 'RESULT':
      return phase.kind === 'finishing' && phase.jobId === ev.result.job_id
        ? { kind: 'done', jobId: phase.jobId, result: ev.result, busy: false, error: null }
        : phase;
    case 'FAILED':
      // A failure belongs to the job on screen (or to no job, for an upload that never made one).
      if (phase.kind === 'done' || phase.kind === 'cancelled' || phase.kind === 'idle') return phase;
      if (ev.jobId !== null && jobIdOf(phase) !== ev.jobId) return phase;
      return { kind: 'failed', jobId: ev.jobId, code: ev.code, message: ev.message };
    case 'CANCELLED':
      if (phase.kind !== 'loading' && phase.kind !== 'processing' && phase.kind !== 'finishing') return phase;
      return phase.jobId === ev.jobId ? { kind: 'cancelled', jobId: ev.jobId } : phase;
    case 'RETRANSCRIBE_START':
      return phase.kind === 'done' && !phase.busy ? { ...phase, busy: true, error: null } : phase;
    case 'RETRANSCRIBED':
      return phase.kind === 'done' && phase.busy && phase.jobId === ev.result.job_id
        ? { ...phase, result: ev.result, busy: false, error: null }
        : phase;
    case 'RETRANSCRIBE_FAILED':
      return phase.kind === 'done' && phase.busy ? { ...phase, busy: false, error: ev.message } : phase;
    case 'RESET':
      return initialPhase;
  }
}

// Which of the three pipeline steps (Upload → Process → Download) the phase belongs to.
export function stepOf(phase: Phase): 0 | 1 | 2 {
  switch (phase.kind) {
    case 'idle':
    case 'uploading':
      return 0;
    case 'done':
      return 2;
    case 'failed':
      return phase.jobId === null ? 0 : 1;
    default:
      return 1;
  }
}
