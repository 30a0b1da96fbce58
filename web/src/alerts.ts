// The Alerts panel: the /api/alert resources (list, create, delete) and the
// notifications the analyzer broadcasts on /ws/subscriber when one fires
// ({Namespace: 'Alert', Type: 'Alert', Obj: {UUID, Timestamp, ReasonData}}).

import { h, clear } from './dom';
import { api } from './api';
import { WSMessage } from './model';
import { PanelContext, resourcePanel } from './panelkit';

export interface AlertNotification {
  uuid: string;
  name: string;
  timestamp: number; // ms
  reason: string; // short text of ReasonData
  data: unknown;
}

const MAX_NOTIFICATIONS = 100;

/** A one-line summary of an alert's data: node names when it has nodes. */
export function shortReason(data: unknown, max = 140): string {
  const names: string[] = [];
  const walk = (v: any, depth: number) => {
    if (v == null || depth > 4 || names.length > 5) return;
    if (Array.isArray(v)) return v.forEach((x) => walk(x, depth + 1));
    if (typeof v !== 'object') return;
    if (v.Metadata && (v.Metadata.Name || v.Metadata.Type)) {
      const st = v.Metadata.State ? ` ${v.Metadata.State}` : '';
      names.push(`${v.Metadata.Name ?? v.ID}${v.Metadata.Type ? ` (${v.Metadata.Type})` : ''}${st}`);
      return;
    }
    for (const k of ['Nodes', 'Edges']) if (k in v) walk(v[k], depth + 1);
  };
  walk(data, 0);
  let s: string;
  if (names.length) {
    const n = Array.isArray(data) ? data.length : names.length;
    s = names.slice(0, 5).join(', ') + (n > 5 ? ` … (${n})` : '');
  } else s = typeof data === 'string' ? data : JSON.stringify(data) ?? '';
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

const when = (v: any) => {
  if (!v) return '';
  const d = new Date(v);
  return isNaN(d.getTime()) || d.getFullYear() < 2000 ? '' : d.toLocaleString();
};

export function alertsPanel(ctx: PanelContext, hooks: { badge(n: number): void; visible(): boolean }) {
  const names = new Map<string, string>(); // alert UUID → name
  const lastFired = new Map<string, number>();
  const notes: AlertNotification[] = [];
  let unseen = 0;

  const noteList = h('ol', { class: 'alert-notes', id: 'alert-notes' });
  const clearBtn = h('button', { type: 'button', class: 'small', onclick: () => {
    notes.length = 0;
    renderNotes();
  } }, 'Clear');
  const notesBox = h('div', { class: 'alert-notes-box' }, h('div', { class: 'notes-head' }, h('span', null, 'Notifications'), clearBtn), noteList);

  const panel = resourcePanel({
    resource: 'alert',
    title: 'Alerts',
    create: 'Create alert',
    ctx,
    before: notesBox,
    sortBy: (r) => String(r.CreateTime || '') + r.UUID,
    columns: [
      ['Name', (r) => r.Name || r.UUID.slice(0, 8)],
      ['Expression', (r) => h('code', null, r.Expression)],
      ['Trigger', (r) => r.Trigger],
      ['Action', (r) => r.Action],
      ['Created', (r) => when(r.CreateTime)],
      ['Last fired', (r) => (lastFired.has(r.UUID) ? new Date(lastFired.get(r.UUID)!).toLocaleTimeString() : '')],
    ],
    fields: [
      { key: 'Name', label: 'Name' },
      { key: 'Description', label: 'Description' },
      { key: 'Expression', label: 'Expression (Gremlin)', required: true, nodeQuery: true, placeholder: "G.V().Has('State', 'DOWN')" },
      { key: 'Trigger', label: 'Trigger', placeholder: 'graph (default) or duration:10s', suggest: ['graph', 'duration:10s', 'duration:1m', 'duration:5m'] },
      { key: 'Action', label: 'Action', placeholder: 'http(s)://… webhook or file://… script' },
    ],
    onRows: (rows) => {
      for (const r of rows) names.set(r.UUID, r.Name || r.UUID);
    },
  });

  function renderNotes() {
    clear(
      noteList,
      notes.length
        ? notes.map((n) =>
            h('li', { class: 'alert-note', 'data-uuid': n.uuid, title: JSON.stringify(n.data, null, 2)?.slice(0, 4000) },
              h('span', { class: 'note-time' }, new Date(n.timestamp).toLocaleTimeString()),
              h('b', { class: 'note-name' }, n.name),
              h('span', { class: 'note-reason' }, n.reason)))
        : h('li', { class: 'empty' }, 'No alert fired since this page was opened.'),
    );
    clearBtn.disabled = !notes.length;
  }
  renderNotes();

  function setUnseen(n: number) {
    unseen = n;
    hooks.badge(unseen);
  }

  let toastBox: HTMLElement | null = null;
  function toast(n: AlertNotification) {
    if (!toastBox || !toastBox.isConnected) {
      toastBox = h('div', { class: 'toasts', id: 'toasts' });
      document.body.appendChild(toastBox);
    }
    const t = h('div', { class: 'toast alert-toast', role: 'status', onclick: () => t.remove() },
      h('b', null, `⚠ ${n.name}`), h('span', { class: 'note-time' }, new Date(n.timestamp).toLocaleTimeString()), h('div', null, n.reason));
    toastBox.appendChild(t);
    while (toastBox.children.length > 4) toastBox.firstElementChild?.remove();
    setTimeout(() => t.remove(), 8000);
  }

  async function nameOf(uuid: string): Promise<string> {
    if (!names.has(uuid)) {
      try {
        const a = await api<any>('GET', `/api/alert/${encodeURIComponent(uuid)}`);
        names.set(uuid, a?.Name || uuid);
      } catch {
        names.set(uuid, uuid);
      }
    }
    return names.get(uuid)!;
  }

  async function onMessage(m: WSMessage) {
    if (m.Namespace !== 'Alert' || m.Type !== 'Alert' || !m.Obj) return;
    const o = m.Obj;
    const uuid = String(o.UUID ?? '');
    const ts = typeof o.Timestamp === 'number' ? o.Timestamp : Date.now();
    const n: AlertNotification = { uuid, name: await nameOf(uuid), timestamp: ts, reason: shortReason(o.ReasonData), data: o.ReasonData };
    notes.unshift(n);
    notes.length = Math.min(notes.length, MAX_NOTIFICATIONS);
    lastFired.set(uuid, ts);
    renderNotes();
    if (!hooks.visible()) setUnseen(unseen + 1);
    else panel.refresh();
    toast(n);
  }

  return {
    el: panel.el,
    refresh: () => {
      setUnseen(0);
      return panel.refresh();
    },
    onMessage,
    get notifications() {
      return notes;
    },
  };
}
