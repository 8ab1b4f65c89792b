// Audio analysis for the pictures on the page: decode (Web Audio), waveform peaks, and a
// log-frequency spectrogram computed in small slices so the page stays responsive.

// Decoding rate: the pictures only need up to ~4 kHz, so 22.05 kHz halves the work of 44.1.
export const ANALYSIS_RATE = 22050;

export async function decodeAudio(data: ArrayBuffer): Promise<AudioBuffer> {
  const ctx = new OfflineAudioContext(1, 1, ANALYSIS_RATE);
  return ctx.decodeAudioData(data);
}

export function mixdown(buffer: AudioBuffer): Float32Array {
  const n = buffer.length;
  const out = new Float32Array(n);
  for (let c = 0; c < buffer.numberOfChannels; c++) {
    const ch = buffer.getChannelData(c);
    for (let i = 0; i < n; i++) out[i] += ch[i];
  }
  const scale = 1 / Math.max(1, buffer.numberOfChannels);
  for (let i = 0; i < n; i++) out[i] *= scale;
  return out;
}

// Min and max of each of `columns` equal slices: [min0, max0, min1, max1, ...].
export function peaks(samples: Float32Array, columns: number): Float32Array {
  const out = new Float32Array(columns * 2);
  const per = samples.length / columns;
  for (let c = 0; c < columns; c++) {
    const a = Math.floor(c * per);
    const b = Math.max(a + 1, Math.floor((c + 1) * per));
    let lo = 0;
    let hi = 0;
    for (let i = a; i < b && i < samples.length; i++) {
      const v = samples[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    out[2 * c] = lo;
    out[2 * c + 1] = hi;
  }
  return out;
}

// In-place iterative radix-2 complex FFT; re/im have length n, a power of two.
export function fft(re: Float32Array, im: Float32Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k;
        const b = a + len / 2;
        const xr = re[b] * cr - im[b] * ci;
        const xi = re[b] * ci + im[b] * cr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
        const t = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = t;
      }
    }
  }
}

export interface SpectrogramOptions {
  rate: number; // sample rate of the input, Hz
  columns: number; // time columns
  rows: number; // log-spaced frequency rows, low to high
  fMin: number; // Hz, bottom row
  fMax: number; // Hz, top row
  fftSize: number; // power of two
}

export interface Spectrogram {
  columns: number;
  rows: number;
  db: Float32Array; // columns*rows, column-major (column c at c*rows), dB re full scale
}

// Row r covers frequencies around fMin * (fMax/fMin)^(r/(rows-1)).
export function rowFrequency(r: number, o: Pick<SpectrogramOptions, 'rows' | 'fMin' | 'fMax'>): number {
  return o.fMin * Math.pow(o.fMax / o.fMin, r / (o.rows - 1));
}

// Computes the spectrogram a slice of columns at a time, yielding to the event loop between
// slices (and stopping when signal aborts); onSlice sees the partial picture.
export async function spectrogram(
  samples: Float32Array,
  o: SpectrogramOptions,
  signal?: AbortSignal,
  onSlice?: (s: Spectrogram, done: number) => void,
): Promise<Spectrogram> {
  const n = o.fftSize;
  const window = new Float32Array(n);
  for (let i = 0; i < n; i++) window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  const windowSum = n / 2;
  // Each row reads the bins between its neighbours' centre frequencies (at least one bin).
  const lo = new Int32Array(o.rows);
  const hi = new Int32Array(o.rows);
  for (let r = 0; r < o.rows; r++) {
    const f0 = Math.sqrt(rowFrequency(r - 1, o) * rowFrequency(r, o));
    const f1 = Math.sqrt(rowFrequency(r, o) * rowFrequency(r + 1, o));
    lo[r] = Math.max(1, Math.round((f0 * n) / o.rate));
    hi[r] = Math.min(n / 2, Math.max(lo[r] + 1, Math.round((f1 * n) / o.rate)));
  }
  const out: Spectrogram = { columns: o.columns, rows: o.rows, db: new Float32Array(o.columns * o.rows).fill(-120) };
  const re = new Float32Array(n);
  const im = new Float32Array(n);
  const hop = samples.length / o.columns;
  const slice = 24;
  for (let c0 = 0; c0 < o.columns; c0 += slice) {
    if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
    for (let c = c0; c < Math.min(o.columns, c0 + slice); c++) {
      const start = Math.round(c * hop + hop / 2 - n / 2);
      for (let i = 0; i < n; i++) {
        const j = start + i;
        re[i] = j >= 0 && j < samples.length ? samples[j] * window[i] : 0;
        im[i] = 0;
      }
      fft(re, im);
      for (let r = 0; r < o.rows; r++) {
        let peak = 0;
        for (let k = lo[r]; k < hi[r]; k++) peak = Math.max(peak, re[k] * re[k] + im[k] * im[k]);
        const mag = (2 * Math.sqrt(peak)) / windowSum; // a full-scale sine reads 0 dB
        out.db[c * o.rows + r] = 20 * Math.log10(mag + 1e-9);
      }
    }
    onSlice?.(out, Math.min(o.columns, c0 + slice));
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return out;
}
