import { describe, expect, it } from 'vitest';
import { fft, peaks, rowFrequency, spectrogram } from './analysis';

function sine(freq: number, rate: number, n: number, amp = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate);
  return out;
}

describe('fft', () => {
  it('matches a direct DFT', () => {
    const n = 64;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) + 0.5 * Math.cos(i * 1.9) + (i % 5) / 10);
    const re = Float32Array.from(x);
    const im = new Float32Array(n);
    fft(re, im);
    for (const k of [0, 1, 7, 31, 32, 50]) {
      let dr = 0;
      let di = 0;
      for (let t = 0; t < n; t++) {
        dr += x[t] * Math.cos((-2 * Math.PI * k * t) / n);
        di += x[t] * Math.sin((-2 * Math.PI * k * t) / n);
      }
      expect(re[k]).toBeCloseTo(dr, 3);
      expect(im[k]).toBeCloseTo(di, 3);
    }
  });
});

describe('peaks', () => {
  it('gives the min and max of each column', () => {
    const p = peaks(Float32Array.from([0.1, -0.5, 0.3, 0.9, -0.2, 0]), 2);
    expect([...p].map((v) => +v.toFixed(2))).toEqual([-0.5, 0.3, -0.2, 0.9]);
  });
});

describe('spectrogram', () => {
  it('puts a 110 Hz sine in the row nearest 110 Hz at about 0 dB', async () => {
    const rate = 22050;
    const o = { rate, columns: 20, rows: 64, fMin: 30, fMax: 4000, fftSize: 2048 };
    const s = await spectrogram(sine(110, rate, rate), o);
    const c = 10; // a column away from the edges
    let best = 0;
    for (let r = 1; r < o.rows; r++) if (s.db[c * o.rows + r] > s.db[c * o.rows + best]) best = r;
    const bestF = rowFrequency(best, o);
    expect(Math.abs(Math.log2(bestF / 110))).toBeLessThan(0.06); // within a semitone
    expect(s.db[c * o.rows + best]).toBeGreaterThan(-3);
    expect(s.db[c * o.rows + best]).toBeLessThan(1);
    // Far from the tone there is little energy.
    const r2k = Math.round((Math.log(2000 / 30) / Math.log(4000 / 30)) * (o.rows - 1));
    expect(s.db[c * o.rows + r2k]).toBeLessThan(-40);
  });

  it('stops when aborted', async () => {
    const abort = new AbortController();
    abort.abort();
    await expect(spectrogram(new Float32Array(4096), { rate: 22050, columns: 50, rows: 16, fMin: 30, fMax: 4000, fftSize: 512 }, abort.signal)).rejects.toThrow();
  });
});
