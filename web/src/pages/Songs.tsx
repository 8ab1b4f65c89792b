// "Your songs": every song this account (or, without accounts, this server) processed, newest
// first, 20 a page, searchable by title or key, each deletable. The search and the page live in
// the address (?q=...&page=2), so going back from a song returns to the same list. On a phone
// each row stacks: the title and the Delete button on a line, what is known of the song below.
import { useEffect, useState } from 'react';
import { Link, Navigate, useSearchParams } from 'react-router-dom';
import { api, ApiError, type Job, type JobList } from '../api';
import { keyLabel } from '../components/ResultCard';
import { Card, dangerButton, ErrorNotice, formatDay, primaryButton, secondaryButton, songTitle, StateBadge } from '../components/ui';
import { useMayUse, useSession } from '../session';

export const PAGE_SIZE = 20;
export const SEARCH_DEBOUNCE_MS = 300;

// "41–60 of 75"
export function rangeText(list: JobList): string {
  if (list.jobs.length === 0) return `0 of ${list.total}`;
  return `${list.offset + 1}–${list.offset + list.jobs.length} of ${list.total}`;
}

const cell = 'sm:order-none sm:py-2 sm:pr-3 sm:align-middle';
const fact = `${cell} order-3 whitespace-nowrap font-mono text-xs text-ink-400 sm:text-sm sm:text-ink-200`;

function SongRow({ job, onDelete }: { job: Job; onDelete: (job: Job) => Promise<void> }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const title = songTitle(job);
  const remove = async () => {
    setBusy(true);
    try {
      await onDelete(job);
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };
  // Unknown facts are left out on a phone, where nothing heads their column.
  const unknown = 'hidden sm:table-cell';
  return (
    <tr className="flex flex-wrap items-center gap-x-3 gap-y-1 py-3 sm:table-row sm:py-0" data-testid="song-row">
      {/* on a phone the title leaves room for the button beside it alone, so the facts wrap below */}
      <td className={`order-1 min-w-0 grow basis-[calc(100%-7rem)] sm:w-full sm:max-w-0 ${cell}`}>
        <Link to={`/jobs/${job.job_id}`} className="block truncate font-semibold text-white hover:text-acid">
          {title}
        </Link>
      </td>
      <td className={`${fact} ${job.bpm ? '' : unknown}`}>{job.bpm ? `${Math.round(job.bpm * 10) / 10} BPM` : '—'}</td>
      <td className={`${fact} ${job.key ? '' : unknown}`}>{job.key ? keyLabel(job.key) : '—'}</td>
      <td className={fact}>{formatDay(job.created)}</td>
      <td className={`order-3 ${cell}`}>
        <StateBadge state={job.state} progress={job.progress} />
      </td>
      <td className={`order-2 sm:order-none sm:py-2 sm:text-right ${confirming ? 'w-full sm:w-auto' : ''}`}>
        {confirming ? (
          <span className="flex flex-wrap items-center justify-end gap-2">
            <span className="text-sm text-ink-200">Delete it for good?</span>
            <button type="button" className={dangerButton} onClick={remove} disabled={busy}>
              Delete
            </button>
            <button type="button" className={secondaryButton} onClick={() => setConfirming(false)} disabled={busy} autoFocus>
              Keep
            </button>
          </span>
        ) : (
          <button type="button" className={secondaryButton} onClick={() => setConfirming(true)} aria-label={`Delete ${title}`}>
            Delete
          </button>
        )}
      </td>
    </tr>
  );
}

export default function SongsPage() {
  const { loaded } = useSession();
  const mayUse = useMayUse();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const page = Math.max(1, Math.floor(Number(params.get('page'))) || 1);
  const [text, setText] = useState(q);
  const [list, setList] = useState<JobList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  // The address changed by itself (back, forward): the box follows it.
  useEffect(() => setText((t) => (t.trim() === q ? t : q)), [q]);
  // Typing: once it pauses, search from the first page.
  useEffect(() => {
    const wanted = text.trim();
    if (wanted === q) return;
    const timer = setTimeout(() => setParams(wanted ? { q: wanted } : {}, { replace: true }), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text, q, setParams]);

  useEffect(() => {
    if (!mayUse) return;
    let live = true;
    api.jobs({ q, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE }).then(
      (l) => {
        if (!live) return;
        setList(l);
        setError(null);
      },
      (e: ApiError) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [mayUse, q, page, reload]);

  if (loaded && !mayUse) return <Navigate to="/signin" replace />;

  const goTo = (p: number) => {
    const next = new URLSearchParams(params);
    if (p > 1) next.set('page', String(p));
    else next.delete('page');
    setParams(next);
  };
  const remove = async (job: Job) => {
    setError(null);
    try {
      await api.remove(job.job_id);
      // The last song of a later page: show the page before it.
      if (list && list.jobs.length === 1 && page > 1) goTo(page - 1);
      else setReload((r) => r + 1);
    } catch (e) {
      setError(`Could not delete "${songTitle(job)}": ${(e as ApiError).message}`);
    }
  };

  const pages = list ? Math.max(1, Math.ceil(list.total / PAGE_SIZE)) : 1;
  return (
    <div className="space-y-6 pt-6">
      <h1 className="text-2xl font-black tracking-tight text-white">Your songs</h1>
      <label className="block text-sm text-ink-200">
        Search by title or key
        <input
          type="search"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="a title, or a key like E minor"
          className="mt-1 block w-full rounded-lg border border-ink-600 bg-ink-950 px-3 py-2 text-base text-white focus:border-acid focus:outline-none"
        />
      </label>
      {error && <ErrorNotice title="That did not work" message={error} />}
      <Card>
        {list === null && !error && <p className="text-sm text-ink-400">Loading…</p>}
        {list?.total === 0 &&
          (q ? (
            <p className="text-sm text-ink-400">No song matches “{q}”.</p>
          ) : (
            <div className="space-y-3">
              <p className="text-sm text-ink-400">No songs yet. The songs you extract show up here.</p>
              <Link to="/" className={primaryButton}>
                Extract a song
              </Link>
            </div>
          ))}
        {list && list.jobs.length > 0 && (
          <table className="block w-full text-left text-sm sm:table" data-testid="songs">
            <caption className="sr-only">Your songs, newest first</caption>
            <thead className="hidden text-xs uppercase tracking-widest text-ink-400 sm:table-header-group">
              <tr className="border-b border-ink-700">
                <th scope="col" className="pb-2 pr-3 font-semibold">Title</th>
                <th scope="col" className="pb-2 pr-3 font-semibold">Tempo</th>
                <th scope="col" className="pb-2 pr-3 font-semibold">Key</th>
                <th scope="col" className="pb-2 pr-3 font-semibold">Date</th>
                <th scope="col" className="pb-2 pr-3 font-semibold">State</th>
                <th scope="col" className="pb-2">
                  <span className="sr-only">Delete</span>
                </th>
              </tr>
            </thead>
            <tbody className="block divide-y divide-ink-800 sm:table-row-group">
              {list.jobs.map((j) => (
                <SongRow key={j.job_id} job={j} onDelete={remove} />
              ))}
            </tbody>
          </table>
        )}
        {list && list.total > 0 && (
          <nav aria-label="Pages" className="mt-4 flex flex-wrap items-center justify-between gap-3">
            <button type="button" className={secondaryButton} onClick={() => goTo(page - 1)} disabled={page <= 1}>
              ← Previous
            </button>
            <p className="font-mono text-sm text-ink-200" aria-live="polite" data-testid="songs-range">
              {rangeText(list)}
            </p>
            <button type="button" className={secondaryButton} onClick={() => goTo(page + 1)} disabled={page >= pages}>
              Next →
            </button>
          </nav>
        )}
      </Card>
    </div>
  );
}
