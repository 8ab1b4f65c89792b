// The extracted notes as a piano roll: time across, pitch up, the detected beats behind them,
// opacity from each note's confidence (or its velocity), and a playhead; clicking seeks.
import type { Note } from '../api';
import { useCanvas } from './useCanvas';

const NAMES = ['C', 'C♯', 'D', 'D♯', 'E', 'F', 'F♯', 'G', 'G♯', 'A', 'A♯', 'B'];
const BLACK = [1, 3, 6, 8, 10];
const GUTTER = 34; // px for the key labels

export function noteName(pitch: number): string {
  return `${NAMES[pitch % 12]}${Math.floor(pitch / 12) - 1}`;
}

// Pitch range shown: the notes plus a margin, at least two octaves (E1..E3 when empty).
export function pitchRange(notes: Note[]): [number, number] {
  if (notes.length === 0) return [28, 52];
  let lo = 127;
  let hi = 0;
  for (const n of notes) {
    lo = Math.min(lo, n.pitch);
    hi = Math.max(hi, n.pitch);
  }
  lo -= 2;
  hi += 2;
  if (hi - lo < 24) {
    const mid = Math.round((lo + hi) / 2);
    lo = mid - 12;
    hi = mid + 12;
  }
  return [Math.max(0, lo), Math.min(127, hi)];
}

// The stretch of time on screen: all of it, or `span` seconds that follow the playhead (it sits
// a quarter of the way in) so the notes of a long song stay readable.
export function viewWindow(duration: number, span: number | null, time: number): [number, number] {
  if (span === null || span >= duration) return [0, Math.max(duration, 1e-3)];
  const start = Math.max(0, Math.min(duration - span, time - span / 4));
  return [start, span];
}

interface Props {
  notes: Note[];
  duration: number; // seconds
  beats: number[]; // seconds
  time: number; // playhead, seconds
  span: number | null; // seconds on screen, null = the whole song
  onSeek: (seconds: number) => void;
}

export default function PianoRoll({ notes, duration, beats, time, span, onSeek }: Props) {
  const height = 240;
  const [viewStart, viewLen] = viewWindow(duration, span, time);
  const ref = useCanvas(
    height,
    (ctx, w, h) => {
      const [lo, hi] = pitchRange(notes);
      const rows = hi - lo + 1;
      const rowH = h / rows;
      const plotW = w - GUTTER;
      const x = (t: number) => GUTTER + ((t - viewStart) / viewLen) * plotW;
      ctx.font = '9px ui-monospace, Menlo, monospace';
      ctx.textBaseline = 'middle';
      for (let p = lo; p <= hi; p++) {
        const y = h - (p - lo + 1) * rowH;
        const black = BLACK.includes(p % 12);
        ctx.fillStyle = black ? '#0b0e0f' : '#111617';
        ctx.fillRect(GUTTER, y, plotW, rowH);
        ctx.fillStyle = black ? '#1f2629' : '#c9d2d5';
        ctx.fillRect(0, y, GUTTER - 4, rowH - 0.5);
        if (p % 12 === 0 && rowH >= 6) {
          ctx.fillStyle = '#07090a';
          ctx.fillText(noteName(p), 2, y + rowH / 2);
        }
      }
      // The beat grid the MIDI tempo map and quantisation follow.
      ctx.fillStyle = 'rgba(125,138,143,0.25)';
      for (const t of beats) if (t >= viewStart && t <= viewStart + viewLen) ctx.fillRect(x(t), 0, 1, h);
      ctx.save();
      ctx.beginPath();
      ctx.rect(GUTTER, 0, plotW, h);
      ctx.clip();
      for (const n of notes) {
        if (n.end < viewStart || n.start > viewStart + viewLen) continue;
        const on = time >= n.start && time < n.end;
        // Confidence (bass mode) as opacity, so doubtful notes stand back; else loudness.
        const a = 0.25 + 0.75 * (n.confidence ?? n.velocity / 127);
        ctx.fillStyle = on ? '#ffffff' : `rgba(180,255,57,${a.toFixed(3)})`;
        const nx = x(n.start);
        const nw = Math.max(2, x(n.end) - nx);
        ctx.fillRect(nx, h - (n.pitch - lo + 1) * rowH + 1, nw, Math.max(2, rowH - 2));
      }
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(x(time), 0, 1.5, h);
      ctx.restore();
    },
    [notes, beats, time, viewStart, viewLen],
  );
  return (
    <canvas
      ref={ref}
      role="img"
      aria-label={`Piano roll of ${notes.length} notes`}
      data-testid="piano-roll"
      className="block h-[240px] w-full cursor-pointer rounded-lg"
      onClick={(e) => {
        const rect = e.currentTarget.getBoundingClientRect();
        const f = (e.clientX - rect.left - GUTTER) / (rect.width - GUTTER);
        onSeek(viewStart + Math.max(0, Math.min(1, f)) * viewLen);
      }}
    />
  );
}
