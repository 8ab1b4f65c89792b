// The signed-in account: who, which tier, API keys for scripts (made, shown once, revoked),
// signing out, and deleting the account with everything of it.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Navigate, useNavigate } from 'react-router-dom';
import { api, ApiError, type ApiKey } from '../api';
import { Card, dangerButton, ErrorNotice, formatDay, primaryButton, secondaryButton } from '../components/ui';
import { allowanceText, useAccountDetails } from '../components/Allowance';
import { useSession } from '../session';

// 600 -> "10 min", 90 -> "1 min 30 s"
function songLength(s: number): string {
  const m = Math.floor(s / 60);
  return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
}

function Keys() {
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [name, setName] = useState('');
  const [fresh, setFresh] = useState<{ name: string; key: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => api.keys().then(setKeys, (e: ApiError) => setError(e.message));
  useEffect(() => {
    load();
  }, []);
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const k = await api.createKey(name.trim());
      setFresh({ name: k.name, key: k.key });
      setName('');
      await load();
    } catch (err) {
      setError((err as ApiError).message);
    }
  };
  const revoke = async (id: string) => {
    setError(null);
    try {
      await api.revokeKey(id);
      await load();
    } catch (err) {
      setError((err as ApiError).message);
    }
  };
  return (
    <Card title="API keys">
      <p className="mb-3 text-sm text-ink-400">
        Scripts send a key as <code className="font-mono text-ink-200">Authorization: Bearer KEY</code> and may then use
        every route of the API as you.
      </p>
      {error && <p className="mb-3 text-sm text-red-300" role="alert">{error}</p>}
      {fresh && (
        <div className="mb-3 rounded-lg border border-acid/60 bg-acid/10 p-3" data-testid="new-key">
          <p className="text-sm text-ink-200">
            Your new key <span className="font-semibold">{fresh.name}</span>. Copy it now: it is not shown again.
          </p>
          <code className="mt-2 block break-all font-mono text-sm text-acid" data-testid="new-key-value">
            {fresh.key}
          </code>
        </div>
      )}
      {keys === null && !error && <p className="text-sm text-ink-400">Loading…</p>}
      {keys?.length === 0 && <p className="mb-3 text-sm text-ink-400">No keys yet.</p>}
      {keys && keys.length > 0 && (
        <ul className="mb-3 divide-y divide-ink-800" data-testid="key-list">
          {keys.map((k) => (
            <li key={k.id} className="flex items-center justify-between gap-3 py-2">
              <span className="min-w-0 truncate text-sm">
                {k.name} <span className="text-xs text-ink-400">· made {formatDay(k.created)}</span>
              </span>
              <button type="button" className={secondaryButton} onClick={() => revoke(k.id)} aria-label={`Revoke ${k.name}`}>
                Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={create} className="flex flex-wrap items-end gap-2">
        <label className="min-w-[12rem] flex-1 text-sm text-ink-200">
          Name of a new key
          <input
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
            placeholder="my script"
            className="mt-1 block w-full rounded-lg border border-ink-600 bg-ink-950 px-3 py-2 text-base text-white focus:border-acid focus:outline-none"
          />
        </label>
        <button type="submit" className={primaryButton}>
          Make a key
        </button>
      </form>
    </Card>
  );
}

export default function AccountPage() {
  const { loaded, auth, account, signOut, deleteAccount } = useSession();
  const details = useAccountDetails();
  const navigate = useNavigate();
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | null>(null);
  // Set while signing out or deleting: the page then goes home rather than to the sign-in form.
  const leaving = useRef(false);
  if (!loaded) return <p className="pt-6 text-sm text-ink-400">Loading…</p>;
  if (auth === 'off') return <Navigate to="/" replace />;
  if (!account) return <Navigate to={leaving.current ? '/' : '/signin'} replace />;

  const leave = async (how: () => Promise<void>) => {
    setError(null);
    leaving.current = true;
    try {
      await how();
      navigate('/');
    } catch (e) {
      leaving.current = false;
      setError((e as ApiError).message);
    }
  };
  return (
    <div className="space-y-6 pt-6">
      <h1 className="text-2xl font-black tracking-tight text-white">Your account</h1>
      {error && <ErrorNotice title="That did not work" message={error} />}
      <Card title="Account" actions={<button type="button" className={secondaryButton} onClick={() => leave(signOut)}>Sign out</button>}>
        <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
          <dt className="text-ink-400">E-mail</dt>
          <dd className="min-w-0 truncate text-white" data-testid="account-email">{account.email}</dd>
          <dt className="text-ink-400">Plan</dt>
          <dd className="text-white">{account.tier}</dd>
          <dt className="text-ink-400">Since</dt>
          <dd className="text-white">{formatDay(account.created)}</dd>
          {details && (
            <>
              <dt className="text-ink-400">Today</dt>
              <dd className="text-white" data-testid="account-allowance">{allowanceText(details)}</dd>
              <dt className="text-ink-400">Limits</dt>
              <dd className="text-white">
                songs up to {songLength(details.limits.max_song_s)}, {details.limits.concurrent_jobs} at a time,{' '}
                {details.limits.requests_per_minute} requests a minute; results kept {details.limits.retention_h} h
              </dd>
            </>
          )}
        </dl>
      </Card>
      <Keys />
      <Card title="Delete the account">
        <p className="text-sm text-ink-400">
          This deletes the account, every song you processed here with its MIDI files and stems, and every API key. It cannot
          be undone. Type your e-mail to confirm.
        </p>
        <div className="mt-3 flex flex-wrap items-end gap-2">
          <input
            aria-label="Your e-mail, to confirm"
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
            className="min-w-[12rem] flex-1 rounded-lg border border-ink-600 bg-ink-950 px-3 py-2 text-base text-white focus:border-red-400 focus:outline-none"
          />
          <button type="button" className={dangerButton} disabled={confirm.trim().toLowerCase() !== account.email} onClick={() => leave(deleteAccount)}>
            Delete everything
          </button>
        </div>
      </Card>
    </div>
  );
}
