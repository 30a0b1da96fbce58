// Screenshots of the OpenStack lab (make lab) for the README: the default
// view, one compute expanded, one namespace expanded. Not a test: run by
// hand with the lab up, they land in tests/ui/screenshots/.
//   make lab && node tests/ui/lab-screenshots.mjs [http://127.0.0.1:8082/]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM } from './helpers.mjs';

const url = process.argv[2] || `http://127.0.0.1:${process.env.LAB_UI_PORT || 8082}/`;
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');
fs.mkdirSync(out, { recursive: true });

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
const until = async (f, arg, ms = 20000) => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await page.evaluate(f, arg);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${f}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};
await page.goto(url);
// The three lab nodes (skl-ctl, skl-c1, skl-c2) are hosts.
await until(() => [...(window.__skydive?.store?.nodes.values() || [])].filter((n) => n.Metadata.Type === 'host').length >= 3);
await page.click('#fit');
await new Promise((r) => setTimeout(r, 500));
await page.screenshot({ path: path.join(out, 'lab-1-default.png') });

// A compute expanded: its bridges, namespaces and instance taps.
const compute = await page.evaluate(() => {
  const { store, view } = window.__skydive;
  const h = [...store.nodes.values()].find((n) => n.Metadata.Type === 'host' && /compute-1/.test(n.Metadata.Name));
  view.expand(h.ID);
  const ids = [...store.nodes.keys()].filter((id) => id === h.ID || store.owner.get(id) === h.ID);
  view.fit(ids);
  return h.ID;
});
await new Promise((r) => setTimeout(r, 500));
await page.screenshot({ path: path.join(out, 'lab-2-compute.png') });

// One of its namespaces expanded, zoomed on.
await page.evaluate((host) => {
  const { store, view } = window.__skydive;
  const ns = [...store.nodes.values()].find((n) => n.Metadata.Type === 'netns' && store.ancestors(n.ID).includes(host) && (store.children.get(n.ID)?.size || 0) > 1);
  view.expand(ns.ID);
  view.fit([ns.ID, ...(store.children.get(ns.ID) || [])]);
}, compute);
await new Promise((r) => setTimeout(r, 500));
await page.screenshot({ path: path.join(out, 'lab-3-namespace.png') });
await browser.close();
console.log(`screenshots in ${out}`);
