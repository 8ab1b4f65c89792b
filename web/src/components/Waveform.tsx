// Waveform of the input as decoded in the browser; a playhead when a time is given.
import { peaks } from '../audio/analysis';
import { useCanvas } from './useCanvas';

interface Props {
  samples: Float32Array;
  duration: number; // seconds
  time?: number; // playhead, seconds
  label: string;
}

export default function Waveform({ samples, duration, time, label }: Props) {
  const ref = useCanvas(
    96,
    (ctx, w, h) => {
      const cols = Math.max(1, Math.floor(w));
      const p = peaks(samples, cols);
      let top = 1e-6;
      for (const v of p) top = Math.max(top, Math.abs(v));
      const mid = h / 2;
      const grad = ctx.createLinearGradient(0, 0, 0, h);
      grad.addColorStop(0, '#d4ff8a');
      grad.addColorStop(0.5, '#b4ff39');
      grad.addColorStop(1, '#5d8a1a');
      ctx.fillStyle = grad;
      for (let c = 0; c < cols; c++) {
        const lo = (p[2 * c] / top) * (mid - 2);
        const hi = (p[2 * c + 1] / top) * (mid - 2);
        ctx.fillRect(c, mid - hi, 1, Math.max(1, hi - lo));
      }
      if (time !== undefined && duration > 0) {
        ctx.fillStyle = '#ffffff';
        ctx.fillRect((time / duration) * w, 0, 1.5, h);
      }
    },
    [samples, duration, time],
  );
  return <canvas ref={ref} role="img" aria-label={label} className="block h-24 w-full rounded-lg bg-ink-950" />;
}
