// The note parameters' ranges and defaults, as the server's OpenAPI description states them
// (the server makes them from libdumu's parameter table): the page keeps no copy of its own.
import { useEffect, useState } from 'react';
import type { Mode, Quantize } from './api';

export interface NumberSpec {
  min: number;
  max: number;
  def: number; // 0 for bpm: detect
}

export interface ParamSpecs {
  onset_threshold: NumberSpec;
  frame_threshold: NumberSpec;
  min_note_ms: NumberSpec;
  quantize_strength: NumberSpec;
  bpm: NumberSpec;
  mode: Mode; // the defaults of the two choices
  quantize: Quantize;
}

const NUMBERS = ['onset_threshold', 'frame_threshold', 'min_note_ms', 'quantize_strength', 'bpm'] as const;

// The specs from an OpenAPI document's TranscribeParams schema; throws when one is missing.
export function parseSpecs(doc: unknown): ParamSpecs {
  const props = (doc as { components?: { schemas?: { TranscribeParams?: { properties?: Record<string, Record<string, unknown>> } } } })?.components?.schemas?.TranscribeParams?.properties;
  if (!props) throw new Error('the OpenAPI description has no TranscribeParams');
  const num = (name: string): NumberSpec => {
    const p = props[name] ?? {};
    const [min, max, def] = [p.minimum, p.maximum, p.default ?? 0];
    if (typeof min !== 'number' || typeof max !== 'number' || typeof def !== 'number') throw new Error(`no range for ${name}`);
    return { min, max, def };
  };
  const specs = Object.fromEntries(NUMBERS.map((n) => [n, num(n)])) as Omit<ParamSpecs, 'mode' | 'quantize'>;
  return { ...specs, mode: (props.mode?.default as Mode) ?? 'bass', quantize: (props.quantize?.default as Quantize) ?? 'off' };
}

let loading: Promise<ParamSpecs> | null = null;

export function loadParamSpecs(): Promise<ParamSpecs> {
  loading ??= fetch('/openapi.json')
    .then((r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r.json();
    })
    .then(parseSpecs)
    .catch((e) => {
      loading = null; // ask again next time
      throw e;
    });
  return loading;
}

// The specs once loaded (null before, and when the server cannot be asked).
export function useParamSpecs(): ParamSpecs | null {
  const [specs, setSpecs] = useState<ParamSpecs | null>(null);
  useEffect(() => {
    let stop = false;
    loadParamSpecs().then(
      (s) => !stop && setSpecs(s),
      () => {},
    );
    return () => {
      stop = true;
    };
  }, []);
  return specs;
}
