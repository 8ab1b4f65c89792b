// Small shared pieces: card frame, error notice, time formatting.
import type { ReactNode } from 'react';

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
