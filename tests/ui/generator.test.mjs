// Red Hat's guide, chapter 5, in the browser: a capture created from the
// Captures panel, pings sent from the Generator panel, and the ICMPv4 row
// in the Flows table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAnalyzer, uiURL, launch, shot, sh, until, rand } from './helpers.mjs';

const isRoot = process.getuid?.() === 0;

test('capture and generator fill the Flows table', { skip: !isRoot && 'needs root (netns, veth)', timeout: 180000 }, async (t) => {
  const an = await startAnalyzer(t);
  const r = rand();
  const [nsA, nsB, ifA, ifB] = [`ug${r}a`, `ug${r}b`, `ug${r}0`, `ug${r}1`];
  t.after(() => {
    for (const ns of [nsA, nsB]) {
      try { sh('ip', ['netns', 'del', ns]); } catch { /* not made */ }
    }
  });
  sh('ip', ['netns', 'add', nsA]);
  sh('ip', ['netns', 'add', nsB]);
  sh('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
  sh('ip', ['-n', nsA, 'addr', 'add', '10.247.0.1/24', 'dev', ifA]);
  sh('ip', ['-n', nsB, 'addr', 'add', '10.247.0.2/24', 'dev', ifB]);
  sh('ip', ['-n', nsA, 'link', 'set', ifA, 'up']);
  sh('ip', ['-n', nsB, 'link', 'set', ifB, 'up']);

  const ui = await uiURL(t, an);
  const { page, errors } = await launch(t);
  await page.goto(ui.url);
  await until(page, () => window.__skydive?.perf.firstRenderAt > 0, null, 20000);
  await until(page, (n) => [...window.__skydive.store.nodes.values()].some((x) => x.Metadata.Name === n && x.Metadata.IPV4), ifB, 10000);

  // A capture on the receiving interface, from the Captures panel.
  await page.click('#tab-captures');
  await page.click('[data-resource=capture] details.create summary');
  await page.fill('[data-resource=capture] input[name=GremlinQuery]', `G.V().Has('Name', '${ifB}')`);
  await page.fill('[data-resource=capture] input[name=Name]', `ui-${r}`);
  await page.click('[data-resource=capture] button[type=submit]');
  await page.waitForFunction((n) => document.querySelector('[data-resource=capture] table')?.textContent.includes(n), `ui-${r}`, { timeout: 10000 });
  const deadline = Date.now() + 10000;
  for (;;) {
    const res = await fetch(`${an.base}/api/topology`, { method: 'POST',
      body: JSON.stringify({ GremlinQuery: `G.V().Has('Name', '${ifB}', 'Captures.State', 'active').Count()` }) });
    if (Number(await res.text()) === 1) break;
    assert.ok(Date.now() < deadline, 'capture not active within 10 s');
    await new Promise((ok) => setTimeout(ok, 100));
  }
  await shot(page, '09-capture-created.png');

  // Pings from the Generator panel.
  await page.click('#tab-generator');
  const gen = '[data-resource=injectpacket]';
  await page.click(`${gen} details.create summary`);
  await page.fill(`${gen} input[name=Src]`, `G.V().Has('Name', '${ifA}')`);
  await page.fill(`${gen} input[name=Dst]`, `G.V().Has('Name', '${ifB}')`);
  await page.fill(`${gen} input[name=Count]`, '3');
  await page.fill(`${gen} input[name=Interval]`, '100');
  await page.click(`${gen} button[type=submit]`);
  await shot(page, '10-generator.png');

  // The Flows table shows the ICMPv4 row, refreshed every second.
  await page.click('#tab-flows');
  await page.fill('#flow-query', `G.Flows().Has('Application', 'ICMPv4', 'Network.B', '10.247.0.2').Sort()`);
  await page.press('#flow-query', 'Enter');
  await page.waitForFunction(() => [...document.querySelectorAll('#flow-table tbody tr')].some((tr) => tr.textContent.includes('ICMPv4') && tr.textContent.includes('10.247.0.2')), null, { timeout: 15000 });
  await shot(page, '11-flows-icmp.png');

  // A click on the row highlights the interface the flow was captured on, following L2 then L3.
  const ifBId = await page.evaluate((n) => [...window.__skydive.store.nodes.values()].find((x) => x.Metadata.Name === n).ID, ifB);
  for (const follow of ['TrackingID', 'L3TrackingID']) {
    await page.evaluate(() => window.__skydive.view.setHighlight([]));
    await page.selectOption('#flow-follow', follow);
    await page.click('#flow-table tbody tr:has-text("ICMPv4")');
    await until(page, (id) => window.__skydive.view.hasClass(id, 'hl'), ifBId, 5000);
  }
  await shot(page, '12-flow-followed.png');
  assert.deepEqual(errors, []);
});
