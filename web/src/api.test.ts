import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, base64ToBytes, checkFile, processForm, setCsrfToken, uploadBatch, uploadProcess, UNREACHABLE_MESSAGE, urls } from './api';
import { FakeXhr } from './test/FakeXhr';
import { jsonResponse, makeBatch, makeJob } from './test/fixtures';

afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

describe('accounts and CSRF', () => {
  const account = { id: 'a1', email: 'bassist@example.org', created: 1765000000, tier: 'free' };

  it('a server without accounts (404 auth_off) reads as auth off', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(jsonResponse(404, { code: 'auth_off', message: 'no accounts here' })));
    expect(await api.session()).toEqual({ auth: 'off', account: null, csrf_token: null });
  });

  it('sends the session token on state-changing requests only', async () => {
    const fetchMock = vi
      .fn()
      .mockResolvedValueOnce(jsonResponse(200, { auth: 'required', account, csrf_token: 'tok1' }))
      .mockResolvedValueOnce(jsonResponse(200, { jobs: [] }))
      .mockResolvedValueOnce(jsonResponse(200, { job_id: 'j1', state: 'deleted' }));
    vi.stubGlobal('fetch', fetchMock);
    expect((await api.session()).account?.email).toBe('bassist@example.org');
    await api.jobs();
    await api.remove('j1');
    expect(fetchMock.mock.calls[1][1]).toBeUndefined(); // GET: no token
    const del = fetchMock.mock.calls[2][1] as RequestInit;
    expect(del.method).toBe('DELETE');
    expect(new Headers(del.headers).get('X-CSRF-Token')).toBe('tok1');
  });

  it('refreshes a stale token once after a 403 csrf', async () => {
    setCsrfToken('old');
    const fetchMock = vi
      .fn()
      .mockResolvedValueOnce(jsonResponse(403, { code: 'csrf', message: 'missing or wrong X-CSRF-Token' }))
      .mockResolvedValueOnce(jsonResponse(200, { auth: 'optional', account: null, csrf_token: 'new' }))
      .mockResolvedValueOnce(jsonResponse(200, { job_id: 'j1', state: 'queued' }));
    vi.stubGlobal('fetch', fetchMock);
    expect((await api.retry('j1')).state).toBe('queued');
    expect(fetchMock.mock.calls[1][0]).toBe('/api/session');
    expect(new Headers((fetchMock.mock.calls[0][1] as RequestInit).headers).get('X-CSRF-Token')).toBe('old');
    expect(new Headers((fetchMock.mock.calls[2][1] as RequestInit).headers).get('X-CSRF-Token')).toBe('new');
  });

  it('a second 403 csrf is an error, not a loop', async () => {
    const fetchMock = vi
      .fn()
      .mockResolvedValueOnce(jsonResponse(403, { code: 'csrf', message: 'missing or wrong X-CSRF-Token' }))
      .mockResolvedValueOnce(jsonResponse(200, { auth: 'optional', account: null, csrf_token: null }))
      .mockResolvedValueOnce(jsonResponse(403, { code: 'csrf', message: 'missing or wrong X-CSRF-Token' }));
    vi.stubGlobal('fetch', fetchMock);
    const err: ApiError = await api.retry('j1').catch((e) => e);
    expect(err.code).toBe('csrf');
    expect(fetchMock).toHaveBeenCalledTimes(3);
  });

  it('signing in keeps the new token; signing out drops it', async () => {
    const fetchMock = vi
      .fn()
      .mockResolvedValueOnce(jsonResponse(200, { account, csrf_token: 'tok2' }))
      .mockResolvedValueOnce(new Response(null, { status: 204 }))
      .mockResolvedValueOnce(jsonResponse(200, { job_id: 'j1', state: 'queued' }));
    vi.stubGlobal('fetch', fetchMock);
    const s = await api.signIn('bassist@example.org', 'a long passphrase');
    expect(s.account.id).toBe('a1');
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe('/api/session');
    expect(JSON.parse(init.body)).toEqual({ email: 'bassist@example.org', password: 'a long passphrase' });
    await api.signOut();
    expect(new Headers((fetchMock.mock.calls[1][1] as RequestInit).headers).get('X-CSRF-Token')).toBe('tok2');
    await api.retry('j1');
    expect(fetchMock.mock.calls[2][1].headers).toBeUndefined(); // no token after signing out
  });

  it('makes and lists API keys', async () => {
    const fetchMock = vi
      .fn()
      .mockResolvedValueOnce(jsonResponse(201, { id: 'k1', name: 'script', created: 1765000000, key: 'dumu_k_secret' }))
      .mockResolvedValueOnce(jsonResponse(200, { keys: [{ id: 'k1', name: 'script', created: 1765000000 }] }));
    vi.stubGlobal('fetch', fetchMock);
    expect((await api.createKey('script')).key).toBe('dumu_k_secret');
    expect((await api.keys()).map((k) => k.name)).toEqual(['script']);
  });
});

describe('request helpers', () => {
  it('returns the parsed body of a 200', async () => {
    const fetchMock = vi.fn().mockResolvedValue(jsonResponse(200, { status: 'ok', seconds_per_audio_minute: 23.5 }));
    vi.stubGlobal('fetch', fetchMock);
    const h = await api.health();
    expect(h.seconds_per_audio_minute).toBe(23.5);
    expect(fetchMock).toHaveBeenCalledWith('/health', undefined);
  });

  it('turns the contract error body into an ApiError', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(jsonResponse(404, { code: 'not_found', message: 'No job with this id.' })));
    const err = await api.job('abc').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(404);
    expect(err.code).toBe('not_found');
    expect(err.message).toBe('No job with this id.');
  });

  it('reads Retry-After on 429', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(jsonResponse(429, { code: 'queue_full', message: 'Busy.' }, { 'Retry-After': '30' })));
    const err: ApiError = await api.jobs().catch((e) => e);
    expect(err.code).toBe('queue_full');
    expect(err.retryAfter).toBe(30);
  });

  it('keeps a status-based code and a sentence when the body is not JSON', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' })));
    const err: ApiError = await api.result('x').catch((e) => e);
    expect(err.code).toBe('http_502');
    expect(err.message).toMatch(/502/);
  });

  it('reports an unreachable server when fetch itself fails', async () => {
    vi.stubGlobal('fetch', vi.fn().mockRejectedValue(new TypeError('Failed to fetch')));
    const err: ApiError = await api.health().catch((e) => e);
    expect(err.status).toBe(0);
    expect(err.code).toBe('unreachable');
    expect(err.message).toBe(UNREACHABLE_MESSAGE);
  });

  it('posts re-transcription parameters as JSON to the job', async () => {
    const fetchMock = vi.fn().mockResolvedValue(jsonResponse(200, { job_id: 'j1', n_notes: 3, notes: [] }));
    vi.stubGlobal('fetch', fetchMock);
    const r = await api.transcribe('j1', { onset_threshold: 0.7, min_note_ms: 50 });
    expect(r.n_notes).toBe(3);
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe('/api/jobs/j1/transcribe');
    expect(init.method).toBe('POST');
    expect(init.headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(init.body)).toEqual({ onset_threshold: 0.7, min_note_ms: 50 });
  });

  it('sends the note mode and the quantisation grid with a re-transcription', async () => {
    const fetchMock = vi.fn().mockResolvedValue(
      jsonResponse(200, { job_id: 'j1', n_notes: 5, notes: [], mode: 'raw', key: { name: 'E minor', tonic: 4, minor: true, fifths: 1 }, time_signature: '3/4' }),
    );
    vi.stubGlobal('fetch', fetchMock);
    const r = await api.transcribe('j1', { mode: 'raw', quantize: '1/16t', quantize_strength: 60 });
    expect(r.mode).toBe('raw');
    expect(r.key.name).toBe('E minor');
    expect(r.time_signature).toBe('3/4');
    expect(JSON.parse(fetchMock.mock.calls[0][1].body)).toEqual({ mode: 'raw', quantize: '1/16t', quantize_strength: 60 });
  });

  it('fetches the bass tab as text for 4 or 5 strings', async () => {
    const tab = '4-string bass (E A D G), 4/4\n\nG|--2--|\nD|-----|\nA|-----|\nE|-----|\n';
    const fetchMock = vi.fn().mockResolvedValue(new Response(tab, { status: 200, headers: { 'Content-Type': 'text/plain; charset=utf-8' } }));
    vi.stubGlobal('fetch', fetchMock);
    expect(await api.tab('j1', 5)).toBe(tab);
    expect(fetchMock.mock.calls[0][0]).toBe('/api/jobs/j1/tab?strings=5');
  });

  it('turns a refused tab request into an ApiError', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(jsonResponse(409, { code: 'not_ready', message: 'Not finished.' })));
    const err: ApiError = await api.tab('j1', 4).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe('not_ready');
    expect(err.message).toBe('Not finished.');
  });

  it('builds the download addresses', () => {
    expect(urls.musicxml('j 1')).toBe('/api/jobs/j%201/musicxml');
    expect(urls.tab('j1', 4)).toBe('/api/jobs/j1/tab?strings=4');
  });

  it('asks for a page of jobs, with a search, and leaves out what is not given', async () => {
    const list = { jobs: [makeJob({ job_id: 'j1' })], total: 41, limit: 20, offset: 40 };
    const fetchMock = vi.fn().mockImplementation(() => Promise.resolve(jsonResponse(200, list)));
    vi.stubGlobal('fetch', fetchMock);
    const page = await api.jobs({ q: 'E minor', limit: 20, offset: 40 });
    expect(page.total).toBe(41);
    expect(page.jobs[0].key).toBe('F# minor');
    await api.jobs({ q: '', limit: 10 });
    await api.jobs();
    expect(fetchMock.mock.calls.map((c) => c[0])).toEqual(['/api/jobs?q=E+minor&limit=20&offset=40', '/api/jobs?limit=10', '/api/jobs']);
  });

  it('reads a batch, and builds its stream and zip addresses', async () => {
    const batch = makeBatch('b 1', [makeJob({ job_id: 'j1' }), makeJob({ job_id: 'j2', state: 'running', progress: 50 })]);
    const fetchMock = vi.fn().mockResolvedValue(jsonResponse(200, batch));
    vi.stubGlobal('fetch', fetchMock);
    const b = await api.batch('b 1');
    expect(b.counts).toEqual({ queued: 0, running: 1, done: 1, failed: 0, cancelled: 0 });
    expect(b.progress).toBe(75);
    expect(fetchMock.mock.calls[0][0]).toBe('/api/batches/b%201');
    expect(urls.batchProgress('b1')).toBe('/api/progress/batch/b1');
    expect(urls.batchZip('b1')).toBe('/api/batches/b1/zip');
  });

  it('says not_found for a batch that is not there (or not yours)', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(jsonResponse(404, { code: 'not_found', message: 'No batch with this id.' })));
    const err: ApiError = await api.batch('b9').catch((e) => e);
    expect(err.status).toBe(404);
    expect(err.code).toBe('not_found');
  });

  it('deletes a job with DELETE', async () => {
    const fetchMock = vi.fn().mockResolvedValue(jsonResponse(200, { job_id: 'j1', state: 'cancelled' }));
    vi.stubGlobal('fetch', fetchMock);
    expect((await api.remove('j1')).state).toBe('cancelled');
    expect(fetchMock.mock.calls[0][1].method).toBe('DELETE');
  });
});

describe('uploadProcess', () => {
  const file = new File([new Uint8Array([1, 2, 3])], 'song.flac', { type: 'audio/flac' });

  it('carries the CSRF token, and refreshes it once after a 403 csrf', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    const fetchMock = vi.fn().mockResolvedValue(jsonResponse(200, { auth: 'optional', account: null, csrf_token: 'anon2' }));
    vi.stubGlobal('fetch', fetchMock);
    setCsrfToken('anon1');
    FakeXhr.queue = [{ status: 403, body: JSON.stringify({ code: 'csrf', message: 'missing or wrong X-CSRF-Token' }) }];
    FakeXhr.answer = { status: 202, body: JSON.stringify({ job_id: 'j2', state: 'queued' }) };
    const first: FakeXhr[] = [];
    const open = FakeXhr.prototype.open;
    FakeXhr.prototype.open = function (this: FakeXhr, m: string, u: string) {
      first.push(this);
      open.call(this, m, u);
    };
    try {
      expect((await uploadProcess(file, {})).job_id).toBe('j2');
    } finally {
      FakeXhr.prototype.open = open;
    }
    expect(first.map((x) => x.requestHeaders['X-CSRF-Token'])).toEqual(['anon1', 'anon2']);
    expect(fetchMock).toHaveBeenCalledWith('/api/session', undefined);
  });

  it('posts the file and parameters and resolves with the job id', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    FakeXhr.answer = { status: 202, body: JSON.stringify({ job_id: '1b4e28ba-2fa1-41d2-883f-0016d3cca427', state: 'queued' }) };
    const sent: number[] = [];
    const r = await uploadProcess(file, { stems: 'all', onset_threshold: 0.4 }, (f) => sent.push(f));
    expect(r.job_id).toBe('1b4e28ba-2fa1-41d2-883f-0016d3cca427');
    expect(sent).toEqual([0.5, 1]);
    const x = FakeXhr.last!;
    expect(x.method).toBe('POST');
    expect(x.url).toBe('/api/process');
    expect((x.sent!.get('file') as File).name).toBe('song.flac');
    expect(x.sent!.get('stems')).toBe('all');
    expect(x.sent!.get('onset_threshold')).toBe('0.4');
  });

  it('rejects with the server code on 415', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    FakeXhr.answer = { status: 415, body: JSON.stringify({ code: 'unsupported_media', message: 'Not audio.' }) };
    const err: ApiError = await uploadProcess(file, {}).catch((e) => e);
    expect(err.status).toBe(415);
    expect(err.code).toBe('unsupported_media');
    expect(err.message).toBe('Not audio.');
  });

  it('rejects with queue_full and Retry-After on 429', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    FakeXhr.answer = { status: 429, body: JSON.stringify({ code: 'queue_full', message: 'Busy.' }), headers: { 'Retry-After': '12' } };
    const err: ApiError = await uploadProcess(file, {}).catch((e) => e);
    expect(err.code).toBe('queue_full');
    expect(err.retryAfter).toBe(12);
  });

  it('rejects as unreachable on a network error', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    FakeXhr.answer = 'network';
    const err: ApiError = await uploadProcess(file, {}).catch((e) => e);
    expect(err.code).toBe('unreachable');
  });

  it('sends the note mode and quantisation with the upload', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    FakeXhr.answer = { status: 202, body: JSON.stringify({ job_id: 'j2', state: 'queued' }) };
    await uploadProcess(file, { stems: 'bass', mode: 'raw', quantize: '1/8t', quantize_strength: 75 });
    const form = FakeXhr.last!.sent!;
    expect(form.get('mode')).toBe('raw');
    expect(form.get('quantize')).toBe('1/8t');
    expect(form.get('quantize_strength')).toBe('75');
  });

  it('leaves absent parameters out of the form', () => {
    const form = processForm([file], { bpm: undefined, stems: 'bass' });
    expect([...form.keys()].sort()).toEqual(['file', 'stems']);
  });
});

describe('uploadBatch', () => {
  const files = [
    new File([new Uint8Array([1, 2, 3])], 'one.flac', { type: 'audio/flac' }),
    new File([new Uint8Array([4, 5])], 'two.wav', { type: 'audio/wav' }),
  ];

  it('posts every file and the parameters as one request and resolves with the batch', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    setCsrfToken('tok');
    FakeXhr.answer = { status: 202, body: JSON.stringify({ batch_id: 'b1', job_ids: ['j1', 'j2'], state: 'queued' }) };
    const sent: number[] = [];
    const r = await uploadBatch(files, { stems: 'all', mode: 'raw', fast: true }, (f) => sent.push(f));
    expect(r).toEqual({ batch_id: 'b1', job_ids: ['j1', 'j2'], state: 'queued' });
    expect(sent).toEqual([0.5, 1]);
    const x = FakeXhr.last!;
    expect(x.method).toBe('POST');
    expect(x.url).toBe('/api/batches');
    expect(x.requestHeaders['X-CSRF-Token']).toBe('tok');
    expect((x.sent!.getAll('file') as File[]).map((f) => f.name)).toEqual(['one.flac', 'two.wav']);
    expect(x.sent!.get('stems')).toBe('all');
    expect(x.sent!.get('mode')).toBe('raw');
    expect(x.sent!.get('fast')).toBe('true');
  });

  it("rejects with the server's code and sentence: a file it cannot decode, too many files, a wait", async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    FakeXhr.answer = { status: 415, body: JSON.stringify({ code: 'unsupported_media', message: '"two.wav" is not audio.' }) };
    let err: ApiError = await uploadBatch(files, {}).catch((e) => e);
    expect([err.status, err.code, err.message]).toEqual([415, 'unsupported_media', '"two.wav" is not audio.']);
    FakeXhr.answer = { status: 400, body: JSON.stringify({ code: 'bad_request', message: 'at most 20 files per batch' }) };
    err = await uploadBatch(files, {}).catch((e) => e);
    expect([err.code, err.message]).toEqual(['bad_request', 'at most 20 files per batch']);
    FakeXhr.answer = { status: 429, body: JSON.stringify({ code: 'too_many_jobs', message: 'Slow down.' }), headers: { 'Retry-After': '7' } };
    err = await uploadBatch(files, {}).catch((e) => e);
    expect(err.retryAfter).toBe(7);
    FakeXhr.answer = { status: 413, body: '' };
    err = await uploadBatch(files, {}).catch((e) => e);
    expect(err.code).toBe('http_413');
  });

  it('takes a 202 without a batch id for what it is: an answer it cannot read', async () => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    FakeXhr.answer = { status: 202, body: JSON.stringify({ job_id: 'j1', state: 'queued' }) };
    const err: ApiError = await uploadBatch(files, {}).catch((e) => e);
    expect(err.code).toBe('http_202');
  });
});

describe('checkFile', () => {
  it('accepts audio by extension or type', () => {
    expect(checkFile(new File(['x'], 'a.FLAC'), 10)).toBeNull();
    expect(checkFile(new File(['x'], 'noext', { type: 'audio/mpeg' }), 10)).toBeNull();
  });
  it('refuses other files, empty files and files over the limit', () => {
    expect(checkFile(new File(['x'], 'notes.pdf', { type: 'application/pdf' }), 10)).toMatch(/does not look like audio/);
    expect(checkFile(new File([], 'a.wav'), 10)).toMatch(/empty/);
    const big = new File([new Uint8Array(2 * 1024 * 1024 + 1)], 'a.wav');
    expect(checkFile(big, 2)).toMatch(/accepts up to 2 MB/);
  });
});

it('decodes base64 to bytes', () => {
  expect([...base64ToBytes('TVRoZA==')]).toEqual([0x4d, 0x54, 0x68, 0x64]); // "MThd"
});
