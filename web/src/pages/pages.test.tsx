import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Layout, ROUTER_FUTURE } from '../App';
import type { Job, JobList } from '../api';
import { HealthProvider } from '../health';
import { SessionProvider } from '../session';
import { FakeEventSource } from '../test/FakeEventSource';
import { FakeXhr } from '../test/FakeXhr';
import { jsonResponse, makeBatch, makeJob, stubFetch } from '../test/fixtures';
import { UploadsProvider } from '../uploads';
import { countsText, songFacts } from './BatchPage';
import { PAGE_SIZE, rangeText, SEARCH_DEBOUNCE_MS } from './Songs';

const AUTH_OFF = jsonResponse(404, { code: 'auth_off', message: 'This server has no accounts.' });
const HEALTH = { status: 'ok', version: '0.1.0', workers: 1, threads_per_worker: 2, max_upload_mb: 100, seconds_per_audio_minute: 25, fast_available: false };

// A server without accounts that answers `route`, and /health and /api/session itself.
function server(route: Parameters<typeof stubFetch>[0] = () => undefined) {
  return stubFetch((url, init) => {
    if (url === '/health') return jsonResponse(200, HEALTH);
    if (url === '/api/session') return AUTH_OFF.clone();
    return route(url, init);
  });
}

function renderAt(path: string) {
  return render(
    <HealthProvider>
      <SessionProvider>
        <UploadsProvider>
          <MemoryRouter initialEntries={[path]} future={ROUTER_FUTURE}>
            <Layout />
          </MemoryRouter>
        </UploadsProvider>
      </SessionProvider>
    </HealthProvider>,
  );
}

beforeEach(() => {
  FakeEventSource.install();
  window.scrollTo = vi.fn();
  Element.prototype.scrollIntoView = vi.fn();
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('the header', () => {
  it('links "Your songs" for whoever may use the page', async () => {
    server();
    renderAt('/');
    expect((await screen.findByTestId('songs-link')).getAttribute('href')).toBe('/songs');
  });

  it('not for a visitor where an account is required', async () => {
    stubFetch((url) => (url === '/api/session' ? jsonResponse(200, { auth: 'required', account: null, csrf_token: null }) : undefined));
    renderAt('/');
    await screen.findByTestId('signin-link');
    expect(screen.queryByTestId('songs-link')).toBeNull();
  });
});

describe('several songs at once', () => {
  const file = (name: string) => new File([new Uint8Array([1, 2, 3])], name, { type: 'audio/flac' });
  const pick = (files: File[]) => fireEvent.change(screen.getByLabelText('Choose audio files'), { target: { files } });

  beforeEach(() => {
    vi.stubGlobal('XMLHttpRequest', FakeXhr);
    const batch = makeBatch('b1', [makeJob({ job_id: 'j1', title: 'one.flac', state: 'queued', progress: 0 }), makeJob({ job_id: 'j2', title: 'two.flac', state: 'queued', progress: 0 })]);
    server((url) => {
      if (url.startsWith('/api/jobs')) return jsonResponse(200, { jobs: [], total: 0, limit: 10, offset: 0 });
      if (url === '/api/batches/b1') return jsonResponse(200, batch);
    });
  });

  it('go up as one batch with the same settings, and the batch page follows them', async () => {
    renderAt('/');
    await screen.findByTestId('dropzone');
    pick([file('one.flac'), file('two.flac')]);
    const card = screen.getByRole('region', { name: 'Your 2 songs' });
    expect(within(card).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['one.flac0.0 MB', 'two.flac0.0 MB']);
    FakeXhr.answer = { status: 202, body: JSON.stringify({ batch_id: 'b1', job_ids: ['j1', 'j2'], state: 'queued' }) };
    fireEvent.click(screen.getByRole('checkbox', { name: /Keep all four stems/ }));
    fireEvent.click(screen.getByRole('button', { name: 'Extract 2 bass lines' }));
    expect(await screen.findByRole('heading', { name: '2 songs at once' })).toBeTruthy();
    const sent = FakeXhr.last!;
    expect(sent.url).toBe('/api/batches');
    expect((sent.sent!.getAll('file') as File[]).map((f) => f.name)).toEqual(['one.flac', 'two.flac']);
    expect(sent.sent!.get('stems')).toBe('bass');
  });

  it('keeps the files that pass the checks and says what is wrong with the others', async () => {
    renderAt('/');
    await screen.findByTestId('dropzone');
    pick([file('one.flac'), new File(['%PDF'], 'notes.pdf', { type: 'application/pdf' }), file('two.flac')]);
    expect(screen.getByRole('alert').textContent).toMatch(/"notes\.pdf" does not look like audio\. .*The other 2 songs are ready\.$/);
    expect(screen.getByRole('button', { name: 'Extract 2 bass lines' })).toBeTruthy();
  });

  it('refuses more than 20 at once', async () => {
    renderAt('/');
    await screen.findByTestId('dropzone');
    pick(Array.from({ length: 21 }, (_, i) => file(`song-${i}.flac`)));
    expect(screen.getByRole('alert').textContent).toMatch(/You chose 21 files; up to 20 songs go at once\./);
    expect(screen.queryByRole('button', { name: /^Extract/ })).toBeNull();
  });

  it("shows the server's refusal and will not send the same files again", async () => {
    renderAt('/');
    await screen.findByTestId('dropzone');
    pick([file('one.flac'), file('two.flac')]);
    FakeXhr.answer = { status: 415, body: JSON.stringify({ code: 'unsupported_media', message: '"two.flac" could not be decoded as audio.' }) };
    fireEvent.click(screen.getByRole('button', { name: 'Extract 2 bass lines' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/"two\.flac" could not be decoded/);
    expect((screen.getByRole('button', { name: 'Extract 2 bass lines' }) as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('the batch page', () => {
  const queued = makeJob({ job_id: 'j2', title: 'two.flac', state: 'queued', progress: 0, bpm: null, key: null });
  const start = makeBatch('b1', [makeJob({ job_id: 'j1', title: 'one.flac', state: 'running', progress: 40, stage: 'separate', message: 'separating the bass (htdemucs)' }), queued]);

  it('shows each song with its state, progress and page, live, and the zip once a song is done', async () => {
    server((url) => (url === '/api/batches/b1' ? jsonResponse(200, start) : undefined));
    renderAt('/batches/b1');
    await screen.findByRole('heading', { name: '2 songs at once' });
    expect(screen.getByRole('link', { name: 'one.flac' }).getAttribute('href')).toBe('/jobs/j1');
    expect(screen.getByRole('link', { name: 'two.flac' }).getAttribute('href')).toBe('/jobs/j2');
    expect(screen.getByRole('progressbar', { name: 'Progress of one.flac' }).getAttribute('aria-valuenow')).toBe('40');
    expect(screen.getByText('Separating the bass (htdemucs)')).toBeTruthy();
    expect(screen.getByRole('progressbar', { name: 'Progress of the batch' }).getAttribute('aria-valuenow')).toBe('20');
    expect(screen.getByTestId('batch-counts').textContent).toMatch(/^1 running · 1 queued · sent /);
    const zip = screen.getByRole('button', { name: 'Download all (zip)' }) as HTMLButtonElement;
    expect(zip.disabled).toBe(true);
    expect(zip.getAttribute('aria-describedby')).toBe('zip-note');
    expect(screen.getByText('The zip can be downloaded once a song is done.')).toBeTruthy();

    const es = FakeEventSource.latest();
    expect(es.url).toBe('/api/progress/batch/b1');
    act(() => es.send('batch', 1, makeBatch('b1', [makeJob({ job_id: 'j1', title: 'one.flac', duration: 8 }), { ...queued, state: 'running', progress: 5 }])));
    expect(screen.queryByRole('progressbar', { name: 'Progress of one.flac' })).toBeNull();
    expect(screen.getByText('97.5 BPM · F♯ minor · 0:08')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Download all (zip)' }).getAttribute('href')).toBe('/api/batches/b1/zip');
    expect(screen.getByText('The zip holds the MIDI, MusicXML and bass tab of the 1 song done so far.')).toBeTruthy();

    const failed = { ...queued, state: 'failed' as const, error: { code: 'unsupported_media', message: 'The file could not be decoded as audio.' } };
    act(() => es.send('done', 2, makeBatch('b1', [makeJob({ job_id: 'j1', title: 'one.flac' }), failed])));
    expect(screen.getByText('Every song has ended')).toBeTruthy();
    expect(screen.getByText('The file could not be decoded as audio.')).toBeTruthy();
    expect(screen.getByTestId('batch-counts').textContent).toMatch(/^1 done · 1 failed · /);
    expect(es.readyState).toBe(FakeEventSource.CLOSED);
  });

  it('says so for a batch that is not there, or not yours', async () => {
    server();
    renderAt('/batches/nope');
    expect((await screen.findByRole('alert')).textContent).toMatch(/^Batch not found/);
  });

  it('words the counts and what is known of a song', () => {
    expect(countsText({ queued: 1, running: 0, done: 3, failed: 0, cancelled: 2 })).toBe('3 done · 1 queued · 2 cancelled');
    expect(songFacts(makeJob({ job_id: 'j', bpm: null, key: null, duration: 75.4 }))).toBe('1:15');
    expect(songFacts(makeJob({ job_id: 'j', bpm: 120, key: 'Bb major', duration: null }))).toBe('120 BPM · B♭ major');
  });
});

describe('your songs', () => {
  // 45 songs, newest first: "song 45" ... "song 1"; every third without tempo or key.
  const all: Job[] = Array.from({ length: 45 }, (_, i) => {
    const n = 45 - i;
    return makeJob({ job_id: `j${n}`, title: `song ${n}.flac`, created: 1765000000 + n * 60, ...(n % 3 === 0 && { bpm: null, key: null }) });
  });
  let songs: Job[];
  const list = (url: string): JobList => {
    const p = new URL(url, 'http://x').searchParams;
    const q = (p.get('q') ?? '').toLowerCase();
    const hits = songs.filter((j) => (j.title ?? '').toLowerCase().includes(q) || (j.key ?? '').toLowerCase().includes(q));
    const limit = Number(p.get('limit') ?? 50);
    const offset = Number(p.get('offset') ?? 0);
    return { jobs: hits.slice(offset, offset + limit), total: hits.length, limit, offset };
  };
  let fetchMock: ReturnType<typeof stubFetch>;
  const listCalls = () => fetchMock.mock.calls.map((c) => c[0]).filter((u) => u.startsWith('/api/jobs?'));

  beforeEach(() => {
    songs = [...all];
    fetchMock = server((url, init) => {
      if (url.startsWith('/api/jobs?')) return jsonResponse(200, list(url));
      const del = url.match(/^\/api\/jobs\/(\w+)$/);
      if (del && init?.method === 'DELETE') {
        songs = songs.filter((j) => j.job_id !== del[1]);
        return jsonResponse(200, { job_id: del[1], state: 'deleted' });
      }
    });
  });

  it('lists the newest 20 with tempo, key, date and state, and pages through the rest', async () => {
    renderAt('/songs');
    await screen.findByText('1–20 of 45');
    const rows = screen.getAllByTestId('song-row');
    expect(rows).toHaveLength(PAGE_SIZE);
    const second = within(rows[1]);
    expect(second.getByRole('link', { name: 'song 44.flac' }).getAttribute('href')).toBe('/jobs/j44');
    expect(second.getByText('97.5 BPM')).toBeTruthy();
    expect(second.getByText('F♯ minor')).toBeTruthy();
    expect(second.getByText('done')).toBeTruthy();
    // song 45 has neither tempo nor key: a dash each, left out of a phone's stacked row
    const unknown = within(rows[0]).getAllByRole('cell').filter((c) => c.textContent === '—');
    expect(unknown.map((c) => c.className.includes('hidden sm:table-cell'))).toEqual([true, true]);
    expect(listCalls()).toEqual([`/api/jobs?limit=${PAGE_SIZE}&offset=0`]);
    expect((screen.getByRole('button', { name: '← Previous' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole('button', { name: 'Next →' }));
    await screen.findByText('21–40 of 45');
    fireEvent.click(screen.getByRole('button', { name: 'Next →' }));
    await screen.findByText('41–45 of 45');
    expect(screen.getAllByTestId('song-row')).toHaveLength(5);
    expect((screen.getByRole('button', { name: 'Next →' }) as HTMLButtonElement).disabled).toBe(true);
    expect(listCalls().at(-1)).toBe(`/api/jobs?limit=${PAGE_SIZE}&offset=40`);
  });

  it('searches once typing pauses, from the first page', async () => {
    renderAt('/songs?page=2');
    await screen.findByText('21–40 of 45');
    const box = screen.getByRole('searchbox', { name: 'Search by title or key' });
    for (const text of ['s', 'so', 'song 4']) fireEvent.change(box, { target: { value: text } });
    await screen.findByText('1–7 of 7', {}, { timeout: SEARCH_DEBOUNCE_MS + 1000 });
    expect(listCalls().slice(1)).toEqual([`/api/jobs?q=song+4&limit=${PAGE_SIZE}&offset=0`]);
    expect(screen.getAllByTestId('song-row').map((r) => within(r).getByRole('link').textContent)).toEqual([
      'song 45.flac',
      'song 44.flac',
      'song 43.flac',
      'song 42.flac',
      'song 41.flac',
      'song 40.flac',
      'song 4.flac',
    ]);
    fireEvent.change(box, { target: { value: 'no such song' } });
    expect(await screen.findByText('No song matches “no such song”.', {}, { timeout: SEARCH_DEBOUNCE_MS + 1000 })).toBeTruthy();
  });

  it('deletes a song after asking, and shows the list again', async () => {
    renderAt('/songs');
    await screen.findByText('1–20 of 45');
    fireEvent.click(screen.getByRole('button', { name: 'Delete song 44.flac' }));
    const row = within(screen.getAllByTestId('song-row')[1]);
    expect(row.getByText('Delete it for good?')).toBeTruthy();
    expect(document.activeElement).toBe(row.getByRole('button', { name: 'Keep' }));
    fireEvent.click(row.getByRole('button', { name: 'Keep' }));
    expect(screen.queryByText('Delete it for good?')).toBeNull();
    fireEvent.click(screen.getByRole('button', { name: 'Delete song 44.flac' }));
    fireEvent.click(within(screen.getAllByTestId('song-row')[1]).getByRole('button', { name: 'Delete' }));
    await screen.findByText('1–20 of 44');
    expect(screen.queryByRole('link', { name: 'song 44.flac' })).toBeNull();
    const del = fetchMock.mock.calls.find((c) => c[1]?.method === 'DELETE');
    expect(del?.[0]).toBe('/api/jobs/j44');
  });

  it('says when there are no songs yet', async () => {
    songs = [];
    renderAt('/songs');
    expect(await screen.findByText('No songs yet. The songs you extract show up here.')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Extract a song' }).getAttribute('href')).toBe('/');
  });

  it('sends a visitor to sign in where an account is required', async () => {
    stubFetch((url) => (url === '/api/session' ? jsonResponse(200, { auth: 'required', account: null, csrf_token: null }) : undefined));
    renderAt('/songs');
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeTruthy();
  });

  it('words the range shown', () => {
    expect(rangeText({ jobs: all.slice(0, 20), total: 75, limit: 20, offset: 40 })).toBe('41–60 of 75');
    expect(rangeText({ jobs: [], total: 75, limit: 20, offset: 80 })).toBe('0 of 75');
  });
});
