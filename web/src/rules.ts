// The Topology rules panel: node rules (create a node, or add metadata to
// the nodes of a query) and edge rules (link the first node of Src to the
// first node of Dst), over /api/noderule and /api/edgerule.

import { h } from './dom';
import { gremlin, collectIDs } from './api';
import { PanelContext, resourcePanel } from './panelkit';

/** Parses `k=v, k2=v2`: numbers and true/false are typed, "quoted" stay strings. */
export function parseKV(s: string): Record<string, any> {
  const out: Record<string, any> = {};
  for (const part of s.split(',')) {
    const p = part.trim();
    if (!p) continue;
    const i = p.indexOf('=');
    if (i <= 0) throw new Error(`metadata: "${p}" is not key=value`);
    const k = p.slice(0, i).trim();
    const raw = p.slice(i + 1).trim();
    let v: any = raw;
    if (/^".*"$|^'.*'$/.test(raw)) v = raw.slice(1, -1);
    else if (/^-?\d+(\.\d+)?$/.test(raw)) v = Number(raw);
    else if (raw === 'true' || raw === 'false') v = raw === 'true';
    out[k] = v;
  }
  return out;
}

export const showKV = (m: Record<string, any> | undefined, skip: string[] = []) =>
  Object.entries(m || {})
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(', ');

export function rulesPanel(ctx: PanelContext) {
  async function highlightQueries(...qs: string[]) {
    const ids = new Set<string>();
    for (const q of qs) {
      try {
        collectIDs(await gremlin(q), ids, new Set());
      } catch {
        /* the query may give nothing here */
      }
    }
    ctx.highlight([...ids].filter((id) => ctx.store.nodes.has(id)));
  }

  const nodeRules = resourcePanel({
    resource: 'noderule',
    title: 'Node rules',
    create: 'Create node rule',
    ctx,
    sortBy: (r) => String(r.Name || r.UUID),
    columns: [
      ['Name', (r) => r.Name],
      ['Action', (r) => r.Action],
      ['Node / Query', (r) => (r.Action === 'update' ? h('code', null, r.Query) : `${r.Metadata?.Name ?? ''} (${r.Metadata?.Type ?? ''})`)],
      ['Metadata', (r) => showKV(r.Metadata, r.Action === 'update' ? [] : ['Name', 'Type'])],
    ],
    fields: [
      { key: 'Name', label: 'Rule name' },
      { key: 'Description', label: 'Description' },
      { key: 'Action', label: 'Action', kind: 'select', options: ['create', 'update'], value: 'create' },
      { key: 'NodeName', label: 'Node name', placeholder: 'my-switch' },
      { key: 'NodeType', label: 'Node type', placeholder: 'switch, device, host…', suggest: ['switch', 'device', 'host', 'router', 'server', 'firewall', 'fabric'] },
      { key: 'Query', label: 'Query (Gremlin)', nodeQuery: true, placeholder: "G.V().Has('Name', 'eth0')" },
      { key: 'Meta', label: 'Metadata', placeholder: 'k=v, k2=v2' },
    ],
    transform: (v) => {
      const action = v.Action || 'create';
      const md = v.Meta ? parseKV(v.Meta) : {};
      const body: Record<string, any> = { Name: v.Name, Description: v.Description, Action: action, Metadata: md };
      if (action === 'create') {
        if (v.NodeName) md.Name = v.NodeName;
        if (v.NodeType) md.Type = v.NodeType;
      } else body.Query = v.Query;
      return body;
    },
    rowClick: (r) => {
      if (r.Action === 'update') highlightQueries(r.Query);
      else {
        const ids = [...ctx.store.nodes.values()].filter((n) => n.Metadata.Name === r.Metadata?.Name && n.Metadata.Type === r.Metadata?.Type).map((n) => n.ID);
        ctx.highlight(ids);
      }
    },
  });
  // Node name and type for "create", the query for "update".
  const action = nodeRules.form.inputs.get('Action') as HTMLSelectElement;
  const toggle = () => {
    const upd = action.value === 'update';
    for (const [k, show] of [['NodeName', !upd], ['NodeType', !upd], ['Query', upd]] as const) {
      const row = nodeRules.form.inputs.get(k)?.closest('label');
      if (row) (row as HTMLElement).hidden = !show;
    }
  };
  action.addEventListener('change', toggle);
  toggle();

  const edgeRules = resourcePanel({
    resource: 'edgerule',
    title: 'Edge rules',
    create: 'Create edge rule',
    ctx,
    sortBy: (r) => String(r.Name || r.UUID),
    columns: [
      ['Name', (r) => r.Name],
      ['Src', (r) => h('code', null, r.Src)],
      ['Dst', (r) => h('code', null, r.Dst)],
      ['Metadata', (r) => showKV(r.Metadata)],
    ],
    fields: [
      { key: 'Name', label: 'Rule name' },
      { key: 'Description', label: 'Description' },
      { key: 'Src', label: 'Source (Gremlin)', required: true, nodeQuery: true, placeholder: "G.V().Has('Name', 'sw1')" },
      { key: 'Dst', label: 'Destination (Gremlin)', required: true, nodeQuery: true, placeholder: "G.V().Has('Name', 'eth0')" },
      { key: 'RelationType', label: 'Relation type', value: 'layer2', suggest: ['layer2', 'ownership', 'vlan', 'mpls', 'bond'] },
      { key: 'Meta', label: 'Metadata', placeholder: 'k=v, k2=v2' },
    ],
    transform: (v) => {
      const md = v.Meta ? parseKV(v.Meta) : {};
      if (v.RelationType) md.RelationType = v.RelationType;
      return { Name: v.Name, Description: v.Description, Src: v.Src, Dst: v.Dst, Metadata: md };
    },
    rowClick: (r) => highlightQueries(r.Src, r.Dst),
  });

  return {
    el: h('div', { class: 'rules' }, nodeRules.el, edgeRules.el),
    refresh: () => Promise.all([nodeRules.refresh(), edgeRules.refresh()]),
    nodeRules,
    edgeRules,
  };
}
