// Steps 2 and 3 for one job: live progress (SSE), the networks at work and the log while it
// runs; then the result, the piano roll with playback, re-transcription and the spectrograms.
import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { api, ApiError, urls, type Job, type ResultParams } from '../api';
import { useParamSpecs, type ParamSpecs } from '../params';
import { ANALYSIS_RATE, decodeAudio, mixdown } from '../audio/analysis';
import NetworkCanvas from '../components/NetworkCanvas';
import Playback from '../components/Playback';
import ProcessLog from '../components/ProcessLog';
import ProgressBar from '../components/ProgressBar';
import ResultCard from '../components/ResultCard';
import SpectrogramView from '../components/SpectrogramView';
import Steps from '../components/Steps';
import TranscribeControls, { defaultNoteParams, type NoteParams } from '../components/TranscribeControls';
import { Card, ErrorNotice, formatClock, primaryButton, secondaryButton } from '../components/ui';
import { useHealth } from '../health';
import Waveform from '../components/Waveform';
import { reduce, stepOf } from '../jobMachine';
import { useUploads } from '../uploads';
import { useJobProgress } from '../useJobProgress';

const STAGE_LABEL: Record<string, string> = {
  queued: 'Waiting in the queue',
  decode: 'Decoding the audio',
  tempo: 'Detecting the tempo',
  separate: 'Separating the bass (htdemucs)',
  transcribe: 'Transcribing the notes (Basic Pitch)',
  midi: 'Writing the MIDI file',
};

// What a job is doing: the server's progress message (a lower-case phrase, "separating the
// bass (htdemucs)") as a sentence, else the name of its stage.
export function stageText(stage: string, message: string): string {
  return (message && message[0].toUpperCase() + message.slice(1)) || STAGE_LABEL[stage] || stage;
}

const FAILURE_TITLE: Record<string, string> = {
  not_found: 'Job not found',
  unreachable: 'Server unreachable',
  storage: 'The server ran out of disk space',
};

// Seconds left: from the progress so far once there is some (elapsed * remaining / done), else
// from the server's measured speed for this much audio; null when neither is known.
export function remainingSeconds(elapsed: number, progress: number, audioSeconds: number | null, secondsPerAudioMinute: number | null): number | null {
  if (progress >= 100) return 0;
  if (progress >= 10) return (elapsed * (100 - progress)) / progress;
  if (audioSeconds !== null && secondsPerAudioMinute) return Math.max(0, (audioSeconds / 60) * secondsPerAudioMinute - elapsed);
  return null;
}

// "Elapsed 0:12 · about 0:25 left", ticking once a second while the job runs.
function TimeLine({ since, progress, audioSeconds }: { since: number | null; progress: number; audioSeconds: number | null }) {
  const { health } = useHealth();
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => clearInterval(timer);
  }, []);
  if (since === null) return null;
  const elapsed = Math.max(0, now - since);
  const left = remainingSeconds(elapsed, progress, audioSeconds, health?.seconds_per_audio_minute ?? null);
  return (
    <p className="mt-2 font-mono text-xs text-ink-400" data-testid="time-line">
      Elapsed {formatClock(elapsed)}
      {left !== null && ` · about ${formatClock(left)} left`}
    </p>
  );
}

// "Next in line · starts in about 0:40" for a queued job, asking the server every 2 s.
export function queueText(q: { position: number; starts_in_s: number }): string {
  const place = q.position === 1 ? 'Next in line' : `${q.position - 1} ${q.position === 2 ? 'song' : 'songs'} ahead`;
  return q.starts_in_s > 0 ? `${place} · starts in about ${formatClock(q.starts_in_s)}` : place;
}

function QueueLine({ id }: { id: string }) {
  const [queue, setQueue] = useState<Job['queue']>(undefined);
  useEffect(() => {
    let stop = false;
    const poll = () =>
      api.job(id).then(
        (j) => !stop && setQueue(j.queue),
        () => {},
      );
    poll();
    const timer = setInterval(poll, 2000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [id]);
  if (!queue) return null;
  return (
    <p className="mt-2 font-mono text-xs text-ink-400" data-testid="queue-line">
      {queueText(queue)}
    </p>
  );
}

export default function JobPage() {
  const { id = '' } = useParams();
  const upload = useUploads().get(id);
  const [phase, dispatch] = useReducer(reduce, { kind: 'loading', jobId: id });
  const [job, setJob] = useState<Job | null>(null);
  const [polled, setPolled] = useState<Job | null>(null); // job state while the stream is lost
  const [cancelError, setCancelError] = useState<string | null>(null);
  const [bass, setBass] = useState<Float32Array | null>(null);
  const [bassError, setBassError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0); // "Try again" after a network failure
  const [retryError, setRetryError] = useState<string | null>(null);
  // The server kept the upload of a job it could not store the results of: run it again.
  const retry = () => {
    setRetryError(null);
    api.retry(id).then(
      () => setAttempt((a) => a + 1),
      (e: ApiError) => setRetryError(e.message),
    );
  };

  // Open the job: its state decides where the machine starts.
  useEffect(() => {
    dispatch({ type: 'OPEN', jobId: id });
    setJob(null);
    setPolled(null);
    api.job(id).then(
      (j) => {
        setJob(j);
        dispatch({ type: 'JOB', job: j });
      },
      (e: ApiError) => dispatch({ type: 'FAILED', jobId: id, code: e.code, message: e.message }),
    );
  }, [id, attempt]);

  const stream = useJobProgress(phase.kind === 'processing' ? id : null);

  useEffect(() => {
    if (stream.status === 'done') dispatch({ type: 'STREAM_DONE', jobId: id });
    if (stream.status === 'error' && stream.error) {
      if (stream.error.code === 'cancelled') dispatch({ type: 'CANCELLED', jobId: id });
      else dispatch({ type: 'FAILED', jobId: id, code: stream.error.code, message: stream.error.message });
    }
  }, [stream.status, stream.error, id]);

  // The browser gave up on the stream (server restarted, proxy closed it): poll the job instead.
  useEffect(() => {
    if (stream.status !== 'lost' || phase.kind !== 'processing') return;
    const poll = () =>
      api.job(id).then(
        (j) => {
          setPolled(j);
          if (j.state === 'done') dispatch({ type: 'STREAM_DONE', jobId: id });
          if (j.state === 'cancelled') dispatch({ type: 'CANCELLED', jobId: id });
          if (j.state === 'failed') dispatch({ type: 'FAILED', jobId: id, code: j.error?.code ?? 'failed', message: j.error?.message ?? 'The job failed.' });
        },
        (e: ApiError) => {
          if (e.code !== 'unreachable') dispatch({ type: 'FAILED', jobId: id, code: e.code, message: e.message });
        },
      );
    poll();
    const timer = setInterval(poll, 2000);
    return () => clearInterval(timer);
  }, [stream.status, phase.kind, id]);

  // Finished: fetch the result (and the job again, for its stem list).
  useEffect(() => {
    if (phase.kind !== 'finishing') return;
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const fetchResult = () =>
      api.result(id).then(
        (result) => !stop && dispatch({ type: 'RESULT', result }),
        (e: ApiError) => {
          if (stop) return;
          if (e.code === 'not_ready') timer = setTimeout(fetchResult, 1000);
          else dispatch({ type: 'FAILED', jobId: id, code: e.code, message: e.message });
        },
      );
    fetchResult();
    api.job(id).then((j) => !stop && setJob(j), () => {});
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [phase.kind, id]);

  // Done: the player streams the bass stem's MP3 preview (Play works after its first bytes);
  // once it can play, the same file is fetched whole for the stem's spectrogram.
  const done = phase.kind === 'done';
  // The finished result comes into view once (re-transcriptions leave the scroll alone).
  const resultRef = useRef<HTMLDivElement | null>(null);
  useEffect(() => {
    if (done) resultRef.current?.scrollIntoView({ block: 'start' });
  }, [done]);
  const stemUrl = urls.stem(id, 'bass', 'mp3');
  const [playable, setPlayable] = useState(false);
  const onPlayable = useCallback(() => setPlayable(true), []);
  useEffect(() => {
    if (!done || !playable) return;
    const abort = new AbortController();
    fetch(stemUrl, { signal: abort.signal })
      .then((r) => {
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        return r.arrayBuffer();
      })
      .then((bytes) => decodeAudio(bytes))
      .then((b) => setBass(mixdown(b)))
      .catch(() => {
        if (!abort.signal.aborted) setBassError('The bass stem could not be loaded from the server.');
      });
    return () => abort.abort();
  }, [done, playable, stemUrl]);

  // Re-transcription: one request at a time; values that arrive meanwhile wait for it and
  // only the newest is sent.
  const busy = useRef(false);
  const pending = useRef<NoteParams | null>(null);
  const retranscribe = useCallback(
    (params: NoteParams) => {
      if (busy.current) {
        pending.current = params;
        return;
      }
      busy.current = true;
      dispatch({ type: 'RETRANSCRIBE_START' });
      api.transcribe(id, params).then(
        (result) => dispatch({ type: 'RETRANSCRIBED', result }),
        (e: ApiError) => dispatch({ type: 'RETRANSCRIBE_FAILED', message: e.message }),
      ).finally(() => {
        busy.current = false;
        const next = pending.current;
        pending.current = null;
        if (next) retranscribe(next);
      });
    },
    [id],
  );

  const cancel = () => {
    setCancelError(null);
    api.remove(id).then(
      () => dispatch({ type: 'CANCELLED', jobId: id }),
      (e: ApiError) => setCancelError(e.message),
    );
  };

  const running = phase.kind === 'loading' || phase.kind === 'processing' || phase.kind === 'finishing';
  const progress = phase.kind === 'finishing' ? 100 : Math.max(stream.progress, polled?.progress ?? 0, job?.progress ?? 0);
  const stage = stream.lastId >= 0 ? stream.stage : (polled ?? job)?.stage ?? 'queued';
  const message = stream.lastId >= 0 ? stream.message : (polled ?? job)?.message ?? '';
  const filename = upload?.file.name ?? job?.title ?? job?.filename ?? 'Your song';
  // The panel starts from the result's parameters (a result written before they were all kept
  // has its thresholds in the job).
  const noteParams = (p: ResultParams, s: ParamSpecs): NoteParams => ({
    ...defaultNoteParams(s),
    ...(job && { onset_threshold: job.params.onset_threshold, frame_threshold: job.params.frame_threshold, min_note_ms: job.params.min_note_ms }),
    ...p,
  });
  const specs = useParamSpecs();

  // The song's samples for its pictures: the tab that uploaded it has them; any other view
  // fetches the summary the server keeps with the job (once the job has started).
  const [serverMix, setServerMix] = useState<Float32Array | null>(null);
  const started = done || (stage !== 'queued' && phase.kind !== 'loading');
  useEffect(() => {
    if (upload?.samples || !started) return;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout>;
    const load = (tries: number) =>
      fetch(urls.mix(id), { signal: abort.signal })
        .then((r) => {
          if (r.status === 404 && tries > 0) timer = setTimeout(() => load(tries - 1), 2000);
          if (!r.ok) return null;
          return r.arrayBuffer().then(decodeAudio);
        })
        .then((b) => b && setServerMix(mixdown(b)))
        .catch(() => {});
    load(5);
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [upload?.samples, started, id]);
  const mixSamples = upload?.samples ?? serverMix;
  const mixSeconds = upload?.duration ?? job?.duration ?? null;
  const input = mixSamples && mixSeconds !== null && (
    <Card title="Input">
      <Waveform samples={mixSamples} duration={mixSeconds} label={`Waveform of ${filename}`} />
    </Card>
  );
  const networks = (
    <Card title="The networks at work">
      <NetworkCanvas stage={stage} progress={progress} finished={done || phase.kind === 'finishing'} />
    </Card>
  );

  return (
    <div className="space-y-6 pt-4">
      <div className="space-y-4">
        <div className="flex flex-wrap items-baseline justify-between gap-2">
          <h1 className="min-w-0 truncate text-xl font-bold text-white sm:text-2xl" data-testid="job-title">{filename}</h1>
          <span className="flex flex-wrap gap-x-4 gap-y-1">
            {job?.batch_id && (
              <Link to={`/batches/${job.batch_id}`} className="text-sm text-ink-400 hover:text-acid" data-testid="batch-link">
                ← The batch it came with
              </Link>
            )}
            <Link to="/" className="text-sm text-ink-400 hover:text-acid">
              + Extract another song
            </Link>
          </span>
        </div>
        <Steps current={stepOf(phase)} failed={phase.kind === 'failed' || phase.kind === 'cancelled'} />
      </div>

      {phase.kind === 'failed' && (
        <ErrorNotice title={FAILURE_TITLE[phase.code] ?? 'Processing failed'} message={phase.message}>
          {phase.code === 'unreachable' && (
            <button type="button" className={secondaryButton} onClick={() => setAttempt((a) => a + 1)}>
              Try again
            </button>
          )}
          {phase.code === 'storage' && (
            <button type="button" className={secondaryButton} onClick={retry}>
              Run it again
            </button>
          )}
          {retryError && <p role="alert" className="w-full text-sm text-red-300">{retryError}</p>}
          <Link to="/" className={primaryButton}>
            Try another song
          </Link>
        </ErrorNotice>
      )}

      {phase.kind === 'cancelled' && (
        <div role="status" className="rounded-xl border border-ink-600 bg-ink-900 p-4">
          <p className="font-semibold text-white">Job cancelled</p>
          <p className="mt-1 text-sm text-ink-400">Processing stopped and the server deleted its files.</p>
          <Link to="/" className={`${primaryButton} mt-3`}>
            Extract another song
          </Link>
        </div>
      )}

      {running && (
        <Card
          title="Processing"
          actions={
            phase.kind !== 'finishing' && (
              <button type="button" className={secondaryButton} onClick={cancel}>
                Cancel
              </button>
            )
          }
        >
          <ProgressBar value={progress} label={phase.kind === 'finishing' ? 'Fetching the result…' : stageText(stage, message)} />
          <TimeLine since={job?.created ?? null} progress={progress} audioSeconds={(polled ?? job)?.duration ?? upload?.duration ?? null} />
          {stage === 'queued' && <QueueLine id={id} />}
          {stream.status === 'reconnecting' && <p className="mt-2 text-sm text-amber-300">Connection to the server lost, reconnecting…</p>}
          {stream.status === 'lost' && <p className="mt-2 text-sm text-amber-300">Live updates stopped; checking the job every 2 s.</p>}
          {cancelError && <p role="alert" className="mt-2 text-sm text-red-300">Could not cancel: {cancelError}</p>}
        </Card>
      )}
      {running && networks}
      {running && input}

      {phase.kind === 'done' && (
        <>
          <div ref={resultRef} className="scroll-mt-4">
            <ResultCard result={phase.result} stems={job?.stems ?? ['bass']} />
          </div>
          <Card title="Piano roll and preview">
            <Playback
              stemUrl={stemUrl}
              onReady={onPlayable}
              notes={phase.result.notes}
              duration={phase.result.duration}
              beats={phase.result.beats}
              bars={phase.result.bars ?? []}
            />
          </Card>
          {phase.result.source !== 'none' && specs && (
            <Card title="Note detection">
              <TranscribeControls
                initial={noteParams(phase.result.params, specs)}
                specs={specs}
                first={phase.result.first_params && noteParams(phase.result.first_params, specs)}
                busy={phase.busy}
                onApply={retranscribe}
              />
              {phase.error && <p role="alert" className="mt-2 text-sm text-red-300">Re-transcription failed: {phase.error}</p>}
            </Card>
          )}
          <Card title="Spectrograms">
            <div className="grid gap-4 md:grid-cols-2">
              {bass ? (
                <SpectrogramView samples={bass} rate={ANALYSIS_RATE} label="bass stem" />
              ) : (
                <p className="text-sm text-ink-400">{bassError ?? 'Loading the bass stem…'}</p>
              )}
              {mixSamples ? (
                <SpectrogramView samples={mixSamples} rate={ANALYSIS_RATE} label="full mix" />
              ) : (
                <p className="self-center text-sm text-ink-400">Loading the song…</p>
              )}
            </div>
          </Card>
          {input}
          {networks}
        </>
      )}

      {(running || done || phase.kind === 'failed') && (running || stream.log.length > 0) && (
        <Card title="Processing log">
          <ProcessLog log={stream.log} />
        </Card>
      )}
    </div>
  );
}
