// Small shared pieces: card frame, error notice, a job's title and state, time formatting.
import type { ReactNode } from 'react';
import type { Job, JobState } from '../api';

export function Card({ title, children, className = '', actions }: { title?: string; children: ReactNode; className?: string; actions?: ReactNode }) {
  return (
    <section className={`rounded-xl border border-ink-700 bg-ink-900/80 p-4 sm:p-5 ${className}`} aria-label={title}>
      {(title || actions) && (
        <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
          {title && <h2 className="text-sm font-semibold uppercase tracking-widest text-ink-400">{title}</h2>}
          {actions}
        </div>
      )}
      {children}
    </section>
  );
}

export function ErrorNotice({ title, message, children }: { title: string; message: string; children?: ReactNode }) {
  return (
    <div role="alert" className="rounded-xl border border-red-500/50 bg-red-950/40 p-4 text-red-100">
      <p className="font-semibold text-red-300">{title}</p>
      <p className="mt-1 text-sm">{message}</p>
      {children && <div className="mt-3 flex flex-wrap gap-2">{children}</div>}
    </div>
  );
}

export const buttonClass =
  'inline-flex items-center justify-center gap-2 rounded-lg px-4 py-2 text-sm font-semibold transition focus:outline-none focus-visible:ring-2 focus-visible:ring-acid disabled:cursor-not-allowed disabled:opacity-50';
export const primaryButton = `${buttonClass} bg-acid text-ink-950 hover:bg-acid-glow`;
export const secondaryButton = `${buttonClass} border border-ink-600 text-ink-200 hover:border-acid hover:text-acid`;
export const dangerButton = `${buttonClass} border border-red-500/60 text-red-300 hover:bg-red-950/60`;

// The uploaded file's name (the MIDI file's on servers that did not keep it).
export function songTitle(job: Job): string {
  return job.title ?? job.filename;
}

const BADGE: Record<JobState, string> = {
  queued: 'border-ink-600 text-ink-200',
  running: 'border-acid/60 text-acid',
  done: 'border-acid bg-acid/10 text-acid',
  failed: 'border-red-500/60 text-red-300',
  cancelled: 'border-ink-600 text-ink-400',
};

// A job's state as a small badge; given its progress, a running job shows "45 %".
export function StateBadge({ state, progress }: { state: JobState; progress?: number }) {
  return (
    <span className={`inline-block whitespace-nowrap rounded-full border px-2 py-0.5 text-xs ${BADGE[state]}`}>
      {state === 'running' && progress !== undefined ? `${Math.round(progress)} %` : state}
    </span>
  );
}

// unix seconds -> the day in the reader's own form ("Dec 6, 2026")
export function formatDay(ts: number): string {
  return new Date(ts * 1000).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

// 83.4 -> "1:23"
export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

// 95 -> "about 1 min 35 s", 20 -> "about 20 s"
export function formatDuration(seconds: number): string {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `about ${s} s`;
  const m = Math.floor(s / 60);
  return s % 60 ? `about ${m} min ${s % 60} s` : `about ${m} min`;
}
