// Drag & drop area plus a file picker, for one song or several at once; the checks on the files
// happen in the caller. On a touch screen (nothing to drag) it says "Tap to choose a song", and a
// tap anywhere on it opens the picker.
import { useRef, useState } from 'react';
import { MAX_BATCH_FILES } from '../api';

interface Props {
  disabled: boolean;
  maxUploadMb: number;
  onFiles: (files: File[]) => void; // one or more, in the order given
}

export default function Dropzone({ disabled, maxUploadMb, onFiles }: Props) {
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
        const files = Array.from(e.dataTransfer.files);
        if (files.length > 0 && !disabled) onFiles(files);
      }}
      className={`flex cursor-pointer flex-col items-center justify-center gap-3 rounded-2xl border-2 border-dashed px-4 py-10 text-center transition sm:py-14 ${
        hover ? 'scale-[1.01] border-acid bg-acid/10 shadow-[0_0_40px_-10px_#b4ff39]' : 'border-ink-600 bg-ink-900/60'
      } ${disabled ? 'opacity-60' : ''}`}
    >
      <svg aria-hidden="true" viewBox="0 0 48 48" className={`h-12 w-12 ${hover ? 'text-acid' : 'text-ink-400'}`}>
        <path d="M24 32V10m0 0-8 8m8-8 8 8M10 30v6a2 2 0 0 0 2 2h24a2 2 0 0 0 2-2v-6" fill="none" stroke="currentColor" strokeWidth="3" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
      <p className="text-lg font-semibold text-ink-200">{hover ? 'Drop it!' : touch ? 'Tap to choose a song' : 'Drop a song here'}</p>
      <p className="text-sm text-ink-400">
        WAV, FLAC, OGG Vorbis or MP3 · up to {maxUploadMb} MB · up to {MAX_BATCH_FILES} songs at once
      </p>
      <label className={`cursor-pointer rounded-lg border border-acid px-4 py-2 text-sm font-semibold text-acid transition hover:bg-acid hover:text-ink-950 focus-within:ring-2 focus-within:ring-acid ${disabled ? 'pointer-events-none' : ''}`}>
        Choose songs
        <input
          ref={input}
          type="file"
          multiple
          accept="audio/*,.wav,.flac,.ogg,.oga,.mp3"
          className="sr-only"
          disabled={disabled}
          aria-label="Choose audio files"
          onChange={(e) => {
            const files = Array.from(e.target.files ?? []);
            if (files.length > 0) onFiles(files);
            e.target.value = ''; // picking the same files again still fires
          }}
        />
      </label>
    </div>
  );
}
