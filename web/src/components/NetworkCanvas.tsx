// The live drawing of the networks (see viz/network.ts). One requestAnimationFrame loop that
// stops while the tab is hidden and never starts when the reader asked for reduced motion (then
// a still frame is redrawn on each progress change).
import { useEffect, useRef } from 'react';
import type { Stage } from '../api';
import { NetworkScene } from '../viz/network';

interface Props {
  stage: Stage;
  progress: number; // 0..100
  finished: boolean;
}

function prefersReducedMotion(): boolean {
  return typeof window.matchMedia === 'function' && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
}

export default function NetworkCanvas({ stage, progress, finished }: Props) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const sceneRef = useRef(new NetworkScene());
  const redrawRef = useRef<() => void>(() => {});

  sceneRef.current.state = { stage, progress, finished };

  useEffect(() => {
    const wrap = wrapRef.current;
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext('2d');
    if (!wrap || !canvas || !ctx) return;
    const scene = sceneRef.current;
    const still = prefersReducedMotion();
    let raf = 0;
    let last = 0;

    const resize = () => {
      const width = wrap.clientWidth;
      const height = NetworkScene.heightFor(width);
      const dpr = window.devicePixelRatio || 1;
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.height = `${height}px`;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      scene.resize(width, height);
      scene.frame(ctx, performance.now(), 0);
    };
    const loop = (now: number) => {
      const dt = last ? Math.min(0.1, (now - last) / 1000) : 0;
      last = now;
      scene.frame(ctx, now, dt);
      raf = requestAnimationFrame(loop);
    };
    const start = () => {
      if (still || raf || document.hidden) return;
      last = 0;
      raf = requestAnimationFrame(loop);
    };
    const stop = () => {
      cancelAnimationFrame(raf);
      raf = 0;
    };
    const onVisibility = () => (document.hidden ? stop() : start());

    redrawRef.current = () => scene.frame(ctx, performance.now(), 0);
    const observer = new ResizeObserver(resize);
    observer.observe(wrap);
    resize();
    start();
    document.addEventListener('visibilitychange', onVisibility);
    return () => {
      stop();
      observer.disconnect();
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, []);

  // Still frames (reduced motion, hidden loop) follow the progress too.
  useEffect(() => redrawRef.current(), [stage, progress, finished]);

  return (
    <div ref={wrapRef} className="w-full">
      <canvas
        ref={canvasRef}
        className="block w-full"
        role="img"
        aria-label={`Network activity: ${finished ? 'all done' : `stage ${stage}, ${Math.round(progress)} percent`}`}
      />
    </div>
  );
}
