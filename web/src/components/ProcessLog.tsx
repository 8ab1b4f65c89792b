// The timestamped processing log, newest line kept in view.
import { useEffect, useRef } from 'react';
import type { LogEntry } from '../useJobProgress';

function clock(ts: number): string {
  return new Date(ts * 1000).toLocaleTimeString([], { hour12: false });
}

export default function ProcessLog({ log }: { log: LogEntry[] }) {
  const ref = useRef<HTMLOListElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [log.length]);
  return (
    <ol ref={ref} aria-label="Processing log" aria-live="polite" className="h-40 overflow-y-auto rounded-lg bg-ink-950 p-3 font-mono text-xs leading-5">
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
