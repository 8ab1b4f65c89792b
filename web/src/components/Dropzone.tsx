// Drag & drop area plus a file picker; the checks on the file happen in the caller. On a touch
// screen (nothing to drag) it says "Tap to choose a song", and a tap anywhere on it opens the
// picker.
import { useRef, useState } from 'react';

interface Props {
  disabled: boolean;
  maxUploadMb: number;
  onFile: (file: File) => void;
}

export default function Dropzone({ disabled, maxUploadMb, onFile }: Props) {
  const [hover, setHover] = useState(false);
  const depth = useRef(0); // dragenter/dragleave fire for children too
  const input = useRef<HTMLInputElement>(null);
  const touch = typeof window !== 'undefined' && (window.matchMedia?.('(pointer: coarse)').matches ?? false);

  return (
    <div
      data-testid="dropzone"
      onClick={(e) => {
        // the label below opens the picker itself; elsewhere on the zone, open it here
        if (!disabled && !(e.target as HTMLElement).closest('label')) input.current?.click();
      }}
      onDragEnter={(e) => {
        e.preventDefault();
        depth.current += 1;
        if (!disabled) setHover(true);
      }}
      onDragOver={(e) => e.preventDefault()}
      onDragLeave={() => {
        depth.current -= 1;
        if (depth.current <= 0) setHover(false);
      }}
      onDrop={(e) => {
        e.preventDefault();
        depth.current = 0;
        setHover(false);
        const file = e.dataTransfer.files[0];
        if (file && !disabled) onFile(file);
      }}
      className={`flex cursor-pointer flex-col items-center justify-center gap-3 rounded-2xl border-2 border-dashed px-4 py-10 text-center transition sm:py-14 ${
        hover ? 'scale-[1.01] border-acid bg-acid/10 shadow-[0_0_40px_-10px_#b4ff39]' : 'border-ink-600 bg-ink-900/60'
      } ${disabled ? 'opacity-60' : ''}`}
    >
      <svg aria-hidden="true" viewBox="0 0 48 48" className={`h-12 w-12 ${hover ? 'text-acid' : 'text-ink-400'}`}>
        <path d="M24 32V10m0 0-8 8m8-8 8 8M10 30v6a2 2 0 0 0 2 2h24a2 2 0 0 0 2-2v-6" fill="none" stroke="currentColor" strokeWidth="3" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
      <p className="text-lg font-semibold text-ink-200">{hover ? 'Drop it!' : touch ? 'Tap to choose a song' : 'Drop a song here'}</p>
      <p className="text-sm text-ink-400">WAV, FLAC, OGG Vorbis or MP3 · up to {maxUploadMb} MB</p>
      <label className={`cursor-pointer rounded-lg border border-acid px-4 py-2 text-sm font-semibold text-acid transition hover:bg-acid hover:text-ink-950 focus-within:ring-2 focus-within:ring-acid ${disabled ? 'pointer-events-none' : ''}`}>
        Choose a file
        <input
          ref={input}
          type="file"
          accept="audio/*,.wav,.flac,.ogg,.oga,.mp3"
          className="sr-only"
          disabled={disabled}
          aria-label="Choose an audio file"
          onChange={(e) => {
            const file = e.target.files?.[0];
            if (file) onFile(file);
            e.target.value = ''; // picking the same file again still fires
          }}
        />
      </label>
    </div>
  );
}
