// The isolated bass stem in an <audio> element, the MIDI notes on a Tone.js synth in sync with
// it, and the piano roll with its playhead. The audio element is the clock: every 50 ms the notes
// starting in the next 250 ms are handed to the synth at their offset from audio.currentTime,
// and a seek or pause releases everything and starts over from the new position.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { PolySynth } from 'tone';
import type { Note } from '../api';
import PianoRoll, { clampView, followView, initialView, zoomView, type View } from './PianoRoll';
import { formatClock, secondaryButton } from './ui';

const LOOKAHEAD = 0.25; // s
const zoomButton = 'min-h-[28px] min-w-[28px] rounded border border-ink-600 bg-ink-900 px-2 text-sm text-ink-200 hover:text-acid focus:outline-none focus-visible:ring-2 focus-visible:ring-acid';
const TICK_MS = 50;

interface Props {
  stemUrl: string; // the bass stem's preview, streamed (the server honours Range, so it seeks)
  onReady?: () => void; // once, when the stem can start playing
  notes: Note[];
  duration: number; // seconds
  beats: number[]; // seconds, the beat grid drawn behind the notes
  bars: number[]; // seconds, the MIDI file's bar lines (bar i is bar i + 1)
}

export default function Playback({ stemUrl, onReady, notes, duration, beats, bars }: Props) {
  const audioRef = useRef<HTMLAudioElement>(null);
  const synthRef = useRef<PolySynth | null>(null);
  const toneRef = useRef<typeof import('tone') | null>(null);
  const nextRef = useRef(0); // index of the next note (by start) to schedule
  const sorted = useRef<Note[]>([]);
  const [time, setTime] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [stemOn, setStemOn] = useState(true);
  const [synthOn, setSynthOn] = useState(true);
  const [audioError, setAudioError] = useState<string | null>(null);
  const [ready, setReady] = useState(false);
  const [synthError, setSynthError] = useState<string | null>(null);
  // Where the roll opens: the first bars that hold notes (kept when the notes are re-made).
  const [view, setView] = useState<View>(() => initialView(notes, bars, duration));

  const rewind = useCallback(() => {
    synthRef.current?.releaseAll();
    const t = audioRef.current?.currentTime ?? 0;
    const i = sorted.current.findIndex((n) => n.start >= t);
    nextRef.current = i < 0 ? sorted.current.length : i;
  }, []);

  useEffect(() => {
    sorted.current = [...notes].sort((a, b) => a.start - b.start);
    rewind();
  }, [notes, rewind]);

  // Scheduler and playhead while playing.
  useEffect(() => {
    if (!playing) return;
    let raf = 0;
    const frame = () => {
      const t = audioRef.current?.currentTime ?? 0;
      setTime(t);
      setView((v) => followView(v, t, duration));
      raf = requestAnimationFrame(frame);
    };
    raf = requestAnimationFrame(frame);
    const timer = setInterval(() => {
      const audio = audioRef.current;
      const synth = synthRef.current;
      const Tone = toneRef.current;
      if (!audio || !synth || !Tone) return;
      const t = audio.currentTime;
      const list = sorted.current;
      while (nextRef.current < list.length && list[nextRef.current].start < t + LOOKAHEAD) {
        const n = list[nextRef.current++];
        if (n.end <= t) continue; // passed while the tab slept
        const when = Tone.now() + Math.max(0, n.start - t);
        const dur = Math.max(0.03, n.end - Math.max(n.start, t));
        synth.triggerAttackRelease(440 * Math.pow(2, (n.pitch - 69) / 12), dur, when, n.velocity / 127);
      }
    }, TICK_MS);
    return () => {
      cancelAnimationFrame(raf);
      clearInterval(timer);
    };
  }, [playing, duration]);

  useEffect(() => {
    if (synthRef.current) synthRef.current.volume.value = synthOn ? -6 : -Infinity;
  }, [synthOn]);

  useEffect(
    () => () => {
      synthRef.current?.dispose();
    },
    [],
  );

  // Tone.js is loaded on the first play (it needs a user gesture to start audio anyway).
  const ensureSynth = async () => {
    if (synthRef.current) return;
    try {
      const Tone = await import('tone');
      await Tone.start();
      const synth = new Tone.PolySynth(Tone.Synth, {
        oscillator: { type: 'triangle' },
        envelope: { attack: 0.005, decay: 0.15, sustain: 0.5, release: 0.08 },
      }).toDestination();
      synth.volume.value = synthOn ? -6 : -Infinity;
      toneRef.current = Tone;
      synthRef.current = synth;
    } catch {
      setSynthError('The MIDI preview could not start in this browser; the bass stem still plays.');
    }
  };

  const toggle = async () => {
    const audio = audioRef.current;
    if (!audio) return;
    if (audio.paused) {
      await ensureSynth();
      rewind();
      try {
        await audio.play();
      } catch {
        setAudioError('The browser refused to play the bass stem.');
      }
    } else {
      audio.pause();
    }
  };

  const seek = (t: number) => {
    const audio = audioRef.current;
    if (!audio) return;
    audio.currentTime = t;
    setTime(t);
    rewind();
  };

  return (
    <div className="space-y-3">
      <audio
        ref={audioRef}
        src={stemUrl}
        preload="auto"
        muted={!stemOn}
        onPlay={() => setPlaying(true)}
        onPause={() => {
          setPlaying(false);
          synthRef.current?.releaseAll();
        }}
        onEnded={() => setPlaying(false)}
        onSeeked={rewind}
        onCanPlay={() => {
          if (ready) return;
          setReady(true);
          onReady?.();
        }}
        onError={() => setAudioError('This browser cannot play the bass stem.')}
      />
      <PianoRoll notes={notes} duration={duration} beats={beats} bars={bars} time={time} view={view} onView={setView} onSeek={seek} />
      <div className="flex flex-wrap items-center gap-3">
        <button type="button" className={secondaryButton} onClick={toggle} aria-label={playing ? 'Pause' : 'Play'} disabled={!ready || audioError !== null}>
          {playing ? '❚❚ Pause' : '▶ Play'}
        </button>
        <input
          type="range"
          min={0}
          max={duration}
          step={0.01}
          value={Math.min(time, duration)}
          onKeyDown={(e) => {
            const jump = { ArrowLeft: -5, ArrowDown: -5, ArrowRight: 5, ArrowUp: 5 }[e.key];
            if (jump === undefined) return;
            e.preventDefault(); // the browser's own step is 0.01 s
            seek(Math.max(0, Math.min(duration, time + jump)));
          }}
          onChange={(e) => seek(Number(e.target.value))}
          aria-label="Position"
          className="min-w-[8rem] flex-1 accent-acid"
        />
        <span className="font-mono text-xs text-ink-400">
          {formatClock(time)} / {formatClock(duration)}
        </span>
      </div>
      <div className="flex flex-wrap gap-4 text-sm">
        <label className="flex items-center gap-2">
          <input type="checkbox" className="accent-acid" checked={stemOn} onChange={(e) => setStemOn(e.target.checked)} />
          Bass stem
        </label>
        <label className="flex items-center gap-2">
          <input type="checkbox" className="accent-acid" checked={synthOn} onChange={(e) => setSynthOn(e.target.checked)} />
          MIDI preview (synth)
        </label>
        <span className="flex items-center gap-2" role="group" aria-label="Zoom">
          <button type="button" className={zoomButton} aria-label="Zoom out" onClick={() => setView((v) => zoomView(v, 2, v.start + v.span / 2, duration))}>
            −
          </button>
          <button type="button" className={zoomButton} aria-label="Zoom in" onClick={() => setView((v) => zoomView(v, 0.5, v.start + v.span / 2, duration))}>
            +
          </button>
          <button type="button" className={zoomButton} onClick={() => setView(clampView({ start: 0, span: duration }, duration))}>
            Whole song
          </button>
        </span>
      </div>
      {audioError && <p role="alert" className="text-sm text-red-300">{audioError}</p>}
      {synthError && <p role="alert" className="text-sm text-amber-300">{synthError}</p>}
    </div>
  );
}
