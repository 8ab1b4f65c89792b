// The result: tempo, meter, key, note count; one-click MIDI download (the exact file behind the
// notes on screen, from midi_b64), MusicXML and bass tab from the server (which re-writes them
// from the newest transcription), a download for every stem the job kept, and the tab itself.
import { useEffect, useMemo, useRef, useState } from 'react';
import { api, ApiError, base64ToBytes, urls, type Key, type MidiTempo, type NoteSource, type Result, type StemName, type TabStrings, type TempoStatus } from '../api';
import { Card, formatClock, primaryButton, secondaryButton } from './ui';

// The server spells keys in ASCII ("F# minor", "Bb major"); show real accidentals.
export function keyLabel(name: string): string {
  return name.replace(/^([A-G])#/, '$1♯').replace(/^([A-G])b/, '$1♭');
}

// 1 -> "1 sharp", -3 -> "3 flats", 0 -> "no sharps or flats"
export function signatureLabel(key: Key): string {
  const n = Math.abs(key.fifths);
  if (n === 0) return 'no sharps or flats';
  return `${n} ${key.fifths > 0 ? 'sharp' : 'flat'}${n === 1 ? '' : 's'}`;
}

// The line under the tiles that says where the notes come from.
export function sourceLabel(source: NoteSource): string {
  switch (source) {
    case 'bass_stem':
      return 'Notes from the separated bass.';
    case 'other_stem':
      return 'Notes from the low end of the other instruments: the separated bass was nearly silent.';
    case 'mix':
      return 'Notes from the low end of the whole mix: the separated bass was nearly silent.';
    case 'none':
      return 'The low end holds silence or drums alone.';
  }
}

// The tempo tile's value and the line under it: no number unless a tempo was found.
export function tempoTile(bpm: number, status: TempoStatus | undefined): { value: string; unit: string } {
  if (status === 'too_short') return { value: '—', unit: 'too short for a tempo' };
  if (status === 'no_pulse') return { value: '—', unit: 'no steady beat' };
  return { value: bpm.toFixed(1), unit: 'BPM' };
}

function Tile({ label, value, unit, testId, className = '' }: { label: string; value: string; unit: string; testId?: string; className?: string }) {
  return (
    <div className={`min-w-0 rounded-lg bg-ink-950 p-3 ${className}`}>
      <dt className="text-xs uppercase tracking-widest text-ink-400">{label}</dt>
      <dd className="mt-1 truncate font-mono text-2xl text-acid" data-testid={testId}>
        {value}
      </dd>
      <dd className="truncate text-xs text-ink-400">{unit}</dd>
    </div>
  );
}

// The tab text for the newest result in lines of at most `width` characters, fetched again
// when the notes, the string count or the width change.
function useTab(result: Result, strings: TabStrings, width: number | null): { text: string | null; error: string | null } {
  const [tab, setTab] = useState<{ text: string | null; error: string | null }>({ text: null, error: null });
  useEffect(() => {
    if (width === null) return;
    let stale = false;
    setTab({ text: null, error: null });
    api.tab(result.job_id, strings, width || undefined).then(
      (text) => !stale && setTab({ text, error: null }),
      (e: ApiError) => !stale && setTab({ text: null, error: e.message }),
    );
    return () => {
      stale = true;
    };
  }, [result, strings, width]);
  return tab;
}

// Characters of the element's monospaced font at TAB_FONT_PX that fit its content box
// (20..1000), followed as it resizes; null until measured, 0 where the browser cannot measure
// (the file's layout).
const TAB_FONT_PX = 12;

function useCharWidth(ref: React.RefObject<HTMLElement>): number | null {
  const [chars, setChars] = useState<number | null>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (typeof ResizeObserver === 'undefined') {
      setChars(0);
      return;
    }
    const measure = () => {
      const probe = document.createElement('span');
      probe.textContent = '0'.repeat(100);
      probe.style.fontSize = `${TAB_FONT_PX}px`;
      el.appendChild(probe);
      const char = probe.getBoundingClientRect().width / 100;
      probe.remove();
      const style = getComputedStyle(el);
      const box = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      if (char > 0 && box > 0) setChars(Math.max(20, Math.min(1000, Math.floor(box / char))));
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref]);
  return chars;
}

export default function ResultCard({ result, stems }: { result: Result; stems: StemName[] }) {
  const href = useMemo(() => URL.createObjectURL(new Blob([base64ToBytes(result.midi_b64)], { type: 'audio/midi' })), [result.midi_b64]);
  useEffect(() => () => URL.revokeObjectURL(href), [href]);
  const [strings, setStrings] = useState<TabStrings>(4);
  // map: the tempo follows the song's beats (notes on the DAW's grid); constant: one tempo,
  // the notes at their times (in sync with the song in a project at that tempo)
  const [tempoMode, setTempoMode] = useState<MidiTempo>('map');
  const tabRef = useRef<HTMLPreElement>(null);
  const chars = useCharWidth(tabRef);
  const tab = useTab(result, strings, chars);
  // A line is at least one bar: where even that is wider than the panel (a 4/4 bar of 16ths is
  // 51 characters, a phone holds about 40), the font shrinks to fit it, down to 8 px.
  const longest = Math.max(0, ...(tab.text ?? '').split('\n').slice(2).map((l) => l.length));
  const fontPx = chars && longest > chars ? Math.max(8, (TAB_FONT_PX * chars) / longest) : TAB_FONT_PX;
  const base = result.filename.replace(/-bass\.mid$/, '').replace(/\.mid$/, '');
  const tempo = tempoTile(result.bpm, result.tempo_status);
  const tempoFound = (result.tempo_status ?? 'found') === 'found'; // a meter needs a beat
  const keyFound = result.key_found !== false;
  return (
    <Card title="Your bass line">
      {result.n_notes === 0 && (
        <div role="status" className="mb-4 rounded-lg border border-amber-400/40 bg-amber-400/10 p-3" data-testid="no-bass">
          <p className="font-semibold text-white">No bass line found</p>
          <p className="mt-1 text-sm text-ink-200">
            {sourceLabel(result.source ?? 'bass_stem')} The MIDI file is empty; a song with a bass part, or lower detection thresholds below, may give notes.
          </p>
        </div>
      )}
      {/* Phones: tempo, meter and notes in a row of thirds, then key and length in halves. */}
      <dl className="grid grid-cols-6 gap-3 text-center sm:grid-cols-5">
        <Tile label="Tempo" value={tempo.value} unit={tempo.unit} testId="bpm" className="col-span-2 sm:col-span-1" />
        <Tile
          label="Meter"
          value={tempoFound ? result.time_signature : '—'}
          unit={tempoFound ? 'time' : 'no beat to count'}
          testId="time-signature"
          className="col-span-2 sm:col-span-1"
        />
        <Tile
          label="Key"
          value={keyFound ? keyLabel(result.key.name) : '—'}
          unit={keyFound ? signatureLabel(result.key) : 'too few notes for a key'}
          testId="key"
          className="order-4 col-span-3 sm:order-none sm:col-span-1"
        />
        <Tile label="Notes" value={String(result.n_notes)} unit={result.n_notes === 1 ? 'note' : 'notes'} testId="note-count" className="col-span-2 sm:col-span-1" />
        <Tile label="Length" value={formatClock(result.duration)} unit="min:s" className="order-5 col-span-3 sm:order-none sm:col-span-1" />
      </dl>
      {result.n_notes > 0 && (
        <p className="mt-2 text-xs text-ink-400" data-testid="note-source">
          {sourceLabel(result.source ?? 'bass_stem')}
        </p>
      )}
      <div className="mt-4 flex flex-wrap gap-2">
        <span className="inline-flex rounded-lg">
          <a
            className={`${primaryButton} rounded-r-none`}
            href={tempoMode === 'map' ? href : urls.midi(result.job_id, 'constant')}
            download={tempoMode === 'map' ? result.filename : `${base}-bass-constant-tempo.mid`}
            data-testid="download-midi"
          >
            ⬇ Download MIDI
          </a>
          <select
            aria-label="Tempo of the MIDI file"
            value={tempoMode}
            onChange={(e) => setTempoMode(e.target.value as MidiTempo)}
            className="rounded-r-lg border border-l-0 border-acid bg-ink-950 px-2 text-sm text-ink-200 focus:outline-none focus-visible:ring-2 focus-visible:ring-acid"
            data-testid="midi-tempo"
          >
            <option value="map">Tempo follows the song</option>
            <option value="constant" disabled={!tempoFound}>
              Constant {tempo.value} BPM
            </option>
          </select>
        </span>
        <a className={secondaryButton} href={urls.musicxml(result.job_id)} download={`${base}-bass.musicxml`} data-testid="download-musicxml">
          ⬇ MusicXML
        </a>
        <span className="inline-flex rounded-lg border border-ink-600">
          <a className={`${secondaryButton} border-0`} href={urls.tab(result.job_id, strings)} download={`${base}-bass-tab${strings === 5 ? '-5' : ''}.txt`} data-testid="download-tab">
            ⬇ Bass tab
          </a>
          <select
            aria-label="Strings on the tab"
            value={strings}
            onChange={(e) => setStrings(Number(e.target.value) as TabStrings)}
            className="rounded-r-lg border-l border-ink-600 bg-ink-950 px-2 text-sm text-ink-200 focus:outline-none focus-visible:ring-2 focus-visible:ring-acid"
          >
            <option value={4}>4 strings</option>
            <option value={5}>5 strings</option>
          </select>
        </span>
        {stems.map((s) => (
          <span key={s} className="inline-flex items-stretch" role="group" aria-label={`${s} stem downloads`}>
            <a className={`${secondaryButton} rounded-r-none`} href={urls.stem(result.job_id, s, 'flac')} download={`${base}-${s}.flac`}>
              ⬇ {s} stem
            </a>
            <a className={`${secondaryButton} rounded-l-none border-l-0`} href={urls.stem(result.job_id, s, 'wav')} download={`${base}-${s}.wav`} aria-label={`${s} stem as WAV`}>
              WAV
            </a>
          </span>
        ))}
      </div>
      <details className="mt-4 rounded-lg border border-ink-700">
        <summary className="cursor-pointer select-none px-3 py-2 text-sm text-ink-200 hover:text-acid">
          Show the bass tab ({strings} strings)
        </summary>
        {tab.error && <p className="px-3 pb-3 text-sm text-red-300">The tab could not be loaded: {tab.error}</p>}
        <pre
          ref={tabRef}
          tabIndex={0}
          aria-label="Bass tab"
          className="overflow-x-auto border-t border-ink-700 p-3 font-mono leading-snug text-ink-200 focus:outline-none focus-visible:ring-2 focus-visible:ring-acid"
          style={{ fontSize: `${fontPx}px` }}
          data-testid="tab-text"
        >
          {tab.error ? '' : (tab.text ?? 'Writing the tab…')}
        </pre>
      </details>
    </Card>
  );
}
