// A view that reads at a glance (issue 17): labels large enough, by
// priority and never overlapping; "Fit" frames what matters; group hulls
// around their members; a stable layout; down and instance interfaces
// marked. The canvas's test hook (view.canvas.drawn()) tells what the last
// frame drew: label boxes in screen pixels, hull outlines in graph units.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startAnalyzer, uiURL, launch, shot, sh, until, rand, sleep } from './helpers.mjs';
import { publish } from './synthetic.mjs';

const isRoot = process.getuid?.() === 0;

/** What the last frame drew, with the legend's box in the same coordinates. */
const drawn = (page) =>
  page.evaluate(() => {
    const c = window.__skydive.view.canvas;
    const d = c.drawn();
    const wrap = c.canvas.getBoundingClientRect();
    const l = document.querySelector('#legend').getBoundingClientRect();
    d.legend = { x: l.left - wrap.left, y: l.top - wrap.top, w: l.width, h: l.height };
    d.nodes = c.nodeIds().map((id) => ({ id, ...c.renderedPosition(id), ...c.position(id) && { gx: c.position(id).x, gy: c.position(id).y }, size: c.look(id).size * c.zoom() }));
    return d;
  });

const overlap = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const inside = (b, d) => b.x >= 0 && b.y >= 0 && b.x + b.w <= d.width && b.y + b.h <= d.height;

function assertNoOverlap(d) {
  for (let i = 0; i < d.labels.length; i++)
    for (let j = i + 1; j < d.labels.length; j++)
      assert.ok(!overlap(d.labels[i], d.labels[j]), `labels ${d.labels[i].text} and ${d.labels[j].text} overlap`);
}

function assertNothingUnderLegend(d) {
  const L = d.legend;
  for (const n of d.nodes) {
    const r = n.size / 2;
    const box = { x: n.x - r, y: n.y - r, w: 2 * r, h: 2 * r };
    assert.ok(!overlap(box, L), `node ${n.id} at ${Math.round(n.x)},${Math.round(n.y)} is under the legend ${JSON.stringify(L)}`);
  }
}

test('readable: one host, three namespaces and a stray node', { skip: !isRoot && 'needs root (netns)', timeout: 180000 }, async (t) => {
  const an = await startAnalyzer(t);
  const ui = await uiURL(t, an);
  const { page, errors } = await launch(t);
  const r = rand();
  const names = [`rdA${r}`, `rdB${r}`, `rdC${r}`];
  t.after(() => {
    for (const n of names) try { sh('ip', ['netns', 'del', n]); } catch { /* not made */ }
  });
  for (const n of names) sh('ip', ['netns', 'add', n]);
  // Two unconnected nodes made by node rules.
  for (const name of [`stray1-${r}`, `stray2-${r}`]) {
    const res = await fetch(`${an.base}/api/noderule`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ Action: 'create', Metadata: { Name: name, Type: 'device' } }) });
    assert.equal(res.status, 201, await res.text());
  }

  await page.goto(ui.url);
  const host = await until(page, ([name, n]) => {
    const s = window.__skydive?.store;
    const h = s && [...s.nodes.values()].find((x) => x.Metadata.Type === 'host' && x.Metadata.Name === name);
    const strays = s && [...s.nodes.values()].filter((x) => String(x.Metadata.Name).startsWith('stray'));
    return h && strays.length === n && window.__skydive.view.shown(h.ID) ? h.ID : null;
  }, [an.hostId, 2], 20000);
  // The first layout frames the host, labelled; then "Fit" does the same.
  for (const step of ['first load', 'Fit']) {
    if (step === 'Fit') await page.click('#fit');
    await sleep(200);
    const d = await drawn(page);
    const lab = d.labels.find((l) => l.id === host);
    assert.ok(lab, `${step}: the host's label is drawn`);
    assert.ok(inside(lab, d), `${step}: the host's label is inside the view: ${JSON.stringify(lab)} in ${d.width}x${d.height}`);
    assert.ok(lab.h >= 12, `${step}: the host's label is ${lab.h} px high`);
    const hostNode = d.nodes.find((n) => n.id === host);
    assert.ok(hostNode.size >= 40, `${step}: the host is drawn large (${Math.round(hostNode.size)} px), not a speck`);
    assertNothingUnderLegend(d);
    await shot(page, `readable-01-${step === 'Fit' ? 'fit' : 'first'}.png`);
  }

  // Expanded: every namespace label at least 12 px high, no two labels overlap.
  await page.evaluate((id) => window.__skydive.view.expand(id), host);
  const nsIds = await until(page, (names) => {
    const { store, view } = window.__skydive;
    const ids = names.map((n) => [...store.nodes.values()].find((x) => x.Metadata.Name === n && x.Metadata.Type === 'netns')?.ID);
    return ids.every((id) => id && view.shown(id)) ? ids : null;
  }, names, 10000);
  await page.click('#fit');
  await sleep(200);
  const d = await drawn(page);
  for (const id of nsIds) {
    const lab = d.labels.find((l) => l.id === id);
    assert.ok(lab, `namespace ${id}'s label is drawn`);
    assert.ok(lab.h >= 12, `namespace label ${lab.text} is ${lab.h} px high`);
    assert.ok(inside(lab, d), `namespace label ${lab.text} is inside the view`);
  }
  assertNoOverlap(d);
  assertNothingUnderLegend(d);
  // The host's hull encloses what it shows.
  const hull = d.hulls.find((h) => h.id === host);
  assert.ok(hull, 'the expanded host has a hull');
  await shot(page, 'readable-02-expanded.png');
  assert.deepEqual(errors, []);
});

/** Is p inside the polygon (graph coordinates)? */
function inPolygon(p, poly) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const a = poly[i];
    const b = poly[j];
    if (a.y > p.y !== b.y > p.y && p.x < ((b.x - a.x) * (p.y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

/**
 * An OpenStack-like topology of three computes: per host two OVS bridges
 * and their ports, instance taps (Neutron) behind the ports, VMs, router and
 * DHCP namespaces with their interfaces, NICs; a top-of-rack switch.
 */
function openstackLike(prefix) {
  const now = Date.now();
  const nodes = [];
  const edges = [];
  const node = (id, md, host) => nodes.push({ ID: id, Metadata: md, Host: host, Origin: `ui.${prefix}`, CreatedAt: now, UpdatedAt: now, Revision: 1 });
  const edge = (parent, child, rt, host) =>
    edges.push({ ID: `${prefix}-e${edges.length}`, Parent: parent, Child: child, Metadata: { RelationType: rt }, Host: host, Origin: `ui.${prefix}`, CreatedAt: now, UpdatedAt: now, Revision: 1 });
  const tor = `${prefix}-tor`;
  node(tor, { Name: 'tor1', Type: 'switch', Probe: 'fabric' }, '');
  for (let h = 0; h < 3; h++) {
    const host = `${prefix}-compute-${h}`;
    node(host, { Name: `compute-${h}`, Type: 'host' }, host);
    for (const nic of ['eth0', 'eth1', 'lo']) {
      node(`${host}-${nic}`, { Name: nic, Type: 'device', State: 'UP', MTU: 1500 }, host);
      edge(host, `${host}-${nic}`, 'ownership', host);
    }
    const tport = `${prefix}-tor-p${h}`;
    node(tport, { Name: `port${h + 1}`, Type: 'switchport', Probe: 'fabric' }, '');
    edge(tor, tport, 'ownership', '');
    edge(tport, `${host}-eth0`, 'layer2', '');
    for (const br of ['br-int', 'br-ex']) {
      const bid = `${host}-${br}`;
      node(bid, { Name: br, Type: 'ovsbridge', UUID: `${bid}-uuid` }, host);
      edge(host, bid, 'ownership', host);
      const ports = br === 'br-int' ? 26 : 4;
      for (let p = 0; p < ports; p++) {
        const pid = `${bid}-port${p}`;
        const tap = br === 'br-int' ? `tap${h}${String(p).padStart(2, '0')}ab-cd` : `qg-${h}${p}ef`;
        node(pid, { Name: tap, Type: 'ovsport', UUID: `${pid}-uuid` }, host);
        edge(bid, pid, 'ownership', host);
        if (br === 'br-int') {
          const iid = `${pid}-if`;
          node(iid, { Name: tap, Type: 'tap', State: p % 9 === 4 ? 'DOWN' : 'UP', Manager: 'neutron', Neutron: { PortID: `p-${h}-${p}` }, MTU: 1450 }, host);
          edge(host, iid, 'ownership', host);
          edge(pid, iid, 'layer2', host);
        }
      }
    }
    for (let v = 0; v < 4; v++) {
      const vm = `${host}-vm${v}`;
      node(vm, { Name: `instance-${h}${v}`, Type: 'libvirt', State: 'RUNNING' }, host);
      edge(host, vm, 'ownership', host);
      for (let k = 0; k < 3; k++) edge(vm, `${host}-br-int-port${v * 3 + k}-if`, 'vlayer2', host);
    }
    for (let n = 0; n < 6; n++) {
      const ns = `${host}-ns${n}`;
      const name = n < 3 ? `qrouter-${h}${n}a1b2` : `qdhcp-${h}${n}c3d4`;
      node(ns, { Name: name, Type: 'netns', Path: `/var/run/netns/${name}` }, host);
      edge(host, ns, 'ownership', host);
      for (let i = 0; i < 4; i++) {
        const iid = `${ns}-if${i}`;
        node(iid, { Name: i === 0 ? 'lo' : `${n < 3 ? 'qr' : 'tap'}-${h}${n}${i}`, Type: i === 0 ? 'device' : 'internal', State: 'UP' }, host);
        edge(ns, iid, 'ownership', host);
      }
    }
  }
  return { Nodes: nodes, Edges: edges };
}

test('readable: 300 nodes of three computes, expanded and fitted', { timeout: 180000 }, async (t) => {
  const an = await startAnalyzer(t, { hostId: `uiread-${rand()}`, mode: 'analyzer' });
  const ui = await uiURL(t, an);
  const prefix = `r${rand()}`;
  const graph = openstackLike(prefix);
  assert.ok(graph.Nodes.length >= 280 && graph.Nodes.length <= 320, `${graph.Nodes.length} nodes`);
  const { ws, errors: refused } = await publish(an.base, graph, { WebSocket });
  t.after(() => ws.close());
  const { page, errors } = await launch(t);
  await page.goto(ui.url);
  await until(page, (n) => window.__skydive?.store?.nodes.size >= n, graph.Nodes.length, 20000);
  assert.deepEqual(refused, [], 'the publisher took every element');

  await page.click('#expand-all');
  await until(page, (n) => window.__skydive.view.canvas.nodeCount >= n, graph.Nodes.length, 10000);
  await page.click('#fit');
  await sleep(300);
  const d = await drawn(page);
  const mine = d.nodes.filter((n) => n.id.startsWith(prefix));
  const inView = mine.filter((n) => n.x >= 0 && n.y >= 0 && n.x <= d.width && n.y <= d.height);
  t.diagnostic(`${inView.length}/${mine.length} nodes in view, ${d.labels.length} labels, ${d.hulls.length} hulls, zoom ${d.zoom.toFixed(2)}`);
  await shot(page, 'readable-03-300-nodes.png');
  assert.ok(inView.length >= 0.9 * mine.length, `${inView.length} of ${mine.length} nodes in the view`);
  assert.ok(d.labels.length >= 0.5 * mine.length, `${d.labels.length} labels shown for ${mine.length} nodes`);
  assertNoOverlap(d);
  assertNothingUnderLegend(d);
  // Every hull encloses its members.
  const members = await page.evaluate(() => {
    const v = window.__skydive.view;
    const out = {};
    for (const h of v.canvas.hullSpecs) out[h.id] = h.members;
    return out;
  });
  const pos = new Map(d.nodes.map((n) => [n.id, { x: n.gx, y: n.gy }]));
  assert.ok(d.hulls.length >= 3 + 3 * 8, `${d.hulls.length} hulls (hosts, bridges, namespaces)`);
  for (const h of d.hulls) for (const m of members[h.id]) assert.ok(inPolygon(pos.get(m), h.points), `${m} is inside the hull of ${h.id}`);

  // Marks: a down tap differs from an up one; instance taps carry theirs.
  const looks = await page.evaluate((p) => {
    const c = window.__skydive.view.canvas;
    return { down: c.look(`${p}-compute-0-br-int-port4-if`), up: c.look(`${p}-compute-0-br-int-port5-if`) };
  }, prefix);
  assert.equal(looks.down.fill, looks.up.fill, 'a down tap keeps its colour');
  assert.ok(looks.down.stroke !== looks.up.stroke && looks.down.dashed && !looks.up.dashed, 'a down tap has its own outline');
  assert.equal(looks.up.badge, 'instance', 'an instance tap has its mark');

  // A new interface, live: nothing else moves (no auto-fit).
  const before = new Map(d.nodes.map((n) => [n.id, { x: n.gx, y: n.gy }]));
  const host = `${prefix}-compute-1`;
  const now = Date.now();
  const iid = `${prefix}-new-if`;
  ws.send(JSON.stringify({ Namespace: 'Graph', Type: 'NodeAdded', Obj: { ID: iid, Metadata: { Name: 'tapnew', Type: 'tap', State: 'UP' }, Host: host, Origin: `ui.${prefix}`, CreatedAt: now, UpdatedAt: now, Revision: 1 } }));
  ws.send(JSON.stringify({ Namespace: 'Graph', Type: 'EdgeAdded', Obj: { ID: `${iid}-e`, Parent: host, Child: iid, Metadata: { RelationType: 'ownership' }, Host: host, Origin: `ui.${prefix}`, CreatedAt: now, UpdatedAt: now, Revision: 1 } }));
  await until(page, (id) => window.__skydive.view.shown(id), iid, 10000);
  await sleep(200);
  const after = await drawn(page);
  let moved = 0;
  for (const n of after.nodes) {
    const b = before.get(n.id);
    if (b && Math.hypot(b.x - n.gx, b.y - n.gy) > 3) moved++;
  }
  assert.equal(moved, 0, `${moved} nodes moved when an interface came`);
  assert.deepEqual(errors, []);
});
