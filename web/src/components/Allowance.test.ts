import { describe, expect, it } from 'vitest';
import type { AccountDetails } from '../api';
import { allowanceText } from './Allowance';

const base: AccountDetails = {
  id: 'a1',
  email: 'bassist@example.org',
  created: 1765000000,
  tier: 'free',
  limits: { tier: 'free', requests_per_minute: 60, concurrent_jobs: 2, minutes_per_day: 30, max_song_s: 600, retention_h: 168 },
  usage: { minutes_used: 17.6, minutes_left: 12.4, jobs_active: 0, resets_in_s: 5400 },
};

describe('allowanceText', () => {
  it('says the whole minutes left of the day', () => {
    expect(allowanceText(base)).toBe('12 of 30 minutes left today');
  });

  it('says when the day is used up and when more come', () => {
    expect(allowanceText({ ...base, usage: { ...base.usage, minutes_used: 30, minutes_left: 0 } })).toBe(
      'No minutes left today (30 a day): more in 1 h 30 min',
    );
    expect(allowanceText({ ...base, usage: { ...base.usage, minutes_left: 0.4, resets_in_s: 61 } })).toBe(
      'No minutes left today (30 a day): more in 2 min',
    );
  });
});
