// Step 1: pick or drop a song, see its waveform and the expected processing time, upload it.
// Several songs at once go up as one batch (POST /api/batches) with the same settings, and the
// batch page follows them.
import { useEffect, useReducer, useRef, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { ApiError, checkFile, DEFAULT_MAX_UPLOAD_MB, MAX_BATCH_FILES, uploadBatch, uploadProcess, type ProcessParams } from '../api';
import { useParamSpecs } from '../params';
import { ANALYSIS_RATE, decodeAudio, mixdown } from '../audio/analysis';
import Allowance from '../components/Allowance';
import CpuNotice from '../components/CpuNotice';
import Dropzone from '../components/Dropzone';
import ProgressBar from '../components/ProgressBar';
import RecentJobs from '../components/RecentJobs';
import Steps from '../components/Steps';
import { NoteStyleFields, type NoteStyle } from '../components/TranscribeControls';
import { Card, ErrorNotice, formatClock, primaryButton, secondaryButton } from '../components/ui';
import Waveform from '../components/Waveform';
import { useHealth } from '../health';
import { initialPhase, reduce, stepOf } from '../jobMachine';
import { useUploads, type PickedAudio } from '../uploads';
import { useMayUse, useSession } from '../session';

// What a visitor without an account sees on a server that requires one.
function AccountNeeded() {
  return (
    <Card title="An account is needed">
      <p className="text-sm text-ink-200">This Dumu is open to its members: sign in, or create an account, to extract bass lines.</p>
      <div className="mt-4 flex flex-wrap gap-3">
        <Link to="/signin" className={primaryButton}>
          Sign in
        </Link>
        <Link to="/signin?mode=signup" className={secondaryButton}>
          Create an account
        </Link>
      </div>
    </Card>
  );
}

export default function Home() {
  const { health } = useHealth();
  const { loaded } = useSession();
  const mayUse = useMayUse();
  const uploads = useUploads();
  const navigate = useNavigate();
  const [phase, dispatch] = useReducer(reduce, initialPhase);
  // One song, with its waveform once decoded; or several, sent as a batch.
  const [picked, setPicked] = useState<(PickedAudio & { decoding: boolean }) | null>(null);
  const [several, setSeveral] = useState<File[] | null>(null);
  const [keepAll, setKeepAll] = useState(true);
  // Exact or fast separation; null until the person picks: the server's default applies.
  const [fast, setFast] = useState<boolean | null>(null);
  // Only what the person changed is sent: the server fills in its defaults.
  const [style, setStyle] = useState<Partial<NoteStyle>>({});
  const specs = useParamSpecs();
  const abortRef = useRef<AbortController | null>(null);
  const [refused, setRefused] = useState<File | File[] | null>(null); // the server refused this pick
  const [knownBpm, setKnownBpm] = useState('');
  const extractRef = useRef<HTMLButtonElement | null>(null);
  // A chosen file's card ends with the Extract button: bring it into view (and again once the
  // waveform has been drawn above it).
  useEffect(() => {
    if (picked || several) extractRef.current?.scrollIntoView({ block: 'nearest' });
  }, [picked, several]);
  const maxMb = health?.max_upload_mb ?? DEFAULT_MAX_UPLOAD_MB;

  // The files that pass the checks are kept; what is wrong with the others is said.
  const onFiles = async (files: File[]) => {
    dispatch({ type: 'RESET' });
    setPicked(null);
    setSeveral(null);
    if (files.length > MAX_BATCH_FILES) {
      dispatch({ type: 'REJECT', message: `You chose ${files.length} files; up to ${MAX_BATCH_FILES} songs go at once.` });
      return;
    }
    const problems = files.map((f) => checkFile(f, maxMb));
    const fine = files.filter((_, i) => problems[i] === null);
    const said = problems.filter((p) => p !== null).join(' ');
    if (said) dispatch({ type: 'REJECT', message: fine.length > 0 ? `${said} The other ${fine.length === 1 ? 'song is' : `${fine.length} songs are`} ready.` : said });
    if (fine.length > 1) setSeveral(fine);
    if (fine.length !== 1) return;
    const file = fine[0];
    setPicked({ file, samples: null, duration: null, decoding: true });
    try {
      const buffer = await decodeAudio(await file.arrayBuffer());
      const samples = mixdown(buffer);
      setPicked((p) => (p?.file === file ? { file, samples, duration: samples.length / ANALYSIS_RATE, decoding: false } : p));
    } catch {
      setPicked((p) => (p?.file === file ? { ...p, decoding: false } : p));
    }
  };

  const start = async () => {
    const pick = several ?? picked?.file;
    if (!pick) return;
    dispatch({ type: 'UPLOAD_START', fileName: several ? `${several.length} songs` : picked!.file.name });
    abortRef.current = new AbortController();
    const params: ProcessParams = {
      stems: keepAll ? 'all' : 'bass',
      ...style,
      bpm: knownBpm ? Number(knownBpm) : undefined,
      fast: fast ?? undefined,
    };
    const onUpload = (sent: number) => dispatch({ type: 'UPLOAD_PROGRESS', sent });
    try {
      if (several) {
        const { batch_id } = await uploadBatch(several, params, onUpload, abortRef.current.signal);
        navigate(`/batches/${batch_id}`);
        return;
      }
      const { file, samples, duration } = picked!;
      const { job_id } = await uploadProcess(file, params, onUpload, abortRef.current.signal);
      uploads.set(job_id, { file, samples, duration });
      dispatch({ type: 'UPLOADED', jobId: job_id });
      navigate(`/jobs/${job_id}`);
    } catch (e) {
      const err = e as ApiError;
      let message = err.message;
      if (err.status === 429 && err.retryAfter !== null) message += ` The server suggests waiting ${err.retryAfter} s.`;
      if (err.code === 'unsupported_media' || err.code === 'too_large' || err.code === 'song_too_long') setRefused(pick);
      dispatch({ type: 'UPLOAD_FAILED', message: err.code === 'aborted' ? '' : message });
    }
  };

  const uploading = phase.kind === 'uploading';
  const rejected = phase.kind === 'idle' && phase.error;

  return (
    <div className="space-y-6">
      <section className="pt-4 text-center sm:pt-8">
        <h1 className="text-3xl font-black tracking-tight text-white sm:text-5xl">
          Any song in. <span className="text-acid">Its bass line</span> out, as MIDI.
        </h1>
        <p className="mx-auto mt-3 max-w-2xl text-ink-400">
          Dumu lifts the bass out of your song, writes down every note it plays and finds the tempo and the bars, so the
          MIDI file drops straight into your DAW.
        </p>
      </section>

      {loaded && !mayUse && <AccountNeeded />}
      {mayUse && (
        <>
          <Steps current={stepOf(phase)} />
          <Allowance />
          <CpuNotice duration={picked?.duration ?? null} />

          {rejected && <ErrorNotice title="File not accepted" message={phase.error!} />}

          <Dropzone disabled={uploading} maxUploadMb={maxMb} onFiles={onFiles} />

          {(picked || several) && (
            <Card title={several ? `Your ${several.length} songs` : 'Your song'}>
              {several && (
                <ul className="mb-3 divide-y divide-ink-800" data-testid="picked-files">
                  {several.map((f, i) => (
                    <li key={i} className="flex items-baseline justify-between gap-3 py-1.5">
                      <span className="min-w-0 truncate text-sm text-white">{f.name}</span>
                      <span className="shrink-0 font-mono text-xs text-ink-400">{(f.size / (1024 * 1024)).toFixed(1)} MB</span>
                    </li>
                  ))}
                </ul>
              )}
              {picked && (
                <>
                  <div className="mb-3 flex flex-wrap items-baseline justify-between gap-2">
                    <p className="min-w-0 truncate font-semibold text-white" data-testid="picked-name">{picked.file.name}</p>
                    <p className="font-mono text-xs text-ink-400">
                      {(picked.file.size / (1024 * 1024)).toFixed(1)} MB{picked.duration !== null ? ` · ${formatClock(picked.duration)}` : ''}
                    </p>
                  </div>
                  {picked.samples && picked.duration !== null && (
                    <Waveform samples={picked.samples} duration={picked.duration} label={`Waveform of ${picked.file.name}`} />
                  )}
                  {picked.decoding && <p className="text-sm text-ink-400">Drawing the waveform…</p>}
                  {!picked.decoding && !picked.samples && (
                    <p className="text-sm text-ink-400">This browser cannot preview the file; the server will still try to decode it.</p>
                  )}
                </>
              )}
              <label className="mt-4 flex items-center gap-2 text-sm">
                <input type="checkbox" className="accent-acid" checked={keepAll} onChange={(e) => setKeepAll(e.target.checked)} disabled={uploading} />
                Keep all four stems (drums, bass, other, vocals) for download
              </label>
              {health?.fast_available && (
                <fieldset className="mt-4 text-sm" data-testid="separation-choice">
                  <legend className="text-ink-200">Separation</legend>
                  <div className="mt-1 flex flex-wrap gap-x-6 gap-y-1">
                    <label className="flex items-center gap-2">
                      <input
                        type="radio"
                        name="separation"
                        className="accent-acid"
                        checked={!(fast ?? health.fast_default)}
                        onChange={() => setFast(false)}
                        disabled={uploading}
                      />
                      Exact: the network's own numbers
                    </label>
                    <label className="flex items-center gap-2">
                      <input
                        type="radio"
                        name="separation"
                        className="accent-acid"
                        checked={fast ?? health.fast_default}
                        onChange={() => setFast(true)}
                        disabled={uploading}
                      />
                      Fast: a little quicker, nearly the same notes
                    </label>
                  </div>
                </fieldset>
              )}
              <details className="mt-4 rounded-lg border border-ink-700" data-testid="advanced-settings">
                <summary className="cursor-pointer select-none px-3 py-2 text-sm text-ink-200 hover:text-acid">Advanced settings</summary>
                <div className="border-t border-ink-700 p-3">
                  {specs ? (
                    <NoteStyleFields
                      value={{ mode: specs.mode, quantize: specs.quantize, quantize_strength: specs.quantize_strength.def, ...style }}
                      specs={specs}
                      onChange={(v) => setStyle((s) => ({ ...s, ...v }))}
                      disabled={uploading}
                    />
                  ) : (
                    <p className="text-sm text-ink-400">Asking the server for its settings…</p>
                  )}
                  <label className="mt-4 block text-sm text-ink-200">
                    Known tempo (BPM), if you know it
                    <input
                      type="number"
                      min={specs?.bpm.min}
                      max={specs?.bpm.max}
                      step="any"
                      inputMode="decimal"
                      placeholder="detect"
                      value={knownBpm}
                      onChange={(e) => setKnownBpm(e.target.value)}
                      disabled={uploading}
                      className="ml-2 w-24 rounded border border-ink-600 bg-ink-950 px-2 py-1 font-mono text-sm"
                    />
                  </label>
                  <p className="mt-3 text-xs text-ink-400">You can change these, and the note detection thresholds, on the result page too.</p>
                </div>
              </details>
              <div className="mt-4 flex flex-wrap items-center gap-3">
                {!uploading && (
                  <button ref={extractRef} type="button" className={primaryButton} onClick={start} disabled={refused !== null && refused === (several ?? picked?.file)}>
                    {several ? `Extract ${several.length} bass lines` : 'Extract the bass line'}
                  </button>
                )}
                {uploading && (
                  <>
                    <div className="min-w-[12rem] flex-1">
                      <ProgressBar value={phase.sent * 100} label="Uploading…" />
                    </div>
                    <button type="button" className={secondaryButton} onClick={() => abortRef.current?.abort()}>
                      Cancel upload
                    </button>
                  </>
                )}
              </div>
            </Card>
          )}

          <RecentJobs />
        </>
      )}
    </div>
  );
}
