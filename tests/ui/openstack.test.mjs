// OpenStack and the new probes' objects in the drawing: a small
// OpenStack-like graph published to the real analyzer (skydive analyzer, no
// agent, no root) through /ws/publisher. The instance interface (a tap with
// Manager neutron and ExtID vm-id) carries the instance mark, a plain veth
// does not, the legend shows the same mark, fabric/LLDP/OVN objects have
// their styles, vlayer2 and mapping links their looks, the details panel an
// "OpenStack port" section, and a Gremlin search on Neutron.NetworkName
// selects the tap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startAnalyzer, uiURL, launch, shot, until, clickNode, rand, sleep, artifacts } from './helpers.mjs';
import { publish } from './synthetic.mjs';

function openstackGraph(p) {
  const now = Date.now();
  const nodes = [];
  const edges = [];
  const host = `${p}-compute`;
  const node = (id, md) => (nodes.push({ ID: `${p}-${id}`, Metadata: md, Host: host, Origin: `uitest.${p}`, CreatedAt: now, UpdatedAt: now, Revision: 1 }), `${p}-${id}`);
  const edge = (parent, child, rt, md = {}) =>
    edges.push({ ID: `${p}-e${edges.length}`, Parent: parent, Child: child, Metadata: { RelationType: rt, ...md }, Host: host, Origin: `uitest.${p}`, CreatedAt: now, UpdatedAt: now, Revision: 1 });
  const ids = {};
  ids.host = node('compute', { Name: `compute-${p}`, Type: 'host', OS: 'linux' });
  ids.eth0 = node('eth0', { Name: 'eth0', Type: 'device', State: 'UP', MAC: '52:54:00:00:00:01' });
  edge(ids.host, ids.eth0, 'ownership');
  ids.qrouter = node('qrouter', { Name: 'qrouter-6f1c2d7e-0b7a-4c55-9d1e-3a3b5c7d9e01', Type: 'netns', Path: '/var/run/netns/qrouter-6f1c2d7e' });
  edge(ids.host, ids.qrouter, 'ownership');
  ids.veth = node('veth', { Name: 'qr-plainveth', Type: 'veth', State: 'UP', IPV4: ['192.168.10.1/24'] });
  edge(ids.qrouter, ids.veth, 'ownership');
  ids.brint = node('brint', { Name: 'br-int', Type: 'ovsbridge' });
  edge(ids.host, ids.brint, 'ownership');
  ids.ovsport = node('ovsport', { Name: 'tap5c0ffee1-2a', Type: 'ovsport', UUID: '0b7a6f1c-2d7e-4c55-9d1e-3a3b5c7d9e02' });
  edge(ids.brint, ids.ovsport, 'ownership');
  ids.tap = node('tap', {
    Name: 'tap5c0ffee1-2a', Type: 'tap', State: 'UP', MAC: 'fe:16:3e:12:34:56', Manager: 'neutron', PeerIntfMAC: 'fa:16:3e:12:34:56',
    Neutron: { PortID: '5c0ffee1-2a3b-4c5d-8e9f-001122334455', NetworkID: 'a1b2c3d4-0000-4000-8000-00000000beef', NetworkName: 'net1', NetworkType: 'geneve', SegmentationID: 1042, IPV4: ['192.168.10.5/24'] },
    ExtID: { 'vm-id': '7d3e1f2a-9b8c-4d6e-a5f4-0123456789ab', 'iface-id': '5c0ffee1-2a3b-4c5d-8e9f-001122334455', 'attached-mac': 'fa:16:3e:12:34:56' },
  });
  edge(ids.host, ids.tap, 'ownership');
  edge(ids.ovsport, ids.tap, 'layer2');
  ids.vm = node('vm', { Name: 'instance-00000001', Type: 'libvirt', State: 'running' });
  edge(ids.host, ids.vm, 'ownership');
  ids.vlayer2 = `${p}-e${edges.length}`;
  edge(ids.vm, ids.tap, 'vlayer2');
  // Fabric objects: Type device by default, Probe fabric; no Host of their own.
  ids.tor = node('tor1', { Name: 'TOR1', Type: 'device', Probe: 'fabric' });
  ids.torPort = node('tor1port1', { Name: 'port1', Type: 'device', Probe: 'fabric', MTU: 1500 });
  edge(ids.tor, ids.torPort, 'ownership');
  ids.fabricLink = `${p}-e${edges.length}`;
  edge(ids.torPort, ids.eth0, 'layer2', { Type: 'fabric' });
  // An LLDP neighbour.
  ids.sw = node('switch', { Name: 'leaf-01', Type: 'switch', Probe: 'lldp', LLDP: { ChassisID: '00:11:22:33:44:55' } });
  ids.swPort = node('switchport', { Name: 'Ethernet1/7', Type: 'switchport', Probe: 'lldp' });
  edge(ids.sw, ids.swPort, 'ownership');
  edge(ids.swPort, ids.eth0, 'layer2', { Type: 'lldp' });
  // OVN northbound: a logical switch, its port mapped to the tap, a router.
  ids.ls = node('ls', { Name: 'neutron-a1b2c3d4', Type: 'logical_switch', Manager: 'ovn' });
  ids.lsp = node('lsp', { Name: '5c0ffee1-2a3b-4c5d-8e9f-001122334455', Type: 'logical_port', Manager: 'ovn' });
  edge(ids.ls, ids.lsp, 'ownership');
  ids.mapping = `${p}-e${edges.length}`;
  edge(ids.lsp, ids.tap, 'mapping');
  ids.lr = node('lr', { Name: 'neutron-router-1', Type: 'logical_router', Manager: 'ovn' });
  ids.lrp = node('lrp', { Name: 'lrp-0a0b0c', Type: 'logical_router_port', Manager: 'ovn', Networks: ['192.168.10.1/24'] });
  edge(ids.lr, ids.lrp, 'ownership');
  edge(ids.lrp, ids.lsp, 'layer2');
  return { graph: { Nodes: nodes, Edges: edges }, ids };
}

/** Colour of a pixel of the drawing, at container coordinates. */
const pixel = (page, x, y) =>
  page.evaluate(([x, y]) => {
    const c = window.__skydive.view.canvas.canvas;
    const k = c.width / c.getBoundingClientRect().width;
    const d = c.getContext('2d').getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data;
    return [d[0], d[1], d[2]];
  }, [x, y]);
const isRed = ([r, g, b]) => r > 180 && g < 90 && b < 100;
const isWhite = ([r, g, b]) => r > 235 && g > 235 && b > 235;

/** Waits for two animation frames: the drawing is up to date. */
const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

test('openstack: instance mark, new probes\' styles, OpenStack port details, Gremlin on Neutron', { timeout: 120000 }, async (t) => {
  const an = await startAnalyzer(t, { hostId: `uios-${rand()}`, mode: 'analyzer' });
  const { graph, ids } = openstackGraph(`os${rand()}`);
  const pub = await publish(an.base, graph, { WebSocket });
  t.after(() => pub.ws.terminate());
  for (const deadline = Date.now() + 20000; ;) {
    const r = await fetch(`${an.base}/api/topology`, { method: 'POST', body: JSON.stringify({ GremlinQuery: 'G.E().Count()' }) });
    if (r.ok && Number(await r.text()) >= graph.Edges.length) break;
    if (Date.now() > deadline) throw new Error(`published graph incomplete after 20 s; ${pub.errors.slice(0, 3).join(' ')}`);
    await sleep(100);
  }
  const ui = await uiURL(t, an);
  const { page, errors } = await launch(t);
  await page.goto(ui.url);
  await until(page, (n) => window.__skydive?.perf.firstRenderAt > 0 && window.__skydive.store.nodes.size >= n, graph.Nodes.length, 20000);

  // 1. Expand all: every node drawn.
  await page.click('#expand-all');
  await until(page, (n) => window.__skydive.view.canvas.nodeCount >= n, graph.Nodes.length);
  await page.click('#fit');
  await frames(page);
  // Fit shows every root: the hosts in their row, the analyzer's fabric,
  // LLDP and OVN roots packed in rows above them (spread among the hosts,
  // they made the whole drawing a thin line).
  await shot(page, 'openstack-all.png');
  const layout = await page.evaluate((ids) => {
    const { view } = window.__skydive;
    return { host: view.pos.get(ids.host), tor: view.pos.get(ids.tor), sw: view.pos.get(ids.sw) };
  }, ids);
  assert.ok(layout.tor.y < layout.host.y && layout.sw.y < layout.host.y, `fabric and LLDP roots above the host: ${JSON.stringify(layout)}`);
  assert.ok(Math.abs(layout.tor.x - layout.sw.x) < 1100, `non-host roots packed tighter than hosts: ${JSON.stringify(layout)}`);
  // The usual way to look at a compute node: fit on it and what it owns.
  await page.evaluate((host) => {
    const { view, store } = window.__skydive;
    const ids = [...store.nodes.keys()].filter((id) => id === host || store.ancestors(id).includes(host));
    view.fit(ids);
  }, ids.host);
  await frames(page);
  await shot(page, 'openstack.png');
  await page.click('#legend-toggle'); // folded at first
  await page.locator('#legend').screenshot({ path: `${artifacts}/openstack-legend.png` });

  // 2. The tap is an instance interface, with the mark in its look and in the last frame; the veth is not.
  const look = (id) => page.evaluate((id) => window.__skydive.view.canvas.look(id), id);
  assert.ok(await page.evaluate((id) => window.__skydive.view.hasClass(id, 'instance'), ids.tap), 'the tap has class instance');
  assert.equal((await look(ids.tap)).badge, 'instance');
  assert.equal((await look(ids.veth)).badge, '', 'a plain veth has no mark');
  assert.equal((await look(ids.eth0)).badge, '', 'a NIC has no mark');
  const badged = await page.evaluate(() => window.__skydive.view.canvas.badged().map((b) => b.id));
  assert.deepEqual(badged, [ids.tap], 'the last frame drew the mark on the tap only');

  // 3. ... and it is on screen: red around a white glyph, at the node's top-right corner.
  const box = await page.evaluate((id) => window.__skydive.view.canvas.badgeBox(id), ids.tap);
  const zoom = await page.evaluate(() => window.__skydive.view.canvas.zoom());
  t.diagnostic(`badge at zoom ${zoom.toFixed(2)} (fit on the host): ${box.side.toFixed(1)} px wide`);
  assert.ok(box.side >= 9, `the mark is big enough to read (${box.side} px)`);
  const red = await pixel(page, box.x - box.side * 0.36, box.y - box.side * 0.36);
  assert.ok(isRed(red), `badge corner is red: ${red}`);
  const glyph = await pixel(page, box.x + 0.03 * box.side, box.y - 0.03 * box.side);
  assert.ok(isWhite(glyph), `badge glyph is white: ${glyph}`);
  const vethAt = await page.evaluate((id) => {
    const c = window.__skydive.view.canvas;
    const p = c.renderedPosition(id);
    return { x: p.x, y: p.y, z: c.zoom() };
  }, ids.veth);
  // Where the veth's badge would be (same size of node), no red.
  const noRed = await pixel(page, vethAt.x + 20 * 0.36 * vethAt.z - box.side * 0.36, vethAt.y - 20 * 0.36 * vethAt.z - box.side * 0.36);
  assert.ok(!isRed(noRed), `no mark on the veth: ${noRed}`);

  // 4. The legend shows the same mark.
  const legend = await page.evaluate(() => {
    const el = document.querySelector('#legend-instance');
    const c = el?.querySelector('canvas.badge-icon');
    if (!c) return null;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let red = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200 && d[i] > 180 && d[i + 1] < 90 && d[i + 2] < 100) red++;
    return { text: el.textContent, red };
  });
  assert.ok(legend, 'the legend has the instance mark');
  assert.match(legend.text, /OpenStack instance interface/);
  assert.ok(legend.red > 10, `the legend's mark is red (${legend.red} red pixels)`);
  const legendText = await page.textContent('#legend');
  for (const l of ['switch (LLDP) / fabric object', 'switch port (LLDP)', 'OVN logical switch', 'OVN logical switch port', 'OVN logical router', 'OVN logical router port', 'VM (libvirt)', 'container', 'vlayer2', 'mapping'])
    assert.ok(legendText.includes(l), `legend has ${l}`);

  // 5. Styles of the new probes' objects, and link looks.
  const fill = (id) => page.evaluate((id) => window.__skydive.view.fillOf(id), id);
  assert.equal(await fill(ids.tor), '#fac24d', 'fabric objects in the original\'s orange, although typed device');
  assert.equal(await fill(ids.torPort), '#fac24d');
  assert.equal(await fill(ids.sw), '#fac24d', 'LLDP switches too');
  assert.notEqual(await fill(ids.eth0), '#fac24d', 'a real device keeps the NIC style');
  const fills = await Promise.all([ids.swPort, ids.ls, ids.lsp, ids.lr, ids.lrp, ids.vm].map(fill));
  assert.ok(fills.every((f) => f && f !== '#dddddd'), `switchport, OVN and VM nodes have their own colours: ${fills}`);
  assert.equal(new Set(fills.slice(0, 5)).size, 5, 'switchport and the 4 OVN types differ');
  assert.equal((await look(ids.mapping)).dash, 'dotted', 'mapping links dotted');
  assert.equal((await look(ids.vlayer2)).dash, 'dashed', 'vlayer2 links dashed');
  assert.equal((await look(ids.fabricLink)).dash, 'solid', 'layer2 links solid');
  assert.ok((await look(ids.mapping)).width < 2 && (await look(ids.vlayer2)).width < 2, 'and thinner than layer2');

  // 6. The tap's details: an "OpenStack port" section with its Neutron data.
  await clickNode(page, ids.tap);
  await page.waitForSelector('#details-openstack');
  const os = await page.textContent('#details-openstack');
  for (const s of ['OpenStack port', 'PortID', '5c0ffee1-2a3b-4c5d-8e9f-001122334455', 'NetworkName', 'net1', 'IPV4', '192.168.10.5/24', 'vm-id', '7d3e1f2a'])
    assert.ok(os.includes(s), `OpenStack section shows ${s}: ${os}`);
  await page.evaluate((id) => window.__skydive.view.canvas.setViewport(2.5, { x: 0, y: 0 }) || window.__skydive.view.canvas.center(id), ids.tap);
  await frames(page);
  await shot(page, 'openstack-zoomed-details.png');
  await clickNode(page, ids.veth);
  await page.waitForFunction(() => /qr-plainveth/.test(document.querySelector('#details h3')?.textContent || ''));
  assert.equal(await page.$('#details-openstack'), null, 'no OpenStack section for a plain veth');

  // 7. Gremlin search on Neutron metadata highlights and selects the tap.
  await page.evaluate(() => window.__skydive.view.select(null));
  await page.selectOption('#search-mode', 'gremlin');
  await page.fill('#search', "G.V().Has('Neutron.NetworkName','net1')");
  await page.press('#search', 'Enter');
  await until(page, (id) => window.__skydive.view.hasClass(id, 'hl') && window.__skydive.view.selected() === id, ids.tap);
  assert.match(await page.textContent('#search-info'), /^1 match\b/);
  await frames(page);
  await shot(page, 'openstack-search.png');
  assert.deepEqual(errors, [], 'no page errors');
});
