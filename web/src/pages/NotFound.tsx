import { Link } from 'react-router-dom';
import { primaryButton } from '../components/ui';

export default function NotFound() {
  return (
    <section className="flex flex-col items-center py-20 text-center" aria-labelledby="nf-title">
      <p className="font-mono text-7xl font-black text-acid drop-shadow-[0_0_24px_rgba(180,255,57,0.5)] sm:text-9xl">404</p>
      <h1 id="nf-title" className="mt-4 text-2xl font-bold text-white">This page dropped out of the mix</h1>
      <p className="mt-2 max-w-md text-ink-400">There is nothing at this address. The song you are after may be in the recent jobs on the home page.</p>
      <Link to="/" className={`${primaryButton} mt-8`}>
        Back to the start
      </Link>
    </section>
  );
}
