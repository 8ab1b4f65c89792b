// A log-frequency spectrogram (30 Hz – 4 kHz) computed in the page, in slices, so it fills in
// from left to right without freezing anything.
import { useEffect, useRef, useState } from 'react';
import { spectrogram, type Spectrogram } from '../audio/analysis';
import { useCanvas } from './useCanvas';

const OPTS = { rows: 128, fMin: 30, fMax: 4000, fftSize: 2048 };
const RANGE_DB = 60; // shown below the loudest cell, so a quiet stem is as readable as a loud mix

// Level relative to the loudest cell (dB, <= 0) -> colour: black, deep green, acid green, near white.
function colour(rel: number): [number, number, number] {
  const t = Math.max(0, Math.min(1, (rel + RANGE_DB) / RANGE_DB));
  if (t < 0.5) {
    const u = t / 0.5;
    return [10 + 30 * u, 14 + 90 * u, 12 + 20 * u];
  }
  const u = (t - 0.5) / 0.5;
  return [40 + 200 * u, 104 + 151 * u, 32 + 150 * u * u];
}

// Loudest cell of the columns computed so far, dB re full scale.
function peakDb({ s, done }: { s: Spectrogram; done: number }): number {
  let top = -120;
  for (let i = 0; i < done * s.rows; i++) top = Math.max(top, s.db[i]);
  return top;
}

interface Props {
  samples: Float32Array;
  rate: number; // Hz
  label: string;
}

export default function SpectrogramView({ samples, rate, label }: Props) {
  const [spec, setSpec] = useState<{ s: Spectrogram; done: number } | null>(null);
  const image = useRef<HTMLCanvasElement | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    const columns = Math.min(800, Math.max(100, Math.round((samples.length / rate) * 20)));
    spectrogram(samples, { ...OPTS, rate, columns }, abort.signal, (s, done) => setSpec({ s, done })).catch(() => {
      // Aborted because the input changed or the view went away.
    });
    return () => abort.abort();
  }, [samples, rate]);

  const ref = useCanvas(
    140,
    (ctx, w, h) => {
      ctx.fillStyle = '#07090a';
      ctx.fillRect(0, 0, w, h);
      if (!spec) return;
      const { s, done } = spec;
      if (!image.current) image.current = document.createElement('canvas');
      const img = image.current;
      img.width = s.columns;
      img.height = s.rows;
      const ictx = img.getContext('2d')!;
      const data = ictx.createImageData(s.columns, s.rows);
      const top = peakDb(spec);
      for (let c = 0; c < done; c++) {
        for (let r = 0; r < s.rows; r++) {
          const [R, G, B] = colour(s.db[c * s.rows + r] - top);
          const o = ((s.rows - 1 - r) * s.columns + c) * 4;
          data.data[o] = R;
          data.data[o + 1] = G;
          data.data[o + 2] = B;
          data.data[o + 3] = 255;
        }
      }
      ictx.putImageData(data, 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(img, 0, 0, w, h);
      // Frequency guides.
      ctx.font = '10px ui-monospace, Menlo, monospace';
      ctx.fillStyle = 'rgba(201,210,213,0.7)';
      for (const f of [50, 100, 200, 500, 1000, 2000]) {
        const r = (Math.log(f / OPTS.fMin) / Math.log(OPTS.fMax / OPTS.fMin)) * (OPTS.rows - 1);
        const y = h - (r / (OPTS.rows - 1)) * h;
        ctx.fillRect(0, y, 6, 1);
        ctx.fillText(f >= 1000 ? `${f / 1000}k` : String(f), 8, y + 3);
      }
    },
    [spec],
  );
  return (
    <figure>
      <canvas ref={ref} role="img" aria-label={`Spectrogram of the ${label}`} className="block h-[140px] w-full rounded-lg" />
      <figcaption className="mt-1 text-xs text-ink-400">
        {label}
        {spec && spec.done < spec.s.columns && ` · computing ${Math.round((100 * spec.done) / spec.s.columns)} %`}
        {spec && spec.done === spec.s.columns && ` · loudest ${peakDb(spec).toFixed(0)} dBFS, shown over ${RANGE_DB} dB`}
      </figcaption>
    </figure>
  );
}
