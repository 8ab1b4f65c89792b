import { useHealth } from '../health';

export default function Footer() {
  const { health } = useHealth();
  return (
    <footer className="mt-16 border-t border-ink-800 py-6 text-center text-xs text-ink-400">
      <p>
        Dumu {health ? `v${health.version}` : ''} · htdemucs separation and Basic Pitch transcription, run in C on this
        server's CPU. Your audio never leaves it.
      </p>
      <p className="mt-1">
        <a className="underline decoration-ink-600 hover:text-acid" href="/docs">API docs</a>
        {' · '}
        <a className="underline decoration-ink-600 hover:text-acid" href="/health">Server health</a>
      </p>
    </footer>
  );
}
