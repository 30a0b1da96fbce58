// A flow's trace in the browser: two namespaces joined through a Linux
// bridge in a third one, whose nftables rule drops 30% of the echo requests;
// captures on both ends; a ping. A click on the ICMPv4 row of the Flows
// panel shows the trace: both hops with their counts, the hop after the
// loss in red, and on the graph one leg between the two interfaces drawn red
// with "AB lost n of m", n being the rule's own counter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAnalyzer, uiURL, launch, shot, sh, until, rand } from './helpers.mjs';

const isRoot = process.getuid?.() === 0;

test('trace: the losing leg is red on the graph', { skip: !isRoot && 'needs root (netns, veth, nft)', timeout: 180000 }, async (t) => {
  const an = await startAnalyzer(t);
  const r = rand();
  const [nsA, nsM, nsB] = [`ut${r}a`, `ut${r}m`, `ut${r}b`];
  const [ifA, upA, upB, ifB] = [`ut${r}a0`, `ut${r}m0`, `ut${r}m1`, `ut${r}b0`];
  t.after(() => {
    for (const ns of [nsA, nsM, nsB]) {
      try { sh('ip', ['netns', 'del', ns]); } catch { /* not made */ }
    }
  });
  for (const ns of [nsA, nsM, nsB]) sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', upA, 'netns', nsM]);
  sh('ip', ['link', 'add', ifB, 'netns', nsB, 'type', 'veth', 'peer', 'name', upB, 'netns', nsM]);
  sh('ip', ['-n', nsM, 'link', 'add', 'br0', 'type', 'bridge']);
  for (const i of [upA, upB]) sh('ip', ['-n', nsM, 'link', 'set', i, 'master', 'br0', 'up']);
  sh('ip', ['-n', nsM, 'link', 'set', 'br0', 'up']);
  sh('ip', ['-n', nsA, 'addr', 'add', '10.246.0.1/24', 'dev', ifA]);
  sh('ip', ['-n', nsB, 'addr', 'add', '10.246.0.2/24', 'dev', ifB]);
  sh('ip', ['-n', nsA, 'link', 'set', ifA, 'up']);
  sh('ip', ['-n', nsB, 'link', 'set', ifB, 'up']);
  // No ARP to lose: the neighbours are known.
  const mac = (ns, dev) => JSON.parse(sh('ip', ['-j', '-n', ns, 'link', 'show', dev]))[0].address;
  sh('ip', ['-n', nsA, 'neigh', 'replace', '10.246.0.2', 'lladdr', mac(nsB, ifB), 'dev', ifA, 'nud', 'permanent']);
  sh('ip', ['-n', nsB, 'neigh', 'replace', '10.246.0.1', 'lladdr', mac(nsA, ifA), 'dev', ifB, 'nud', 'permanent']);
  sh('ip', ['netns', 'exec', nsM, 'nft', 'add', 'table', 'bridge', 'lossy']);
  sh('ip', ['netns', 'exec', nsM, 'nft', 'add', 'chain', 'bridge', 'lossy', 'drops', '{ type filter hook forward priority 0; }']);
  sh('ip', ['netns', 'exec', nsM, 'nft', 'add', 'rule', 'bridge', 'lossy', 'drops', 'iifname', upA, 'ip', 'protocol', 'icmp',
    'numgen', 'random', 'mod', '10', '<', '3', 'counter', 'drop']);

  const ui = await uiURL(t, an);
  const { page, errors } = await launch(t);
  await page.goto(ui.url);
  await until(page, () => window.__skydive?.perf.firstRenderAt > 0, null, 20000);
  await until(page, (names) => names.every((n) => [...window.__skydive.store.nodes.values()].some((x) => x.Metadata.Name === n && x.Metadata.TID)), [ifA, ifB], 15000);

  // Captures on both ends, then the ping.
  const post = async (path, body) => {
    const res = await fetch(`${an.base}${path}`, { method: 'POST', body: JSON.stringify(body) });
    const text = await res.text();
    assert.ok(res.ok, `${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  await post('/api/capture', { GremlinQuery: `G.V().Has('Name', Within('${ifA}', '${ifB}'))`, Name: `trace-${r}` });
  const deadline = Date.now() + 15000;
  while (Number(await post('/api/topology', { GremlinQuery: `G.V().Has('Name', Within('${ifA}', '${ifB}'), 'Captures.State', 'active').Count()` })) !== 2) {
    assert.ok(Date.now() < deadline, 'captures not active within 15 s');
    await new Promise((ok) => setTimeout(ok, 100));
  }
  const requests = 40;
  try {
    sh('ip', ['netns', 'exec', nsA, 'ping', '-c', String(requests), '-i', '0.05', '-W', '1', '10.246.0.2']);
  } catch { /* some are lost: that is the point */ }
  const dropped = Number(/counter packets (\d+)/.exec(sh('ip', ['netns', 'exec', nsM, 'nft', 'list', 'table', 'bridge', 'lossy']))[1]);
  assert.ok(dropped > 0 && dropped < requests, `the rule dropped ${dropped}`);

  // Both captures have reported the whole ping.
  const flowsDone = Date.now() + 20000;
  for (;;) {
    const fs = await post('/api/topology', { GremlinQuery: `G.Flows().Has('Application', 'ICMPv4', 'Network.A', '10.246.0.1')` });
    const at = (n) => fs.find((f) => f.NodeTID === n);
    const tids = await post('/api/topology', { GremlinQuery: `G.V().Has('Name', Within('${ifA}', '${ifB}')).Values('TID')` });
    const [a, b] = tids.map(at);
    if (a && b && [a, b].some((f) => f.Metric.ABPackets === requests) && [a, b].some((f) => f.Metric.ABPackets === requests - dropped)) break;
    assert.ok(Date.now() < flowsDone, `flows: ${JSON.stringify(fs.map((f) => [f.NodeTID, f.Metric]))}`);
    await new Promise((ok) => setTimeout(ok, 200));
  }

  await page.click('#tab-flows');
  await page.fill('#flow-query', `G.Flows().Has('Application', 'ICMPv4', 'Network.A', '10.246.0.1').Sort()`);
  await page.press('#flow-query', 'Enter');
  await page.waitForSelector('#flow-table tbody tr:has-text("ICMPv4")');
  await page.click('#flow-table tbody tr:has-text("ICMPv4")');
  await page.waitForSelector('#trace-box table.trace tbody tr:nth-child(2)', { timeout: 10000 });
  const rows = await page.$$eval('#trace-box table.trace tbody tr', (trs) => trs.map((tr) => ({ cells: [...tr.cells].map((c) => c.textContent), lost: tr.classList.contains('lost') })));
  assert.deepEqual(rows.map((x) => [x.cells[2], x.cells[3], x.lost]), [[ifA, String(requests), false], [ifB, String(requests - dropped), true]]);
  assert.match(await page.textContent('#trace-box .trace-loss'), new RegExp(`AB: ${dropped} of ${requests} packets lost between ${ifA} .* and ${ifB} .*via .*br0`));

  const idOf = (n) => page.evaluate((name) => [...window.__skydive.store.nodes.values()].find((x) => x.Metadata.Name === name).ID, n);
  const [idA, idB] = [await idOf(ifA), await idOf(ifB)];
  const legs = await until(page, () => {
    const l = window.__skydive.view.canvas.tracedLegs();
    return l.length ? l : null;
  }, null, 10000);
  assert.equal(legs.length, 1);
  assert.deepEqual([legs[0].from, legs[0].to, legs[0].lost, legs[0].label], [idA, idB, true, `AB lost ${dropped} of ${requests}`]);
  const { width, height } = await page.evaluate(() => window.__skydive.view.canvas.size());
  for (const [x, y] of [[legs[0].ax, legs[0].ay], [legs[0].bx, legs[0].by]]) assert.ok(x >= 0 && y >= 0 && x <= width && y <= height, `leg end ${x},${y} off the ${width}x${height} canvas`);
  // The red leg is on the canvas: a pixel at its middle is red.
  const red = await page.evaluate(({ x, y }) => {
    const c = document.querySelector('#graph canvas') || document.querySelector('canvas');
    const dpr = c.width / c.getBoundingClientRect().width;
    const [r, g, b] = c.getContext('2d').getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data;
    return { r, g, b };
  }, { x: (legs[0].ax + legs[0].bx) / 2, y: (legs[0].ay + legs[0].by) / 2 });
  assert.ok(red.r > 180 && red.g < 90 && red.b < 90, `middle of the leg is rgb(${red.r},${red.g},${red.b})`);
  await shot(page, 'trace-01-loss.png');

  await page.click('#trace-box button:has-text("Clear trace")');
  await until(page, () => window.__skydive.view.canvas.tracedLegs().length === 0, null, 5000);
  assert.deepEqual(errors, []);
});
