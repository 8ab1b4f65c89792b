import { describe, expect, it } from 'vitest';
import { fractionInStage, groupOfStage, NetworkScene } from './network';

describe('network drawing', () => {
  it('maps each SSE stage to the part of the drawing that works then', () => {
    expect(groupOfStage('queued')).toBeNull();
    expect(groupOfStage('decode')).toBe('input');
    expect(groupOfStage('tempo')).toBe('input');
    expect(groupOfStage('separate')).toBe('htdemucs');
    expect(groupOfStage('transcribe')).toBe('bp');
    expect(groupOfStage('midi')).toBe('output');
  });

  it('spreads separation over 3–85 % of the total progress', () => {
    expect(fractionInStage('separate', 3)).toBe(0);
    expect(fractionInStage('separate', 44)).toBeCloseTo(0.5, 5);
    expect(fractionInStage('separate', 85)).toBe(1);
    expect(fractionInStage('separate', 99)).toBe(1);
    expect(fractionInStage('queued', 0)).toBe(0);
  });

  it('is taller, relative to its width, on a phone', () => {
    expect(NetworkScene.heightFor(360) / 360).toBeGreaterThan(NetworkScene.heightFor(1000) / 1000);
  });
});
