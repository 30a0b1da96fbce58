// The right pane: Captures, Generator, Flows, Alerts, Workflows, Topology
// rules (and a Gremlin console). Each talks to the documented REST API and
// says so plainly when this analyzer does not serve it (404).

import { h, clear, fmt } from './dom';
import { api, gremlin, isMissing, APIError, collectIDs } from './api';
import { Store, GNode } from './model';
import { TopologyView } from './view';

export interface PanelContext {
  store: Store;
  view: TopologyView;
  selected(): GNode | null;
  highlight(ids: string[]): void;
  isLive(): boolean;
  shownTime(): number;
  gq(s: string): string;
}

type FieldKind = 'text' | 'number' | 'select' | 'checkbox' | 'json' | 'textarea';
interface Field {
  key: string;
  label: string;
  kind?: FieldKind;
  options?: string[];
  value?: any;
  placeholder?: string;
  required?: boolean;
  nodeQuery?: boolean; // offer "use selected node"
}

const unavailable = (what: string) =>
  h('div', { class: 'unavailable' }, `${what}: not available on this analyzer (the API answered 404).`);

function errorText(e: unknown) {
  return e instanceof APIError ? `${e.status}: ${e.message}` : String(e);
}

/** Gremlin expression selecting a node: by TID when it has one. */
export function nodeQuery(n: GNode, gq: (s: string) => string) {
  return n.Metadata.TID ? `G.V().Has('TID', ${gq(String(n.Metadata.TID))})` : `G.V(${gq(n.ID)})`;
}

function form(fields: Field[], ctx: PanelContext, submit: string, onSubmit: (v: Record<string, any>) => Promise<void>) {
  const inputs = new Map<string, HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>();
  const msg = h('div', { class: 'msg' });
  const rows = fields.map((f) => {
    let inp: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
    if (f.kind === 'select') inp = h('select', null, (f.options || []).map((o) => h('option', { value: o, selected: o === f.value }, o || '(default)')));
    else if (f.kind === 'textarea' || f.kind === 'json') inp = h('textarea', { rows: 3, placeholder: f.placeholder || '' }, f.value ?? '');
    else if (f.kind === 'checkbox') inp = h('input', { type: 'checkbox', checked: !!f.value });
    else inp = h('input', { type: f.kind === 'number' ? 'number' : 'text', value: f.value ?? '', placeholder: f.placeholder || '' });
    inp.name = f.key;
    inputs.set(f.key, inp);
    const pick = f.nodeQuery
      ? h('button', { type: 'button', class: 'small', title: 'Use the selected node', onclick: () => {
          const n = ctx.selected();
          if (n) inp.value = nodeQuery(n, ctx.gq);
          else msg.textContent = 'Select a node in the topology first.';
        } }, '◎ selected')
      : null;
    return h('label', { class: `field ${f.kind || 'text'}` }, h('span', null, f.label + (f.required ? ' *' : '')), inp, pick);
  });
  const el = h('form', { class: 'form' }, rows, h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, submit)), msg);
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v: Record<string, any> = {};
    try {
      for (const f of fields) {
        const inp = inputs.get(f.key)!;
        if (f.kind === 'checkbox') {
          if ((inp as HTMLInputElement).checked) v[f.key] = true;
          continue;
        }
        const s = inp.value.trim();
        if (!s) {
          if (f.required) throw new Error(`${f.label} is required`);
          continue;
        }
        if (f.kind === 'number') v[f.key] = Number(s);
        else if (f.kind === 'json') v[f.key] = JSON.parse(s);
        else v[f.key] = s;
      }
      msg.className = 'msg';
      msg.textContent = '…';
      await onSubmit(v);
      msg.textContent = 'done';
    } catch (e) {
      msg.className = 'msg error';
      msg.textContent = errorText(e);
    }
  });
  return { el, inputs, msg };
}

/** A list + create form over one of the generic REST resources. */
function resourcePanel(opts: {
  resource: string;
  title: string;
  columns: [string, (r: any) => any][];
  fields: Field[];
  create: string;
  ctx: PanelContext;
  rowClick?: (r: any) => void;
  deleteLabel?: string;
}) {
  const list = h('div', { class: 'list' });
  const root = h('div', { class: 'resource', 'data-resource': opts.resource });
  const f = form(opts.fields, opts.ctx, opts.create, async (v) => {
    await api('POST', `/api/${opts.resource}`, v);
    await refresh();
  });
  async function refresh() {
    try {
      const all = (await api<Record<string, any>>('GET', `/api/${opts.resource}`)) || {};
      const rows = Object.entries(all).map(([id, r]) => ({ ...r, UUID: r.UUID || id }));
      clear(
        list,
        h('table', { class: 'grid' },
          h('thead', null, h('tr', null, opts.columns.map(([c]) => h('th', null, c)), h('th'))),
          h('tbody', null, rows.length ? rows.map((r) => h('tr', { onclick: () => opts.rowClick?.(r), class: opts.rowClick ? 'clickable' : '' },
            opts.columns.map(([, g]) => h('td', null, fmt(g(r)))),
            h('td', null, h('button', { class: 'small danger', onclick: async (ev: Event) => {
              ev.stopPropagation();
              try {
                await api('DELETE', `/api/${opts.resource}/${encodeURIComponent(r.UUID)}`);
              } catch (e) {
                alert(errorText(e));
              }
              refresh();
            } }, opts.deleteLabel || 'Delete'))))
            : h('tr', null, h('td', { colspan: opts.columns.length + 1, class: 'empty' }, 'none'))),
        ),
      );
      root.classList.remove('missing');
      if (!root.contains(list)) clear(root, h('h4', null, opts.title), list, h('details', { class: 'create' }, h('summary', null, opts.create), f.el));
    } catch (e) {
      if (isMissing(e)) {
        root.classList.add('missing');
        clear(root, h('h4', null, opts.title), unavailable(opts.title));
      } else clear(list, h('div', { class: 'error' }, errorText(e)));
    }
  }
  clear(root, h('h4', null, opts.title), list, h('details', { class: 'create' }, h('summary', null, opts.create), f.el));
  return { el: root, refresh, form: f };
}

export function mountPanels(side: HTMLElement, detailsEl: HTMLElement, diffEl: HTMLElement, ctx: PanelContext) {
  // ---- Captures
  const captures = resourcePanel({
    resource: 'capture',
    title: 'Captures',
    create: 'Create capture',
    deleteLabel: 'Stop',
    ctx,
    columns: [['Name', (r) => r.Name], ['Query', (r) => r.GremlinQuery], ['Type', (r) => r.Type], ['BPF', (r) => r.BPFFilter], ['Nodes', (r) => r.Count ?? '']],
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

  // ---- Alerts
  const alerts = resourcePanel({
    resource: 'alert',
    title: 'Alerts',
    create: 'Create alert',
    ctx,
    columns: [['Name', (r) => r.Name], ['Expression', (r) => r.Expression], ['Trigger', (r) => r.Trigger], ['Action', (r) => r.Action]],
    fields: [
      { key: 'Name', label: 'Name' },
      { key: 'Description', label: 'Description' },
      { key: 'Expression', label: 'Expression (Gremlin or JavaScript)', required: true, placeholder: "G.V().Has('State', 'DOWN')" },
      { key: 'Trigger', label: 'Trigger', placeholder: 'graph or duration:10s' },
      { key: 'Action', label: 'Action (http://, https://, file://)' },
    ],
  });

  // ---- Topology rules
  const nodeRules = resourcePanel({
    resource: 'noderule',
    title: 'Node rules',
    create: 'Create node rule',
    ctx,
    columns: [['Name', (r) => r.Name], ['Action', (r) => r.Action], ['Query', (r) => r.Query], ['Metadata', (r) => JSON.stringify(r.Metadata)]],
    fields: [
      { key: 'Name', label: 'Name' },
      { key: 'Description', label: 'Description' },
      { key: 'Action', label: 'Action', kind: 'select', options: ['create', 'update'] },
      { key: 'Query', label: 'Query (for update)', nodeQuery: true },
      { key: 'Metadata', label: 'Metadata (JSON)', kind: 'json', required: true, value: '{"Name": "my-node", "Type": "device"}' },
    ],
  });
  const edgeRules = resourcePanel({
    resource: 'edgerule',
    title: 'Edge rules',
    create: 'Create edge rule',
    ctx,
    columns: [['Name', (r) => r.Name], ['Src', (r) => r.Src], ['Dst', (r) => r.Dst], ['Metadata', (r) => JSON.stringify(r.Metadata)]],
    fields: [
      { key: 'Name', label: 'Name' },
      { key: 'Description', label: 'Description' },
      { key: 'Src', label: 'Source (Gremlin)', required: true, nodeQuery: true },
      { key: 'Dst', label: 'Destination (Gremlin)', required: true, nodeQuery: true },
      { key: 'Metadata', label: 'Metadata (JSON)', kind: 'json', value: '{"RelationType": "layer2"}' },
    ],
  });

  // ---- Workflows
  const wf = h('div', { class: 'resource', 'data-resource': 'workflow' });
  async function refreshWorkflows() {
    try {
      const all = (await api<Record<string, any>>('GET', '/api/workflow')) || {};
      const list = Object.entries(all).map(([id, w]) => ({ ...w, UUID: w.UUID || id }));
      const pick = h('select', { id: 'workflow-pick' }, list.map((w) => h('option', { value: w.UUID }, w.Title || w.Name || w.UUID)));
      const body = h('div');
      const render = () => {
        const w = list.find((x) => x.UUID === pick.value);
        if (!w) return clear(body, h('p', { class: 'empty' }, 'No workflow.'));
        const fields: Field[] = (w.Parameters || []).map((p: any) => ({
          key: p.Name,
          label: `${p.Name}${p.Description ? ' — ' + p.Description : ''}`,
          kind: p.Type === 'integer' ? 'number' : p.Type === 'boolean' ? 'checkbox' : p.Type === 'choice' ? 'select' : 'text',
          options: (p.Values || []).map((v: any) => String(v.Value ?? v)),
          value: p.Default,
          nodeQuery: p.Type === 'node',
        }));
        const result = h('pre', { class: 'result' });
        const f = form(fields, ctx, 'Execute', async (v) => {
          const res = await api('POST', `/api/workflow/${encodeURIComponent(w.UUID)}/call`, { Params: fields.map((x) => v[x.key] ?? null) });
          result.textContent = JSON.stringify(res, null, 2);
        });
        clear(body, h('p', { class: 'abstract' }, w.Abstract || ''), w.Description ? h('details', null, h('summary', null, 'Description'), h('pre', { class: 'desc' }, w.Description)) : null, f.el, result);
      };
      pick.addEventListener('change', render);
      clear(wf, h('h4', null, 'Workflows'), list.length ? pick : h('p', { class: 'empty' }, 'No workflow defined.'), body);
      render();
    } catch (e) {
      clear(wf, h('h4', null, 'Workflows'), isMissing(e) ? unavailable('Workflows') : h('div', { class: 'error' }, errorText(e)));
    }
  }

  // ---- Flows
  const flowQuery = h('input', { id: 'flow-query', type: 'text', value: 'G.Flows().Sort()', size: 30 });
  const flowLimit = h('select', { id: 'flow-limit' }, [10, 30, 100, 500].map((n) => h('option', { value: n, selected: n === 30 }, `Limit: ${n}`)));
  const flowAuto = h('input', { id: 'flow-auto', type: 'checkbox', checked: true });
  const flowEvery = h('select', { id: 'flow-every' }, [1, 2, 5, 10].map((n) => h('option', { value: n }, `Every ${n}s`)));
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
      if (f.TrackingID) collectIDs(await gremlin(`G.Flows().Has('TrackingID', ${ctx.gq(f.TrackingID)}).Hops()`), ids, new Set());
    } catch {
      /* Hops may be missing */
    }
    if (f.NodeTID) for (const n of ctx.store.nodes.values()) if (n.Metadata.TID === f.NodeTID) ids.add(n.ID);
    ctx.highlight([...ids]);
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
    h('div', { class: 'flow-bar' }, flowLimit, h('label', null, flowAuto, ' Auto refresh'), flowEvery),
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

  // ---- tabs
  const tabs: Record<string, { label: string; el: HTMLElement; refresh?: () => void }> = {
    captures: { label: 'Captures', el: captures.el, refresh: captures.refresh },
    generator: { label: 'Generator', el: generator.el, refresh: generator.refresh },
    flows: { label: 'Flows', el: flowsEl, refresh: () => (refreshFlows(), scheduleFlows()) },
    alerts: { label: 'Alerts', el: alerts.el, refresh: alerts.refresh },
    workflows: { label: 'Workflows', el: wf, refresh: refreshWorkflows },
    rules: { label: 'Topology rules', el: h('div', null, nodeRules.el, edgeRules.el), refresh: () => (nodeRules.refresh(), edgeRules.refresh()) },
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
  clear(tabBar, Object.entries(tabs).map(([k, t]) => h('button', { 'data-tab': k, id: `tab-${k}`, onclick: () => show(k) }, t.label)));
  clear(side, h('section', { class: 'details-wrap' }, detailsEl), h('section', { class: 'panels' }, tabBar, tabBody));
  show('captures');

  return {
    show,
    selectionChanged() {},
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
