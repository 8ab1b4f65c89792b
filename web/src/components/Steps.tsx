// Upload → Process → Download, with the current step lit and finished ones ticked.
const STEPS = ['Upload', 'Process', 'Download'];

export default function Steps({ current, failed }: { current: 0 | 1 | 2; failed?: boolean }) {
  return (
    <ol className="flex items-center gap-2 text-xs sm:text-sm" aria-label="Pipeline steps">
      {STEPS.map((name, i) => {
        const done = i < current || (i === 2 && current === 2 && !failed);
        const active = i === current && !done;
        const bad = active && failed;
        return (
          <li key={name} className="flex flex-1 items-center gap-2" aria-current={active ? 'step' : undefined}>
            <span
              className={`flex h-7 w-7 shrink-0 items-center justify-center rounded-full border text-xs font-bold ${
                bad
                  ? 'border-red-400 text-red-300'
                  : done
                    ? 'border-acid bg-acid text-ink-950'
                    : active
                      ? 'border-acid text-acid shadow-[0_0_16px_-4px_#b4ff39]'
                      : 'border-ink-600 text-ink-400'
              }`}
            >
              {bad ? '!' : done ? '✓' : i + 1}
            </span>
            <span className={done || active ? 'text-ink-200' : 'text-ink-400'}>{name}</span>
            {i < STEPS.length - 1 && <span className={`h-px flex-1 ${i < current ? 'bg-acid/60' : 'bg-ink-700'}`} />}
          </li>
        );
      })}
    </ol>
  );
}
