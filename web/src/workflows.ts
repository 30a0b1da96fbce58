// The Workflows panel: pick a workflow (the built-in ones and the users'),
// read its Title/Abstract/Description, fill a form generated from its
// Parameters, Execute it (POST /api/workflow/<UUID>/call) and read the
// result; create workflows from YAML or JSON, delete the users' ones.

import { h, clear } from './dom';
import { api, collectIDs, isMissing, uiFetch } from './api';
import { GNode } from './model';
import { PanelContext, unavailable, errorText } from './panelkit';
import { renderMarkdown } from './markdown';

// The built-in workflows (internal/workflows/static) cannot be deleted.
const BUILTIN = new Set(['85757b38-6e21-11e8-b42d-28d2442e1325', '85757b38-6e21-11e8-b42d-28d2442e1329']);

const SAMPLE = `Name: Hello
Title: Say hello
Abstract: Greets someone, counts the hosts.
Parameters:
  - Name: who
    Type: string
    Default: world
Source: |
  function (who) {
    var hosts = client.gremlin.G().V().Has('Type', 'host').Count().result()
    return {Greeting: "hello " + who, Hosts: hosts}
  }
`;

export interface WorkflowParam {
  Name: string;
  Description?: string;
  Type: string;
  Default?: any;
  Values?: { Value: string; Description?: string }[];
}

/** POSTs a text body (YAML or JSON) and answers the JSON reply. */
async function postText(path: string, text: string, type: string): Promise<any> {
  const { text: body } = await uiFetch(path, { method: 'POST', body: text, headers: { 'Content-Type': type } });
  return body ? JSON.parse(body) : undefined;
}

const nodeLabel = (n: GNode) => `${n.Metadata.Name ?? n.ID}${n.Metadata.Type ? ' · ' + n.Metadata.Type : ''}`;

/** A node parameter: search by name, pick in a list, or take the graph's selection. */
function nodePicker(ctx: PanelContext, name: string, onMsg: (s: string) => void) {
  const search = h('input', { type: 'search', class: 'node-search', placeholder: 'search nodes by name…' });
  const select = h('select', { class: 'node-select', name });
  const put = (n: GNode) => {
    let o = [...select.options].find((x) => x.value === n.ID);
    if (!o) {
      o = h('option', { value: n.ID }, nodeLabel(n));
      select.prepend(o);
    }
    select.value = n.ID;
  };
  const fill = () => {
    const q = search.value.trim().toLowerCase();
    const keep = select.value;
    const found: GNode[] = [];
    for (const n of ctx.store.nodes.values()) {
      const nm = String(n.Metadata.Name ?? '').toLowerCase();
      if (!q || nm.includes(q) || n.ID === q || String(n.Metadata.TID ?? '') === q) found.push(n);
    }
    // exact names first, then by name
    found.sort((a, b) => {
      const ea = String(a.Metadata.Name ?? '').toLowerCase() === q ? 0 : 1;
      const eb = String(b.Metadata.Name ?? '').toLowerCase() === q ? 0 : 1;
      return ea - eb || String(a.Metadata.Name ?? '').localeCompare(String(b.Metadata.Name ?? ''));
    });
    const shown = found.slice(0, 200);
    clear(select, h('option', { value: '' }, shown.length ? `— ${found.length} node${found.length === 1 ? '' : 's'}${found.length > 200 ? ' (first 200)' : ''} —` : '— no node —'),
      shown.map((n) => h('option', { value: n.ID, title: n.ID }, nodeLabel(n))));
    if (q && shown.length) select.value = shown[0].ID;
    else if (keep && shown.some((n) => n.ID === keep)) select.value = keep;
  };
  search.addEventListener('input', fill);
  select.addEventListener('focus', () => {
    if (select.options.length <= 1) fill();
  });
  const useSelected = () => {
    const n = ctx.selected();
    if (n) put(n);
    return !!n;
  };
  const pick = h('button', { type: 'button', class: 'small', title: 'Use the node selected in the topology', onclick: () => {
    if (!useSelected()) onMsg('Select a node in the topology first.');
  } }, '◎ selected');
  fill();
  return { el: h('span', { class: 'node-picker' }, search, select, pick), value: () => select.value, useSelected };
}

export function workflowsPanel(ctx: PanelContext) {
  const root = h('div', { class: 'resource', 'data-resource': 'workflow' });
  let list: any[] = [];
  let currentID = '';
  let rendered = ''; // the workflow the form was made for (UUID and content)

  const pick = h('select', { id: 'workflow-pick' });
  const delBtn = h('button', { type: 'button', class: 'small danger', id: 'workflow-delete', title: 'Delete this workflow', 'data-perm': 'workflow:write' }, 'Delete');
  const listMsg = h('span', { class: 'msg' });
  const body = h('div', { class: 'workflow-body' });

  // creation from YAML or JSON
  const src = h('textarea', { id: 'workflow-source', rows: 10, placeholder: SAMPLE, spellcheck: false });
  const createMsg = h('div', { class: 'msg', id: 'workflow-create-msg' });
  const createBtn = h('button', { type: 'button', class: 'primary', id: 'workflow-create' }, 'Create');
  createBtn.addEventListener('click', async () => {
    const text = src.value.trim();
    if (!text) {
      createMsg.className = 'msg error';
      createMsg.textContent = 'Paste a workflow in YAML or JSON first.';
      return;
    }
    createMsg.className = 'msg';
    createMsg.textContent = '…';
    try {
      const isJSON = text.startsWith('{');
      const w = await postText('/api/workflow', text, isJSON ? 'application/json' : 'application/yaml');
      createMsg.textContent = `created ${w?.Name ?? ''}`;
      if (w?.UUID) currentID = w.UUID;
      src.value = '';
      await refresh();
    } catch (e) {
      createMsg.className = 'msg error';
      createMsg.textContent = errorText(e);
    }
  });
  const createEl = h('details', { class: 'create', id: 'workflow-create-box', 'data-perm': 'workflow:write' },
    h('summary', null, 'Create workflow (YAML or JSON)'),
    h('div', { class: 'form' }, src,
      h('div', { class: 'form-actions' }, createBtn, ' ', h('a', { href: '#', class: 'small', onclick: (e: Event) => (e.preventDefault(), (src.value = SAMPLE)) }, 'insert an example')),
      createMsg));

  delBtn.addEventListener('click', async () => {
    const w = list.find((x) => x.UUID === pick.value);
    if (!w || !confirmDelete(w)) return;
    try {
      await api('DELETE', `/api/workflow/${encodeURIComponent(w.UUID)}`);
      currentID = '';
      listMsg.className = 'msg';
      listMsg.textContent = `deleted ${w.Name}`;
      await refresh();
    } catch (e) {
      listMsg.className = 'msg error';
      listMsg.textContent = errorText(e);
    }
  });
  pick.addEventListener('change', () => {
    currentID = pick.value;
    listMsg.textContent = '';
    render();
  });

  function confirmDelete(w: any) {
    return (window as any).__noConfirm || confirm(`Delete workflow ${w.Name}?`);
  }

  function render() {
    const w = list.find((x) => x.UUID === pick.value);
    delBtn.hidden = !w || BUILTIN.has(w.UUID);
    rendered = w ? JSON.stringify(w) : '';
    if (!w) return clear(body, h('p', { class: 'empty' }, 'No workflow.'));
    const params: WorkflowParam[] = w.Parameters || [];
    const msg = h('div', { class: 'msg', id: 'workflow-status' });
    const result = h('pre', { class: 'result', id: 'workflow-result' });
    const getters: (() => any)[] = [];
    const rows = params.map((p) => {
      let input: HTMLElement;
      let get: () => any;
      switch (p.Type) {
        case 'node': {
          const np = nodePicker(ctx, p.Name, (s) => ((msg.className = 'msg error'), (msg.textContent = s)));
          input = np.el;
          get = () => {
            const v = np.value();
            if (!v) throw new Error(`${p.Name}: pick a node`);
            return v;
          };
          break;
        }
        case 'integer': {
          const i = h('input', { type: 'number', step: 1, name: p.Name, value: p.Default ?? '' });
          input = i;
          get = () => {
            if (i.value.trim() === '') return p.Default ?? null;
            const n = Number(i.value);
            if (!Number.isInteger(n)) throw new Error(`${p.Name}: not an integer`);
            return n;
          };
          break;
        }
        case 'boolean': {
          const c = h('input', { type: 'checkbox', name: p.Name, checked: p.Default === true || p.Default === 'true' });
          input = c;
          get = () => c.checked;
          break;
        }
        case 'choice': {
          const s = h('select', { name: p.Name }, (p.Values || []).map((v) => h('option', { value: v.Value, selected: v.Value === p.Default }, v.Description ? `${v.Value} — ${v.Description}` : v.Value)));
          input = s;
          get = () => s.value;
          break;
        }
        case 'date': {
          const d = h('input', { type: 'datetime-local', name: p.Name, value: p.Default ?? '' });
          input = d;
          get = () => d.value || p.Default || null;
          break;
        }
        default: {
          const t = h('input', { type: 'text', name: p.Name, value: p.Default ?? '' });
          input = t;
          get = () => t.value;
        }
      }
      getters.push(get);
      return h('label', { class: `field param ${p.Type}`, 'data-param': p.Name },
        h('span', { title: p.Description || '' }, p.Name, p.Description ? h('small', null, ` ${p.Description}`) : null), input);
    });
    const exec = h('button', { type: 'submit', class: 'primary', id: 'workflow-execute', 'data-perm': 'workflow.call:write' }, 'Execute');
    const f = h('form', { class: 'form workflow-form' }, rows.length ? rows : h('p', { class: 'empty' }, 'No parameter.'),
      h('div', { class: 'form-actions' }, exec, h('span', { class: 'perm-note', 'data-perm-denied': 'workflow.call:write' }, 'Your role may not run workflows.')), msg);
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      result.className = 'result';
      result.textContent = '';
      let params: any[];
      try {
        params = getters.map((g) => g());
      } catch (e) {
        msg.className = 'msg error';
        msg.textContent = String(e instanceof Error ? e.message : e);
        return;
      }
      const t0 = performance.now();
      msg.className = 'msg';
      msg.textContent = 'running…';
      const tick = setInterval(() => (msg.textContent = `running… ${((performance.now() - t0) / 1000).toFixed(0)} s`), 1000);
      exec.disabled = true;
      try {
        const res = await api('POST', `/api/workflow/${encodeURIComponent(w.UUID)}/call`, { Params: params });
        msg.className = 'msg ok';
        msg.textContent = `✓ done in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
        result.className = 'result ok';
        result.textContent = JSON.stringify(res, null, 2) ?? 'undefined';
        const nodes = new Set<string>();
        collectIDs(res, nodes, new Set());
        const known = [...nodes].filter((id) => ctx.store.nodes.has(id));
        if (known.length && known.length <= 500) ctx.highlight(known);
      } catch (e) {
        msg.className = 'msg error';
        msg.textContent = 'failed';
        result.className = 'result error';
        result.textContent = errorText(e);
      } finally {
        clearInterval(tick);
        exec.disabled = false;
      }
    });
    clear(
      body,
      h('h5', { class: 'wf-title' }, w.Title || w.Name, BUILTIN.has(w.UUID) ? h('span', { class: 'tag' }, 'built-in') : null),
      w.Abstract ? h('p', { class: 'abstract' }, w.Abstract) : null,
      w.Description ? h('details', { class: 'wf-desc' }, h('summary', null, 'Description'), renderMarkdown(w.Description)) : null,
      f,
      result,
    );
  }

  async function refresh() {
    try {
      const all = (await api<Record<string, any>>('GET', '/api/workflow')) || {};
      list = Object.entries(all).map(([id, w]) => ({ ...w, UUID: w.UUID || id }));
      list.sort((a, b) => Number(BUILTIN.has(b.UUID)) - Number(BUILTIN.has(a.UUID)) || String(a.Title || a.Name).localeCompare(String(b.Title || b.Name)));
      clear(pick, list.map((w) => h('option', { value: w.UUID }, `${w.Title || w.Name}${w.Title && w.Name ? ` (${w.Name})` : ''}${BUILTIN.has(w.UUID) ? ' · built-in' : ''}`)));
      if (currentID && list.some((w) => w.UUID === currentID)) pick.value = currentID;
      currentID = pick.value;
      if (!root.contains(body)) clear(root, h('h4', null, 'Workflows'), h('div', { class: 'wf-pick' }, pick, delBtn, listMsg), body, createEl);
      if (!list.length) {
        rendered = '';
        delBtn.hidden = true;
        clear(body, h('p', { class: 'empty' }, 'No workflow defined.'));
      }
      else if (JSON.stringify(list.find((w) => w.UUID === pick.value)) !== rendered) render();
    } catch (e) {
      clear(root, h('h4', null, 'Workflows'), isMissing(e) ? unavailable('Workflows') : h('div', { class: 'error' }, errorText(e)));
    }
  }

  clear(root, h('h4', null, 'Workflows'), h('div', { class: 'wf-pick' }, pick, delBtn, listMsg), body, createEl);
  return { el: root, refresh };
}
