// End-to-end test of accounts in the web app, in Debian's Chromium against a real
// `dumu serve --auth required`.
//
// Needs DUMU_URL (the server, started with --auth required and --web-dir web/dist) and
// DUMU_E2E_CLIP (a short song); tests/scripts/test_web.sh provides both. Walks what a new
// member does: meets the sign-in prompt, is refused a short password, creates an account,
// sees the day's minutes, extracts a song, then two more at once as a batch (the batch page until
// both are done, "Your songs" with its search, the batch's zip), makes an API key and uses it
// from a script, revokes it, signs out (the job is then out of reach), is refused a wrong
// password, signs in again and finds the song, looks at the account, the batch and the songs on
// a phone, deletes a song there, and deletes the account. Screenshots (e2e/lib.mjs) are named accounts-*.
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { axeViolations, base, check, checks, clip, shots } from './lib.mjs';

async function axeClean(page, where) {
  const found = await axeViolations(page);
  check(found.length === 0, `axe-core: no WCAG 2.2 AA violations on ${where}${found.length ? ': ' + found.join('; ') : ''}`);
}

// The names of a zip's files, from its central directory.
function zipNames(buf) {
  const names = [];
  for (let i = buf.indexOf('PK\x01\x02'); i >= 0; i = buf.indexOf('PK\x01\x02', i + 46)) {
    const len = buf.readUInt16LE(i + 28);
    names.push(buf.subarray(i + 46, i + 46 + len).toString());
  }
  return names;
}

// A script's view of the API: fetch with an API key and no cookie.
async function withKey(key, path) {
  return fetch(base + path, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
const pageErrors = [];
const started = Date.now();
const email = `bassist-${Date.now()}@example.org`;
const password = 'four strings, one groove';
let page;

try {
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await desktop.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  // A visitor without an account: the prompt instead of the upload, and a Sign in link.
  await page.goto(base);
  const prompt = page.getByRole('region', { name: 'An account is needed' });
  await prompt.waitFor();
  check(await page.getByTestId('signin-link').isVisible(), 'the header offers Sign in');
  check((await page.getByTestId('dropzone').count()) === 0, 'no upload without an account');
  await axeClean(page, 'the home page of a visitor');
  await page.screenshot({ path: join(shots, 'accounts-1-visitor.png'), fullPage: true });

  // Sign up: a short password is refused with the server's reason, then a good one works.
  await prompt.getByRole('link', { name: 'Create an account' }).click();
  await page.getByRole('heading', { name: 'Create an account' }).waitFor();
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create an account' }).click();
  const weak = page.getByRole('alert');
  await weak.waitFor();
  check(/at least \d+ characters/.test(await weak.innerText()), `a short password is refused: "${(await weak.innerText()).replace(/\s+/g, ' ')}"`);
  await axeClean(page, 'the sign-up form with its error');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByTestId('dropzone').waitFor();
  check((await page.getByTestId('account-link').innerText()) === email, 'signed up: the header shows the e-mail');
  await page.getByTestId('allowance').waitFor();
  const allowance = await page.getByTestId('allowance').innerText();
  check(/^\d+ of \d+ minutes left today · free plan$/.test(allowance), `the day's minutes are shown: "${allowance}"`);

  // A song, as a member.
  await page.locator('input[type=file]').setInputFiles(clip);
  await page.getByRole('button', { name: 'Extract the bass line' }).click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
  const jobId = page.url().split('/').pop();
  await page.getByTestId('note-count').waitFor({ timeout: 180000 });
  check(true, `job ${jobId} done for the new account`);

  // Two songs at once: one batch, its page until both are done.
  const song = readFileSync(clip);
  const titles = ['groove one', 'walking two'].map((t) => t + extname(clip));
  await page.goto(base);
  await page.locator('input[type=file]').setInputFiles(titles.map((name) => ({ name, mimeType: 'audio/flac', buffer: song })));
  await page.getByRole('region', { name: 'Your 2 songs' }).waitFor();
  await page.screenshot({ path: join(shots, 'accounts-5-batch-picked.png'), fullPage: true });
  await page.getByRole('button', { name: 'Extract 2 bass lines' }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  const batchId = page.url().split('/').pop();
  await page.getByTestId('batch-title').waitFor();
  const batchLinks = await page.getByTestId('batch-jobs').getByRole('link').allInnerTexts();
  check(JSON.stringify(batchLinks) === JSON.stringify(titles), `batch ${batchId}: its page lists both songs in order (${batchLinks.join(', ')})`);
  await page.getByRole('progressbar', { name: `Progress of ${titles[1]}` }).waitFor();
  await page.screenshot({ path: join(shots, 'accounts-6-batch-running.png'), fullPage: true });
  await page.getByText('Every song has ended').waitFor({ timeout: 300000 });
  const counts = await page.getByTestId('batch-counts').innerText();
  check(counts.startsWith('2 done ·'), `the batch page follows both songs to the end: "${counts}"`);
  await axeClean(page, 'the batch page');
  await page.screenshot({ path: join(shots, 'accounts-7-batch-done.png'), fullPage: true });

  // Each song's own page leads back to its batch.
  await page.getByTestId('batch-jobs').getByRole('link', { name: titles[0] }).click();
  await page.getByTestId('note-count').waitFor();
  await page.getByTestId('batch-link').click();
  await page.waitForURL(`${base}/batches/${batchId}`);
  check((await page.getByTestId('job-title').count()) === 0, "a song of the batch links to its page, and its page back to the batch");
  await page.getByText('Every song has ended').waitFor();

  // The zip: every song's MIDI, MusicXML and tab.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-zip').click()]);
  const zip = readFileSync(await download.path());
  const entries = zipNames(zip);
  const midis = entries.filter((n) => n.endsWith('.mid'));
  check(zip.subarray(0, 2).toString() === 'PK' && midis.length === 2, `the batch's zip (${download.suggestedFilename()}, ${zip.length} bytes) holds ${entries.length} files, two of them MIDI: ${midis.join(', ')}`);

  // "Your songs": all three, newest first; the search narrows them to one.
  await page.getByTestId('songs-link').click();
  await page.getByRole('heading', { name: 'Your songs' }).waitFor();
  await page.getByTestId('songs-range').getByText('1–3 of 3').waitFor();
  const listedTitles = await page.getByTestId('song-row').getByRole('link').allInnerTexts();
  check(titles.every((t) => listedTitles.includes(t)), `"Your songs" lists the batch's songs: ${listedTitles.join(', ')}`);
  await axeClean(page, 'the songs page');
  await page.screenshot({ path: join(shots, 'accounts-8-songs.png'), fullPage: true });
  await page.getByRole('searchbox', { name: 'Search by title or key' }).fill('walking');
  await page.getByTestId('songs-range').getByText('1–1 of 1').waitFor();
  const found = await page.getByTestId('song-row').getByRole('link').allInnerTexts();
  check(found.length === 1 && found[0] === titles[1], `searching "walking" leaves one song: ${found.join(', ')}`);
  await page.getByRole('searchbox', { name: 'Search by title or key' }).fill('');

  // An API key: made on the account page, shown once, used by a script, revoked.
  await page.getByTestId('account-link').click();
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  check((await page.getByTestId('account-email').innerText()) === email, 'the account page shows the e-mail');
  await page.getByTestId('account-allowance').waitFor();
  check(/minutes left today/.test(await page.getByTestId('account-allowance').innerText()), 'the account page shows the day\'s minutes');
  await page.getByLabel('Name of a new key').fill('my script');
  await page.getByRole('button', { name: 'Make a key' }).click();
  const key = (await page.getByTestId('new-key-value').innerText()).trim();
  check(key.length >= 32, 'a new API key is shown once');
  await page.getByTestId('key-list').getByText('my script').waitFor();
  await axeClean(page, 'the account page');
  await page.screenshot({ path: join(shots, 'accounts-2-account.png'), fullPage: true });
  let res = await withKey(key, '/api/jobs');
  const listed = res.status === 200 ? (await res.json()).jobs.map((j) => j.job_id) : [];
  check(listed.includes(jobId), `the key lists the account's job (HTTP ${res.status})`);
  check((await withKey(null, '/api/jobs')).status === 401, 'without a key or session: 401');
  await page.getByRole('button', { name: 'Revoke my script' }).click();
  await page.getByText('No keys yet.').waitFor();
  check((await withKey(key, '/api/jobs')).status === 401, 'the revoked key is refused at once');

  // Signing out: the job is out of reach, the prompt is back.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('region', { name: 'An account is needed' }).waitFor();
  res = await page.request.get(`${base}/api/jobs/${jobId}`);
  check(res.status() === 401, `after signing out the browser gets ${res.status()} for the job`);

  // A wrong password, then the right one: the song is in the list.
  await page.getByTestId('signin-link').click();
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').getByText('Wrong e-mail or password.').waitFor();
  check(true, 'a wrong password is refused');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('recent-jobs').waitFor();
  check((await page.getByTestId('recent-jobs').locator(`a[href="/jobs/${jobId}"]`).count()) === 1, 'signed in again: the song is in the list');

  // On a phone: the sign-in form and the account page fit.
  const phone = await browser.newContext({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });
  const mobile = await phone.newPage();
  mobile.on('pageerror', (e) => pageErrors.push(String(e)));
  await mobile.goto(`${base}/signin`);
  await mobile.getByRole('heading', { name: 'Sign in' }).waitFor();
  await axeClean(mobile, 'the sign-in page on a phone');
  await mobile.screenshot({ path: join(shots, 'accounts-3-phone-signin.png'), fullPage: true });
  await mobile.getByLabel('E-mail').fill(email);
  await mobile.getByLabel('Password').fill(password);
  await mobile.getByRole('button', { name: 'Sign in' }).click();
  await mobile.getByTestId('account-link').click();
  await mobile.getByRole('heading', { name: 'Your account' }).waitFor();
  const overflow = await mobile.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the account page fits a phone (${overflow} px of sideways scrolling)`);
  await mobile.screenshot({ path: join(shots, 'accounts-4-phone-account.png'), fullPage: true });
  // ... and so do the batch and the songs, each song's row stacked.
  await mobile.goto(`${base}/batches/${batchId}`);
  await mobile.getByText('Every song has ended').waitFor();
  await axeClean(mobile, 'the batch page on a phone');
  const batchOverflow = await mobile.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(batchOverflow <= 0, `the batch page fits a phone (${batchOverflow} px of sideways scrolling)`);
  await mobile.screenshot({ path: join(shots, 'accounts-9-phone-batch.png'), fullPage: true });
  await mobile.getByTestId('songs-link').click();
  await mobile.getByTestId('songs-range').getByText('1–3 of 3').waitFor();
  await axeClean(mobile, 'the songs page on a phone');
  const songsOverflow = await mobile.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(songsOverflow <= 0, `the songs page fits a phone (${songsOverflow} px of sideways scrolling)`);
  const row = await mobile.getByTestId('song-row').first().boundingBox();
  check(row.height > 50, `on a phone each song's row stacks (${Math.round(row.height)} px tall)`);
  await mobile.screenshot({ path: join(shots, 'accounts-10-phone-songs.png'), fullPage: true });
  // Deleting a song asks first, then the list shows the rest.
  await mobile.getByRole('button', { name: `Delete ${titles[0]}` }).click();
  await mobile.getByText('Delete it for good?').waitFor();
  await mobile.screenshot({ path: join(shots, 'accounts-11-phone-delete.png'), fullPage: true });
  await mobile.getByTestId('song-row').filter({ hasText: titles[0] }).getByRole('button', { name: 'Delete', exact: true }).click();
  await mobile.getByTestId('songs-range').getByText('1–2 of 2').waitFor();
  res = await page.request.get(`${base}/api/batches/${batchId}`);
  const left = (await res.json()).jobs.map((j) => j.title);
  check(JSON.stringify(left) === JSON.stringify([titles[1]]), `a song deleted from "Your songs" is gone, from its batch too (${left.join(', ')})`);

  // Deleting the account: everything goes, and signing in fails.
  await page.getByTestId('account-link').click();
  await page.getByLabel('Your e-mail, to confirm').fill(email);
  await page.getByRole('button', { name: 'Delete everything' }).click();
  await page.getByRole('region', { name: 'An account is needed' }).waitFor();
  res = await fetch(`${base}/api/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  check(res.status === 401, `the deleted account cannot sign in (HTTP ${res.status})`);

  check(pageErrors.length === 0, `no uncaught errors in the pages${pageErrors.length ? ': ' + pageErrors.join('; ') : ''}`);
  console.log(`accounts e2e: ${checks} checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${shots}`);
} catch (e) {
  console.error(`accounts e2e FAILED: ${e.message}`);
  if (pageErrors.length) console.error(`page errors: ${pageErrors.join('; ')}`);
  if (page) await page.screenshot({ path: join(shots, 'accounts-failure.png'), fullPage: true }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
