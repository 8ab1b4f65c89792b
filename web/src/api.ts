// Client for the Dumu HTTP API (the contract in the server's /openapi.json). Every failure,
// including "no server at all", becomes an ApiError with a snake_case code and a sentence a
// musician can read, so no caller ever has to show a raw exception.

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export type Stage = 'queued' | 'decode' | 'tempo' | 'separate' | 'transcribe' | 'midi';
export type StemName = 'drums' | 'bass' | 'other' | 'vocals';

// bass: one clean bass line; raw: Basic Pitch's own polyphonic notes.
export type Mode = 'bass' | 'raw';
// Beat-grid steps the notes can snap to ("1/8t": eighth-note triplets), or off.
export type Quantize = 'off' | '1/4' | '1/8' | '1/16' | '1/32' | '1/8t' | '1/16t' | '1/32t';

export interface TranscribeParams {
  onset_threshold?: number; // 0..1
  frame_threshold?: number; // 0..1
  min_note_ms?: number; // 10..2000
  mode?: Mode;
  quantize?: Quantize;
  quantize_strength?: number; // 0..100 %, how far notes move towards the grid
  bpm?: number | null; // 30..300, a known tempo; absent, 0 or null = detect
}

export interface ProcessParams extends TranscribeParams {
  stems?: string; // "bass" | "all" | comma list
  fast?: boolean; // bf16 separation (Health.fast_available); absent: the server's default
}

export interface Job {
  job_id: string;
  state: JobState;
  progress: number; // 0..100
  stage: Stage;
  message: string;
  filename: string; // the MIDI file's name
  title?: string; // the uploaded file's own name (absent from servers before it was kept)
  created: number; // unix seconds
  updated: number;
  duration: number | null; // audio seconds, null until decoded
  bpm?: number | null; // the result's tempo once done; null when none (absent from older servers)
  key?: string | null; // the result's key, "E minor"; null when none
  batch_id?: string | null; // the batch it was uploaded with (POST /api/batches), else null
  params: {
    onset_threshold: number;
    frame_threshold: number;
    min_note_ms: number;
    stems: string;
    bpm: number | null;
    mode: Mode;
    quantize: Quantize;
    quantize_strength: number;
    fast?: boolean; // absent from servers before the fast separation
  };
  error: { code: string; message: string } | null;
  stems: StemName[];
  queue?: { position: number; starts_in_s: number }; // while queued: 1 = next to start
  webhook?: Webhook | null; // only for a job uploaded with webhook_url
}

// A webhook call about a job's or batch's end, and how its tries went.
export interface Delivery {
  id: number;
  event: 'job.done' | 'job.failed' | 'batch.done';
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_status: number | null; // HTTP status of the last try; null when none answered
  last_error: string | null;
  created: number; // unix seconds
  updated: number;
  next_attempt: number | null; // unix seconds, while pending
}

// The URL told when a job (or every job of a batch) ends, with its calls so far.
export interface Webhook {
  url: string;
  deliveries: Delivery[];
}

// GET /api/jobs: a page of the asker's jobs, newest first.
export interface JobList {
  jobs: Job[];
  total: number; // all the jobs that match q
  limit: number;
  offset: number;
}

// q: only jobs whose title or key holds this text; limit 1..100 (the server's default 50).
export type JobQuery = {
  q?: string;
  limit?: number;
  offset?: number;
};

export type BatchState = 'queued' | 'running' | 'done';

// Several songs uploaded at once (POST /api/batches), each its own job.
export interface Batch {
  batch_id: string;
  created: number; // unix seconds
  state: BatchState; // queued: none started; running: some not ended; done: every job ended
  progress: number; // 0..100, the mean of the jobs' (an ended job counts 100)
  counts: Record<JobState, number>;
  jobs: Job[]; // oldest first, in the order the files were sent
  webhook?: Webhook | null; // only for a batch uploaded with webhook_url
}

// The most files one POST /api/batches takes.
export const MAX_BATCH_FILES = 20;

export interface Note {
  pitch: number; // MIDI note number
  start: number; // seconds
  end: number; // seconds
  velocity: number; // 1..127
  confidence?: number; // bass mode: probability that the note is right, 0..1
}

export interface Key {
  name: string; // spelled by its signature: "E minor", "F# minor", "Bb major"
  tonic: number; // pitch class 0..11
  minor: boolean;
  fifths: number; // sharps (> 0) or flats (< 0), -7..7
}

// Where the notes come from: the bass stem; the other stem's or the mix's bass register when
// the bass stem misses the bass line; none: no bass found (no notes).
export type NoteSource = 'bass_stem' | 'other_stem' | 'mix' | 'none';

// found: a clear pulse of a bar or more; too_short: audio under 3 s; no_pulse: silence, noise
// or no steady beat.
export type TempoStatus = 'found' | 'too_short' | 'no_pulse';

export interface Result {
  job_id: string;
  bpm: number; // the MIDI file's tempo: the detected one, or 120 when none was found
  tempo_status?: TempoStatus; // absent in results written before it was measured
  tempo_confidence?: number; // how clear the pulse is (under 0.03: none)
  key_found?: boolean; // false: the notes cannot name a key
  midi_b64: string;
  filename: string;
  duration: number; // seconds
  notes: Note[];
  n_notes: number;
  mode: Mode;
  source?: NoteSource; // absent in results written before sources were chosen
  key: Key;
  time_signature: string; // "4/4", "3/4", "6/8"
  beats_per_bar?: number; // the meter, as time_signature names it
  compound?: boolean; // each beat a dotted quarter (6/8, 9/8, 12/8)
  first_downbeat?: number; // index into beats of the first bar's first beat
  beats: number[]; // seconds: the beat grid the MIDI tempo map follows
  bars?: number[]; // seconds: the MIDI file's bar lines as a DAW reads it (bar i is bar i + 1)
  // The note parameters of this result and of the job's first run (re-transcribing with
  // first_params gives the first result exactly). Results written before they were kept
  // carry mode and grid alone, and no first_params.
  params: ResultParams;
  first_params?: ResultParams;
}

export type ResultParams = TranscribeParams & { mode: Mode; quantize: Quantize; quantize_strength: number };

export interface Health {
  status: string;
  version: string;
  store: { kind: 'sqlite' | 'postgresql'; reachable: boolean };
  queue_depth: number;
  running: number;
  workers: number; // worker threads of this node (0: an API node of a fleet)
  live_workers: number | null; // worker processes of the fleet (PostgreSQL); null with SQLite
  threads_per_worker: number;
  models_loaded: { htdemucs: boolean; basic_pitch: boolean };
  max_upload_mb: number;
  fast_available: boolean; // the fast separation takes effect on this server (AVX512_BF16)
  fast_default: boolean; // what an upload without `fast` gets
  seconds_per_audio_minute: number;
}

// Basic Pitch's defaults, as the server applies them when a field is absent.

export type StemFormat = 'wav' | 'flac' | 'mp3';
export type MidiTempo = 'map' | 'constant';

// The tab's strings: 4 (E A D G) or 5 (B E A D G).
export type TabStrings = 4 | 5;

export class ApiError extends Error {
  readonly status: number; // HTTP status, 0 when no answer came
  readonly code: string;
  readonly retryAfter: number | null; // seconds, from Retry-After on 429

  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export const UNREACHABLE_MESSAGE =
  'The Dumu server cannot be reached. Check that `dumu serve` is running, then try again.';

// Sentences for the codes a person meets, used when the server sent no message of its own.
const FALLBACK_MESSAGES: Record<string, string> = {
  too_large: 'The file is larger than this server accepts.',
  song_too_long: 'The song is longer than your plan accepts.',
  unsupported_media: 'The file could not be decoded as audio. Try WAV, FLAC, OGG Vorbis or MP3.',
  queue_full: 'The server is busy with other songs. Try again in a moment.',
  not_found: 'This job does not exist (it may have been deleted).',
  not_ready: 'The job is not finished yet.',
  bad_request: 'The server rejected the request.',
};

function retryAfterSeconds(headerValue: string | null): number | null {
  if (headerValue === null) return null;
  const n = Number(headerValue);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

// Turns a non-2xx answer into an ApiError, taking code and message from the JSON body when it
// has them.
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = '';
  try {
    const body = (await res.json()) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string') code = body.code;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // Not JSON (a proxy's error page, say): keep the status-based code.
  }
  if (!message) message = FALLBACK_MESSAGES[code] ?? `The server answered ${res.status} ${res.statusText}.`;
  return new ApiError(res.status, code, message, retryAfterSeconds(res.headers.get('Retry-After')));
}

// The CSRF token of this browser's session (or anonymous token) when the server has accounts
// (`dumu serve --auth optional|required`): every state-changing request made with a cookie
// must carry it in X-CSRF-Token. GET /api/session tells it; null until then, and with --auth off.
let csrfToken: string | null = null;

export function setCsrfToken(token: string | null) {
  csrfToken = token;
}

const SAFE_METHODS = ['GET', 'HEAD'];

function withCsrf(init?: RequestInit): RequestInit | undefined {
  const method = (init?.method ?? 'GET').toUpperCase();
  if (!csrfToken || SAFE_METHODS.includes(method)) return init;
  const headers = new Headers(init?.headers);
  headers.set('X-CSRF-Token', csrfToken);
  return { ...init, headers };
}

// fetch that only resolves with a 2xx answer; everything else becomes an ApiError. A 403
// "csrf" (the token changed: an anonymous browser's first upload gave it a cookie, or it signed
// in elsewhere) refreshes the token from GET /api/session and tries once more.
async function answer(path: string, init?: RequestInit, retried = false): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, withCsrf(init));
  } catch {
    throw new ApiError(0, 'unreachable', UNREACHABLE_MESSAGE);
  }
  if (!res.ok) {
    const err = await errorFromResponse(res);
    if (err.status === 403 && err.code === 'csrf' && !retried) {
      await api.session();
      return answer(path, init, true);
    }
    throw err;
  }
  return res;
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await answer(path, init);
  try {
    return (await res.json()) as T;
  } catch {
    throw new ApiError(res.status, 'bad_response', 'The server sent an answer this page cannot read.');
  }
}

const enc = encodeURIComponent;

export const urls = {
  progress: (id: string) => `/api/progress/${enc(id)}`,
  batchProgress: (id: string) => `/api/progress/batch/${enc(id)}`,
  // the MIDI, MusicXML and 4-string tab of every done job of the batch (409 not_ready before one is)
  batchZip: (id: string) => `/api/batches/${enc(id)}/zip`,
  // tempo: map (follows the song's beats, the default) or constant (one tempo, notes at their times)
  midi: (id: string, tempo: MidiTempo = 'map') => `/api/jobs/${enc(id)}/midi${tempo === 'constant' ? '?tempo=constant' : ''}`,
  musicxml: (id: string) => `/api/jobs/${enc(id)}/musicxml`,
  // width: characters a line may take (the view's); absent: the file's 4 bars a line
  tab: (id: string, strings: TabStrings, width?: number) => `/api/jobs/${enc(id)}/tab?strings=${strings}${width ? `&width=${width}` : ''}`,
  // wav and flac: 24-bit at the upload's rate (downloads); mp3: the preview the page streams
  stem: (id: string, name: StemName, format: StemFormat = 'wav') => `/api/jobs/${enc(id)}/stems/${name}?format=${format}`,
  // the uploaded song as mono MP3 (22.05 kHz), kept with the job for its pictures
  mix: (id: string) => `/api/jobs/${enc(id)}/mix`,
};

// Accounts (`dumu serve --auth`): off = one user, no accounts; optional = anyone, accounts
// welcome; required = nothing without an account (or an API key).
export type AuthMode = 'off' | 'optional' | 'required';

export interface Account {
  id: string;
  email: string;
  created: number; // unix seconds
  tier: string; // "free", "pro", ...
  limits?: Limits; // GET /api/account only: the tier's limits
  usage?: Usage; // GET /api/account only: today's usage
}

// A tier's limits (`dumu admin tiers`).
export interface Limits {
  tier: string;
  requests_per_minute: number;
  concurrent_jobs: number; // queued + running at once
  minutes_per_day: number; // of audio, per UTC day
  max_song_s: number; // the longest song accepted
  retention_h: number; // results kept this long
}

// Today's use of the daily minutes (UTC day).
export interface Usage {
  minutes_used: number;
  minutes_left: number;
  jobs_active: number;
  resets_in_s: number; // until midnight UTC
}

// GET /api/account: the account with its tier's limits and today's usage.
export type AccountDetails = Account & { limits: Limits; usage: Usage };

export interface SessionInfo {
  auth: AuthMode;
  account: Account | null; // null: not signed in
  csrf_token: string | null;
}

export interface ApiKey {
  id: string;
  name: string;
  created: number; // unix seconds
}

// "?q=bass&limit=20", leaving out what is absent or empty; "" when nothing is left.
function queryString(fields: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined && value !== '') q.set(name, String(value));
  const s = q.toString();
  return s ? `?${s}` : '';
}

const AUTH_OFF: SessionInfo = { auth: 'off', account: null, csrf_token: null };

function json(method: string, body: unknown): RequestInit {
  return { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
}

type SignedIn = { account: Account; csrf_token: string };

function signedIn(s: SignedIn): SignedIn {
  setCsrfToken(s.csrf_token);
  return s;
}

export const api = {
  health: () => request<Health>('/health'),
  // Who this browser is; a server without accounts answers 404 (code auth_off).
  session: () =>
    request<SessionInfo>('/api/session').then(
      (s) => {
        setCsrfToken(s.csrf_token);
        return s;
      },
      (e: ApiError) => {
        if (e.status === 404) {
          setCsrfToken(null);
          return AUTH_OFF;
        }
        throw e;
      },
    ),
  // Both answer the account and the new session's CSRF token.
  signUp: (email: string, password: string) => request<SignedIn>('/api/account', json('POST', { email, password })).then(signedIn),
  signIn: (email: string, password: string) => request<SignedIn>('/api/session', json('POST', { email, password })).then(signedIn),
  signOut: () =>
    answer('/api/session', { method: 'DELETE' }).then(() => {
      setCsrfToken(null);
    }),
  account: () => request<AccountDetails>('/api/account'),
  // Deletes the account with every job and file of it.
  deleteAccount: () =>
    answer('/api/account', { method: 'DELETE' }).then(() => {
      setCsrfToken(null);
    }),
  keys: () => request<{ keys: ApiKey[] }>('/api/keys').then((b) => b.keys),
  // The key itself comes this once.
  createKey: (name: string) => request<ApiKey & { key: string }>('/api/keys', json('POST', { name })),
  revokeKey: (id: string) => answer(`/api/keys/${enc(id)}`, { method: 'DELETE' }).then(() => undefined),
  job: (id: string) => request<Job>(`/api/jobs/${enc(id)}`),
  jobs: (query: JobQuery = {}) => request<JobList>(`/api/jobs${queryString(query)}`),
  batch: (id: string) => request<Batch>(`/api/batches/${enc(id)}`),
  result: (id: string) => request<Result>(`/api/result/${enc(id)}`),
  transcribe: (id: string, params: TranscribeParams) =>
    request<Result>(`/api/jobs/${enc(id)}/transcribe`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(params),
    }),
  tab: (id: string, strings: TabStrings, width?: number) => answer(urls.tab(id, strings, width)).then((res) => res.text()),
  remove: (id: string) =>
    request<{ job_id: string; state: 'cancelled' | 'deleted' }>(`/api/jobs/${enc(id)}`, { method: 'DELETE' }),
  // a job that failed for want of disk space on the server (error code "storage") runs again
  retry: (id: string) => request<{ job_id: string; state: 'queued' }>(`/api/jobs/${enc(id)}/retry`, { method: 'POST' }),
};

// The multipart form of an upload: one `file` field per file, then the parameters.
export function processForm(files: File[], params: ProcessParams): FormData {
  const form = new FormData();
  for (const file of files) form.append('file', file, file.name);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) form.append(key, String(value));
  }
  return form;
}

export type Uploaded = { job_id: string; state: JobState };
export type BatchUploaded = { batch_id: string; job_ids: string[]; state: BatchState };

// POST /api/process: one song, one job.
export function uploadProcess(file: File, params: ProcessParams, onUpload?: (fraction: number) => void, signal?: AbortSignal): Promise<Uploaded> {
  return upload(
    '/api/process',
    [file],
    params,
    (b) => (typeof b.job_id === 'string' ? { job_id: b.job_id, state: (b.state as JobState) ?? 'queued' } : null),
    onUpload,
    signal,
  );
}

// POST /api/batches: several songs (at most MAX_BATCH_FILES) in one request, a job each.
export function uploadBatch(files: File[], params: ProcessParams, onUpload?: (fraction: number) => void, signal?: AbortSignal): Promise<BatchUploaded> {
  return upload(
    '/api/batches',
    files,
    params,
    (b) =>
      typeof b.batch_id === 'string' && Array.isArray(b.job_ids)
        ? { batch_id: b.batch_id, job_ids: b.job_ids as string[], state: (b.state as BatchState) ?? 'queued' }
        : null,
    onUpload,
    signal,
  );
}

type Accept<T> = (body: Record<string, unknown>) => T | null; // null: not the answer expected

// An upload. XMLHttpRequest rather than fetch because only it reports upload progress
// (onUpload gets the sent fraction 0..1), which feeds the Upload step. With accounts, a 403
// "csrf" refreshes the token and sends once more (as answer() does).
async function upload<T>(
  path: string,
  files: File[],
  params: ProcessParams,
  accept: Accept<T>,
  onUpload?: (fraction: number) => void,
  signal?: AbortSignal,
): Promise<T> {
  try {
    return await uploadOnce(path, files, params, accept, onUpload, signal);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 403 && e.code === 'csrf')) throw e;
    await api.session();
    return uploadOnce(path, files, params, accept, onUpload, signal);
  }
}

function uploadOnce<T>(
  path: string,
  files: File[],
  params: ProcessParams,
  accept: Accept<T>,
  onUpload?: (fraction: number) => void,
  signal?: AbortSignal,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    if (csrfToken) xhr.setRequestHeader('X-CSRF-Token', csrfToken);
    xhr.responseType = 'text';
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && onUpload) onUpload(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(xhr.responseText) ?? {};
      } catch {
        // Handled below as a missing field or status-based code.
      }
      const accepted = xhr.status === 202 ? accept(body) : null;
      if (accepted !== null) {
        resolve(accepted);
        return;
      }
      const code = typeof body.code === 'string' ? body.code : `http_${xhr.status}`;
      const message =
        (typeof body.message === 'string' && body.message) ||
        (FALLBACK_MESSAGES[code] ?? `The server answered ${xhr.status} ${xhr.statusText}.`);
      reject(new ApiError(xhr.status, code, message, retryAfterSeconds(xhr.getResponseHeader('Retry-After'))));
    };
    xhr.onerror = () => reject(new ApiError(0, 'unreachable', UNREACHABLE_MESSAGE));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.'));
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(processForm(files, params));
  });
}

// Client-side checks before any upload: the server decodes the content and has the last word,
// these only catch the obvious cases early.
export const ACCEPTED_EXTENSIONS = ['wav', 'flac', 'ogg', 'oga', 'mp3'];
export const DEFAULT_MAX_UPLOAD_MB = 100;

export function checkFile(file: File, maxUploadMb: number): string | null {
  const ext = file.name.includes('.') ? file.name.split('.').pop()!.toLowerCase() : '';
  const audioType = file.type.startsWith('audio/') || file.type === 'application/ogg';
  if (!ACCEPTED_EXTENSIONS.includes(ext) && !audioType) {
    return `"${file.name}" does not look like audio. Dumu reads WAV, FLAC, OGG Vorbis and MP3.`;
  }
  if (file.size === 0) return `"${file.name}" is empty.`;
  if (file.size > maxUploadMb * 1024 * 1024) {
    const mb = (file.size / (1024 * 1024)).toFixed(1);
    return `"${file.name}" is ${mb} MB; this server accepts up to ${maxUploadMb} MB.`;
  }
  return null;
}

export function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
