// The right pane: Captures, Generator, Flows, Alerts, Workflows, Topology
// rules (and a Gremlin console). Each talks to the documented REST API and
// says so plainly when this analyzer does not serve it (404).

import { h, clear, fmt } from './dom';
import { gremlin, isMissing, collectIDs } from './api';
import { GNode, WSMessage } from './model';
import { PanelContext, unavailable, errorText, nodeQuery, resourcePanel } from './panelkit';
import { alertsPanel } from './alerts';
import { rulesPanel } from './rules';
import { workflowsPanel } from './workflows';
import { reportsPanel } from './reports';

export type { PanelContext } from './panelkit';
export { nodeQuery } from './panelkit';

export function mountPanels(side: HTMLElement, detailsEl: HTMLElement, diffEl: HTMLElement, ctx: PanelContext) {
  // ---- Captures
  const captures = resourcePanel({
    resource: 'capture',
    title: 'Captures',
    create: 'Create capture',
    deleteLabel: 'Stop',
    ctx,
    columns: [['Name', (r) => r.Name], ['Query', (r) => r.GremlinQuery], ['Type', (r) => r.Type], ['BPF', (r) => r.BPFFilter], ['Layer mode', (r) => r.LayerKeyMode || 'L2'], ['Nodes', (r) => r.Count ?? '']],
    fields: [
      { key: 'GremlinQuery', label: 'Gremlin expression', required: true, nodeQuery: true, placeholder: "G.V().Has('Name', 'eth0')" },
      { key: 'Name', label: 'Name' },
      { key: 'Description', label: 'Description' },
      { key: 'BPFFilter', label: 'BPF filter', placeholder: 'icmp or port 53' },
      { key: 'Type', label: 'Capture type', kind: 'select', options: ['', 'afpacket', 'pcap', 'ebpf', 'pcapsocket', 'ovssflow', 'ovsmirror', 'sflow', 'ovsnetflow', 'dpdk'] },
      { key: 'LayerKeyMode', label: 'Layers used for flow key', kind: 'select', options: ['', 'L2', 'L3'] },
      { key: 'HeaderSize', label: 'Header size', kind: 'number' },
      { key: 'RawPacketLimit', label: 'Raw packets limit (0-10)', kind: 'number' },
      { key: 'SamplingRate', label: 'Flow sampling rate', kind: 'number' },
      { key: 'PollingInterval', label: 'Counter polling interval', kind: 'number' },
      { key: 'Port', label: 'Port', kind: 'number' },
      { key: 'ExtraTCPMetric', label: 'Extra TCP metric', kind: 'checkbox' },
      { key: 'IPDefrag', label: 'IP defragmentation', kind: 'checkbox' },
      { key: 'ReassembleTCP', label: 'TCP reassembly', kind: 'checkbox' },
    ],
    rowClick: async (r) => {
      try {
        const nodes = new Set<string>();
        collectIDs(await gremlin(r.GremlinQuery), nodes, new Set());
        ctx.highlight([...nodes]);
      } catch {
        /* the query may not run here */
      }
    },
  });

  // ---- Generator
  const generator = resourcePanel({
    resource: 'injectpacket',
    title: 'Packet generator',
    create: 'Inject packets',
    ctx,
    columns: [['Type', (r) => r.Type], ['Src', (r) => r.Src], ['Dst', (r) => r.Dst || r.DstIP], ['Count', (r) => r.Count]],
    fields: [
      { key: 'Type', label: 'Type', kind: 'select', options: ['icmp4', 'icmp6', 'tcp4', 'tcp6', 'udp4', 'udp6'], value: 'icmp4' },
      { key: 'Src', label: 'Source node (Gremlin)', required: true, nodeQuery: true },
      { key: 'SrcIP', label: 'Source IP' },
      { key: 'SrcMAC', label: 'Source MAC' },
      { key: 'SrcPort', label: 'Source port', kind: 'number' },
      { key: 'Dst', label: 'Destination node (Gremlin)', nodeQuery: true },
      { key: 'DstIP', label: 'Destination IP' },
      { key: 'DstMAC', label: 'Destination MAC' },
      { key: 'DstPort', label: 'Destination port', kind: 'number' },
      { key: 'Count', label: 'Nb. of packets', kind: 'number', value: 5 },
      { key: 'Interval', label: 'Interval (ms)', kind: 'number', value: 1000 },
      { key: 'ICMPID', label: 'ICMP ID', kind: 'number' },
      { key: 'Payload', label: 'Payload' },
      { key: 'TTL', label: 'TTL', kind: 'number' },
      { key: 'Mode', label: 'Mode', kind: 'select', options: ['unique', 'random'] },
      { key: 'IncrementPayload', label: 'Increment payload size', kind: 'number' },
    ],
  });

  // ---- Alerts, Topology rules, Workflows (alerts.ts, rules.ts, workflows.ts)
  const alerts = alertsPanel(ctx, {
    badge: (n) => {
      const b = tabBar.querySelector('#tab-alerts .badge') as HTMLElement | null;
      if (b) {
        b.textContent = n > 99 ? '99+' : String(n);
        b.hidden = n === 0;
      }
    },
    visible: () => current === 'alerts' && document.visibilityState !== 'hidden',
  });
  const rules = rulesPanel(ctx);
  const workflows = workflowsPanel(ctx);

  // ---- Flows
  const flowQuery = h('input', { id: 'flow-query', type: 'text', value: 'G.Flows().Sort()', size: 30 });
  const flowLimit = h('select', { id: 'flow-limit' }, [10, 30, 100, 500].map((n) => h('option', { value: n, selected: n === 30 }, `Limit: ${n}`)));
  const flowAuto = h('input', { id: 'flow-auto', type: 'checkbox', checked: true });
  const flowEvery = h('select', { id: 'flow-every' }, [1, 2, 5, 10].map((n) => h('option', { value: n }, `Every ${n}s`)));
  // Which flows a clicked row follows across the hops: same L2 (TrackingID) or same L3 (L3TrackingID).
  const flowFollow = h('select', { id: 'flow-follow', title: 'Highlight the nodes of the flows with the same tracking ID' },
    h('option', { value: 'TrackingID' }, 'Follow L2'), h('option', { value: 'L3TrackingID' }, 'Follow L3'));
  const flowStatus = h('span', { class: 'flow-status', id: 'flow-status' });
  const flowTable = h('div', { class: 'flow-table', id: 'flow-table' });
  let flowSort: { key: string; asc: boolean } = { key: 'App.', asc: true };
  let flows: any[] = [];
  let flowTimer = 0;
  let flowsMissing = false;
  const endpoint = (l: any, side: 'A' | 'B') => (l ? l[side] : '');
  const flowCols: [string, (f: any) => any, boolean][] = [
    ['App.', (f) => f.Application, false],
    ['A', (f) => endpoint(f.Network, 'A') || endpoint(f.Link, 'A'), false],
    ['B', (f) => endpoint(f.Network, 'B') || endpoint(f.Link, 'B'), false],
    ['AB Pkts', (f) => f.Metric?.ABPackets ?? 0, true],
    ['BA Pkts', (f) => f.Metric?.BAPackets ?? 0, true],
    ['AB Bytes', (f) => f.Metric?.ABBytes ?? 0, true],
    ['BA Bytes', (f) => f.Metric?.BABytes ?? 0, true],
    ['RTT ms', (f) => (f.Metric?.RTT ? f.Metric.RTT / 1e6 : ''), true],
  ];
  function renderFlows() {
    const col = flowCols.find((c) => c[0] === flowSort.key) || flowCols[0];
    const rows = [...flows].sort((a, b) => {
      const x = col[1](a);
      const y = col[1](b);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return flowSort.asc ? c : -c;
    });
    clear(
      flowTable,
      h('table', { class: 'grid flows' },
        h('thead', null, h('tr', null, flowCols.map(([name]) => h('th', { class: 'sortable', onclick: () => {
          flowSort = { key: name, asc: flowSort.key === name ? !flowSort.asc : true };
          renderFlows();
        } }, name + (flowSort.key === name ? (flowSort.asc ? ' ▲' : ' ▼') : ''))))),
        h('tbody', null, rows.length ? rows.map((f) => h('tr', { class: 'clickable', 'data-uuid': f.UUID, onclick: () => highlightFlow(f) },
          flowCols.map(([, g, num]) => {
            const v = g(f);
            return h('td', { class: num ? 'num' : '' }, typeof v === 'number' ? (Number.isInteger(v) ? fmt(v) : v.toFixed(3)) : v);
          })))
          : h('tr', null, h('td', { colspan: flowCols.length, class: 'empty' }, 'no flow'))),
      ),
    );
  }
  async function highlightFlow(f: any) {
    const ids = new Set<string>();
    try {
      const key = flowFollow.value;
      if (f[key]) collectIDs(await gremlin(`G.Flows().Has('${key}', ${ctx.gq(f[key])}).Hops()`), ids, new Set());
    } catch {
      /* Hops may be missing */
    }
    if (f.NodeTID) for (const n of ctx.store.nodes.values()) if (n.Metadata.TID === f.NodeTID) ids.add(n.ID);
    ctx.highlight([...ids]);
    await showTrace(f);
  }

  // The trace of the clicked flow (the Trace() step): its hops in path
  // order with their counts, drawn on the graph, the losing leg in red.
  const traceBox = h('div', { class: 'trace-box', id: 'trace-box' });
  async function showTrace(f: any) {
    if (!f.TrackingID) {
      clear(traceBox);
      ctx.trace([]);
      return;
    }
    let q = `G.Flows().Has('TrackingID', ${ctx.gq(f.TrackingID)}).Trace()`;
    if (!ctx.isLive()) q = q.replace(/^G\./, `G.At(${ctx.shownTime()}).`);
    let traces: any[];
    try {
      traces = await gremlin<any[]>(q);
    } catch (e) {
      clear(traceBox, h('div', { class: 'flow-status error' }, `Trace: ${errorText(e)}`));
      ctx.trace([]);
      return;
    }
    const t = Array.isArray(traces) ? traces[0] : undefined;
    if (!t) {
      clear(traceBox);
      ctx.trace([]);
      return;
    }
    const idOf = new Map<string, string>();
    for (const n of ctx.store.nodes.values()) if (n.Metadata.TID) idOf.set(String(n.Metadata.TID), n.ID);
    const lossAt = (i: number) => (t.Loss || []).filter((l: any) =>
      (l.Direction === 'AB' && l.FromNode === t.Hops[i].Node && l.ToNode === t.Hops[i + 1].Node) ||
      (l.Direction === 'BA' && l.FromNode === t.Hops[i + 1].Node && l.ToNode === t.Hops[i].Node));
    const legs = [];
    for (let i = 0; i + 1 < t.Hops.length; i++) {
      const a = idOf.get(t.Hops[i].Node);
      const b = idOf.get(t.Hops[i + 1].Node);
      if (!a || !b || a === b) continue;
      const lost = lossAt(i);
      const next = t.Hops[i + 1];
      legs.push({ from: a, to: b, lost: lost.length > 0,
        label: lost.length ? lost.map((l: any) => `${l.Direction} lost ${fmt(l.Lost)} of ${fmt(l.Of)}`).join(', ')
          : `AB ${fmt(next.AB.Packets)} · BA ${fmt(next.BA.Packets)}` });
    }
    ctx.trace(legs);
    const losing = new Set<number>();
    t.Hops.forEach((_: any, i: number) => { if (i + 1 < t.Hops.length && lossAt(i).length) losing.add(i + 1); });
    clear(traceBox,
      h('h4', null, `Trace of ${t.TrackingID}`),
      h('table', { class: 'grid trace' },
        h('thead', null, h('tr', null, ['#', 'Host', 'Interface', 'AB Pkts', 'BA Pkts', 'Tunnel'].map((c) => h('th', null, c)))),
        h('tbody', null, t.Hops.map((hop: any, i: number) => h('tr', { class: losing.has(i) ? 'lost' : '', 'data-node': hop.Node },
          h('td', null, String(i + 1)), h('td', null, hop.Host), h('td', null, hop.Name),
          h('td', { class: 'num' }, fmt(hop.AB.Packets)), h('td', { class: 'num' }, fmt(hop.BA.Packets)),
          h('td', null, hop.Tunnel ? `${hop.Tunnel.A} → ${hop.Tunnel.B}${hop.Tunnel.ID ? ' id ' + hop.Tunnel.ID : ''}` : ''))))),
      ...(t.Loss || []).map((l: any) => h('div', { class: 'trace-loss' },
        `${l.Direction}: ${fmt(l.Lost)} of ${fmt(l.Of)} packets lost between ${l.From} on ${l.FromHost} and ${l.To} on ${l.ToHost}` +
        (l.Via?.length ? ` (via ${l.Via.join(', ')})` : ''))),
      ...(t.Incomplete || []).map((why: string) => h('div', { class: 'trace-incomplete' }, `Incomplete: ${why}`)),
      h('button', { onclick: () => (clear(traceBox), ctx.trace([])) }, 'Clear trace'),
    );
  }
  async function refreshFlows() {
    let q = flowQuery.value.trim() || 'G.Flows().Sort()';
    if (!ctx.isLive() && !/^G\.(At|Context)\(/i.test(q)) q = q.replace(/^G\./, `G.At(${ctx.shownTime()}).`);
    if (!/\.Limit\(\d+\)\s*$/.test(q) && !/\.Count\(\)\s*$/.test(q)) q += `.Limit(${flowLimit.value})`;
    try {
      const res = await gremlin<any>(q);
      flows = Array.isArray(res) ? res.filter((x) => x && typeof x === 'object') : [];
      flowsMissing = false;
      flowStatus.className = 'flow-status ok';
      flowStatus.textContent = `✓ ${flows.length} flows`;
      renderFlows();
    } catch (e) {
      const text = errorText(e);
      // Before the flow engine exists, Flows() parses but fails: "no flow ...".
      if (isMissing(e) || /no flow|not support|unknown step|Flows\(\)/i.test(text)) {
        flowsMissing = true;
        flowStatus.className = 'flow-status missing';
        clear(flowTable, unavailable('Flows'));
        flowStatus.textContent = '';
      } else {
        flowStatus.className = 'flow-status error';
        flowStatus.textContent = text;
      }
    }
  }
  function scheduleFlows() {
    clearTimeout(flowTimer);
    if (!flowAuto.checked || current !== 'flows') return;
    flowTimer = window.setTimeout(async () => {
      await refreshFlows();
      scheduleFlows();
    }, Number(flowEvery.value) * 1000);
  }
  flowQuery.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') refreshFlows();
  });
  for (const el of [flowAuto, flowEvery, flowLimit]) el.addEventListener('change', () => (refreshFlows(), scheduleFlows()));
  const flowsEl = h('div', { class: 'resource', 'data-resource': 'flows' },
    h('div', { class: 'flow-bar' }, h('label', null, 'Flow query '), flowQuery, flowStatus),
    flowTable,
    h('div', { class: 'flow-bar' }, flowLimit, flowFollow, h('label', null, flowAuto, ' Auto refresh'), flowEvery),
    traceBox,
  );

  // ---- Gremlin console
  const gin = h('textarea', { id: 'gremlin-input', rows: 2 }, "G.V().Has('Type', 'host')");
  const gout = h('pre', { class: 'result', id: 'gremlin-output' });
  const gremlinEl = h('div', { class: 'resource' }, h('h4', null, 'Gremlin console'), gin,
    h('div', { class: 'form-actions' }, h('button', { class: 'primary', onclick: async () => {
      try {
        const res = await gremlin(gin.value);
        gout.textContent = JSON.stringify(res, null, 2).slice(0, 200000);
        const ids = new Set<string>();
        collectIDs(res, ids, new Set());
        if (ids.size && ids.size <= 500) ctx.highlight([...ids]);
      } catch (e) {
        gout.textContent = errorText(e);
      }
    } }, 'Run')), gout);

  const reports = reportsPanel();

  // ---- tabs
  const tabs: Record<string, { label: string; el: HTMLElement; refresh?: () => void }> = {
    captures: { label: 'Captures', el: captures.el, refresh: captures.refresh },
    generator: { label: 'Generator', el: generator.el, refresh: generator.refresh },
    flows: { label: 'Flows', el: flowsEl, refresh: () => (refreshFlows(), scheduleFlows()) },
    alerts: { label: 'Alerts', el: alerts.el, refresh: alerts.refresh },
    workflows: { label: 'Workflows', el: workflows.el, refresh: workflows.refresh },
    rules: { label: 'Topology rules', el: rules.el, refresh: rules.refresh },
    reports: { label: 'Reports', el: reports.el, refresh: reports.refresh },
    gremlin: { label: 'Gremlin', el: gremlinEl },
    diff: { label: 'Diff', el: diffEl },
  };
  let current = '';
  const tabBar = h('nav', { class: 'tabs' });
  const tabBody = h('div', { class: 'tab-body' });
  function show(name: string) {
    current = name;
    for (const b of tabBar.querySelectorAll('button')) b.classList.toggle('active', b.dataset.tab === name);
    clear(tabBody, tabs[name].el);
    tabs[name].refresh?.();
    if (name !== 'flows') clearTimeout(flowTimer);
  }
  clear(tabBar, Object.entries(tabs).map(([k, t]) => h('button', { 'data-tab': k, id: `tab-${k}`, onclick: () => show(k) }, t.label,
    k === 'alerts' ? h('span', { class: 'badge', hidden: true, title: 'alerts fired since you last looked' }, '0') : null)));
  clear(side, h('section', { class: 'details-wrap' }, detailsEl), h('section', { class: 'panels' }, tabBar, tabBody));
  show('captures');

  return {
    show,
    /** Reads the shown tab again (after logging in). */
    refresh() {
      show(current || 'captures');
    },
    selectionChanged() {},
    /** The subscriber's messages other than the graph's (alert notifications). */
    onMessage(m: WSMessage) {
      if (m.Namespace === 'Alert') alerts.onMessage(m);
    },
    captureNode(n: GNode) {
      show('captures');
      const inp = captures.form.inputs.get('GremlinQuery');
      if (inp) inp.value = nodeQuery(n, ctx.gq);
      const nameInp = captures.form.inputs.get('Name');
      if (nameInp && !nameInp.value) nameInp.value = `capture ${n.Metadata.Name ?? ''}`;
      const det = captures.el.querySelector('details.create') as HTMLDetailsElement | null;
      if (det) det.open = true;
    },
    get flowsMissing() {
      return flowsMissing;
    },
  };
}
