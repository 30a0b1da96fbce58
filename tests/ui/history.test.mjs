// Time travel in the UI against the real analyzer (skydive allinone, as
// root): a namespace deleted a few seconds ago is back in the History view
// (G.At) and gone again in Live, and the Diff lists it as removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAnalyzer, uiURL, launch, shot, sh, until, rand } from './helpers.mjs';

const isRoot = process.getuid?.() === 0;

test('history: G.At from the time bar, then the Diff since then', { skip: !isRoot && 'needs root (netns)', timeout: 120000 }, async (t) => {
  const an = await startAnalyzer(t);
  const ui = await uiURL(t, an);
  const { page, errors } = await launch(t);
  const ns = `uh${rand()}`;
  t.after(() => {
    try { sh('ip', ['netns', 'del', ns]); } catch { /* deleted by the test */ }
  });

  await page.goto(ui.url);
  await until(page, () => window.__skydive?.perf.firstRenderAt > 0, null, 20000);
  const has = (name) => page.evaluate((n) => [...window.__skydive.store.nodes.values()].some((x) => x.Metadata.Name === n && x.Metadata.Type === 'netns'), name);

  // The namespace lives a few seconds, then goes.
  sh('ip', ['netns', 'add', ns]);
  await until(page, (n) => [...window.__skydive.store.nodes.values()].some((x) => x.Metadata.Name === n), ns, 10000);
  const seen = Date.now();
  await new Promise((ok) => setTimeout(ok, 3000));
  sh('ip', ['netns', 'del', ns]);
  await until(page, (n) => ![...window.__skydive.store.nodes.values()].some((x) => x.Metadata.Name === n), ns, 10000);

  // A duration that is not one says so.
  await page.fill('#time-ago', 'soon');
  await page.press('#time-ago', 'Enter');
  await page.waitForFunction(() => document.querySelector('#banner.error')?.textContent.includes('not a duration'), null, { timeout: 5000 });

  // History, in the middle of the namespace's life (the time bar counts whole seconds): it is back.
  const ago = Math.round((Date.now() - (seen + 1500)) / 1000);
  await page.fill('#time-ago', `${ago}s`);
  await page.press('#time-ago', 'Enter');
  await page.waitForFunction(() => document.querySelector('#banner.history')?.textContent.includes('History'), null, { timeout: 10000 });
  await until(page, (n) => [...window.__skydive.store.nodes.values()].some((x) => x.Metadata.Name === n), ns, 10000);
  assert.equal(await page.inputValue('#time-mode'), 'history');
  await page.click('#expand-all');
  await shot(page, 'history-01-at.png');

  // Live again: it is gone.
  await page.selectOption('#time-mode', 'live');
  await until(page, (n) => window.__skydive.perf.syncs > 1 && ![...window.__skydive.store.nodes.values()].some((x) => x.Metadata.Name === n), ns, 10000);
  assert.equal(await has(ns), false);
  assert.equal(await page.inputValue('#time-ago'), 'now');

  // The changes since the middle of its life list it as removed.
  await page.fill('#diff-from', `${Math.round((Date.now() - (seen + 1500)) / 1000)}s`);
  await page.click('#diff-btn');
  await page.waitForFunction((n) => {
    const d = document.querySelector('#diff');
    return d && /Removed nodes: [1-9]/.test(d.textContent) && d.textContent.includes(n);
  }, ns, { timeout: 10000 }).catch(async (e) => {
    throw new Error(`${e.message}; the diff panel says: ${await page.textContent('#diff').catch(() => '(none)')}`);
  });
  await shot(page, 'history-02-diff.png');
  assert.deepEqual(errors, []);
});
