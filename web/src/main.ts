import './style.css';
import { h, clear, fmt } from './dom';
import { Store, Subscriber, wsURL, GNode, GraphObj } from './model';
import { TopologyView, TYPE_STYLES, FABRIC, EDGE_LOOKS, DOWN_RED, styleOf } from './view';
import { badgeIcon, EdgeLook } from './canvas';
import { DetailsPanel } from './details';
import { gremlin, collectIDs, gq, APIError, uiFetch, setUnauthorizedHandler } from './api';
import { LoginScreen, Permission, setPermissions, permissionsFromCookie, rememberedUser, logout } from './auth';
import { parseDuration, formatDuration } from './duration';
import { mountPanels, PanelContext } from './panels';

// Numbers the browser tests read (first render time, counts).
const perf = {
  syncs: 0,
  firstSyncAt: 0,
  firstRenderAt: 0,
  lastFlushMs: 0,
  firstDrawMs: 0,
  lastApplyMs: 0,
  visibleNodes: 0,
  visibleEdges: 0,
  nodes: 0,
  edges: 0,
};
(window as any).__skydive = { perf };

const params = new URLSearchParams(location.search);
const store = new Store();

// ---- layout
const conn = h('span', { class: 'conn connecting', id: 'conn' }, 'connecting');
const counts = h('span', { class: 'counts', id: 'counts' });
const searchMode = h('select', { id: 'search-mode', title: 'Search by name or by Gremlin query' }, h('option', { value: 'name' }, 'Name'), h('option', { value: 'gremlin' }, 'Gremlin'));
const searchInput = h('input', { id: 'search', type: 'search', placeholder: 'search nodes by name…', size: 36 });
const searchInfo = h('span', { class: 'search-info', id: 'search-info' });
const timeMode = h('select', { id: 'time-mode' }, h('option', { value: 'live' }, 'Live'), h('option', { value: 'history' }, 'History'));
const timeSlider = h('input', { id: 'time-slider', type: 'range', min: 0, max: 120, value: 0, step: 1, title: 'minutes ago' });
const timeAgo = h('input', { id: 'time-ago', type: 'text', size: 7, value: 'now', title: 'How long ago: now, 30s, 5m, 2h30m (Enter)' });
const diffBtn = h('button', { id: 'diff-btn', title: 'Changes between the two times' }, 'Diff');
const diffFrom = h('input', { id: 'diff-from', type: 'text', size: 5, value: '5m', title: 'Changes over this long before the shown time: 30s, 5m, 1h' });
const timeBox = h('span', { class: 'timebox' }, timeMode, timeSlider, timeAgo, h('span', { class: 'sep' }, 'changes over last'), diffFrom, diffBtn);
const userName = h('span', { class: 'user-name', id: 'user-name' });
const logoutBtn = h('button', { id: 'logout', title: 'Log out of this analyzer', onclick: () => logout() }, 'Log out');
const userBox = h('span', { class: 'user-box', id: 'user-box', hidden: true }, userName, logoutBtn);
const header = h('header', null, h('span', { class: 'logo' }, 'Skydive'), timeBox, h('span', { class: 'search' }, searchMode, searchInput, searchInfo), h('span', { class: 'spacer' }), counts, conn, userBox);

const graphEl = h('div', { id: 'graph' });
const toolbar = h('div', { class: 'toolbar' });
const legend = h('div', { class: 'legend', id: 'legend' });
const banner = h('div', { class: 'banner hidden', id: 'banner' });
const side = h('aside', { id: 'side' });
const main = h('main', null, h('div', { class: 'graph-wrap' }, graphEl, toolbar, legend, banner), side);
clear(document.getElementById('app')!, header, main);

const view = new TopologyView(store, graphEl);
(window as any).__skydive.view = view;
(window as any).__skydive.store = store;
view.onStats = (s) => {
  perf.visibleNodes = s.visibleNodes;
  perf.visibleEdges = s.visibleEdges;
  perf.nodes = store.nodes.size;
  perf.edges = store.edges.size;
  counts.textContent = `${fmt(store.nodes.size)} nodes · ${fmt(store.edges.size)} links · ${fmt(s.visibleNodes)} shown`;
};

function select(id: string | null, kind: 'node' | 'edge' | null = 'node') {
  view.select(id);
  details.show(id ? kind : null, id);
  panels.selectionChanged();
}

const details = new DetailsPanel(store, {
  toggle: (id) => {
    view.toggle(id);
    details.render();
  },
  expanded: (id) => view.expanded.has(id),
  hasChildren: (id) => view.hasChildren(id),
  capture: (n) => panels.captureNode(n),
  select: (id) => {
    view.reveal([id]);
    select(id);
  },
});
view.onSelect = (kind, id) => {
  details.show(kind, id);
  panels.selectionChanged();
};
view.onDoubleTap = () => details.render();

// ---- toolbar and legend
const tb = (label: string, id: string, f: () => void, title = '') => h('button', { id, onclick: f, title }, label);
clear(
  toolbar,
  tb('Expand level', 'expand-level', () => view.expandLevel(), 'Expand every collapsed node of the next level'),
  tb('Collapse level', 'collapse-level', () => view.collapseLevel(), 'Collapse the deepest expanded level'),
  tb('Expand all', 'expand-all', () => view.expandAll()),
  tb('Collapse all', 'collapse-all', () => view.collapseAll()),
  tb('Fit', 'fit', () => view.fit()),
  tb('Re-layout', 'relayout', () => view.relayout(), 'Forget positions and place the shown nodes again'),
);

const legendItems: [string, string, string][] = [];
const seen = new Set<string>();
for (const st of [...Object.values(TYPE_STYLES), FABRIC]) {
  if (seen.has(st.label)) continue;
  seen.add(st.label);
  legendItems.push([st.color, st.shape, st.label]);
}
legendItems.push([styleOf('').color, 'ellipse', 'other']);
/** A legend line drawn as the canvas draws that kind of edge. */
const edgeSwatch = (l: EdgeLook) =>
  h('span', {
    class: `sw line ${l.dash}`,
    style: l.dash === 'solid' ? { background: l.color, height: `${Math.max(2, Math.round(l.width))}px` } : { borderTop: `2px ${l.dash} ${l.color}`, height: '0' },
  });
const legendRows = [
  ...legendItems.map(([c, shape, l]) => h('div', null, h('span', { class: `sw ${shape}`, style: { background: c } }), l)),
  h('div', null, h('span', { class: 'sw ellipse', style: { background: styleOf('veth').color, border: `2px dashed ${DOWN_RED}` } }), 'interface down (State DOWN)'),
  // The same picture as in the drawing: canvas.ts paints both.
  h('div', { id: 'legend-instance' }, badgeIcon('instance', styleOf('tap').color, 20), 'OpenStack instance interface'),
  h('div', null, h('span', { class: 'sw ellipse', style: { background: '#fff', border: '3px double #445' } }), 'collapsed (double-click to expand)'),
  h('div', null, edgeSwatch(EDGE_LOOKS.layer2), 'layer2 link'),
  h('div', null, edgeSwatch(EDGE_LOOKS.ownership), 'ownership'),
  h('div', null, edgeSwatch(EDGE_LOOKS.vlayer2), 'VM to its interface (vlayer2)'),
  h('div', null, edgeSwatch(EDGE_LOOKS.mapping), 'OVN logical port to interface (mapping)'),
  h('div', null, edgeSwatch(EDGE_LOOKS.other), 'other link'),
];
// Folded at first: a fit leaves its corner free (view.insets), and opened it
// takes the left band, which a fit leaves free too.
legend.classList.add('folded');
view.insets = () => {
  const r = legend.getBoundingClientRect();
  return legend.classList.contains('folded') ? { bottom: r.height + 8 } : { left: r.width + 8 };
};
clear(
  legend,
  h('div', { class: 'legend-title' }, 'Legend ', h('a', { href: '#', id: 'legend-toggle', onclick: (e: Event) => (e.preventDefault(), legend.classList.toggle('folded')) }, '±')),
  // Two columns, filled top to bottom: one would cover most of the drawing's height.
  h('div', { class: 'legend-body', style: { gridTemplateRows: `repeat(${Math.ceil(legendRows.length / 2)}, auto)` } }, legendRows),
);

// ---- live updates
const sub = new Subscriber(params.get('ws') || wsURL('/ws/subscriber?x-client-type=webui'));
let live = true;
let firstSync = true;
sub.onState = (s, info) => {
  conn.className = `conn ${s}`;
  conn.textContent = s === 'disconnected' ? `disconnected${info ? ': ' + info : ''} — reconnecting` : s;
  // A browser does not tell why a websocket was refused: ask the API whether it is a 401.
  if (s === 'disconnected') checkAuth();
};
sub.onMessage = (m) => {
  if (m.Namespace !== 'Graph') return panels.onMessage(m);
  if (!live) return;
  if (m.Type === 'SyncReply') {
    if (m.Status && m.Status !== 200) return;
    perf.syncs++;
    if (!perf.firstSyncAt) perf.firstSyncAt = performance.now();
    const t0 = performance.now();
    store.apply(m);
    perf.lastApplyMs = performance.now() - t0;
    if (firstSync) {
      firstSync = false;
      initialView();
    }
    return;
  }
  store.apply(m);
};

function initialView() {
  const t0 = performance.now();
  view.flush();
  const exp = params.get('expand');
  if (exp === 'all') view.expandAll();
  else if (exp && /^\d+$/.test(exp)) for (let i = 0; i < Number(exp); i++) view.expandLevel();
  view.fit();
  perf.lastFlushMs = performance.now() - t0;
  // The view draws in the next animation frame: that frame is the first render.
  const frames = view.canvas.frames;
  const prev = view.canvas.onDraw;
  view.canvas.onDraw = () => {
    if (view.canvas.frames > frames && !perf.firstRenderAt) {
      perf.firstRenderAt = performance.now();
      perf.firstDrawMs = view.canvas.lastDrawMs;
      view.canvas.onDraw = prev;
    }
  };
}

// ---- search
async function runSearch() {
  const q = searchInput.value.trim();
  searchInfo.textContent = '';
  searchInfo.className = 'search-info';
  if (!q) {
    view.setHighlight([]);
    return;
  }
  const nodes = new Set<string>();
  const edges = new Set<string>();
  if (searchMode.value === 'name') {
    const low = q.toLowerCase();
    for (const n of store.nodes.values()) if (String(n.Metadata.Name ?? '').toLowerCase().includes(low)) nodes.add(n.ID);
  } else {
    try {
      collectIDs(await gremlin(q), nodes, edges);
    } catch (e) {
      searchInfo.textContent = e instanceof APIError ? e.message : String(e);
      searchInfo.className = 'search-info error';
      return;
    }
  }
  for (const id of edges) {
    const e = store.edges.get(id);
    if (e) {
      nodes.add(e.Parent);
      nodes.add(e.Child);
    }
  }
  const ids = [...nodes].filter((id) => store.nodes.has(id));
  if (ids.length <= 500) view.reveal(ids);
  view.setHighlight([...ids, ...edges]);
  searchInfo.textContent = `${ids.length} match${ids.length === 1 ? '' : 'es'}${ids.length > 500 ? ' (first 500 not revealed)' : ''}`;
  if (ids.length) view.fit(ids.slice(0, 500));
  if (ids.length === 1) select(ids[0]);
}
searchInput.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') runSearch();
});
searchInput.addEventListener('search', () => {
  if (!searchInput.value) runSearch();
});
searchMode.addEventListener('change', () => {
  searchInput.placeholder = searchMode.value === 'name' ? 'search nodes by name…' : "G.V().Has('Type', 'netns')";
});

// ---- time travel: G.At(t) and Diff
function shownTime(): number {
  return Math.floor(Date.now() / 1000) - parseDuration(timeAgo.value);
}
/** The shown time, or now while the typed duration is not valid. */
function safeShownTime(): number {
  try {
    return shownTime();
  } catch {
    return Math.floor(Date.now() / 1000);
  }
}
function showBanner(text: string, cls = '') {
  banner.className = `banner ${cls}`;
  clear(banner, text);
  if (!text) banner.classList.add('hidden');
}
async function loadHistory() {
  let t: number;
  try {
    t = shownTime();
  } catch (e) {
    showBanner(e instanceof Error ? e.message : String(e), 'error');
    return;
  }
  try {
    const res = await gremlin<any>(`G.At(${t})`);
    const g: GraphObj = Array.isArray(res) ? res[0] || { Nodes: [], Edges: [] } : res;
    store.reset({ Nodes: g.Nodes || [], Edges: g.Edges || [] });
    view.flush();
    showBanner(`History: topology as it was at ${new Date(t * 1000).toLocaleString()} (live updates paused)`, 'history');
  } catch (e) {
    showBanner(`History not available: ${e instanceof Error ? e.message : e}`, 'error');
  }
}
function goLive() {
  live = true;
  timeMode.value = 'live';
  timeSlider.value = '0';
  timeAgo.value = 'now';
  view.setMarks(new Map());
  showBanner('');
  sub.resync();
}
function goHistory() {
  timeMode.value = 'history';
  live = false;
  loadHistory();
}
timeMode.addEventListener('change', () => (timeMode.value === 'live' ? goLive() : goHistory()));
timeSlider.addEventListener('input', () => {
  timeAgo.value = formatDuration(Number(timeSlider.value) * 60);
});
timeSlider.addEventListener('change', () => {
  if (Number(timeSlider.value) === 0 && timeMode.value === 'live') return;
  goHistory();
});
timeAgo.addEventListener('keydown', (e) => {
  if (e.key !== 'Enter') return;
  let ago: number;
  try {
    ago = parseDuration(timeAgo.value);
  } catch (err) {
    showBanner(err instanceof Error ? err.message : String(err), 'error');
    return;
  }
  timeSlider.value = String(Math.min(120, Math.round(ago / 60)));
  if (ago === 0) goLive();
  else goHistory();
});

const diffPanel = h('div', { class: 'diff', id: 'diff' });
async function runDiff() {
  const to = live ? Math.floor(Date.now() / 1000) : safeShownTime();
  let span: number;
  try {
    span = parseDuration(diffFrom.value || '5m');
  } catch (e) {
    clear(diffPanel, h('p', { class: 'error' }, e instanceof Error ? e.message : String(e)));
    showSideTab('diff');
    return;
  }
  const from = to - Math.max(1, span);
  const prefix = live ? 'G' : `G.At(${to})`;
  try {
    const [nv, ev] = await Promise.all([gremlin<any>(`${prefix}.V().Diff(${from})`), gremlin<any>(`${prefix}.E().Diff(${from})`)]);
    const dn = (Array.isArray(nv) ? nv[0] : nv) || {};
    const de = (Array.isArray(ev) ? ev[0] : ev) || {};
    const marks = new Map<string, string>();
    for (const n of dn.Added || []) marks.set(n.ID, 'diff-added');
    for (const c of dn.Changed || []) marks.set(c.ID, 'diff-changed');
    view.setMarks(marks);
    const name = (n: GNode) => `${n.Metadata?.Name ?? n.ID} (${n.Metadata?.Type ?? ''})`;
    clear(
      diffPanel,
      h('h3', null, `Changes ${new Date(from * 1000).toLocaleTimeString()} → ${new Date(to * 1000).toLocaleTimeString()}`, h('button', { class: 'close', onclick: () => (view.setMarks(new Map()), clear(diffPanel)) }, '×')),
      h('div', { class: 'diff-added' }, `Added nodes: ${(dn.Added || []).length}`), h('ul', null, (dn.Added || []).slice(0, 100).map((n: GNode) => h('li', null, name(n)))),
      h('div', { class: 'diff-removed' }, `Removed nodes: ${(dn.Removed || []).length}`), h('ul', null, (dn.Removed || []).slice(0, 100).map((n: GNode) => h('li', null, name(n)))),
      h('div', { class: 'diff-changed' }, `Changed nodes: ${(dn.Changed || []).length}`), h('ul', null, (dn.Changed || []).slice(0, 100).map((c: any) => h('li', null, `${name(c.New || c.Old || { ID: c.ID, Metadata: {} })}: ${(c.Keys || []).join(', ')}`))),
      h('div', null, `Links: +${(de.Added || []).length} −${(de.Removed || []).length} ~${(de.Changed || []).length}`),
    );
    showSideTab('diff');
  } catch (e) {
    clear(diffPanel, h('p', { class: 'error' }, `Diff not available: ${e instanceof Error ? e.message : e}`));
    showSideTab('diff');
  }
}
diffBtn.addEventListener('click', runDiff);

// ---- right pane
const ctx: PanelContext = {
  store,
  view,
  selected: () => {
    const id = view.selected();
    return id ? store.nodes.get(id) || null : null;
  },
  highlight: (ids) => {
    view.reveal(ids);
    view.setHighlight(ids);
    if (ids.length) view.fit(ids);
  },
  trace: (legs) => {
    view.reveal(legs.flatMap((l) => [l.from, l.to]));
    view.canvas.setTrace(legs);
  },
  isLive: () => live,
  shownTime: safeShownTime,
  gq,
};
const panels = mountPanels(side, details.el, diffPanel, ctx);
function showSideTab(name: string) {
  panels.show(name);
}

// ---- authentication (auth.ts): a login form when the API answers 401
const loginScreen = new LoginScreen();
(window as any).__skydive.auth = { backend: '', user: '', loggedIn: false };
let loginWait: Promise<void> | null = null;

function showUser(backend: string, user: string) {
  Object.assign((window as any).__skydive.auth, { backend, user, loggedIn: true });
  userName.textContent = user || 'logged in';
  userBox.title = `Logged in${user ? ` as ${user}` : ''} (authentication: ${backend})`;
  userBox.hidden = false;
}

/** Stops everything behind the login form until the user logs in, then starts again. */
function needLogin(info = ''): Promise<void> {
  if (loginWait) return loginWait;
  sub.stop();
  conn.className = 'conn disconnected';
  conn.textContent = 'not logged in';
  loginWait = loginScreen.show(info).then(async (perms: Permission[] | null) => {
    loginWait = null;
    setPermissions(perms);
    const st = await status();
    showUser(st.body?.Security?.AuthBackend || 'the analyzer', rememberedUser());
    sub.start();
    panels.refresh();
  });
  return loginWait;
}
setUnauthorizedHandler(() => void needLogin());

/** GET /api/status: its HTTP status, and the body when 200. */
async function status(): Promise<{ code: number; body?: any }> {
  try {
    const { text } = await uiFetch('/api/status');
    return { code: 200, body: JSON.parse(text) };
  } catch (e) {
    return { code: e instanceof APIError ? e.status : 0 };
  }
}

let checking = false;
async function checkAuth() {
  if (checking || loginWait) return;
  checking = true;
  try {
    await status(); // a 401 calls needLogin
  } finally {
    checking = false;
  }
}

async function boot() {
  // The websocket once the API lets us in: a 401 brings the login form
  // (needLogin, from uiFetch), which starts it after logging in. Any other
  // answer (no /api/status on this analyzer, an error) starts it too.
  const st = await status();
  if (st.code === 401) return;
  // A 403 (a role without status read) says that authentication is on too.
  const backend = st.body?.Security?.AuthBackend || (st.code === 403 ? 'the analyzer' : '');
  if (backend) {
    setPermissions(permissionsFromCookie());
    showUser(backend, rememberedUser());
  }
  sub.start();
}
boot();
