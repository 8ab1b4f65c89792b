// Sign in, or create an account, on a server with accounts. ?mode=signup opens on the second.
import { useState, type FormEvent } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router-dom';
import { ApiError } from '../api';
import { Card, ErrorNotice, primaryButton } from '../components/ui';
import { useSession } from '../session';

const inputClass =
  'mt-1 block w-full rounded-lg border border-ink-600 bg-ink-950 px-3 py-2 text-base text-white focus:border-acid focus:outline-none';

// The server's sentence, with a wait made readable for a throttled sign-in.
function explain(e: ApiError): string {
  if (e.code === 'too_many_attempts' && e.retryAfter !== null) {
    const min = Math.ceil(e.retryAfter / 60);
    return `Too many failed sign-ins. Try again in ${min} minute${min === 1 ? '' : 's'}.`;
  }
  if (e.code === 'invalid_credentials') return 'Wrong e-mail or password.';
  if (e.code === 'email_taken') return 'That e-mail already has an account: sign in instead.';
  return e.message;
}

export default function SignIn() {
  const { loaded, auth, account, signIn, signUp } = useSession();
  const [params, setParams] = useSearchParams();
  const signup = params.get('mode') === 'signup';
  const navigate = useNavigate();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  if (loaded && auth === 'off') return <Navigate to="/" replace />;
  if (account) return <Navigate to="/" replace />;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await (signup ? signUp(email, password) : signIn(email, password));
      navigate('/');
    } catch (err) {
      setError(explain(err as ApiError));
    } finally {
      setBusy(false);
    }
  };

  const title = signup ? 'Create an account' : 'Sign in';
  return (
    <div className="mx-auto max-w-md space-y-4 pt-6">
      <h1 className="text-2xl font-black tracking-tight text-white">{title}</h1>
      {error && <ErrorNotice title={signup ? 'Could not create the account' : 'Could not sign in'} message={error} />}
      <Card>
        <form onSubmit={submit} className="space-y-4" aria-label={title}>
          <label className="block text-sm text-ink-200">
            E-mail
            <input
              type="email"
              autoComplete="email"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              className={inputClass}
            />
          </label>
          <label className="block text-sm text-ink-200">
            Password
            <input
              type="password"
              autoComplete={signup ? 'new-password' : 'current-password'}
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              className={inputClass}
            />
          </label>
          <button type="submit" className={`${primaryButton} w-full`} disabled={busy}>
            {busy ? 'One moment…' : title}
          </button>
        </form>
      </Card>
      <p className="text-center text-sm text-ink-400">
        {signup ? 'Already have an account? ' : 'No account yet? '}
        <button
          type="button"
          className="min-h-6 text-acid underline-offset-2 hover:underline"
          onClick={() => {
            setError(null);
            setParams(signup ? {} : { mode: 'signup' });
          }}
        >
          {signup ? 'Sign in' : 'Create one'}
        </button>
        {' · '}
        <Link to="/" className="text-ink-200 hover:text-acid">
          Back to Dumu
        </Link>
      </p>
    </div>
  );
}
