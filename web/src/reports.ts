// The Reports panel: traffic per tenant and application over a window
// (GET /api/report/tenants, with its CSV) and the latency map between hosts
// (GET /api/latency), as a hosts × hosts matrix of the median RTT.
import { h, clear, fmt } from './dom';
import { api, isMissing } from './api';
import { unavailable, errorText } from './panelkit';

const WINDOWS = ['5m', '15m', '1h', '6h', '24h'];

interface ReportRow {
  Tenant: string;
  Application: string;
  Packets: number;
  Bytes: number;
  Flows: number;
}

interface LatencyPair {
  A: string;
  B: string;
  RTT: { Min: number; Median: number; Max: number; Count: number };
}

export function reportsPanel() {
  const tenantSince = h('select', { id: 'report-since' }, WINDOWS.map((w) => h('option', { value: w, selected: w === '1h' }, `last ${w}`)));
  const csv = h('a', { id: 'report-csv', download: 'tenants.csv' }, 'CSV');
  const tenantBody = h('div', { id: 'report-tenants' });
  const latencySince = h('select', { id: 'latency-since' }, WINDOWS.map((w) => h('option', { value: w, selected: w === '5m' }, `last ${w}`)));
  const latencyBody = h('div', { id: 'latency-matrix' });

  async function refreshTenants() {
    const q = `since=${encodeURIComponent(tenantSince.value)}`;
    (csv as HTMLAnchorElement).href = `/api/report/tenants?${q}&format=csv`;
    try {
      const ans = await api<{ Rows: ReportRow[]; Incomplete: string[] }>('GET', `/api/report/tenants?${q}`);
      const rows = ans.Rows || [];
      clear(tenantBody,
        h('table', { class: 'grid report' },
          h('thead', null, h('tr', null, ['Tenant', 'Application', 'Packets', 'Bytes', 'Flows'].map((c) => h('th', null, c)))),
          h('tbody', null, rows.length ? rows.map((r) => h('tr', { 'data-tenant': r.Tenant, 'data-app': r.Application },
            h('td', null, r.Tenant || '(none)'), h('td', null, r.Application),
            h('td', { class: 'num' }, fmt(r.Packets)), h('td', { class: 'num' }, fmt(r.Bytes)), h('td', { class: 'num' }, fmt(r.Flows))))
            : h('tr', null, h('td', { colspan: 5, class: 'empty' }, 'no flow in the window')))),
        ...(ans.Incomplete || []).map((why) => h('div', { class: 'trace-incomplete' }, `Incomplete: ${why}`)));
    } catch (e) {
      clear(tenantBody, isMissing(e) ? unavailable('Tenant report') : h('div', { class: 'flow-status error' }, errorText(e)));
    }
  }

  async function refreshLatency() {
    try {
      const m = await api<{ Hosts: string[]; Pairs: LatencyPair[] }>('GET', `/api/latency?since=${encodeURIComponent(latencySince.value)}`);
      const hosts = m.Hosts || [];
      const pair = (a: string, b: string) => (m.Pairs || []).find((p) => (p.A === a && p.B === b) || (p.A === b && p.B === a));
      if (!hosts.length) {
        clear(latencyBody, h('div', { class: 'empty' }, 'no RTT between hosts in the window (captures on both sides of a host pair measure it)'));
        return;
      }
      clear(latencyBody,
        h('table', { class: 'grid latency' },
          h('thead', null, h('tr', null, h('th', null, 'ms'), hosts.map((b) => h('th', null, b)))),
          h('tbody', null, hosts.map((a) => h('tr', null, h('th', null, a), hosts.map((b) => {
            const p = a === b ? undefined : pair(a, b);
            return p
              ? h('td', { class: 'num', 'data-a': a, 'data-b': b, title: `min ${p.RTT.Min.toFixed(3)} ms, max ${p.RTT.Max.toFixed(3)} ms, ${p.RTT.Count} samples` }, p.RTT.Median.toFixed(3))
              : h('td', { class: 'num empty' }, '–');
          }))))));
    } catch (e) {
      clear(latencyBody, isMissing(e) ? unavailable('Latency map') : h('div', { class: 'flow-status error' }, errorText(e)));
    }
  }

  tenantSince.addEventListener('change', refreshTenants);
  latencySince.addEventListener('change', refreshLatency);
  const el = h('div', { class: 'resource', 'data-resource': 'reports' },
    h('h4', null, 'Traffic per tenant'),
    h('div', { class: 'flow-bar' }, tenantSince, h('button', { id: 'report-refresh', onclick: refreshTenants }, 'Refresh'), csv),
    tenantBody,
    h('h4', null, 'Latency between hosts (median RTT)'),
    h('div', { class: 'flow-bar' }, latencySince, h('button', { id: 'latency-refresh', onclick: refreshLatency }, 'Refresh')),
    latencyBody,
  );
  return { el, refresh: () => (refreshTenants(), refreshLatency()) };
}
