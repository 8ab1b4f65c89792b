import { useEffect } from 'react';
import { BrowserRouter, Link, NavLink, Route, Routes, useLocation } from 'react-router-dom';
import Footer from './components/Footer';
import { ErrorNotice, secondaryButton } from './components/ui';
import { HealthProvider, useHealth } from './health';
import Home from './pages/Home';
import JobPage from './pages/JobPage';
import NotFound from './pages/NotFound';
import AccountPage from './pages/Account';
import BatchPage from './pages/BatchPage';
import SignIn from './pages/SignIn';
import SongsPage from './pages/Songs';
import { SessionProvider, useMayUse, useSession } from './session';
import { UploadsProvider } from './uploads';

// Opt in to React Router 7's behaviour now (and silence its warnings).
export const ROUTER_FUTURE = { v7_startTransition: true, v7_relativeSplatPath: true };

function ServerBanner() {
  const { error, reload } = useHealth();
  if (!error) return null;
  return (
    <div className="mt-4">
      <ErrorNotice title="Server unreachable" message={error.message}>
        <button type="button" className={secondaryButton} onClick={reload}>
          Check again
        </button>
      </ErrorNotice>
    </div>
  );
}

// Every navigation starts at the top of the page, not at the scroll offset of the one before.
function ScrollToTop() {
  const { pathname } = useLocation();
  useEffect(() => {
    window.scrollTo(0, 0);
  }, [pathname]);
  return null;
}

// The header's right side: "Your songs" for whoever may use the page, and the account when the
// server has accounts.
function HeaderNav() {
  const { loaded, auth, account } = useSession();
  const mayUse = useMayUse();
  return (
    <nav aria-label="Main" className="flex min-w-0 items-center justify-end gap-4">
      {mayUse && (
        <NavLink
          to="/songs"
          className={({ isActive }) => `shrink-0 text-sm font-semibold hover:text-acid ${isActive ? 'text-acid' : 'text-ink-200'}`}
          data-testid="songs-link"
        >
          Your songs
        </NavLink>
      )}
      {(!loaded || auth === 'off') && <span className="hidden text-sm text-ink-400 sm:inline">bass line → MIDI</span>}
      {loaded && auth !== 'off' && account && (
        <Link to="/account" className="min-w-0 truncate text-sm text-ink-200 hover:text-acid" data-testid="account-link">
          {account.email}
        </Link>
      )}
      {loaded && auth !== 'off' && !account && (
        <Link to="/signin" className="text-sm font-semibold text-acid hover:underline" data-testid="signin-link">
          Sign in
        </Link>
      )}
    </nav>
  );
}

export function Layout() {
  return (
    <div className="mx-auto flex min-h-screen max-w-5xl flex-col px-4 sm:px-6">
      <header className="flex items-center justify-between gap-4 border-b border-ink-800 py-4">
        <Link to="/" className="flex shrink-0 items-center gap-2" aria-label="Dumu home">
          <svg aria-hidden="true" viewBox="0 0 32 32" className="h-8 w-8">
            <rect width="32" height="32" rx="7" fill="#151a1c" />
            <path d="M4 20 Q10 4 16 16 T28 12" stroke="#b4ff39" strokeWidth="3.5" fill="none" strokeLinecap="round" />
          </svg>
          <span className="text-xl font-black tracking-tight text-white">
            dumu<span className="text-acid">.</span>
          </span>
        </Link>
        <HeaderNav />
      </header>
      <ScrollToTop />
      <ServerBanner />
      <main className="flex-1">
        <Routes>
          <Route path="/" element={<Home />} />
          <Route path="/jobs/:id" element={<JobPage />} />
          <Route path="/batches/:id" element={<BatchPage />} />
          <Route path="/songs" element={<SongsPage />} />
          <Route path="/signin" element={<SignIn />} />
          <Route path="/account" element={<AccountPage />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
      <Footer />
    </div>
  );
}

export default function App() {
  return (
    <HealthProvider>
      <SessionProvider>
        <UploadsProvider>
          <BrowserRouter future={ROUTER_FUTURE}>
            <Layout />
          </BrowserRouter>
        </UploadsProvider>
      </SessionProvider>
    </HealthProvider>
  );
}
