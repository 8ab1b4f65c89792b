// Today's minutes of audio left to a signed-in account ("12 of 30 minutes left today"), from
// GET /api/account; nothing without an account or on a server without limits.
import { useEffect, useState } from 'react';
import { api, type AccountDetails } from '../api';
import { useSession } from '../session';

// 5400 s -> "1 h 30 min", 600 -> "10 min"
function until(seconds: number): string {
  const m = Math.max(1, Math.ceil(seconds / 60));
  return m >= 60 ? `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}` : `${m} min`;
}

export function allowanceText(d: AccountDetails): string {
  const left = Math.max(0, Math.floor(d.usage.minutes_left));
  const of = d.limits.minutes_per_day;
  return left > 0
    ? `${left} of ${of} minutes left today`
    : `No minutes left today (${of} a day): more in ${until(d.usage.resets_in_s)}`;
}

// Asks the server once per mount (and whenever the account changes).
export function useAccountDetails(): AccountDetails | null {
  const { account } = useSession();
  const [details, setDetails] = useState<AccountDetails | null>(null);
  useEffect(() => {
    setDetails(null);
    if (!account) return;
    let live = true;
    api.account().then(
      (d) => live && d.limits && d.usage && setDetails(d),
      () => {}, // the page works without it
    );
    return () => {
      live = false;
    };
  }, [account]);
  return details;
}

export default function Allowance() {
  const details = useAccountDetails();
  if (!details) return null;
  return (
    <p className="text-center text-sm text-ink-200" data-testid="allowance">
      {allowanceText(details)} <span className="text-ink-400">· {details.limits.tier} plan</span>
    </p>
  );
}
