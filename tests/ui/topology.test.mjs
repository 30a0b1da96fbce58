// The topology view against the real analyzer (skydive allinone, as root):
// the host shows, expanding it shows a namespace made by the test, and an
// interface set down gets its red broken outline within 2 s without a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAnalyzer, uiURL, launch, shot, sh, until, clickNode, rand, sleep } from './helpers.mjs';

const isRoot = process.getuid?.() === 0;

test('topology: host, expand, live namespace, interface down marked red', { skip: !isRoot && 'needs root (netns, veth)', timeout: 180000 }, async (t) => {
  const an = await startAnalyzer(t);
  const ui = await uiURL(t, an);
  t.diagnostic(`UI served by ${ui.servedBy}: ${ui.url}`);
  const { page, errors } = await launch(t);

  const r = rand();
  const ns = `ui${r}`;
  const hostIf = `uv${r}a`;
  const nsIf = `uv${r}b`;
  t.after(() => {
    try { sh('ip', ['link', 'del', hostIf]); } catch { /* gone with the namespace */ }
    try { sh('ip', ['netns', 'del', ns]); } catch { /* not made */ }
  });

  await page.goto(ui.url);
  await page.evaluate(() => (window.__noReload = 1));

  // 1. The default view shows the host, collapsed.
  const host = await until(page, (name) => {
    const s = window.__skydive?.store;
    if (!s) return null;
    const h = [...s.nodes.values()].find((n) => n.Metadata.Type === 'host' && n.Metadata.Name === name);
    return h && window.__skydive.view.shown(h.ID) ? h.ID : null;
  }, an.hostId, 20000);
  const shown = await page.evaluate(() => window.__skydive.view.shownTypes());
  assert.deepEqual([...new Set(shown)], ['host'], 'only hosts are shown by default');
  await page.click('#fit');
  await shot(page, '01-host.png');

  // 2. Select the host and press Expand: its interfaces appear.
  await clickNode(page, host);
  await page.waitForSelector('#details-toggle');
  assert.match(await page.textContent('#details'), new RegExp(an.hostId));
  assert.equal(await page.evaluate(() => window.__skydive.view.selected()), host, 'a click selects the node');
  await page.click('#details-toggle');
  await until(page, (id) => window.__skydive.view.expanded.has(id) && window.__skydive.view.canvas.nodeCount > 1, host);

  // 3. A namespace and a veth pair made now appear live, without a reload.
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', ns]);
  sh('ip', ['-n', ns, 'addr', 'add', '10.251.77.2/24', 'dev', nsIf]);
  sh('ip', ['-n', ns, 'link', 'set', nsIf, 'up']);
  sh('ip', ['link', 'set', hostIf, 'up']);
  const ids = await until(page, ([ns, hostIf]) => {
    const { store, view } = window.__skydive;
    const find = (name, type) => [...store.nodes.values()].find((n) => n.Metadata.Name === name && (!type || n.Metadata.Type === type));
    const nsNode = find(ns, 'netns');
    const ifNode = find(hostIf);
    if (!nsNode || !ifNode) return null;
    if (!view.shown(nsNode.ID) || !view.shown(ifNode.ID)) return null;
    if (ifNode.Metadata.State !== 'UP') return null;
    return { ns: nsNode.ID, hostIf: ifNode.ID };
  }, [ns, hostIf], 20000);
  assert.equal(await page.evaluate((id) => window.__skydive.view.types.get(id), ids.ns), 'netns');
  await page.evaluate((ids) => window.__skydive.view.fit([ids.ns, ids.hostIf]), ids);
  await shot(page, '02-host-expanded-netns.png');

  // 4. Expanding the namespace shows the interface inside it.
  await clickNode(page, ids.ns);
  await page.waitForSelector('#details-toggle');
  await page.click('#details-toggle');
  const inner = await until(page, (name) => {
    const { store, view } = window.__skydive;
    const n = [...store.nodes.values()].find((n) => n.Metadata.Name === name);
    return n && view.shown(n.ID) ? n.ID : null;
  }, nsIf, 10000);
  const look = (id) => page.evaluate((id) => window.__skydive.view.canvas.look(id), id);
  await page.evaluate((l) => window.__skydive.view.fit(l), [ids.ns, ids.hostIf, inner]);
  await shot(page, '03-netns-expanded.png');
  const up = await look(ids.hostIf);
  assert.ok(up.stroke !== '#cf5c67' && !up.dashed, 'an UP interface has no red outline');

  // 5. ip link set down: a red broken outline within 2 s, same page; its
  // colour stays (an idle host must not look like an outage).
  const t0 = Date.now();
  sh('ip', ['link', 'set', hostIf, 'down']);
  await until(page, (id) => {
    const v = window.__skydive.view;
    const l = v.canvas.look(id);
    return v.shown(id) && v.hasClass(id, 'down') && l.stroke === '#cf5c67' && l.dashed;
  }, ids.hostIf, 2000);
  assert.equal((await look(ids.hostIf)).fill, up.fill, 'a down interface keeps its colour');
  const took = Date.now() - t0;
  t.diagnostic(`interface turned red ${took} ms after ip link set down`);
  assert.equal(await page.evaluate(() => window.__noReload), 1, 'the page was not reloaded');
  await clickNode(page, ids.hostIf);
  await page.waitForFunction(() => document.querySelector('#details .state.down'));
  await shot(page, '04-interface-down-red.png');

  // 6. Search by name highlights the namespace; by Gremlin too.
  await page.fill('#search', ns);
  await page.press('#search', 'Enter');
  await until(page, (id) => window.__skydive.view.hasClass(id, 'hl'), ids.ns);
  await page.selectOption('#search-mode', 'gremlin');
  await page.fill('#search', `G.V().Has('Type', 'veth', 'State', 'DOWN')`);
  await page.press('#search', 'Enter');
  await until(page, (id) => window.__skydive.view.hasClass(id, 'hl'), ids.hostIf);
  assert.match(await page.textContent('#search-info'), /match/);
  await shot(page, '05-search-gremlin.png');

  // 7. The namespace goes away: its node leaves the drawing.
  sh('ip', ['netns', 'del', ns]);
  await until(page, (id) => !window.__skydive.view.shown(id), ids.ns, 10000);

  // 8. A double click on the host collapses it (only hosts shown), another expands it again.
  await clickNode(page, host, 2);
  await until(page, (id) => !window.__skydive.view.expanded.has(id) && window.__skydive.view.shownTypes().every((t) => t === 'host'), host, 5000);
  await clickNode(page, host, 2);
  await until(page, (id) => window.__skydive.view.expanded.has(id) && window.__skydive.view.canvas.nodeCount > 1, host, 5000);
  assert.deepEqual(errors, [], 'no page errors');
});

test('panels: captures and flows, or a clear "not available" state', { timeout: 120000 }, async (t) => {
  const an = await startAnalyzer(t);
  const ui = await uiURL(t, an);
  const { page, errors } = await launch(t);
  await page.goto(ui.url);
  await until(page, () => window.__skydive?.perf.firstRenderAt > 0, null, 20000);

  const capStatus = (await fetch(`${an.base}/api/capture`)).status;
  await page.click('#tab-captures');
  if (capStatus === 404) {
    await page.waitForSelector('[data-resource=capture] .unavailable');
    assert.match(await page.textContent('[data-resource=capture]'), /not available on this analyzer/);
    await shot(page, '06-captures-unavailable.png');
    await t.test('capture create from the selected node', { skip: 'no /api/capture on this analyzer (404)' }, () => {});
  } else {
    await t.test('capture create from the selected node', async () => {
      const host = await page.evaluate(() => [...window.__skydive.store.nodes.values()].find((n) => n.Metadata.Type === 'host').ID);
      await clickNode(page, host);
      await page.click('#details button:has-text("Capture")');
      const name = `ui-cap-${Date.now()}`;
      await page.fill('[data-resource=capture] input[name=Name]', name);
      await page.click('[data-resource=capture] button[type=submit]');
      await page.waitForFunction((n) => document.querySelector('[data-resource=capture] table')?.textContent.includes(n), name, { timeout: 10000 });
      await shot(page, '06-captures.png');
      const row = page.locator('[data-resource=capture] tr', { hasText: name });
      await row.locator('button:has-text("Stop")').click();
      await page.waitForFunction((n) => !document.querySelector('[data-resource=capture] table')?.textContent.includes(n), name, { timeout: 10000 });
    });
  }

  await page.click('#tab-flows');
  const flowRes = await fetch(`${an.base}/api/topology`, { method: 'POST', body: JSON.stringify({ GremlinQuery: 'G.Flows().Sort().Limit(1)' }) });
  const flowsOK = flowRes.status === 200;
  if (!flowsOK) {
    await page.waitForSelector('[data-resource=flows] .unavailable', { timeout: 5000 });
    await shot(page, '07-flows-unavailable.png');
    await t.test('flow table with auto refresh', { skip: `G.Flows() not served (${flowRes.status}: ${(await flowRes.text()).trim().slice(0, 80)})` }, () => {});
  } else {
    await t.test('flow table with auto refresh', async () => {
      await page.waitForSelector('#flow-table table.flows');
      const head = await page.textContent('#flow-table thead');
      for (const c of ['App.', 'A', 'B', 'AB Pkts', 'BA Pkts', 'AB Bytes', 'BA Bytes', 'RTT ms']) assert.ok(head.includes(c), c);
      assert.equal(await page.inputValue('#flow-query'), 'G.Flows().Sort()');
      assert.ok(await page.isChecked('#flow-auto'));
      await page.waitForFunction(() => /flows/.test(document.querySelector('#flow-status').textContent));
      await shot(page, '07-flows.png');
    });
  }
  for (const [tab, res] of [['alerts', 'alert'], ['rules', 'noderule'], ['workflows', 'workflow'], ['generator', 'injectpacket']]) {
    await page.click(`#tab-${tab}`);
    await page.waitForFunction((r) => {
      const el = document.querySelector(`[data-resource=${r}]`);
      return el && (el.querySelector('.unavailable') || el.querySelector('table, select, .empty'));
    }, res, { timeout: 5000 });
  }
  await shot(page, '08-panels.png');
  assert.deepEqual(errors, []);
});
