// The files picked in this tab, by job id, so the job page can draw the input's waveform and
// the mix spectrogram (the server does not send the input back). Lost on reload, by design.
import { createContext, useContext, useRef, type ReactNode } from 'react';

export interface PickedAudio {
  file: File;
  samples: Float32Array | null; // mono at ANALYSIS_RATE, null if the browser cannot decode it
  duration: number | null; // seconds
}

type Store = Map<string, PickedAudio>;
const UploadsContext = createContext<Store>(new Map());

export function UploadsProvider({ children }: { children: ReactNode }) {
  const store = useRef<Store>(new Map());
  return <UploadsContext.Provider value={store.current}>{children}</UploadsContext.Provider>;
}

export const useUploads = () => useContext(UploadsContext);
