// The server's recent jobs (newest first), each a link to its page.
import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { api, ApiError, type Job, type JobState } from '../api';
import { Card } from './ui';

const BADGE: Record<JobState, string> = {
  queued: 'border-ink-600 text-ink-200',
  running: 'border-acid/60 text-acid',
  done: 'border-acid bg-acid/10 text-acid',
  failed: 'border-red-500/60 text-red-300',
  cancelled: 'border-ink-600 text-ink-400',
};

function ago(ts: number): string {
  const s = Math.max(0, Date.now() / 1000 - ts);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ts * 1000).toLocaleDateString();
}

export default function RecentJobs() {
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.jobs().then(setJobs, (e: ApiError) => setError(e.message));
  }, []);
  return (
    <Card title="Recent jobs">
      {error && <p className="text-sm text-red-300">{error}</p>}
      {!error && jobs === null && <p className="text-sm text-ink-400">Loading…</p>}
      {jobs?.length === 0 && <p className="text-sm text-ink-400">No jobs yet. Your first song will show up here.</p>}
      {jobs && jobs.length > 0 && (
        <ul className="divide-y divide-ink-800" data-testid="recent-jobs">
          {jobs.slice(0, 10).map((j) => (
            <li key={j.job_id}>
              <Link to={`/jobs/${j.job_id}`} className="flex items-center justify-between gap-3 py-2 hover:text-acid">
                <span className="min-w-0 truncate text-sm">{j.title ?? j.filename}</span>
                <span className="flex shrink-0 items-center gap-2 text-xs text-ink-400">
                  {ago(j.created)}
                  <span className={`rounded-full border px-2 py-0.5 ${BADGE[j.state]}`}>
                    {j.state === 'running' ? `${Math.round(j.progress)} %` : j.state}
                  </span>
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
