// The timestamped processing log, newest line kept in view: one line when a stage begins and
// at each quarter of the way through it, not one per progress event.
import { useEffect, useRef } from 'react';
import type { LogEntry } from '../useJobProgress';

function clock(ts: number): string {
  return new Date(ts * 1000).toLocaleTimeString([], { hour12: false });
}

// The lines worth reading: the first event of each stage, the events that cross 25, 50 or 75 %
// of the whole job since the last line kept, and the end (done or error).
export function compactLog(log: LogEntry[]): LogEntry[] {
  const kept: LogEntry[] = [];
  for (const e of log) {
    const last = kept[kept.length - 1];
    const milestone = last && Math.floor(e.progress / 25) > Math.floor(last.progress / 25);
    if (!last || e.stage !== last.stage || e.stage === 'done' || e.stage === 'error' || milestone) kept.push(e);
  }
  return kept;
}

export default function ProcessLog({ log: all }: { log: LogEntry[] }) {
  const log = compactLog(all);
  const ref = useRef<HTMLOListElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [log.length]);
  return (
    <ol
      ref={ref}
      tabIndex={0}
      aria-label="Processing log"
      aria-live="polite"
      className="h-40 overflow-y-auto rounded-lg bg-ink-950 p-3 font-mono text-xs leading-5 focus:outline-none focus-visible:ring-2 focus-visible:ring-acid"
    >
      {log.length === 0 && <li className="text-ink-400">Waiting for the first message…</li>}
      {log.map((e) => (
        <li key={e.id} className={e.stage === 'error' ? 'text-red-300' : e.stage === 'done' ? 'text-acid' : 'text-ink-200'}>
          <span className="text-ink-400">[{clock(e.ts)}]</span> <span className="text-acid/80">{e.stage.padEnd(10)}</span>{' '}
          <span className="text-ink-400">{String(Math.round(e.progress)).padStart(3)}%</span> {e.message}
        </li>
      ))}
    </ol>
  );
}
