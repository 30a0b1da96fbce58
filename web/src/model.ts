// The client-side copy of the analyzer's graph, fed by /ws/subscriber:
// a SyncRequest answered by the whole graph, then one message per change.

export type Metadata = Record<string, any>;

export interface GNode {
  ID: string;
  Metadata: Metadata;
  Host?: string;
  Origin?: string;
  CreatedAt?: number;
  UpdatedAt?: number;
  DeletedAt?: number;
  Revision?: number;
}

export interface GEdge extends GNode {
  Parent: string;
  Child: string;
}

export interface GraphObj {
  Nodes: GNode[] | null;
  Edges: GEdge[] | null;
}

export interface WSMessage {
  Namespace: string;
  Type: string;
  UUID?: string;
  Status?: number;
  Obj?: any;
}

export const isOwnership = (e: GEdge) => e.Metadata?.RelationType === 'ownership';

/** Changes made to the store since the view last looked. */
export interface Dirty {
  nodes: Set<string>; // added, updated or deleted node IDs
  edges: Set<string>;
  reset: boolean; // the whole graph was replaced
}

/**
 * Store holds nodes, edges and the ownership tree (owner → children).
 * Mutations only mark what changed; the view reconciles in batches.
 */
export class Store {
  nodes = new Map<string, GNode>();
  edges = new Map<string, GEdge>();
  owner = new Map<string, string>(); // child → owner (via ownership edge)
  children = new Map<string, Set<string>>(); // owner → children
  adj = new Map<string, Set<string>>(); // node → incident edge IDs
  dirty: Dirty = { nodes: new Set(), edges: new Set(), reset: false };
  listeners: Array<() => void> = [];
  nodeListeners: Array<(n: GNode) => void> = [];

  takeDirty(): Dirty {
    const d = this.dirty;
    this.dirty = { nodes: new Set(), edges: new Set(), reset: false };
    return d;
  }

  private changed() {
    for (const l of this.listeners) l();
  }

  onChange(f: () => void) {
    this.listeners.push(f);
  }

  /** Replaces the whole graph (SyncReply, history). Keeps what is unchanged. */
  reset(g: GraphObj) {
    const nodes = new Map<string, GNode>();
    for (const n of g.Nodes || []) nodes.set(n.ID, n);
    const edges = new Map<string, GEdge>();
    for (const e of g.Edges || []) edges.set(e.ID, e);
    for (const id of [...this.edges.keys()]) if (!edges.has(id)) this.delEdge(id);
    for (const id of [...this.nodes.keys()]) if (!nodes.has(id)) this.delNode(id);
    for (const n of nodes.values()) this.putNode(n);
    for (const e of edges.values()) this.putEdge(e);
    this.dirty.reset = true;
    this.changed();
  }

  putNode(n: GNode) {
    if (!n || !n.ID) return;
    if (!n.Metadata) n.Metadata = {};
    this.nodes.set(n.ID, n);
    this.dirty.nodes.add(n.ID);
    for (const l of this.nodeListeners) l(n);
  }

  delNode(id: string) {
    if (!this.nodes.has(id)) return;
    for (const eid of [...(this.adj.get(id) || [])]) this.delEdge(eid);
    this.nodes.delete(id);
    this.adj.delete(id);
    this.dirty.nodes.add(id);
  }

  putEdge(e: GEdge) {
    if (!e || !e.ID) return;
    if (!e.Metadata) e.Metadata = {};
    const old = this.edges.get(e.ID);
    if (old) this.unlink(old);
    this.edges.set(e.ID, e);
    for (const end of [e.Parent, e.Child]) {
      let s = this.adj.get(end);
      if (!s) this.adj.set(end, (s = new Set()));
      s.add(e.ID);
    }
    if (isOwnership(e)) {
      this.owner.set(e.Child, e.Parent);
      let s = this.children.get(e.Parent);
      if (!s) this.children.set(e.Parent, (s = new Set()));
      s.add(e.Child);
      this.dirty.nodes.add(e.Child);
      this.dirty.nodes.add(e.Parent);
    }
    this.dirty.edges.add(e.ID);
  }

  private unlink(e: GEdge) {
    this.adj.get(e.Parent)?.delete(e.ID);
    this.adj.get(e.Child)?.delete(e.ID);
    if (isOwnership(e) && this.owner.get(e.Child) === e.Parent) {
      this.owner.delete(e.Child);
      this.children.get(e.Parent)?.delete(e.Child);
      this.dirty.nodes.add(e.Child);
      this.dirty.nodes.add(e.Parent);
    }
  }

  delEdge(id: string) {
    const e = this.edges.get(id);
    if (!e) return;
    this.unlink(e);
    this.edges.delete(id);
    this.dirty.edges.add(id);
  }

  /** Applies one Graph message; answers whether it was understood. */
  apply(m: WSMessage): boolean {
    switch (m.Type) {
      case 'SyncReply':
        this.reset(m.Obj || { Nodes: [], Edges: [] });
        return true;
      case 'NodeAdded':
      case 'NodeUpdated':
        this.putNode(m.Obj);
        break;
      case 'NodePartiallyUpdated': {
        // {ID, Revision, UpdatedAt, Ops:[{Type, Key, Value}]} in the original.
        const o = m.Obj || {};
        const n = this.nodes.get(o.ID);
        if (!n) return false;
        for (const op of o.Ops || []) {
          if (op.Type === 0 || op.Type === 'Add' || op.Type === 'add') n.Metadata[op.Key] = op.Value;
          else delete n.Metadata[op.Key];
        }
        if (o.Revision) n.Revision = o.Revision;
        if (o.UpdatedAt) n.UpdatedAt = o.UpdatedAt;
        this.putNode(n);
        break;
      }
      case 'NodeDeleted':
        this.delNode(m.Obj?.ID);
        break;
      case 'EdgeAdded':
      case 'EdgeUpdated':
        this.putEdge(m.Obj);
        break;
      case 'EdgeDeleted':
        this.delEdge(m.Obj?.ID);
        break;
      default:
        return false;
    }
    this.changed();
    return true;
  }

  depth(id: string): number {
    let d = 0;
    for (let o = this.owner.get(id); o !== undefined && d < 64; o = this.owner.get(o)) d++;
    return d;
  }

  ancestors(id: string): string[] {
    const out: string[] = [];
    for (let o = this.owner.get(id); o !== undefined && out.length < 64; o = this.owner.get(o)) out.push(o);
    return out;
  }
}

export type ConnState = 'connecting' | 'connected' | 'disconnected';

/**
 * Subscriber keeps a websocket to /ws/subscriber open: SyncRequest on each
 * (re)connection, messages handed to onMessage, reconnection with backoff.
 */
export class Subscriber {
  ws?: WebSocket;
  state: ConnState = 'disconnected';
  private backoff = 500;
  private timer?: number;
  private stopped = false;
  onState: (s: ConnState, info?: string) => void = () => {};
  onMessage: (m: WSMessage) => void = () => {};
  syncs = 0;

  constructor(public url: string) {}

  start() {
    this.stopped = false;
    this.backoff = 500;
    clearTimeout(this.timer);
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close();
  }

  /** Asks the whole graph again. */
  resync() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ Namespace: 'Graph', Type: 'SyncRequest', UUID: `sync-${++this.syncs}`, Obj: {} }));
    }
  }

  private setState(s: ConnState, info?: string) {
    this.state = s;
    this.onState(s, info);
  }

  private connect() {
    this.setState('connecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.retry(String(e));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 500;
      this.setState('connected');
      this.resync();
    };
    ws.onmessage = (ev) => {
      let m: WSMessage;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.onMessage(m);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.retry(ev.reason || `closed (${ev.code})`);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private retry(info: string) {
    if (this.stopped) return;
    this.setState('disconnected', info);
    const d = this.backoff;
    this.backoff = Math.min(this.backoff * 2, 10000);
    this.timer = window.setTimeout(() => this.connect(), d + Math.random() * 250);
  }
}

export function wsURL(path: string): string {
  const u = new URL(path, window.location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}
