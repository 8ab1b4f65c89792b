// How the cached bass stem becomes notes: bass line or Basic Pitch's raw notes, the beat grid
// the notes snap to, and Basic Pitch's note-creation sliders. Half a second after the last
// change, the new values go to the server, which re-transcribes the stem (no new separation).
// The first run's values bring its result back exactly (the server keeps what it read).
import { useEffect, useRef, useState } from 'react';
import type { Mode, Quantize } from '../api';
import type { ParamSpecs } from '../params';

export interface NoteParams {
  onset_threshold: number;
  frame_threshold: number;
  min_note_ms: number;
  mode: Mode;
  quantize: Quantize;
  quantize_strength: number; // 0..100 %
}

// The defaults of the server's parameter table.
export function defaultNoteParams(s: ParamSpecs): NoteParams {
  return {
    onset_threshold: s.onset_threshold.def,
    frame_threshold: s.frame_threshold.def,
    min_note_ms: s.min_note_ms.def,
    mode: s.mode,
    quantize: s.quantize,
    quantize_strength: s.quantize_strength.def,
  };
}

interface Props {
  initial: NoteParams;
  specs: ParamSpecs; // ranges and defaults
  first?: NoteParams; // the job's first run's values, when the result names them
  busy: boolean;
  onApply: (p: NoteParams) => void;
}

type SliderKey = 'onset_threshold' | 'frame_threshold' | 'min_note_ms';

// Labels and steps; ranges and defaults come from the server's parameter table.
const SLIDERS: { key: SliderKey; label: string; help: string; step: number; unit: string }[] = [
  { key: 'onset_threshold', label: 'Onset threshold', help: 'Higher: fewer, surer note starts', step: 0.05, unit: '' },
  { key: 'frame_threshold', label: 'Frame threshold', help: 'Higher: shorter notes, fewer ghost notes', step: 0.05, unit: '' },
  { key: 'min_note_ms', label: 'Minimum note length', help: 'Notes shorter than this are dropped', step: 1, unit: ' ms' },
];

const MODES: { value: Mode; label: string; help: string }[] = [
  { value: 'bass', label: 'Bass line', help: 'One clean line, one note at a time' },
  { value: 'raw', label: 'Raw Basic Pitch', help: "The network's own notes, chords and all" },
];

const QUANTIZE_OPTIONS: { value: Quantize; label: string }[] = [
  { value: 'off', label: 'Off' },
  { value: '1/8', label: '1/8' },
  { value: '1/16', label: '1/16' },
  { value: '1/8t', label: '1/8 triplets' },
  { value: '1/16t', label: '1/16 triplets' },
];

export const DEBOUNCE_MS = 500;

export type NoteStyle = Pick<NoteParams, 'mode' | 'quantize' | 'quantize_strength'>;

// Bass line or raw notes, and the grid they snap to: shared by the upload form and the
// re-transcribe panel.
export function NoteStyleFields({ value, specs, onChange, disabled = false }: { value: NoteStyle; specs: ParamSpecs; onChange: (v: Partial<NoteStyle>) => void; disabled?: boolean }) {
  return (
    <div className="grid gap-4 sm:grid-cols-2">
      <fieldset>
        <legend className="text-sm text-ink-200">Notes</legend>
        <div className="mt-2 grid grid-cols-2 rounded-lg border border-ink-600 p-1">
          {MODES.map((m) => (
            <label key={m.value} className={disabled ? 'cursor-not-allowed opacity-50' : 'cursor-pointer'}>
              <input
                type="radio"
                name="mode"
                value={m.value}
                checked={value.mode === m.value}
                onChange={() => onChange({ mode: m.value })}
                disabled={disabled}
                className="peer sr-only"
              />
              <span className="block rounded-md px-3 py-1 text-center text-sm font-semibold text-ink-400 transition peer-checked:bg-acid peer-checked:text-ink-950 peer-focus-visible:ring-2 peer-focus-visible:ring-acid hover:text-ink-200 peer-checked:hover:text-ink-950">
                {m.label}
              </span>
            </label>
          ))}
        </div>
        <span className="mt-1 block text-xs text-ink-400">{MODES.find((m) => m.value === value.mode)?.help}</span>
      </fieldset>
      <div className="grid grid-cols-2 gap-4">
        <label className="block">
          <span className="block text-sm text-ink-200">Quantise</span>
          <select
            name="quantize"
            value={value.quantize}
            onChange={(e) => onChange({ quantize: e.target.value as Quantize })}
            disabled={disabled}
            className="mt-2 block w-full rounded-lg border border-ink-600 bg-ink-950 px-2 py-2 text-sm text-ink-200 focus:border-acid focus:outline-none"
            aria-describedby="quantize-help"
          >
            {QUANTIZE_OPTIONS.map((q) => (
              <option key={q.value} value={q.value}>
                {q.label}
              </option>
            ))}
          </select>
          <span id="quantize-help" className="mt-1 block text-xs text-ink-400">
            Snap notes to the beats
          </span>
        </label>
        {value.quantize !== 'off' && (
          <label className="block">
            <span className="flex justify-between text-sm">
              <span className="text-ink-200">Strength</span>
              <span className="font-mono text-acid">{value.quantize_strength} %</span>
            </span>
            <input
              type="range"
              name="quantize_strength"
              min={specs.quantize_strength.min}
              max={specs.quantize_strength.max}
              step={5}
              value={value.quantize_strength}
              onChange={(e) => onChange({ quantize_strength: Number(e.target.value) })}
              disabled={disabled}
              className="mt-3 w-full accent-acid"
              aria-describedby="quantize_strength-help"
            />
            <span id="quantize_strength-help" className="block text-xs text-ink-400">
              0 %: as played, 100 %: on the grid
            </span>
          </label>
        )}
      </div>
    </div>
  );
}

const same = (a: NoteParams, b: NoteParams) => (Object.keys(a) as (keyof NoteParams)[]).every((k) => a[k] === b[k]);

export default function TranscribeControls({ initial, specs, first, busy, onApply }: Props) {
  const [values, setValues] = useState<NoteParams>(initial);
  const timer = useRef<ReturnType<typeof setTimeout>>();
  const applyRef = useRef(onApply);
  applyRef.current = onApply;

  useEffect(() => () => clearTimeout(timer.current), []);

  const change = (next: NoteParams) => {
    setValues(next);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => applyRef.current(next), DEBOUNCE_MS);
  };

  return (
    <div className="space-y-5">
      <NoteStyleFields value={values} specs={specs} onChange={(v) => change({ ...values, ...v })} />
      <div className="grid gap-4 sm:grid-cols-3">
        {SLIDERS.map((s) => (
          <label key={s.key} className="block">
            <span className="flex justify-between text-sm">
              <span className="text-ink-200">{s.label}</span>
              <span className="font-mono text-acid">
                {s.unit ? values[s.key].toFixed(s.key === 'min_note_ms' && values[s.key] % 1 ? 1 : 0) : values[s.key].toFixed(2)}
                {s.unit}
              </span>
            </span>
            <input
              type="range"
              name={s.key}
              min={specs[s.key].min}
              max={specs[s.key].max}
              step={s.step}
              value={values[s.key]}
              onChange={(e) => change({ ...values, [s.key]: Number(e.target.value) })}
              className="mt-2 w-full accent-acid"
              aria-describedby={`${s.key}-help`}
            />
            <span id={`${s.key}-help`} className="text-xs text-ink-400">
              {s.help}
            </span>
          </label>
        ))}
      </div>
      <div className="flex flex-wrap items-center gap-x-5 gap-y-2 text-sm">
        {first && (
          <button
            type="button"
            className="min-h-6 text-ink-400 underline decoration-ink-600 hover:text-acid disabled:cursor-default disabled:no-underline disabled:opacity-60"
            onClick={() => change({ ...first })}
            disabled={same(values, first)}
          >
            {same(values, first) ? 'This is the first result' : 'Back to the first result'}
          </button>
        )}
        <button
          type="button"
          className="min-h-6 text-ink-400 underline decoration-ink-600 hover:text-acid"
          onClick={() => change(defaultNoteParams(specs))}
        >
          Reset to defaults
        </button>
        <span aria-live="polite" className="text-acid" data-testid="retranscribe-status">
          {busy ? 'Re-transcribing the bass stem…' : ''}
        </span>
      </div>
    </div>
  );
}
