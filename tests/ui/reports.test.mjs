// The Reports panel against a real analyzer and two real agents (two
// host_ids on this machine, each watching its own namespace of a veth
// pair): a node rule puts both ends in one tenant, captures on both ends,
// a ping. The tenant table shows the tenant's ICMPv4 row with the report's
// own packet count and a CSV link; the latency matrix shows the two hosts
// with the map's median RTT, above zero and under ping's max.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startAnalyzer, uiURL, launch, shot, sh, until, rand, freePort, skydiveBin, artifacts, sleep } from './helpers.mjs';

const isRoot = process.getuid?.() === 0;

function startAgent(t, hostId, analyzerPort, runPath) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skydive-ui-agent-'));
  const conf = path.join(dir, 'skydive.yml');
  return freePort().then((port) => {
    fs.writeFileSync(conf, `host_id: ${hostId}\nanalyzers: [127.0.0.1:${analyzerPort}]\nagent:\n  listen: 127.0.0.1:${port}\n  topology:\n    netns:\n      run_path: ${runPath}\n`);
    const log = fs.openSync(path.join(artifacts, `agent-${hostId}.log`), 'w');
    const proc = spawn(skydiveBin(), ['agent', '-c', conf], { stdio: ['ignore', log, log] });
    t.after(async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await Promise.race([new Promise((r) => proc.once('exit', r)), sleep(5000)]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    });
    return proc;
  });
}

test('reports: tenant traffic and the latency matrix', { skip: !isRoot && 'needs root (netns, veth, mount)', timeout: 180000 }, async (t) => {
  const an = await startAnalyzer(t, { mode: 'analyzer' });
  const r = rand();
  const tenant = `proj-${r}`;
  const [ns1, ns2, if1, if2] = [`ur${r}a`, `ur${r}b`, `ur${r}0`, `ur${r}1`];
  const runs = [fs.mkdtempSync(path.join(os.tmpdir(), 'ur-run-')), fs.mkdtempSync(path.join(os.tmpdir(), 'ur-run-'))];
  t.after(() => {
    for (const [i, ns] of [ns1, ns2].entries()) {
      // Lazy: an agent may still hold the namespace open.
      try { sh('umount', ['-l', path.join(runs[i], ns)]); } catch { /* not mounted */ }
      try { sh('ip', ['netns', 'del', ns]); } catch { /* not made */ }
      try { fs.rmSync(runs[i], { recursive: true, force: true }); } catch { /* left in /tmp */ }
    }
  });
  sh('ip', ['netns', 'add', ns1]);
  sh('ip', ['netns', 'add', ns2]);
  sh('ip', ['link', 'add', if1, 'netns', ns1, 'type', 'veth', 'peer', 'name', if2, 'netns', ns2]);
  sh('ip', ['-n', ns1, 'addr', 'add', '10.245.0.1/24', 'dev', if1]);
  sh('ip', ['-n', ns2, 'addr', 'add', '10.245.0.2/24', 'dev', if2]);
  sh('ip', ['-n', ns1, 'link', 'set', if1, 'up']);
  sh('ip', ['-n', ns2, 'link', 'set', if2, 'up']);
  // Each agent sees one namespace: its own netns run_path.
  for (const [i, ns] of [ns1, ns2].entries()) {
    fs.writeFileSync(path.join(runs[i], ns), '');
    sh('mount', ['--bind', `/var/run/netns/${ns}`, path.join(runs[i], ns)]);
  }
  const [h1, h2] = [`ur-${r}-h1`, `ur-${r}-h2`];
  await startAgent(t, h1, an.port, runs[0]);
  await startAgent(t, h2, an.port, runs[1]);

  const post = async (p, body) => {
    const res = await fetch(`${an.base}${p}`, { method: 'POST', body: JSON.stringify(body) });
    const text = await res.text();
    assert.ok(res.ok, `${p}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  const query = (q) => post('/api/topology', { GremlinQuery: q });
  const poll = async (what, f, ms = 20000) => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (v) return v;
      assert.ok(Date.now() < end, `${what}: not within ${ms} ms`);
      await sleep(200);
    }
  };
  await poll('both interfaces in the graph', async () => Number(await query(`G.V().Has('Name', Within('${if1}', '${if2}')).Count()`)) === 2);
  for (const name of [if1, if2]) {
    await post('/api/noderule', { Action: 'update', Query: `G.V().Has('Name', '${name}')`, Metadata: { Neutron: { TenantID: tenant } } });
  }
  await post('/api/capture', { GremlinQuery: `G.V().Has('Name', Within('${if1}', '${if2}'))`, Name: `reports-${r}` });
  await poll('captures active and tenants set', async () =>
    Number(await query(`G.V().Has('Name', Within('${if1}', '${if2}'), 'Captures.State', 'active', 'Neutron.TenantID', '${tenant}').Count()`)) === 2);
  const out = sh('ip', ['netns', 'exec', ns1, 'ping', '-c', '5', '-i', '0.2', '10.245.0.2']);
  const [, min, , max] = /rtt min\/avg\/max\/mdev = ([0-9.]+)\/([0-9.]+)\/([0-9.]+)/.exec(out).map(Number);
  // Every flow counted by both captures, and the RTT measured.
  const row = await poll('the report row', async () => {
    const res = await fetch(`${an.base}/api/report/tenants?since=1h`);
    const ans = JSON.parse(await res.text());
    return ans.Rows.find((x) => x.Tenant === tenant && x.Application === 'ICMPv4' && x.Packets === 10);
  });
  const pair = await poll('the latency pair', async () => {
    const m = JSON.parse(await (await fetch(`${an.base}/api/latency?since=5m`)).text());
    return (m.Pairs || []).find((p) => p.A === h1 && p.B === h2 && p.RTT.Count >= 2);
  });

  const ui = await uiURL(t, an);
  const { page, errors } = await launch(t);
  await page.goto(ui.url);
  await until(page, () => window.__skydive?.perf.firstRenderAt > 0, null, 20000);
  await page.click('#tab-reports');
  await page.waitForSelector(`#report-tenants tr[data-tenant="${tenant}"][data-app="ICMPv4"]`, { timeout: 10000 });
  const cells = await page.$$eval(`#report-tenants tr[data-tenant="${tenant}"][data-app="ICMPv4"] td`, (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(cells.slice(0, 3), [tenant, 'ICMPv4', String(row.Packets)]);
  const csvHref = await page.getAttribute('#report-csv', 'href');
  assert.match(csvHref, /\/api\/report\/tenants\?since=1h&format=csv$/);
  const csv = await (await fetch(`${an.base}${csvHref}`)).text();
  assert.match(csv, new RegExp(`${tenant},ICMPv4,${row.Packets},${row.Bytes},`));

  const cell = await page.waitForSelector(`#latency-matrix td[data-a="${h1}"][data-b="${h2}"]`, { timeout: 10000 });
  // The wire RTT the captures measure is under ping's (no socket, no
  // scheduling): above zero, at most ping's max.
  const ms = Number(await cell.textContent());
  assert.equal(ms.toFixed(3), pair.RTT.Median.toFixed(3));
  assert.ok(ms > 0 && ms <= max + 0.001, `median ${ms} ms, ping's max ${max} (min ${min})`);
  assert.match(await cell.getAttribute('title'), /^min [0-9.]+ ms, max [0-9.]+ ms, \d+ samples$/);
  await shot(page, 'reports-01.png');
  assert.deepEqual(errors, []);
});
