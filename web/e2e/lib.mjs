// What the end-to-end scripts share: the server and clip they are given, the screenshot folder,
// the numbered checks and axe-core. DUMU_URL is a running `dumu serve --web-dir web/dist`,
// DUMU_E2E_CLIP a short song (tests/scripts/test_web.sh provides both); screenshots go to
// web/e2e-screenshots/ unless DUMU_E2E_SHOTS says otherwise.
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const base = process.env.DUMU_URL;
export const clip = process.env.DUMU_E2E_CLIP;
if (!base || !clip) {
  console.error('e2e: set DUMU_URL (a running `dumu serve --web-dir web/dist`, with --auth required for');
  console.error('     accounts.mjs) and DUMU_E2E_CLIP (an audio file); tests/scripts/test_web.sh does both.');
  process.exit(2);
}
export const shots = process.env.DUMU_E2E_SHOTS ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'e2e-screenshots');
mkdirSync(shots, { recursive: true });

// The number of checks passed so far.
export let checks = 0;
export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  checks++;
  console.log(`ok ${checks} - ${what}`);
}

// axe-core's WCAG 2.1 A/AA and 2.2 AA rules on the page as it is now: every violation, "id: n nodes".
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
export async function axeViolations(page) {
  await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } });
    return r.violations.map((v) => `${v.id}: ${v.nodes.length} (${v.nodes[0]?.target})`);
  });
}
