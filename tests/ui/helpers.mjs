// Helpers of the browser tests: the real analyzer, the browser, screenshots.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '..', '..');
export const artifacts = path.join(here, 'artifacts');
export const distDir = path.join(repo, 'web', 'dist');
fs.mkdirSync(artifacts, { recursive: true });

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const rand = () => Math.random().toString(36).slice(2, 8);

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function skydiveBin() {
  if (process.env.SKYDIVE_BIN) return process.env.SKYDIVE_BIN;
  const bin = path.join(repo, 'bin', 'skydive');
  if (!fs.existsSync(bin)) {
    execFileSync('go', ['build', '-o', bin, './cmd/skydive'], { cwd: repo, stdio: 'inherit', env: { ...process.env, PATH: `/usr/local/go/bin:${process.env.PATH}` } });
  }
  return bin;
}

async function httpGet(url, timeout = 2000) {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeout) });
  return { status: r.status, text: await r.text(), type: r.headers.get('content-type') || '' };
}

/**
 * An HTTP(S) request with node's own client: ca (PEM) checks a test
 * server's certificate (fetch cannot take one), auth is [user, password]
 * sent as Basic. Answers { status, headers, text, json() }.
 */
export function request(url, { method = 'GET', headers = {}, body, ca, auth, timeout = 5000 } = {}) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  const h = { ...headers };
  if (auth) h.Authorization = `Basic ${Buffer.from(`${auth[0]}:${auth[1]}`).toString('base64')}`;
  if (body !== undefined && typeof body !== 'string') {
    body = JSON.stringify(body);
    h['Content-Type'] ??= 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers: h, ca, timeout }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const isObj = (v) => v && typeof v === 'object' && !Array.isArray(v);
/** b merged into a (objects merged, the rest replaced). */
function merge(a, b) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b || {})) out[k] = isObj(v) && isObj(a[k]) ? merge(a[k], v) : v;
  return out;
}

/**
 * Starts `skydive allinone` (or `analyzer`) on free ports and waits for its host node.
 * config: more configuration, merged into the test's (auth, rbac, tls…);
 * credentials: [user, password] the helper polls the API with (auth on);
 * ca: the CA's PEM that checks the server's certificate (tls on).
 * The answer's request(path, opts) reaches its API with those.
 */
export async function startAnalyzer(t, { hostId = `uitest-${rand()}`, mode = 'allinone', config, credentials, ca } = {}) {
  const port = await freePort();
  const agentPort = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skydive-ui-'));
  const conf = path.join(dir, 'skydive.yml');
  if (config) {
    // JSON is YAML: the merged configuration, written as JSON.
    const base = { host_id: hostId, analyzer: { listen: `127.0.0.1:${port}`, data_dir: dir }, agent: { listen: `127.0.0.1:${agentPort}` } };
    fs.writeFileSync(conf, JSON.stringify(merge(base, config), null, 2));
  } else {
    fs.writeFileSync(conf, `host_id: ${hostId}\nanalyzer:\n  listen: 127.0.0.1:${port}\n  data_dir: ${dir}\nagent:\n  listen: 127.0.0.1:${agentPort}\n`);
  }
  const log = fs.openSync(path.join(artifacts, `analyzer-${hostId}.log`), 'w');
  const proc = spawn(skydiveBin(), [mode, '-c', conf], { stdio: ['ignore', log, log] });
  let exited = null;
  proc.on('exit', (code, sig) => (exited = `exited ${code ?? sig}`));
  const base = `${config?.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const req = (p, opts = {}) => request(`${base}${p}`, { ca, auth: credentials, ...opts });
  const stop = async () => {
    if (proc.exitCode === null && !proc.killed) {
      proc.kill('SIGTERM');
      await Promise.race([new Promise((r) => proc.once('exit', r)), sleep(5000)]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  t.after(stop);
  const deadline = Date.now() + 30000;
  for (;;) {
    if (exited) throw new Error(`skydive ${exited}; see ${path.join(artifacts, `analyzer-${hostId}.log`)}`);
    try {
      const r = await req('/api/topology', { timeout: 2000 });
      if (r.status === 200 && (mode !== 'allinone' || JSON.parse(r.text).Nodes?.some((n) => n.Metadata?.Type === 'host'))) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error('analyzer did not start in 30 s');
    await sleep(200);
  }
  return { base, port, hostId, proc, stop, dir, request: req };
}

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json' };

function serveDist(req, res) {
  const u = new URL(req.url, 'http://x');
  let f = path.join(distDir, path.normalize(u.pathname).replace(/^\/+/, ''));
  if (!f.startsWith(distDir) || !fs.existsSync(f) || fs.statSync(f).isDirectory()) f = path.join(distDir, 'index.html');
  res.writeHead(200, { 'Content-Type': MIME[path.extname(f)] || 'application/octet-stream' });
  fs.createReadStream(f).pipe(res);
}

/**
 * The URL of the UI for an analyzer: the analyzer itself once it mounts
 * web.Handler() at "/"; before that, a small server of web/dist that
 * forwards /api and /ws to the analyzer.
 */
export async function uiURL(t, analyzer) {
  const r = await httpGet(`${analyzer.base}/`).catch(() => ({ status: 0, text: '' }));
  if (r.status === 200 && r.text.includes('id="app"')) return { url: `${analyzer.base}/`, servedBy: 'analyzer' };
  if (!fs.existsSync(path.join(distDir, 'index.html'))) throw new Error('web/dist is not built: run make ui');
  const target = { host: '127.0.0.1', port: analyzer.port };
  const server = http.createServer((req, res) => {
    if (!req.url.startsWith('/api')) return serveDist(req, res);
    const up = http.request({ ...target, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('upgrade', (req, sock, head) => {
    const up = net.connect(target.port, target.host, () => {
      let h = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) h += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(h + '\r\n');
      if (head?.length) up.write(head);
      up.pipe(sock);
      sock.pipe(up);
    });
    up.on('error', () => sock.destroy());
    sock.on('error', () => up.destroy());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }));
  return { url: `http://127.0.0.1:${server.address().port}/`, servedBy: 'test proxy (analyzer does not serve the UI at / yet)' };
}

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/**
 * Launches Chromium and opens a page. home: the HOME Chromium runs with
 * (its NSS database of trusted CAs is $HOME/.pki/nssdb), instead of ours.
 */
export async function launch(t, { home } = {}) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    ...(home ? { env: { ...process.env, HOME: home } } : {}),
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40\d/.test(m.text())) errors.push(m.text());
  });
  return { browser, page, errors };
}

export async function shot(page, name) {
  const f = path.join(artifacts, name);
  await page.screenshot({ path: f });
  return f;
}

export function sh(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs f in the page until it returns a truthy value. */
export async function until(page, f, arg, timeout = 10000) {
  const h = await page.waitForFunction(f, arg, { timeout, polling: 50 });
  return h.jsonValue();
}

/** Clicks a node of the drawing with the mouse (at its rendered position). */
export async function clickNode(page, id, clickCount = 1) {
  const p = await page.evaluate((id) => {
    const c = window.__skydive.view.canvas;
    if (!c.hasNode(id)) return null;
    c.center(id); // away from the toolbar and the legend
    const r = c.canvas.getBoundingClientRect();
    const rp = c.renderedPosition(id);
    return { x: r.left + rp.x, y: r.top + rp.y };
  }, id);
  if (!p) throw new Error(`node ${id} is not drawn`);
  await page.mouse.click(p.x, p.y);
  if (clickCount === 2) await page.mouse.click(p.x, p.y);
}
