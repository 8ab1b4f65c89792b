// The notice that CPU processing takes a while, with the expected time from our benchmark
// (the server reports it for its own thread count) and, once a file is picked, for that file.
import { useHealth } from '../health';
import { formatDuration } from './ui';

// Our benchmark on 2 CPU cores: a 4-minute song in 91.8 s.
export const FALLBACK_TEXT = 'about 25 s per minute of audio on 2 CPU cores';

export default function CpuNotice({ duration }: { duration: number | null }) {
  const { health } = useHealth();
  const perMinute = health?.seconds_per_audio_minute;
  const rate =
    perMinute && perMinute > 0
      ? `${formatDuration(perMinute)} per minute of audio on this server (${health!.workers} worker${health!.workers === 1 ? '' : 's'} × ${health!.threads_per_worker} thread${health!.threads_per_worker === 1 ? '' : 's'})`
      : FALLBACK_TEXT;
  const perSecond = (perMinute && perMinute > 0 ? perMinute : 25) / 60;
  return (
    <div role="note" aria-label="Processing time" className="flex gap-3 rounded-xl border border-acid/30 bg-acid/5 p-4 text-sm">
      <svg aria-hidden="true" viewBox="0 0 24 24" className="mt-0.5 h-5 w-5 shrink-0 text-acid">
        <circle cx="12" cy="13" r="8" fill="none" stroke="currentColor" strokeWidth="2" />
        <path d="M12 9v4l2.5 2.5M9 2h6" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
      </svg>
      <div>
        <p className="text-ink-200">
          Dumu runs two neural networks on the server's CPU, no GPU, so processing takes a while: <strong className="text-acid">{rate}</strong>.
        </p>
        {duration !== null && (
          <p className="mt-1 text-ink-400" data-testid="estimate">
            This file ({Math.round(duration)} s of audio): expect {formatDuration(duration * perSecond)}.
          </p>
        )}
      </div>
    </div>
  );
}
