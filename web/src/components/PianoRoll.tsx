// The extracted notes as a piano roll: time across, pitch up, the MIDI file's bar lines (with
// their numbers as a DAW shows them) and beats behind them, opacity from each note's confidence
// (or its velocity), and a playhead; clicking seeks. The view zooms and scrolls: buttons, the
// keyboard on the focused roll (arrows, + and -, Home), the wheel (ctrl + wheel zooms) and a
// drag; while the song plays, the view follows the playhead.
import { useRef } from 'react';
import type { Note } from '../api';
import { useCanvas } from './useCanvas';

const NAMES = ['C', 'C♯', 'D', 'D♯', 'E', 'F', 'F♯', 'G', 'G♯', 'A', 'A♯', 'B'];
const BLACK = [1, 3, 6, 8, 10];
const GUTTER = 34; // px for the key labels
const RULER = 14; // px for the bar numbers
const LABEL_PX = 28; // px a bar number needs
export const MIN_SPAN = 2; // s: the closest zoom
const OPEN_BARS = 8; // bars on screen when the roll opens

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

export interface View {
  start: number; // s
  span: number; // s on screen
}

// A view kept inside the song: span in [MIN_SPAN, duration], start in [0, duration - span].
export function clampView(v: View, duration: number): View {
  const d = Math.max(duration, 1e-3);
  const span = Math.min(d, Math.max(Math.min(MIN_SPAN, d), v.span));
  return { start: Math.max(0, Math.min(d - span, v.start)), span };
}

// The view the roll opens on: OPEN_BARS bars (20 s without bar lines) from the bar line at or
// before the first note, so a song whose bass comes in late opens where it plays.
export function initialView(notes: Note[], bars: number[], duration: number): View {
  const first = notes.length ? Math.min(...notes.map((n) => n.start)) : 0;
  let i = 0;
  while (i + 1 < bars.length && bars[i + 1] <= first) i++;
  if (bars.length < 2) return clampView({ start: Math.max(0, first - 1), span: 20 }, duration);
  const barLen = (bars[bars.length - 1] - bars[0]) / (bars.length - 1);
  const span = OPEN_BARS * barLen;
  return clampView({ start: bars[i], span }, duration);
}

// While playing: the view pages along so the playhead stays on screen (a quarter in).
export function followView(v: View, time: number, duration: number): View {
  if (time >= v.start && time <= v.start + v.span) return v;
  return clampView({ start: time - v.span / 4, span: v.span }, duration);
}

// Zoom by `factor` (< 1 in, > 1 out) about the time `at`, which stays where it is on screen.
export function zoomView(v: View, factor: number, at: number, duration: number): View {
  const span = v.span * factor;
  const f = v.span > 0 ? (at - v.start) / v.span : 0;
  return clampView({ start: at - f * span, span }, duration);
}

// Every k-th bar gets its number, so numbers never crowd (k = 1, 2, 4, 8 ...).
export function barLabelStep(pxPerBar: number): number {
  let k = 1;
  while (k * pxPerBar < LABEL_PX && k < 1 << 20) k *= 2;
  return k;
}

interface Props {
  notes: Note[];
  duration: number; // seconds
  beats: number[]; // seconds
  bars: number[]; // seconds: the MIDI file's bar lines, bar i numbered i + 1
  time: number; // playhead, seconds
  view: View;
  onView: (v: View) => void;
  onSeek: (seconds: number) => void;
}

export default function PianoRoll({ notes, duration, beats, bars, time, view, onView, onSeek }: Props) {
  const height = 240;
  const { start, span } = view;
  const drag = useRef<{ x: number; start: number; moved: boolean } | null>(null);
  const ref = useCanvas(
    height,
    (ctx, w, h) => {
      const [lo, hi] = pitchRange(notes);
      const rows = hi - lo + 1;
      const rowH = (h - RULER) / rows;
      const plotW = w - GUTTER;
      const x = (t: number) => GUTTER + ((t - start) / span) * plotW;
      const visible = (t: number) => t >= start && t <= start + span;
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
      // The beats, then the bar lines and their numbers: the grid of the MIDI file.
      ctx.fillStyle = 'rgba(125,138,143,0.18)';
      for (const t of beats) if (visible(t)) ctx.fillRect(x(t), RULER, 1, h - RULER);
      const step = bars.length > 1 ? barLabelStep(((bars[bars.length - 1] - bars[0]) / (bars.length - 1) / span) * plotW) : 1;
      ctx.textBaseline = 'top';
      bars.forEach((t, i) => {
        if (!visible(t)) return;
        ctx.fillStyle = 'rgba(201,210,213,0.45)';
        ctx.fillRect(x(t), RULER, 1, h - RULER);
        if (i % step === 0) {
          ctx.fillStyle = '#c9d2d5';
          ctx.fillText(String(i + 1), x(t) + 2, 2);
        }
      });
      ctx.save();
      ctx.beginPath();
      ctx.rect(GUTTER, RULER, plotW, h - RULER);
      ctx.clip();
      for (const n of notes) {
        if (n.end < start || n.start > start + span) continue;
        const on = time >= n.start && time < n.end;
        // Confidence (bass mode) as opacity, so doubtful notes stand back; else loudness.
        const a = 0.25 + 0.75 * (n.confidence ?? n.velocity / 127);
        ctx.fillStyle = on ? '#ffffff' : `rgba(180,255,57,${a.toFixed(3)})`;
        const nx = x(n.start);
        const nw = Math.max(2, x(n.end) - nx);
        ctx.fillRect(nx, h - (n.pitch - lo + 1) * rowH + 1, nw, Math.max(2, rowH - 2));
      }
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(x(time), RULER, 1.5, h - RULER);
      ctx.restore();
    },
    [notes, beats, bars, time, start, span],
  );
  const timeAt = (clientX: number, rect: DOMRect) => start + Math.max(0, Math.min(1, (clientX - rect.left - GUTTER) / (rect.width - GUTTER))) * span;
  const first = bars.findIndex((t) => t >= start);
  const last = bars.length - 1 - [...bars].reverse().findIndex((t) => t <= start + span);
  return (
    <canvas
      ref={ref}
      role="img"
      tabIndex={0}
      aria-label={`Piano roll of ${notes.length} notes${first >= 0 && last >= first ? `, bars ${first + 1} to ${last + 1} in view` : ''}. Arrow keys scroll, plus and minus zoom.`}
      data-testid="piano-roll"
      className="block h-[240px] w-full cursor-pointer touch-pan-y rounded-lg focus:outline-none focus-visible:ring-2 focus-visible:ring-acid"
      onKeyDown={(e) => {
        const moves: Record<string, () => View> = {
          ArrowLeft: () => ({ start: start - span / 4, span }),
          ArrowRight: () => ({ start: start + span / 4, span }),
          Home: () => ({ start: 0, span }),
          End: () => ({ start: duration, span }),
          '+': () => zoomView(view, 0.5, start + span / 2, duration),
          '=': () => zoomView(view, 0.5, start + span / 2, duration),
          '-': () => zoomView(view, 2, start + span / 2, duration),
        };
        const move = moves[e.key];
        if (!move) return;
        e.preventDefault();
        onView(clampView(move(), duration));
      }}
      onWheel={(e) => {
        const rect = e.currentTarget.getBoundingClientRect();
        if (e.ctrlKey) onView(zoomView(view, e.deltaY > 0 ? 1.25 : 0.8, timeAt(e.clientX, rect), duration));
        else if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
          const d = e.shiftKey ? e.deltaY : e.deltaX;
          onView(clampView({ start: start + (d / rect.width) * span, span }, duration));
        }
      }}
      onPointerDown={(e) => {
        drag.current = { x: e.clientX, start, moved: false };
        e.currentTarget.setPointerCapture?.(e.pointerId);
      }}
      onPointerMove={(e) => {
        const d = drag.current;
        if (!d) return;
        const rect = e.currentTarget.getBoundingClientRect();
        if (Math.abs(e.clientX - d.x) > 4) d.moved = true;
        if (d.moved) onView(clampView({ start: d.start - ((e.clientX - d.x) / (rect.width - GUTTER)) * span, span }, duration));
      }}
      onPointerUp={(e) => {
        const d = drag.current;
        drag.current = null;
        if (d && !d.moved) onSeek(timeAt(e.clientX, e.currentTarget.getBoundingClientRect()));
      }}
      onPointerCancel={() => {
        drag.current = null;
      }}
    />
  );
}
