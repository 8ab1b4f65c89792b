// name: what the bar measures, for screen readers (several bars on a page need their own).
export default function ProgressBar({ value, label, name = 'Processing progress' }: { value: number; label: string; name?: string }) {
  const v = Math.max(0, Math.min(100, value));
  return (
    <div>
      <div className="mb-1 flex justify-between gap-2 text-sm">
        <span className="truncate text-ink-200">{label}</span>
        <span className="font-mono text-acid" data-testid="progress-value">{Math.round(v)} %</span>
      </div>
      <div
        role="progressbar"
        aria-label={name}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(v)}
        className="h-3 overflow-hidden rounded-full bg-ink-800"
      >
        <div className="h-full rounded-full bg-acid shadow-[0_0_12px_#b4ff39] transition-[width] duration-300" style={{ width: `${v}%` }} />
      </div>
    </div>
  );
}
