// Who is using the page, when the server has accounts (`dumu serve --auth optional|required`):
// asked once per page load (GET /api/session) and shared; signing in, up or out updates it. With
// --auth off the server answers 404 and the page shows no account controls at all.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, ApiError, type Account, type AuthMode } from './api';

interface SessionValue {
  loaded: boolean; // false until the server has answered (or failed to)
  auth: AuthMode;
  account: Account | null;
  error: ApiError | null;
  signIn: (email: string, password: string) => Promise<void>;
  signUp: (email: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
  deleteAccount: () => Promise<void>;
}

const noop = async () => {};
const SessionContext = createContext<SessionValue>({
  loaded: false,
  auth: 'off',
  account: null,
  error: null,
  signIn: noop,
  signUp: noop,
  signOut: noop,
  deleteAccount: noop,
});

export function SessionProvider({ children }: { children: ReactNode }) {
  const [loaded, setLoaded] = useState(false);
  const [auth, setAuth] = useState<AuthMode>('off');
  const [account, setAccount] = useState<Account | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    api.session().then(
      (s) => {
        setAuth(s.auth);
        setAccount(s.account);
        setLoaded(true);
      },
      (e: ApiError) => {
        setError(e);
        setLoaded(true);
      },
    );
  }, []);
  const signIn = useCallback(async (email: string, password: string) => {
    setAccount((await api.signIn(email, password)).account);
  }, []);
  const signUp = useCallback(async (email: string, password: string) => {
    setAccount((await api.signUp(email, password)).account);
  }, []);
  const signOut = useCallback(async () => {
    await api.signOut();
    setAccount(null);
  }, []);
  const deleteAccount = useCallback(async () => {
    await api.deleteAccount();
    setAccount(null);
  }, []);
  return (
    <SessionContext.Provider value={{ loaded, auth, account, error, signIn, signUp, signOut, deleteAccount }}>
      {children}
    </SessionContext.Provider>
  );
}

export const useSession = () => useContext(SessionContext);

// Whether this page may upload and list jobs: always without accounts or with optional ones,
// only signed in when the server requires an account.
export function useMayUse(): boolean {
  const { loaded, auth, account } = useSession();
  return loaded && (auth !== 'required' || account !== null);
}
