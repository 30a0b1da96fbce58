// The details panel: every metadata key of the selected node or edge, and a
// small live chart of the node's interface counters.

import { h, clear, fmt, fmtBytes } from './dom';
import { GNode, GEdge, Store } from './model';
import { badgeIcon } from './canvas';
import { isInstance, styleOfNode } from './view';

interface Sample {
  t: number; // ms
  rx: number; // bytes/s
  tx: number;
}

/** Rate of RxBytes/TxBytes for a node, from LastUpdateMetric or Metric deltas. */
export class MetricHistory {
  samples: Sample[] = [];
  private lastMetric?: { t: number; rx: number; tx: number };
  private lastKey = '';

  push(n: GNode) {
    const m = n.Metadata || {};
    const lum = m.LastUpdateMetric;
    if (lum && typeof lum === 'object' && lum.Last && lum.Start && lum.Last > lum.Start) {
      const key = `${lum.Start}-${lum.Last}`;
      if (key === this.lastKey) return;
      this.lastKey = key;
      const dt = (lum.Last - lum.Start) / 1000;
      this.add({ t: lum.Last, rx: (lum.RxBytes || 0) / dt, tx: (lum.TxBytes || 0) / dt });
      return;
    }
    const met = m.Metric;
    if (met && typeof met === 'object') {
      const t = met.Last || n.UpdatedAt || Date.now();
      const cur = { t, rx: met.RxBytes || 0, tx: met.TxBytes || 0 };
      const prev = this.lastMetric;
      this.lastMetric = cur;
      if (prev && cur.t > prev.t) {
        const dt = (cur.t - prev.t) / 1000;
        this.add({ t: cur.t, rx: Math.max(0, cur.rx - prev.rx) / dt, tx: Math.max(0, cur.tx - prev.tx) / dt });
      }
    }
  }

  private add(s: Sample) {
    this.samples.push(s);
    if (this.samples.length > 120) this.samples.shift();
  }
}

export function drawChart(canvas: HTMLCanvasElement, samples: Sample[]) {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const W = canvas.width;
  const H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = '#fafafa';
  ctx.fillRect(0, 0, W, H);
  ctx.font = '10px sans-serif';
  if (samples.length < 2) {
    ctx.fillStyle = '#888';
    ctx.fillText(samples.length ? 'waiting for the next metric update…' : 'no Metric/LastUpdateMetric counters yet', 6, H / 2);
    return;
  }
  const max = Math.max(1, ...samples.map((s) => Math.max(s.rx, s.tx)));
  const t0 = samples[0].t;
  const t1 = samples[samples.length - 1].t;
  const x = (t: number) => 4 + ((W - 8) * (t - t0)) / Math.max(1, t1 - t0);
  const y = (v: number) => H - 14 - ((H - 28) * v) / max;
  for (const [key, color] of [['rx', '#1f77b4'], ['tx', '#d62728']] as const) {
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    samples.forEach((s, i) => (i ? ctx.lineTo(x(s.t), y(s[key])) : ctx.moveTo(x(s.t), y(s[key]))));
    ctx.stroke();
  }
  const last = samples[samples.length - 1];
  ctx.fillStyle = '#1f77b4';
  ctx.fillText(`RX ${fmtBytes(last.rx)}/s`, 6, 11);
  ctx.fillStyle = '#d62728';
  ctx.fillText(`TX ${fmtBytes(last.tx)}/s`, 100, 11);
  ctx.fillStyle = '#888';
  ctx.fillText(`max ${fmtBytes(max)}/s`, W - 90, 11);
}

function valueView(v: any, depth = 0): Node {
  if (v === null || v === undefined) return h('span', { class: 'v-null' }, 'null');
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x !== 'object' || x === null)) return h('span', { class: 'v-list' }, v.map(String).join(', '));
    return h('details', { open: depth < 1 }, h('summary', null, `[${v.length}]`), h('ol', null, v.map((x) => h('li', null, valueView(x, depth + 1)))));
  }
  if (typeof v === 'object') return metaTable(v, depth + 1);
  return h('span', { class: `v-${typeof v}` }, typeof v === 'number' ? fmt(v) : String(v));
}

export function metaTable(m: Record<string, any>, depth = 0): HTMLElement {
  const keys = Object.keys(m).sort();
  return h(
    'table',
    { class: 'meta' },
    keys.map((k) => {
      const v = m[k];
      const nested = v && typeof v === 'object' && !(Array.isArray(v) && v.every((x) => typeof x !== 'object'));
      return h('tr', null, h('th', null, k), h('td', null, nested && depth > 0 ? h('details', null, h('summary', null, '…'), valueView(v, depth)) : valueView(v, depth)));
    }),
  );
}

/**
 * The OpenStack side of an instance interface, first thing under its name:
 * what one looks for on such a node (port, network, addresses, VM) is
 * otherwise spread over Neutron, ExtID and PeerIntfMAC in the table below.
 * Keys keep their metadata names, the ones Gremlin queries use.
 */
function openstackSection(n: GNode): HTMLElement | null {
  if (!isInstance(n)) return null;
  const m = n.Metadata;
  const obj = (v: any): Record<string, any> => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
  const nt = obj(m.Neutron);
  const ext = obj(m.ExtID);
  const rows: Record<string, any> = {};
  for (const k of ['PortID', 'NetworkName', 'NetworkID', 'IPV4', 'IPV6', 'NetworkType', 'SegmentationID', 'TenantID']) if (nt[k] !== undefined) rows[k] = nt[k];
  const vm = ext['vm-id'] ?? m['ExtID.vm-id'];
  if (vm !== undefined) rows['vm-id'] = vm;
  if (ext['iface-id'] !== undefined) rows['iface-id'] = ext['iface-id'];
  const mac = m.PeerIntfMAC ?? ext['attached-mac'];
  if (mac !== undefined) rows['VM MAC'] = mac;
  const kv = Object.entries(rows);
  return h(
    'section',
    { class: 'openstack', id: 'details-openstack' },
    h('h4', null, badgeIcon('instance', styleOfNode(n).color, 20), 'OpenStack port'),
    kv.length
      ? h('table', { class: 'meta' }, kv.map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, valueView(v)))))
      : h('span', { class: 'hint' }, 'No Neutron data yet (is the neutron probe on?)'),
  );
}

const when = (ms?: number) => (ms ? new Date(ms).toLocaleString() : '');

export interface DetailsActions {
  toggle(id: string): void;
  expanded(id: string): boolean;
  hasChildren(id: string): boolean;
  capture(n: GNode): void;
  select(id: string): void;
}

export class DetailsPanel {
  el = h('div', { class: 'details', id: 'details' });
  private history = new MetricHistory();
  private canvas = h('canvas', { width: 300, height: 90, class: 'chart' });
  private current: { kind: 'node' | 'edge'; id: string } | null = null;

  constructor(private store: Store, private actions: DetailsActions) {
    store.nodeListeners.push((n) => {
      if (this.current?.kind === 'node' && this.current.id === n.ID) {
        this.history.push(n);
        this.scheduleRender();
      }
    });
    this.render();
  }

  private pending = 0;
  private scheduleRender() {
    if (this.pending) return;
    this.pending = window.setTimeout(() => {
      this.pending = 0;
      this.render();
    }, 200);
  }

  show(kind: 'node' | 'edge' | null, id: string | null) {
    this.current = kind && id ? { kind, id } : null;
    this.history = new MetricHistory();
    if (kind === 'node' && id) {
      const n = this.store.nodes.get(id);
      if (n) this.history.push(n);
    }
    this.render();
  }

  render() {
    const c = this.current;
    if (!c) {
      clear(this.el, h('p', { class: 'hint' }, 'Click a node or a link to see its metadata. Double-click a node to expand or collapse it.'));
      return;
    }
    if (c.kind === 'edge') {
      const e = this.store.edges.get(c.id) as GEdge | undefined;
      if (!e) return clear(this.el, h('p', { class: 'hint' }, 'This link is gone.'));
      const name = (id: string) => this.store.nodes.get(id)?.Metadata.Name || id;
      clear(
        this.el,
        h('h3', null, `Link ${e.Metadata.RelationType || ''}`),
        h('p', null, h('a', { href: '#', onclick: (ev: Event) => (ev.preventDefault(), this.actions.select(e.Parent)) }, name(e.Parent)), ' → ',
          h('a', { href: '#', onclick: (ev: Event) => (ev.preventDefault(), this.actions.select(e.Child)) }, name(e.Child))),
        metaTable(e.Metadata),
        h('div', { class: 'ids' }, `ID ${e.ID}`),
      );
      return;
    }
    const n = this.store.nodes.get(c.id);
    if (!n) return clear(this.el, h('p', { class: 'hint' }, 'This node is gone.'));
    const m = n.Metadata;
    const kids = this.store.children.get(n.ID)?.size || 0;
    clear(
      this.el,
      h('h3', null, String(m.Name ?? n.ID), h('span', { class: 'type' }, String(m.Type || '')), m.State ? h('span', { class: `state ${String(m.State).toUpperCase() === 'DOWN' ? 'down' : 'up'}` }, String(m.State)) : null),
      h(
        'div',
        { class: 'actions' },
        kids ? h('button', { id: 'details-toggle', onclick: () => this.actions.toggle(n.ID) }, this.actions.expanded(n.ID) ? `Collapse (${kids})` : `Expand (${kids})`) : null,
        h('button', { class: 'capture-node', 'data-perm': 'capture:write', onclick: () => this.actions.capture(n) }, 'Capture…'),
      ),
      openstackSection(n),
      h('div', { class: 'chart-box' }, h('div', { class: 'chart-title' }, 'Interface traffic (RxBytes/TxBytes per s)'), this.canvas),
      metaTable(m),
      h('div', { class: 'ids' }, `ID ${n.ID}`, h('br'), `Host ${n.Host || ''} · Origin ${n.Origin || ''} · Revision ${n.Revision ?? ''}`, h('br'), `Created ${when(n.CreatedAt)} · Updated ${when(n.UpdatedAt)}`),
    );
    drawChart(this.canvas, this.history.samples);
  }
}
