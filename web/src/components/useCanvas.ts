// A canvas that fills its container's width at a fixed CSS height, sharp on high-DPI screens,
// and redraws on resize and whenever `deps` change. draw gets CSS-pixel coordinates.
import { useEffect, useRef, type DependencyList } from 'react';

export function useCanvas(height: number, draw: (ctx: CanvasRenderingContext2D, width: number, height: number) => void, deps: DependencyList) {
  const ref = useRef<HTMLCanvasElement>(null);
  const drawRef = useRef(draw);
  drawRef.current = draw;
  const paint = useRef(() => {});

  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    paint.current = () => {
      const width = canvas.clientWidth;
      const dpr = window.devicePixelRatio || 1;
      if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
        canvas.width = Math.round(width * dpr);
        canvas.height = Math.round(height * dpr);
      }
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, width, height);
      drawRef.current(ctx, width, height);
    };
    const observer = new ResizeObserver(() => paint.current());
    observer.observe(canvas);
    paint.current();
    return () => observer.disconnect();
  }, [height]);

  useEffect(() => paint.current(), deps);
  return ref;
}
