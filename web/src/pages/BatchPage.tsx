// Several songs uploaded at once: how far the batch is, each song's state and progress (live,
// over SSE), a link to each song's own page, and every finished song's MIDI, MusicXML and tab
// in one zip.
import { Link, useParams } from 'react-router-dom';
import { urls, type Batch, type Job } from '../api';
import ProgressBar from '../components/ProgressBar';
import { keyLabel } from '../components/ResultCard';
import { Card, ErrorNotice, formatClock, formatDay, primaryButton, secondaryButton, songTitle, StateBadge } from '../components/ui';
import { useBatchProgress } from '../useBatchProgress';
import { stageText } from './JobPage';

// "2 done · 1 running · 1 queued" (states no job is in are left out)
export function countsText(counts: Batch['counts']): string {
  const parts = (['done', 'running', 'queued', 'failed', 'cancelled'] as const).filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
  return parts.join(' · ');
}

// "97.5 BPM · E minor · 3:12", what is known of a finished song
export function songFacts(job: Job): string {
  const facts: string[] = [];
  if (job.bpm) facts.push(`${Math.round(job.bpm * 10) / 10} BPM`);
  if (job.key) facts.push(keyLabel(job.key));
  if (job.duration !== null) facts.push(formatClock(job.duration));
  return facts.join(' · ');
}

function SongRow({ job }: { job: Job }) {
  const title = songTitle(job);
  return (
    <li className="py-3">
      <div className="flex items-center justify-between gap-3">
        <Link to={`/jobs/${job.job_id}`} className="min-w-0 truncate font-semibold text-white hover:text-acid">
          {title}
        </Link>
        <StateBadge state={job.state} />
      </div>
      <div className="mt-2">
        {(job.state === 'queued' || job.state === 'running') && (
          <ProgressBar value={job.progress} label={job.state === 'queued' ? 'Waiting in the queue' : stageText(job.stage, job.message)} name={`Progress of ${title}`} />
        )}
        {job.state === 'done' && <p className="font-mono text-xs text-ink-400">{songFacts(job) || 'Done'}</p>}
        {(job.state === 'failed' || job.state === 'cancelled') && (
          <p className="text-sm text-red-300">{job.error?.message || (job.state === 'failed' ? 'The song could not be processed.' : 'Cancelled.')}</p>
        )}
      </div>
    </li>
  );
}

export default function BatchPage() {
  const { id = '' } = useParams();
  const { batch, error, status } = useBatchProgress(id);

  if (error)
    return (
      <div className="pt-4">
        <ErrorNotice title={error.code === 'not_found' ? 'Batch not found' : 'The batch could not be loaded'} message={error.message}>
          <Link to="/" className={primaryButton}>
            Extract a song
          </Link>
        </ErrorNotice>
      </div>
    );
  if (!batch) return <p className="pt-6 text-sm text-ink-400">Loading…</p>;

  const n = batch.jobs.length;
  const ended = n - batch.counts.queued - batch.counts.running;
  const done = batch.counts.done;
  const zip =
    done > 0 ? (
      <a className={primaryButton} href={urls.batchZip(id)} download data-testid="download-zip">
        Download all (zip)
      </a>
    ) : (
      <button type="button" className={secondaryButton} disabled aria-describedby="zip-note">
        Download all (zip)
      </button>
    );
  return (
    <div className="space-y-6 pt-4">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h1 className="text-xl font-bold text-white sm:text-2xl" data-testid="batch-title">
          {n} {n === 1 ? 'song' : 'songs'} at once
        </h1>
        <Link to="/" className="text-sm text-ink-400 hover:text-acid">
          + Extract more songs
        </Link>
      </div>

      <Card title="Progress" actions={zip}>
        <ProgressBar
          value={batch.progress}
          label={batch.state === 'done' ? 'Every song has ended' : batch.state === 'queued' ? 'Waiting in the queue' : `${ended} of ${n} songs ended`}
          name="Progress of the batch"
        />
        <p className="mt-2 font-mono text-xs text-ink-400" data-testid="batch-counts">
          {countsText(batch.counts)} · sent {formatDay(batch.created)}
        </p>
        <p className="mt-2 text-sm text-ink-400" id="zip-note">
          {done === 0
            ? 'The zip can be downloaded once a song is done.'
            : `The zip holds the MIDI, MusicXML and bass tab of ${done === n ? 'every song' : `the ${done} ${done === 1 ? 'song' : 'songs'} done so far`}.`}
        </p>
        {status === 'reconnecting' && <p className="mt-2 text-sm text-amber-300">Connection to the server lost, reconnecting…</p>}
        {status === 'lost' && <p className="mt-2 text-sm text-amber-300">Live updates stopped; checking the batch every 2 s.</p>}
      </Card>

      <Card title="Songs">
        <ul className="divide-y divide-ink-800" data-testid="batch-jobs">
          {batch.jobs.map((j) => (
            <SongRow key={j.job_id} job={j} />
          ))}
        </ul>
      </Card>
    </div>
  );
}
