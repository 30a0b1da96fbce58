// Shared pieces of the right pane's panels: forms generated from field
// lists, and a list + create form over one of the generic REST resources.

import { h, clear, fmt } from './dom';
import { api, isMissing, APIError } from './api';
import { Store, GNode } from './model';
import { TopologyView } from './view';
import { TraceLeg } from './canvas';

export interface PanelContext {
  store: Store;
  view: TopologyView;
  selected(): GNode | null;
  highlight(ids: string[]): void;
  /** Draws a flow's trace over the graph ([] removes it). */
  trace(legs: TraceLeg[]): void;
  isLive(): boolean;
  shownTime(): number;
  gq(s: string): string;
}

export type FieldKind = 'text' | 'number' | 'select' | 'checkbox' | 'json' | 'textarea';
export interface Field {
  key: string;
  label: string;
  kind?: FieldKind;
  options?: string[];
  value?: any;
  placeholder?: string;
  required?: boolean;
  nodeQuery?: boolean; // offer "use selected node"
  suggest?: string[]; // a datalist of usual values (text fields)
}

let datalists = 0;

export const unavailable = (what: string) =>
  h('div', { class: 'unavailable' }, `${what}: not available on this analyzer (the API answered 404).`);

export function errorText(e: unknown) {
  return e instanceof APIError ? `${e.status}: ${e.message}` : String(e);
}

/** Gremlin expression selecting a node: by TID when it has one. */
export function nodeQuery(n: GNode, gq: (s: string) => string) {
  return n.Metadata.TID ? `G.V().Has('TID', ${gq(String(n.Metadata.TID))})` : `G.V(${gq(n.ID)})`;
}

export function form(fields: Field[], ctx: PanelContext, submit: string, onSubmit: (v: Record<string, any>) => Promise<void>) {
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
    let dl: HTMLDataListElement | null = null;
    if (f.suggest) {
      dl = h('datalist', { id: `dl-${f.key}-${++datalists}` }, f.suggest.map((o) => h('option', { value: o })));
      inp.setAttribute('list', dl.id);
    }
    const pick = f.nodeQuery
      ? h('button', { type: 'button', class: 'small', title: 'Use the selected node', onclick: () => {
          const n = ctx.selected();
          if (n) inp.value = nodeQuery(n, ctx.gq);
          else msg.textContent = 'Select a node in the topology first.';
        } }, '◎ selected')
      : null;
    return h('label', { class: `field ${f.kind || 'text'}` }, h('span', null, f.label + (f.required ? ' *' : '')), inp, pick, dl);
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
export function resourcePanel(opts: {
  resource: string;
  title: string;
  columns: [string, (r: any) => any][];
  fields: Field[];
  create: string;
  ctx: PanelContext;
  rowClick?: (r: any) => void;
  deleteLabel?: string;
  /** Turns the form's values into the body POSTed (may throw a message). */
  transform?: (v: Record<string, any>) => any;
  /** Called with the rows after each successful listing. */
  onRows?: (rows: any[]) => void;
  /** Shown between the title and the list. */
  before?: HTMLElement;
  /** Rows in order of this key (the API answers an object keyed by UUID). */
  sortBy?: (r: any) => string;
}) {
  const list = h('div', { class: 'list' });
  const listMsg = h('div', { class: 'msg list-msg' });
  const root = h('div', { class: 'resource', 'data-resource': opts.resource });
  // Creating and deleting need the resource's write permission (hidden otherwise).
  const perm = `${opts.resource}:write`;
  const createBox = () => [
    h('details', { class: 'create', 'data-perm': perm }, h('summary', null, opts.create), f.el),
    h('p', { class: 'perm-note', 'data-perm-denied': perm }, `Your role may not change ${opts.title.toLowerCase()}.`),
  ];
  const f = form(opts.fields, opts.ctx, opts.create, async (v) => {
    await api('POST', `/api/${opts.resource}`, opts.transform ? opts.transform(v) : v);
    await refresh();
  });
  async function refresh() {
    try {
      const all = (await api<Record<string, any>>('GET', `/api/${opts.resource}`)) || {};
      const rows = Object.entries(all).map(([id, r]) => ({ ...r, UUID: r.UUID || id }));
      if (opts.sortBy) rows.sort((a, b) => opts.sortBy!(a).localeCompare(opts.sortBy!(b)));
      opts.onRows?.(rows);
      clear(
        list,
        h('table', { class: 'grid' },
          h('thead', null, h('tr', null, opts.columns.map(([c]) => h('th', null, c)), h('th'))),
          h('tbody', null, rows.length ? rows.map((r) => h('tr', { onclick: () => opts.rowClick?.(r), class: opts.rowClick ? 'clickable' : '', 'data-uuid': r.UUID },
            opts.columns.map(([, g]) => {
              const x = g(r);
              return h('td', null, x instanceof Node ? x : fmt(x));
            }),
            h('td', null, h('button', { class: 'small danger', 'data-perm': perm, onclick: async (ev: Event) => {
              ev.stopPropagation();
              listMsg.className = 'msg';
              listMsg.textContent = '';
              try {
                await api('DELETE', `/api/${opts.resource}/${encodeURIComponent(r.UUID)}`);
              } catch (e) {
                // The server's refusal (403 for a role that may not) next to the list.
                listMsg.className = 'msg error list-msg';
                listMsg.textContent = errorText(e);
              }
              refresh();
            } }, opts.deleteLabel || 'Delete'))))
            : h('tr', null, h('td', { colspan: opts.columns.length + 1, class: 'empty' }, 'none'))),
        ),
      );
      root.classList.remove('missing');
      if (!root.contains(list)) clear(root, h('h4', null, opts.title), opts.before, listMsg, list, createBox());
    } catch (e) {
      if (isMissing(e)) {
        root.classList.add('missing');
        clear(root, h('h4', null, opts.title), unavailable(opts.title));
      } else clear(list, h('div', { class: 'error' }, errorText(e)));
    }
  }
  clear(root, h('h4', null, opts.title), opts.before, listMsg, list, createBox());
  return { el: root, refresh, form: f };
}

