// A synthetic topology: hosts → network namespaces → interfaces (ownership),
// with layer2 links between interfaces of neighbouring namespaces.
// 100 hosts × (9 netns × 10 interfaces + 0) = 100 + 900 + 9000 = 10,000 nodes.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { distDir } from './helpers.mjs';

export function synthetic({ hosts = 100, nsPerHost = 9, ifPerNs = 10, prefix = 'syn' } = {}) {
  const now = Date.now();
  const nodes = [];
  const edges = [];
  const node = (id, md, host) => {
    nodes.push({ ID: id, Metadata: md, Host: host, Origin: `perf.${prefix}`, CreatedAt: now, UpdatedAt: now, Revision: 1 });
  };
  const edge = (parent, child, rt, host) => {
    edges.push({ ID: `${prefix}-e-${edges.length}`, Parent: parent, Child: child, Metadata: { RelationType: rt }, Host: host, Origin: `perf.${prefix}`, CreatedAt: now, UpdatedAt: now, Revision: 1 });
  };
  for (let h = 0; h < hosts; h++) {
    const host = `${prefix}-host-${h}`;
    node(host, { Name: host, Type: 'host', OS: 'linux' }, host);
    for (let n = 0; n < nsPerHost; n++) {
      const ns = `${host}-ns-${n}`;
      node(ns, { Name: `ns-${h}-${n}`, Type: 'netns', Path: `/var/run/netns/ns-${h}-${n}` }, host);
      edge(host, ns, 'ownership', host);
      for (let i = 0; i < ifPerNs; i++) {
        const id = `${ns}-if-${i}`;
        const k = (h * nsPerHost + n) * ifPerNs + i;
        node(id, {
          Name: `veth${n}-${i}`, Type: i === 0 ? 'device' : 'veth', State: k % 7 === 0 ? 'DOWN' : 'UP', MTU: 1500,
          MAC: `02:00:${(h & 255).toString(16).padStart(2, '0')}:${n.toString(16).padStart(2, '0')}:00:${i.toString(16).padStart(2, '0')}`,
          IPV4: [`10.${h & 255}.${n}.${i + 1}/24`],
          Metric: { RxBytes: k * 100, TxBytes: k * 90, RxPackets: k, TxPackets: k },
        }, host);
        edge(ns, id, 'ownership', host);
        if (n > 0 && i % 2 === 1) edge(`${host}-ns-${n - 1}-if-${i}`, id, 'layer2', host);
      }
    }
  }
  return { Nodes: nodes, Edges: edges };
}

/** Sends a graph to an analyzer's /ws/publisher; resolves once it is in. */
export async function publish(base, graph, { WebSocket }) {
  const url = base.replace(/^http/, 'ws') + '/ws/publisher';
  const ws = new WebSocket(url, { headers: { 'X-Persistence-Policy': 'Persistent', 'X-Host-ID': 'ui-perf', 'X-Client-Type': 'perf' } });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`/ws/publisher: ${res.statusCode}`)));
    ws.once('error', reject);
  });
  const errors = [];
  ws.on('message', (d) => errors.push(String(d)));
  for (const n of graph.Nodes) ws.send(JSON.stringify({ Namespace: 'Graph', Type: 'NodeAdded', Obj: n }));
  for (const e of graph.Edges) ws.send(JSON.stringify({ Namespace: 'Graph', Type: 'EdgeAdded', Obj: e }));
  return { ws, errors };
}

/**
 * A stand-in analyzer when /ws/publisher is not there: serves web/dist, a
 * /ws/subscriber answering SyncRequest with the graph, and 404 for /api.
 */
export async function fakeAnalyzer(t, graph) {
  const reply = JSON.stringify({ Namespace: 'Graph', Type: 'SyncReply', Status: 200, Obj: graph });
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname.startsWith('/api')) {
      res.writeHead(404);
      return res.end('404 page not found\n');
    }
    let f = path.join(distDir, path.normalize(u.pathname).replace(/^\/+/, ''));
    if (!fs.existsSync(f) || fs.statSync(f).isDirectory()) f = path.join(distDir, 'index.html');
    const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
    res.writeHead(200, { 'Content-Type': types[path.extname(f)] || 'application/octet-stream' });
    fs.createReadStream(f).pipe(res);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, sock, head) => {
    if (!req.url.startsWith('/ws/subscriber')) return sock.destroy();
    wss.handleUpgrade(req, sock, head, (ws) => {
      ws.on('message', (d) => {
        const m = JSON.parse(String(d));
        if (m.Type === 'SyncRequest') ws.send(reply.replace('"Type":"SyncReply"', `"Type":"SyncReply","UUID":${JSON.stringify(m.UUID || '')}`));
      });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => { for (const c of wss.clients) c.terminate(); server.closeAllConnections?.(); server.close(r); }));
  return { url: `http://127.0.0.1:${server.address().port}/` };
}
