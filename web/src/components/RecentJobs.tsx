// The server's recent jobs (newest first), each a link to its page, and a link to all of them.
import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { api, ApiError, type Job } from '../api';
import { Card, formatDay, songTitle, StateBadge } from './ui';

function ago(ts: number): string {
  const s = Math.max(0, Date.now() / 1000 - ts);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return formatDay(ts);
}

export default function RecentJobs() {
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.jobs({ limit: 10 }).then(
      (list) => setJobs(list.jobs),
      (e: ApiError) => setError(e.message),
    );
  }, []);
  return (
    <Card
      title="Recent jobs"
      actions={
        jobs &&
        jobs.length > 0 && (
          <Link to="/songs" className="text-sm text-ink-200 hover:text-acid">
            All your songs →
          </Link>
        )
      }
    >
      {error && <p className="text-sm text-red-300">{error}</p>}
      {!error && jobs === null && <p className="text-sm text-ink-400">Loading…</p>}
      {jobs?.length === 0 && <p className="text-sm text-ink-400">No jobs yet. Your first song will show up here.</p>}
      {jobs && jobs.length > 0 && (
        <ul className="divide-y divide-ink-800" data-testid="recent-jobs">
          {jobs.map((j) => (
            <li key={j.job_id}>
              <Link to={`/jobs/${j.job_id}`} className="flex items-center justify-between gap-3 py-2 hover:text-acid">
                <span className="min-w-0 truncate text-sm">{songTitle(j)}</span>
                <span className="flex shrink-0 items-center gap-2 text-xs text-ink-400">
                  {ago(j.created)}
                  <StateBadge state={j.state} progress={j.progress} />
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
