// The server's /health, asked once per page load and shared by every component that needs it
// (upload limit, expected processing time, version).
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, ApiError, type Health } from './api';

interface HealthValue {
  health: Health | null;
  error: ApiError | null;
  reload: () => void;
}

const HealthContext = createContext<HealthValue>({ health: null, error: null, reload: () => {} });

export function HealthProvider({ children }: { children: ReactNode }) {
  const [health, setHealth] = useState<Health | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const reload = useCallback(() => {
    setError(null);
    api.health().then(setHealth, (e: ApiError) => setError(e));
  }, []);
  useEffect(reload, [reload]);
  return <HealthContext.Provider value={{ health, error, reload }}>{children}</HealthContext.Provider>;
}

export const useHealth = () => useContext(HealthContext);
