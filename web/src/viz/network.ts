// A drawing of the two networks Dumu runs, lit up in step with the job's progress.
//
// Top panel, htdemucs: a frequency-branch encoder (4 layers, over the spectrogram) and a
// time-branch encoder (4 layers, over the waveform), a cross-domain transformer (5 layers per
// branch, self- and cross-attention alternating), and decoders (4 per branch) that take skip
// connections back from the encoders. Bottom panel, Basic Pitch: CQT front end, harmonic
// stacking, conv layers, and the three heads (contour/pitch, note, onset), then the MIDI writer.
//
// Layout is in panel-relative units (0..1) and scaled to the canvas on each resize; particles
// run along the edges of the part that is working now.
import type { Stage } from '../api';

export type Group = 'input' | 'htdemucs' | 'bp' | 'output';

// Which part of the drawing an SSE stage lights up.
export function groupOfStage(stage: Stage): Group | null {
  switch (stage) {
    case 'decode':
    case 'tempo':
      return 'input';
    case 'separate':
      return 'htdemucs';
    case 'transcribe':
      return 'bp';
    case 'midi':
      return 'output';
    default:
      return null; // queued: nothing works yet
  }
}

const GROUP_ORDER: Group[] = ['input', 'htdemucs', 'bp', 'output'];

// How far the job is inside the active part (0..1): separation spans 3–85 % of the total.
export function fractionInStage(stage: Stage, progress: number): number {
  const spans: Partial<Record<Stage, [number, number]>> = {
    decode: [0, 2],
    tempo: [2, 3],
    separate: [3, 85],
    transcribe: [85, 97],
    midi: [97, 100],
  };
  const span = spans[stage];
  if (!span) return 0;
  return Math.max(0, Math.min(1, (progress - span[0]) / (span[1] - span[0])));
}

interface NodeSpec {
  id: string;
  label: string;
  short: string; // label for narrow screens
  group: Group;
  panel: 0 | 1; // 0 = htdemucs panel, 1 = Basic Pitch panel
  x: number; // centre, panel units 0..1
  y: number;
  w: number;
  h: number;
  order: number; // position in the forward pass, for the sweep highlight
}

interface EdgeSpec {
  from: string;
  to: string;
  kind: 'flow' | 'skip' | 'cross';
  bend: number; // control-point offset in panel-height units (arcs for skips)
}

function buildSpecs(): { nodes: NodeSpec[]; edges: EdgeSpec[] } {
  const nodes: NodeSpec[] = [];
  const edges: EdgeSpec[] = [];
  const rowF = 0.34;
  const rowT = 0.72;
  // 16 columns: mix, STFT, 4 encoders, 5 transformer layers, 4 decoders, bass stem.
  const col = (i: number) => 0.035 + i * 0.0615;
  const W = 0.045;
  nodes.push({ id: 'in', label: 'Mix', short: 'Mix', group: 'input', panel: 0, x: col(0), y: 0.53, w: W, h: 0.5, order: 0 });
  nodes.push({ id: 'stft', label: 'STFT', short: 'ST', group: 'htdemucs', panel: 0, x: col(1), y: rowF, w: W, h: 0.16, order: 0 });
  edges.push({ from: 'in', to: 'stft', kind: 'flow', bend: 0 });
  for (let i = 1; i <= 4; i++) {
    const hScale = 1 - (i - 1) * 0.14; // encoders narrow towards the bottleneck
    nodes.push({ id: `fe${i}`, label: `Enc ${i}`, short: `E${i}`, group: 'htdemucs', panel: 0, x: col(i + 1), y: rowF, w: W, h: 0.2 * hScale, order: i });
    nodes.push({ id: `te${i}`, label: `Enc ${i}`, short: `E${i}`, group: 'htdemucs', panel: 0, x: col(i + 1), y: rowT, w: W, h: 0.2 * hScale, order: i });
    edges.push({ from: i === 1 ? 'stft' : `fe${i - 1}`, to: `fe${i}`, kind: 'flow', bend: 0 });
    edges.push({ from: i === 1 ? 'in' : `te${i - 1}`, to: `te${i}`, kind: 'flow', bend: 0 });
  }
  for (let l = 1; l <= 5; l++) {
    const cross = l % 2 === 0; // layers alternate self-attention and cross-attention
    const label = cross ? 'Cross' : 'Self';
    nodes.push({ id: `ft${l}`, label, short: cross ? 'X' : 'S', group: 'htdemucs', panel: 0, x: col(5 + l), y: rowF, w: W, h: 0.12, order: 4 + l });
    nodes.push({ id: `tt${l}`, label, short: cross ? 'X' : 'S', group: 'htdemucs', panel: 0, x: col(5 + l), y: rowT, w: W, h: 0.12, order: 4 + l });
    edges.push({ from: l === 1 ? 'fe4' : `ft${l - 1}`, to: `ft${l}`, kind: 'flow', bend: 0 });
    edges.push({ from: l === 1 ? 'te4' : `tt${l - 1}`, to: `tt${l}`, kind: 'flow', bend: 0 });
    if (cross) {
      edges.push({ from: `ft${l}`, to: `tt${l}`, kind: 'cross', bend: 0 });
      edges.push({ from: `tt${l}`, to: `ft${l}`, kind: 'cross', bend: 0 });
    }
  }
  for (let i = 4; i >= 1; i--) {
    const c = 11 + (4 - i);
    const hScale = 1 - (i - 1) * 0.14;
    nodes.push({ id: `fd${i}`, label: `Dec ${i}`, short: `D${i}`, group: 'htdemucs', panel: 0, x: col(c), y: rowF, w: W, h: 0.2 * hScale, order: 10 + (4 - i) });
    nodes.push({ id: `td${i}`, label: `Dec ${i}`, short: `D${i}`, group: 'htdemucs', panel: 0, x: col(c), y: rowT, w: W, h: 0.2 * hScale, order: 10 + (4 - i) });
    edges.push({ from: i === 4 ? 'ft5' : `fd${i + 1}`, to: `fd${i}`, kind: 'flow', bend: 0 });
    edges.push({ from: i === 4 ? 'tt5' : `td${i + 1}`, to: `td${i}`, kind: 'flow', bend: 0 });
    // Skip connections: encoder i feeds decoder i, arcs above (frequency) and below (time).
    edges.push({ from: `fe${i}`, to: `fd${i}`, kind: 'skip', bend: -(0.08 + i * 0.025) });
    edges.push({ from: `te${i}`, to: `td${i}`, kind: 'skip', bend: 0.08 + i * 0.025 });
  }
  nodes.push({ id: 'stem', label: 'Bass', short: 'Bass', group: 'htdemucs', panel: 0, x: col(15), y: 0.53, w: W, h: 0.5, order: 14 });
  edges.push({ from: 'fd1', to: 'stem', kind: 'flow', bend: 0 });
  edges.push({ from: 'td1', to: 'stem', kind: 'flow', bend: 0 });

  // Basic Pitch panel.
  const row = 0.55;
  const bp = (id: string, label: string, short: string, x: number, y: number, h: number, order: number) =>
    nodes.push({ id, label, short, group: 'bp', panel: 1, x, y, w: 0.085, h, order });
  nodes.push({ id: 'bpin', label: 'Bass stem', short: 'Bass', group: 'bp', panel: 1, x: 0.05, y: row, w: 0.07, h: 0.34, order: 0 });
  bp('cqt', 'CQT', 'CQT', 0.17, row, 0.5, 1);
  bp('hs', 'Harmonics', 'H', 0.29, row, 0.42, 2);
  bp('c1', 'Conv', 'C', 0.41, row, 0.34, 3);
  bp('c2', 'Conv', 'C', 0.53, row, 0.34, 4);
  bp('pitch', 'Pitch', 'P', 0.67, 0.22, 0.2, 5);
  bp('note', 'Note', 'N', 0.67, row, 0.2, 6);
  bp('onset', 'Onset', 'O', 0.67, 0.88, 0.2, 7);
  nodes.push({ id: 'midi', label: 'MIDI', short: 'MIDI', group: 'output', panel: 1, x: 0.88, y: row, w: 0.1, h: 0.44, order: 0 });
  const chain = ['bpin', 'cqt', 'hs', 'c1', 'c2'];
  for (let i = 1; i < chain.length; i++) edges.push({ from: chain[i - 1], to: chain[i], kind: 'flow', bend: 0 });
  edges.push({ from: 'c2', to: 'pitch', kind: 'flow', bend: 0 });
  edges.push({ from: 'pitch', to: 'note', kind: 'flow', bend: 0 });
  edges.push({ from: 'note', to: 'onset', kind: 'flow', bend: 0 });
  edges.push({ from: 'hs', to: 'onset', kind: 'flow', bend: 0.2 }); // the onset head also sees the audio features
  for (const head of ['pitch', 'note', 'onset']) edges.push({ from: head, to: 'midi', kind: 'flow', bend: 0 });
  return { nodes, edges };
}

const SPECS = buildSpecs();

interface Box {
  spec: NodeSpec;
  x: number; // left, CSS px
  y: number;
  w: number;
  h: number;
}

interface Curve {
  spec: EdgeSpec;
  group: Group;
  p0: [number, number];
  c: [number, number];
  p1: [number, number];
}

interface Particle {
  edge: number; // index into curves
  t: number; // 0..1 along the curve
  speed: number; // curve lengths per second
}

export interface SceneState {
  stage: Stage;
  progress: number; // 0..100
  finished: boolean; // the whole job is done: everything drawn as complete
}

const ACID = '#b4ff39';
const DIM = '#2c3539';
const TEXT = '#c9d2d5';

function bezier(c: Curve, t: number): [number, number] {
  const u = 1 - t;
  return [
    u * u * c.p0[0] + 2 * u * t * c.c[0] + t * t * c.p1[0],
    u * u * c.p0[1] + 2 * u * t * c.c[1] + t * t * c.p1[1],
  ];
}

export class NetworkScene {
  private boxes: Box[] = [];
  private byId = new Map<string, Box>();
  private curves: Curve[] = [];
  private panels: { x: number; y: number; w: number; h: number; title: string }[] = [];
  private particles: Particle[] = [];
  private width = 0;
  private height = 0;
  private spawnDebt = 0;
  state: SceneState = { stage: 'queued', progress: 0, finished: false };

  // Canvas height (CSS px) that suits a given width: taller, relatively, on a phone.
  static heightFor(width: number): number {
    return Math.round(Math.max(340, Math.min(520, width * (width < 640 ? 1.05 : 0.5))));
  }

  resize(width: number, height: number): void {
    this.width = width;
    this.height = height;
    const pad = 10;
    const titleH = 26;
    const topH = Math.round((height - 3 * pad) * 0.58);
    const botH = height - 3 * pad - topH;
    this.panels = [
      { x: pad, y: pad, w: width - 2 * pad, h: topH, title: 'htdemucs · separation' },
      { x: pad, y: 2 * pad + topH, w: width - 2 * pad, h: botH, title: 'Basic Pitch · transcription' },
    ];
    this.boxes = SPECS.nodes.map((spec) => {
      const p = this.panels[spec.panel];
      const innerY = p.y + titleH;
      const innerH = p.h - titleH - 6;
      const w = Math.max(6, spec.w * p.w);
      const h = spec.h * innerH;
      return { spec, x: p.x + spec.x * p.w - w / 2, y: innerY + spec.y * innerH - h / 2, w, h };
    });
    this.byId = new Map(this.boxes.map((b) => [b.spec.id, b]));
    this.curves = SPECS.edges.map((spec) => {
      const a = this.byId.get(spec.from)!;
      const b = this.byId.get(spec.to)!;
      const p = this.panels[a.spec.panel];
      let p0: [number, number];
      let p1: [number, number];
      if (spec.kind === 'cross') {
        const down = a.y < b.y;
        const dx = down ? -a.w * 0.2 : a.w * 0.2;
        p0 = [a.x + a.w / 2 + dx, down ? a.y + a.h : a.y];
        p1 = [b.x + b.w / 2 + dx, down ? b.y : b.y + b.h];
      } else if (spec.kind === 'skip') {
        const up = spec.bend < 0;
        p0 = [a.x + a.w / 2, up ? a.y : a.y + a.h];
        p1 = [b.x + b.w / 2, up ? b.y : b.y + b.h];
      } else {
        p0 = [a.x + a.w, a.y + a.h / 2];
        p1 = [b.x, b.y + b.h / 2];
      }
      const c: [number, number] = [(p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2 + spec.bend * p.h * 1.6];
      const group = a.spec.group === b.spec.group ? a.spec.group : b.spec.group;
      return { spec, group, p0, c, p1 };
    });
    this.particles = [];
  }

  private activeGroup(): Group | null {
    return this.state.finished ? null : groupOfStage(this.state.stage);
  }

  private groupDone(g: Group): boolean {
    if (this.state.finished) return true;
    const active = groupOfStage(this.state.stage);
    if (active === null) return false;
    return GROUP_ORDER.indexOf(g) < GROUP_ORDER.indexOf(active);
  }

  // Advance particles by dt seconds (0 draws a still frame) and draw everything. t: ms clock.
  frame(ctx: CanvasRenderingContext2D, t: number, dt: number): void {
    if (this.width < 100) return; // not laid out yet (hidden, or before the first resize)
    const active = this.activeGroup();
    const small = this.width < 640;
    ctx.clearRect(0, 0, this.width, this.height);
    const nodeFont = `${small ? 9 : 11}px ui-monospace, Menlo, Consolas, monospace`;
    ctx.font = nodeFont;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';

    // Panels with a title and, for the working one, how far it is.
    this.panels.forEach((p, i) => {
      const group: Group = i === 0 ? 'htdemucs' : 'bp';
      ctx.fillStyle = '#0d1011';
      ctx.strokeStyle = active === group ? 'rgba(180,255,57,0.45)' : '#1f2629';
      ctx.lineWidth = 1;
      roundRect(ctx, p.x, p.y, p.w, p.h, 10);
      ctx.fill();
      ctx.stroke();
      ctx.textAlign = 'left';
      ctx.fillStyle = active === group ? ACID : this.groupDone(group) ? TEXT : '#7d8a8f';
      ctx.font = `600 ${small ? 11 : 12}px ui-monospace, Menlo, Consolas, monospace`;
      let title = p.title;
      // No number here: the progress bar carries the job's one percentage; the thin bar under
      // the title shows how far the active part is.
      if (this.groupDone(group)) title += '  ✓';
      ctx.fillText(title, p.x + 12, p.y + 15);
      if (active === group) {
        const f = fractionInStage(this.state.stage, this.state.progress);
        ctx.fillStyle = 'rgba(180,255,57,0.6)';
        ctx.fillRect(p.x + 10, p.y + p.h - 4, (p.w - 20) * f, 2);
      }
      ctx.textAlign = 'center';
      ctx.font = nodeFont;
    });

    // Transformer region, behind its cells.
    const t1 = this.byId.get('ft1');
    const t5 = this.byId.get('tt5');
    if (t1 && t5) {
      const x = t1.x - 8;
      const y = t1.y - 16;
      ctx.fillStyle = active === 'htdemucs' ? 'rgba(180,255,57,0.05)' : 'rgba(255,255,255,0.02)';
      ctx.strokeStyle = active === 'htdemucs' ? 'rgba(180,255,57,0.25)' : '#1f2629';
      ctx.setLineDash([4, 4]);
      roundRect(ctx, x, y, t5.x + t5.w + 8 - x, t5.y + t5.h + 16 - y, 8);
      ctx.fill();
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = '#7d8a8f';
      ctx.fillText(small ? 'Transformer' : 'Cross-domain transformer', (x + t5.x + t5.w + 8) / 2, t1.y - 8);
    }

    // Branch labels.
    const fe1 = this.byId.get('fe1');
    const te1 = this.byId.get('te1');
    if (fe1 && te1 && !small) {
      ctx.textAlign = 'left';
      ctx.fillStyle = '#7d8a8f';
      ctx.fillText('frequency branch', fe1.x, fe1.y - 10);
      ctx.fillText('time branch', te1.x, te1.y + te1.h + 12);
      ctx.textAlign = 'center';
    }

    // The sweep: which layer the forward pass is in now (cycles while the part works).
    const maxOrder = active === 'htdemucs' ? 14 : active === 'bp' ? 7 : 0;
    const sweep = maxOrder > 0 ? ((t / 1000) * (active === 'htdemucs' ? 6 : 4)) % (maxOrder + 1) : 0;

    // Edges.
    for (const c of this.curves) {
      const on = c.group === active;
      const done = this.groupDone(c.group);
      ctx.strokeStyle = on
        ? c.spec.kind === 'skip'
          ? 'rgba(180,255,57,0.35)'
          : 'rgba(180,255,57,0.55)'
        : done
          ? 'rgba(180,255,57,0.18)'
          : DIM;
      ctx.lineWidth = c.spec.kind === 'flow' ? 1.5 : 1;
      if (c.spec.kind === 'skip') ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(c.p0[0], c.p0[1]);
      ctx.quadraticCurveTo(c.c[0], c.c[1], c.p1[0], c.p1[1]);
      ctx.stroke();
      ctx.setLineDash([]);
    }

    // Nodes.
    for (const b of this.boxes) {
      const on = b.spec.group === active;
      const done = this.groupDone(b.spec.group);
      let glow = 0;
      if (on && maxOrder > 0) {
        const d = Math.abs(sweep - b.spec.order);
        glow = Math.max(0, 1 - d / 1.5);
      } else if (on) {
        glow = 0.5 + 0.5 * Math.sin(t / 250);
      }
      ctx.fillStyle = on ? `rgba(180,255,57,${0.12 + 0.5 * glow})` : done ? 'rgba(180,255,57,0.1)' : '#151a1c';
      ctx.strokeStyle = on ? ACID : done ? 'rgba(180,255,57,0.4)' : '#2c3539';
      ctx.lineWidth = on ? 1.5 : 1;
      if (on && glow > 0.3) {
        ctx.shadowColor = ACID;
        ctx.shadowBlur = 12 * glow;
      }
      roundRect(ctx, b.x, b.y, b.w, b.h, 4);
      ctx.fill();
      ctx.stroke();
      ctx.shadowBlur = 0;
      const label = b.w >= 40 ? b.spec.label : b.spec.short;
      if (b.w >= 11) {
        ctx.fillStyle = on && glow > 0.5 ? '#07090a' : on ? '#e9ffd0' : done ? TEXT : '#7d8a8f';
        if (b.h > b.w * 2.2 && ctx.measureText(label).width > b.w - 4) {
          // Tall, narrow boxes (input and output) get their label turned sideways.
          ctx.save();
          ctx.translate(b.x + b.w / 2, b.y + b.h / 2);
          ctx.rotate(-Math.PI / 2);
          ctx.fillText(label, 0, 0);
          ctx.restore();
        } else {
          ctx.fillText(label, b.x + b.w / 2, b.y + b.h / 2);
        }
      }
    }

    // Particles: spawn along the active part's edges and move them on.
    if (active !== null && dt > 0) {
      const edges = this.curves.map((c, i) => (c.group === active ? i : -1)).filter((i) => i >= 0);
      this.spawnDebt += dt * (active === 'htdemucs' ? 60 : 30);
      while (this.spawnDebt >= 1 && edges.length > 0) {
        this.spawnDebt -= 1;
        this.particles.push({ edge: edges[Math.floor(Math.random() * edges.length)], t: 0, speed: 0.6 + Math.random() * 0.8 });
      }
    }
    this.particles = this.particles.filter((p) => this.curves[p.edge].group === active && p.t < 1);
    ctx.fillStyle = ACID;
    ctx.shadowColor = ACID;
    ctx.shadowBlur = 6;
    for (const p of this.particles) {
      p.t += dt * p.speed;
      const [x, y] = bezier(this.curves[p.edge], Math.min(1, p.t));
      ctx.globalAlpha = Math.sin(Math.min(1, p.t) * Math.PI);
      ctx.beginPath();
      ctx.arc(x, y, 2, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    ctx.shadowBlur = 0;
  }
}

function roundRect(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, r: number): void {
  const rr = Math.max(0, Math.min(r, w / 2, h / 2));
  ctx.beginPath();
  ctx.moveTo(x + rr, y);
  ctx.arcTo(x + w, y, x + w, y + h, rr);
  ctx.arcTo(x + w, y + h, x, y + h, rr);
  ctx.arcTo(x, y + h, x, y, rr);
  ctx.arcTo(x, y, x + w, y, rr);
  ctx.closePath();
}
