// The topology view: a GraphCanvas (canvas.ts) holding only the visible part
// of the store. A node is visible when every owner above it is expanded.
// Positions are computed once, when a node is first shown, near its owner,
// and kept: the drawing keeps its shape while nodes come and go.

import { GraphCanvas, NodeLook, EdgeLook, Shape, Icon, LabelRank, HullSpec, Insets } from './canvas';
import { Store, GNode, GEdge, isOwnership } from './model';

export interface TypeStyle {
  color: string;
  shape: Shape;
  size: number;
  label: string;
  rank?: LabelRank; // default: an interface's
  icon?: Icon;
  hull?: string; // the tint of its group's area when expanded
}

// Colours of Red Hat's guide and the original UI: physical NICs and OVS
// bridges beige, namespaces blue, down interfaces red.
export const BEIGE = '#f4e7c0';
export const NS_BLUE = '#709faf';
export const DOWN_RED = '#cf5c67';
// The original drew the fabric and LLDP groups in this orange.
export const FABRIC_ORANGE = '#fac24d';
// The red of the OpenStack instance mark (canvas.ts BADGES.instance).
export const INSTANCE_RED = '#e0162b';

export const TYPE_STYLES: Record<string, TypeStyle> = {
  host: { color: '#5b6b82', shape: 'round-rectangle', size: 46, label: 'host', rank: LabelRank.Host, icon: 'host', hull: '#5b6b82' },
  netns: { color: NS_BLUE, shape: 'hexagon', size: 34, label: 'network namespace', rank: LabelRank.Namespace, icon: 'netns', hull: NS_BLUE },
  device: { color: BEIGE, shape: 'ellipse', size: 24, label: 'physical NIC (device)' },
  ovsbridge: { color: BEIGE, shape: 'diamond', size: 32, label: 'OVS bridge', rank: LabelRank.Group, icon: 'bridge', hull: '#5fbf3a' },
  openvswitch: { color: BEIGE, shape: 'octagon', size: 32, label: 'Open vSwitch', rank: LabelRank.Group, icon: 'bridge', hull: '#c9a227' },
  ovsport: { color: '#fdd0a2', shape: 'round-rectangle', size: 22, label: 'OVS port' },
  bond: { color: '#fdd0a2', shape: 'round-rectangle', size: 22, label: 'bond' },
  bridge: { color: '#a6dfcc', shape: 'diamond', size: 28, label: 'Linux bridge', rank: LabelRank.Group, icon: 'bridge', hull: '#3fae8c' },
  veth: { color: '#d8cdef', shape: 'ellipse', size: 20, label: 'veth' },
  tap: { color: '#c6e2f5', shape: 'ellipse', size: 20, label: 'tap / tun' },
  tun: { color: '#c6e2f5', shape: 'ellipse', size: 20, label: 'tap / tun' },
  internal: { color: '#efe3a6', shape: 'ellipse', size: 20, label: 'OVS internal' },
  patch: { color: '#efe3a6', shape: 'ellipse', size: 20, label: 'OVS patch' },
  vxlan: { color: '#e3c9a4', shape: 'ellipse', size: 20, label: 'tunnel (vxlan, gre, geneve)', icon: 'tunnel' },
  gre: { color: '#e3c9a4', shape: 'ellipse', size: 20, label: 'tunnel (vxlan, gre, geneve)', icon: 'tunnel' },
  geneve: { color: '#e3c9a4', shape: 'ellipse', size: 20, label: 'tunnel (vxlan, gre, geneve)', icon: 'tunnel' },
  macvlan: { color: '#d5e8c4', shape: 'ellipse', size: 20, label: 'macvlan / vlan' },
  vlan: { color: '#d5e8c4', shape: 'ellipse', size: 20, label: 'macvlan / vlan' },
  container: { color: '#9cc5a1', shape: 'round-rectangle', size: 30, label: 'container', rank: LabelRank.Group, icon: 'container', hull: '#5e9e66' },
  libvirt: { color: '#9cc5a1', shape: 'round-rectangle', size: 30, label: 'VM (libvirt)', rank: LabelRank.Group, icon: 'vm', hull: '#5e9e66' },
  // LLDP neighbours; fabric objects (FABRIC below) share the look.
  switch: { color: FABRIC_ORANGE, shape: 'rectangle', size: 32, label: 'switch (LLDP) / fabric object', rank: LabelRank.Group, icon: 'switch', hull: FABRIC_ORANGE },
  switchport: { color: '#fcdc94', shape: 'rectangle', size: 18, label: 'switch port (LLDP)' },
  // OVN northbound objects (Manager ovn): switches teal, routers purple.
  logical_switch: { color: '#7cc4bd', shape: 'diamond', size: 30, label: 'OVN logical switch', rank: LabelRank.Group, icon: 'bridge', hull: '#3f9e96' },
  logical_port: { color: '#c4e6e2', shape: 'ellipse', size: 18, label: 'OVN logical switch port' },
  logical_router: { color: '#b39ddb', shape: 'octagon', size: 30, label: 'OVN logical router', rank: LabelRank.Group, hull: '#7e57c2' },
  logical_router_port: { color: '#dcd0f0', shape: 'ellipse', size: 18, label: 'OVN logical router port' },
};
/** Objects of the fabric probe: Type device unless the definition says otherwise. */
export const FABRIC: TypeStyle = { color: FABRIC_ORANGE, shape: 'rectangle', size: 26, label: 'switch (LLDP) / fabric object', rank: LabelRank.Group, icon: 'switch', hull: FABRIC_ORANGE };
const OTHER: TypeStyle = { color: '#dddddd', shape: 'ellipse', size: 20, label: 'other interface' };

export const styleOf = (type: string): TypeStyle => TYPE_STYLES[type] || OTHER;

/** The style of a node: by type, except fabric objects, which are not NICs although typed device. */
export function styleOfNode(n: GNode): TypeStyle {
  const type = String(n.Metadata.Type || '');
  if (n.Metadata.Probe === 'fabric' && (type === 'device' || !TYPE_STYLES[type])) return FABRIC;
  return styleOf(type);
}

const GROUP_TYPES = new Set(['host', 'netns', 'ovsbridge', 'openvswitch', 'container', 'libvirt', 'bridge', 'switch', 'fabric', 'logical_switch', 'logical_router']);

export function isDown(n: GNode): boolean {
  const s = n.Metadata?.State;
  return typeof s === 'string' && s.toUpperCase() === 'DOWN';
}

/**
 * OpenStack instance interfaces (the guide marks them with a logo): the ports
 * of a VM (ExtID vm-id, set by Nova on the OVS interface) and the interfaces
 * the neutron probe matched to a Neutron port. ExtID iface-id alone is not
 * enough: OVN sets it on every port it binds, OpenStack or not.
 */
export function isInstance(n: GNode): boolean {
  const m = n.Metadata || {};
  return !!(m.ExtID?.['vm-id'] || m['ExtID.vm-id'] || m.Manager === 'neutron' || m.Neutron);
}

type Pos = { x: number; y: number };

// Layout: every group (a host, a namespace, a bridge ...) is a box holding
// its children, computed from the store once, when its first child is
// shown, and kept: nodes that come later take the next free places, nothing
// moves. Leaves sit in cells wide enough for their label; group children
// are boxes of their own, packed in shelves with the leaves.
const LEAF_W = 76;
const LEAF_H = 48;
const HEADER_H = 64; // a group's own node and label, above its children
const BOX_PAD = 16;
const ROOT_GAP = 90;
// A collapsed host's cell: its node and label.
const COLLAPSED_W = 260;
const COLLAPSED_H = 140;
const ROOT_COLS = 10;
// Roots that are not hosts (fabric objects, LLDP switches, OVN's logical
// switches and routers) go in rows of their own above the hosts, packed
// tighter: spread among the hosts they made the drawing a thin line.
const OTHER_ROOT_CELL = 150;
const OTHER_ROOT_COLS = 12;
const OTHER_ROOTS = '^'; // placedUnder's mark for them

interface Box {
  w: number;
  h: number;
}

/** Where an owner's children go, relative to the owner's node. */
interface ChildLayout {
  at: Map<string, Pos>;
  box: Box;
  // Children that came after the layout: a row below it.
  nextX: number;
  nextY: number;
}

/** Slots hands out ring positions around an owner, reusing freed ones. */
class Slots {
  taken: (string | null)[] = [];
  take(id: string): number {
    let i = this.taken.indexOf(null);
    if (i < 0) i = this.taken.push(id) - 1;
    else this.taken[i] = id;
    return i;
  }
  free(id: string) {
    const i = this.taken.indexOf(id);
    if (i >= 0) this.taken[i] = null;
  }
}

export interface ViewStats {
  visibleNodes: number;
  visibleEdges: number;
}

export const EDGE_LOOKS: Record<string, EdgeLook> = {
  ownership: { color: '#c9c9c9', width: 1, dash: 'solid' },
  layer2: { color: '#555', width: 2, dash: 'solid' },
  // Links that are not wires: a VM to its tap (libvirt), an OVN logical
  // port to the interface bound to it. Thin and broken, so that they do not
  // read as layer2 or ownership.
  vlayer2: { color: '#3f8f4f', width: 1.3, dash: 'dashed' },
  mapping: { color: '#8e6cc0', width: 1.6, dash: 'dotted' },
  other: { color: '#7a9cc6', width: 1.5, dash: 'dashed' },
  hl: { color: '#e0b000', width: 3, dash: 'solid' },
};
/** Relation types with a look of their own; the others are drawn as 'other'. */
const RELATION_KINDS = new Set(['layer2', 'vlayer2', 'mapping']);
const OVERLAYS: Record<string, string> = { hl: '#ffd400', 'diff-added': '#2ca02c', 'diff-changed': '#ff7f0e' };

/** The look of a node from its classes, in the order the original's stylesheet applied them. */
export function nodeLook(st: TypeStyle, label: string, cls: Set<string>): NodeLook {
  const look: NodeLook = {
    fill: st.color, shape: st.shape, size: st.size, label, stroke: '#8a8a7a', strokeWidth: 1, dashed: false, double: false, overlay: '', badge: '',
    rank: st.rank ?? LabelRank.Leaf, icon: st.icon ?? '',
  };
  if (cls.has('group')) (look.stroke = '#445'), (look.strokeWidth = 2);
  if (cls.has('collapsed')) (look.double = true), (look.strokeWidth = 4);
  // The badge says it; a red border of the badge's colour ties the two together.
  if (cls.has('instance')) (look.badge = 'instance'), (look.stroke = INSTANCE_RED), (look.strokeWidth = cls.has('collapsed') ? look.strokeWidth : 1.5);
  // Down: its own colour kept, a broken red outline (over the instance's
  // border: the badge still says instance); an idle host's taps must not
  // read as an outage.
  if (cls.has('down')) (look.stroke = DOWN_RED), (look.dashed = true), (look.strokeWidth = Math.max(look.strokeWidth, 2.5));
  for (const c of ['hl', 'diff-added', 'diff-changed']) if (cls.has(c)) look.overlay = OVERLAYS[c];
  return look;
}

export class TopologyView {
  readonly canvas: GraphCanvas;
  expanded = new Set<string>();
  pos = new Map<string, Pos>();
  placedUnder = new Map<string, string>(); // node → owner it was placed near ('' = root slot)
  otherRootSlots = new Slots();
  layouts = new Map<string, ChildLayout>(); // owner → its children's places
  rootOrder: string[] = []; // hosts, in the order they came
  rootAt = new Map<string, Pos>(); // hosts' places
  highlighted = new Set<string>();
  marks = new Map<string, string>(); // node → extra class (diff-added ...)
  classes = new Map<string, Set<string>>(); // shown element → its classes
  types = new Map<string, string>(); // shown node → its Type
  frozen = false;
  onSelect: (kind: 'node' | 'edge' | null, id: string | null) => void = () => {};
  onDoubleTap: (id: string) => void = () => {};
  onStats: (s: ViewStats) => void = () => {};
  private flushTimer = 0;

  constructor(public store: Store, container: HTMLElement) {
    this.canvas = new GraphCanvas(container, { minZoom: 0.02, maxZoom: 4 });
    this.canvas.onTap = (kind, id) => {
      this.canvas.select(id);
      this.onSelect(kind, id);
    };
    this.canvas.onDoubleTap = (id) => {
      this.toggle(id);
      this.onDoubleTap(id);
    };
    this.canvas.onDragEnd = (id, p) => this.pos.set(id, { ...p });
    store.onChange(() => this.schedule());
  }

  /** Is the element (node or edge) in the drawing? */
  shown(id: string): boolean {
    return this.canvas.hasNode(id) || this.canvas.hasEdge(id);
  }

  hasClass(id: string, cls: string): boolean {
    return !!this.classes.get(id)?.has(cls);
  }

  /** Fill colour of a shown node ('' when not shown). */
  fillOf(id: string): string {
    const l = this.canvas.look(id);
    return l && 'fill' in l ? l.fill : '';
  }

  /** Types of the shown nodes. */
  shownTypes(): string[] {
    return [...this.types.values()];
  }

  /** Visible: every owner above is expanded. */
  visible(id: string): boolean {
    if (!this.store.nodes.has(id)) return false;
    let guard = 0;
    for (let o = this.store.owner.get(id); o !== undefined && guard++ < 64; o = this.store.owner.get(o)) {
      if (!this.expanded.has(o) || !this.store.nodes.has(o)) return false;
    }
    return true;
  }

  private nodeClasses(n: GNode): { type: string; label: string; cls: Set<string> } {
    const type = String(n.Metadata.Type || '');
    const kids = this.store.children.get(n.ID)?.size || 0;
    const collapsed = kids > 0 && !this.expanded.has(n.ID);
    let label = String(n.Metadata.Name ?? n.ID.slice(0, 8));
    if (collapsed) label += ` (+${kids})`;
    const cls = new Set<string>();
    if (type === 'host') cls.add('host');
    if (isDown(n)) cls.add('down');
    if (isInstance(n)) cls.add('instance');
    if (kids > 0 || GROUP_TYPES.has(type)) cls.add('group');
    if (collapsed) cls.add('collapsed');
    if (this.highlighted.has(n.ID)) cls.add('hl');
    const m = this.marks.get(n.ID);
    if (m) cls.add(m);
    return { type, label, cls };
  }

  private drawNode(n: GNode, pos?: Pos) {
    const { type, label, cls } = this.nodeClasses(n);
    this.classes.set(n.ID, cls);
    this.types.set(n.ID, type);
    this.canvas.setNode(n.ID, nodeLook(styleOfNode(n), label, cls), pos);
  }

  private drawEdge(e: GEdge) {
    const rt = String(e.Metadata.RelationType || '');
    const kind = isOwnership(e) ? 'ownership' : RELATION_KINDS.has(rt) ? rt : 'other';
    // An expanded group's hull says what it owns: its ownership links would
    // only cross the drawing.
    if (kind === 'ownership' && !this.highlighted.has(e.ID) && this.hullOwner(e.Parent)) {
      this.undraw(e.ID);
      return;
    }
    const cls = new Set([kind]);
    if (this.highlighted.has(e.ID)) cls.add('hl');
    this.classes.set(e.ID, cls);
    this.canvas.setEdge(e.ID, e.Parent, e.Child, EDGE_LOOKS[cls.has('hl') ? 'hl' : kind]);
  }

  private undraw(id: string) {
    this.canvas.removeNode(id);
    this.canvas.removeEdge(id);
    this.classes.delete(id);
    this.types.delete(id);
  }

  /** Position of a node about to be shown: kept, or near its owner. */
  private place(id: string): Pos {
    const ownerId = this.store.owner.get(id);
    const placed = this.placedUnder.get(id);
    const old = this.pos.get(id);
    if (old && (placed === (ownerId ?? '') || (placed === OTHER_ROOTS && ownerId === undefined))) return old;
    // First time shown, or its owner changed (e.g. shown as a root before its ownership edge).
    this.unplace(id);
    let p: Pos;
    let under = ownerId ?? '';
    if (ownerId === undefined && this.store.nodes.get(id)?.Metadata.Type !== 'host') {
      const i = this.otherRootSlots.take(id);
      p = { x: (i % OTHER_ROOT_COLS) * OTHER_ROOT_CELL, y: -220 - Math.floor(i / OTHER_ROOT_COLS) * OTHER_ROOT_CELL };
      under = OTHER_ROOTS;
    } else if (ownerId === undefined) {
      p = this.rootPlace(id);
    } else {
      const op = this.pos.get(ownerId) || { x: 0, y: 0 };
      const off = this.childPlace(ownerId, id);
      p = { x: op.x + off.x, y: op.y + off.y };
    }
    this.pos.set(id, p);
    this.placedUnder.set(id, under);
    return p;
  }

  private unplace(id: string) {
    const placed = this.placedUnder.get(id);
    if (placed === undefined) return;
    if (placed === OTHER_ROOTS) this.otherRootSlots.free(id);
    // A host's and a child's places are kept for when they come back.
    this.placedUnder.delete(id);
  }

  /** The box of id's subtree, from the store (its children shown or not). */
  private boxOf(id: string, aspect = 1.4, depth = 0): Box {
    const kids = this.store.children.get(id);
    if (!kids || kids.size === 0 || depth > 12) return { w: LEAF_W, h: LEAF_H };
    const { box } = this.pack(id, aspect, depth);
    return box;
  }

  /**
   * Packs id's children in shelves: group children (biggest first), then
   * leaves, in rows about sqrt(area × aspect) wide, under the owner's node.
   * Offsets are relative to the owner's node; the box includes the header.
   */
  private pack(id: string, aspect: number, depth = 0): { at: Map<string, Pos>; box: Box } {
    const kids = [...(this.store.children.get(id) || [])].filter((k) => this.store.nodes.has(k));
    const boxes = kids.map((k) => ({ id: k, group: (this.store.children.get(k)?.size || 0) > 0, ...this.boxOf(k, 1.4, depth + 1) }));
    // Groups first, tallest first; then leaves by name, so that a list reads in order.
    const name = (k: string) => String(this.store.nodes.get(k)?.Metadata.Name ?? k);
    boxes.sort((a, b) => (a.group === b.group ? (a.group ? b.h - a.h : name(a.id).localeCompare(name(b.id), undefined, { numeric: true })) : a.group ? -1 : 1));
    const area = boxes.reduce((s, b) => s + b.w * b.h, 0);
    const widest = Math.max(LEAF_W * 2, ...boxes.map((b) => b.w));
    // Shelves waste room: try a few widths and keep the one whose box is
    // closest to the aspect asked (the one a fit can show largest).
    const shelves = (width: number) => {
      const at = new Map<string, Pos>();
      let x = 0;
      let y = 0;
      let rowH = 0;
      let maxX = 0;
      for (const b of boxes) {
        if (x > 0 && x + b.w > width) {
          x = 0;
          y += rowH;
          rowH = 0;
        }
        // A group's node at the top middle of its box; a leaf's in its cell's upper part.
        at.set(b.id, { x: x + b.w / 2, y: y + (b.group ? HEADER_H / 2 : 16) });
        x += b.w;
        maxX = Math.max(maxX, x);
        rowH = Math.max(rowH, b.h);
      }
      return { at, maxX, w: maxX + 2 * BOX_PAD, h: HEADER_H + y + rowH + BOX_PAD };
    };
    const ideal = Math.sqrt(area * aspect);
    let best = shelves(Math.max(widest, ideal));
    // How big the box may be drawn in a frame of that aspect (bigger is better).
    const scale = (r: { w: number; h: number }) => Math.min(aspect / r.w, 1 / r.h);
    for (const f of [0.7, 0.85, 1.15, 1.3, 1.5, 1.8, 2.2]) {
      const r = shelves(Math.max(widest, ideal * f));
      if (scale(r) > scale(best)) best = r;
    }
    const { at, maxX, w, h } = best;
    // Centre the children under the owner's node (at 0, 0).
    for (const p of at.values()) {
      p.x += -maxX / 2;
      p.y += HEADER_H / 2 + 8;
    }
    return { at, box: { w, h } };
  }

  /** The place of owner's child id, relative to the owner's node. */
  private childPlace(owner: string, id: string): Pos {
    let l = this.layouts.get(owner);
    if (!l) {
      const ownerIsHost = this.store.nodes.get(owner)?.Metadata.Type === 'host';
      const { at, box } = this.pack(owner, ownerIsHost ? this.hostAspect() : 1.4);
      l = { at, box, nextX: -box.w / 2 + LEAF_W / 2, nextY: box.h - HEADER_H / 2 + 8 };
      this.layouts.set(owner, l);
    }
    let p = l.at.get(id);
    if (!p) {
      // Came after the layout: the next cell of a row below the box.
      p = { x: l.nextX, y: l.nextY };
      l.at.set(id, p);
      l.nextX += LEAF_W;
      if (l.nextX > l.box.w / 2) (l.nextX = -l.box.w / 2 + LEAF_W / 2), (l.nextY += LEAF_H);
    }
    return { ...p };
  }

  /**
   * The shape a host's box aims at: its share of the view among the
   * expanded hosts (hosts stand in rows), so that expanded and fitted, the
   * drawing fills it.
   */
  private hostAspect(): number {
    // The hosts expanded share the width (a collapsed one takes little).
    let hosts = 0;
    for (const [id, n] of this.store.nodes) if (n.Metadata.Type === 'host' && !this.store.owner.has(id) && this.expanded.has(id)) hosts++;
    const { width, height } = this.canvas.size();
    const w = Math.max(200, width - 80) / Math.max(1, Math.min(hosts, ROOT_COLS));
    const h = Math.max(200, height - 120);
    return Math.min(3, Math.max(0.3, w / h));
  }

  /**
   * A host's place: hosts stand in rows, a collapsed one in a small cell,
   * an expanded one as wide as its box (reflowRoots moves its neighbours
   * when it opens or closes; a new host comes at the end: nothing moves).
   */
  private rootPlace(id: string): Pos {
    if (!this.rootAt.has(id)) {
      this.rootOrder.push(id);
      this.reflowRoots(id);
    }
    return { ...this.rootAt.get(id)! };
  }

  /** Where every host goes now; moves the placed ones (and what they hold) there. */
  private reflowRoots(adding?: string) {
    this.rootOrder = this.rootOrder.filter((id) => this.store.nodes.has(id));
    let y = 0;
    for (let r = 0; r < this.rootOrder.length; r += ROOT_COLS) {
      const row = this.rootOrder.slice(r, r + ROOT_COLS);
      let x = 0;
      let h = 0;
      for (const id of row) {
        const open = this.expanded.has(id);
        const box = open ? (this.layouts.get(id)?.box ?? this.boxOf(id, this.hostAspect())) : { w: COLLAPSED_W, h: COLLAPSED_H };
        const p = { x: x + box.w / 2, y: y + HEADER_H / 2 };
        const old = this.rootAt.get(id);
        this.rootAt.set(id, p);
        if (old && id !== adding && (old.x !== p.x || old.y !== p.y)) this.shift(id, p.x - old.x, p.y - old.y);
        x += box.w + ROOT_GAP;
        h = Math.max(h, box.h);
      }
      y += h + ROOT_GAP;
    }
  }

  /** Moves a placed node and everything placed under it. */
  private shift(id: string, dx: number, dy: number) {
    const queue = [id];
    while (queue.length) {
      const n = queue.pop()!;
      const p = this.pos.get(n);
      if (p) {
        p.x += dx;
        p.y += dy;
        if (this.canvas.hasNode(n)) this.canvas.setPosition(n, p);
      }
      for (const c of this.store.children.get(n) || []) queue.push(c);
    }
  }

  schedule() {
    if (this.flushTimer || this.frozen) return;
    this.flushTimer = window.setTimeout(() => {
      this.flushTimer = 0;
      this.flush();
    }, 30);
  }

  /** Applies the store's pending changes to the drawing, in one batch. */
  flush() {
    const d = this.store.takeDirty();
    const nodeIds = new Set(d.nodes);
    const edgeIds = new Set(d.edges);
    if (d.reset) for (const id of this.classes.keys()) (this.canvas.hasNode(id) ? nodeIds : edgeIds).add(id);
    // A node whose visibility changed drags its descendants and edges along.
    const queue = [...nodeIds];
    while (queue.length) {
      const id = queue.pop()!;
      const vis = this.visible(id);
      if (this.canvas.hasNode(id) !== vis || (vis && d.reset)) {
        for (const c of this.store.children.get(id) || []) {
          if (!nodeIds.has(c)) {
            nodeIds.add(c);
            queue.push(c);
          }
        }
      }
      for (const e of this.store.adj.get(id) || []) edgeIds.add(e);
    }
    this.reconcile(nodeIds, edgeIds);
  }

  /** Adds, updates and removes the given elements in the drawing. */
  reconcile(nodeIds: Iterable<string>, edgeIds: Iterable<string>) {
    // Owners first, so that children are placed from their owner's position.
    // Hidden nodes that are not drawn need nothing: most of a big graph at
    // the first sync, with the hosts collapsed.
    const depth = new Map<string, number>();
    const todo: string[] = [];
    for (const id of nodeIds) {
      if (this.store.nodes.has(id) && !this.canvas.hasNode(id) && !this.placedUnder.has(id) && !this.visible(id)) continue;
      todo.push(id);
      depth.set(id, this.store.depth(id));
    }
    const sorted = todo.sort((a, b) => depth.get(a)! - depth.get(b)!);
    for (const id of sorted) {
      const n = this.store.nodes.get(id);
      if (!n) {
        this.undraw(id);
        this.unplace(id);
        this.pos.delete(id);
        this.expanded.delete(id);
        this.highlighted.delete(id);
        this.layouts.delete(id);
        continue;
      }
      if (!this.visible(id)) {
        this.undraw(id);
        // Shown before its ownership edge came: give its place back.
        if (this.placedUnder.has(id) && this.placedUnder.get(id) !== (this.store.owner.get(id) ?? '')) {
          this.unplace(id);
          this.pos.delete(id);
        }
        continue;
      }
      const moved = !this.canvas.hasNode(id) || this.placedUnder.get(id) !== (this.store.owner.get(id) ?? '');
      this.drawNode(n, moved ? { ...this.place(id) } : undefined);
    }
    for (const id of edgeIds) {
      const e = this.store.edges.get(id);
      if (!e || !this.canvas.hasNode(e.Parent) || !this.canvas.hasNode(e.Child)) this.undraw(id);
      else this.drawEdge(e);
    }
    // Edges whose ends left the drawing go too.
    for (const id of sorted) if (!this.canvas.hasNode(id)) for (const e of this.store.adj.get(id) || []) this.undraw(e);
    this.updateHulls();
    this.onStats({ visibleNodes: this.canvas.nodeCount, visibleEdges: this.canvas.edgeCount });
  }

  private refreshNodes(ids: Iterable<string>) {
    this.expandedVersion++;
    // Hosts opened or closed make room or give it back.
    if (this.rootOrder.length > 1) this.reflowRoots();
    const nodeIds = new Set<string>();
    const edgeIds = new Set<string>();
    const queue = [...ids];
    while (queue.length) {
      const id = queue.pop()!;
      if (nodeIds.has(id)) continue;
      nodeIds.add(id);
      for (const e of this.store.adj.get(id) || []) edgeIds.add(e);
      for (const c of this.store.children.get(id) || []) queue.push(c);
    }
    this.reconcile(nodeIds, edgeIds);
  }

  hasChildren(id: string) {
    return (this.store.children.get(id)?.size || 0) > 0;
  }

  expand(id: string) {
    if (!this.hasChildren(id) || this.expanded.has(id)) return;
    this.expanded.add(id);
    this.refreshNodes([id]);
  }

  collapse(id: string) {
    if (!this.expanded.delete(id)) return;
    this.refreshNodes([id]);
  }

  toggle(id: string) {
    if (this.expanded.has(id)) this.collapse(id);
    else this.expand(id);
  }

  /** Expands every shown, collapsed node of the smallest depth. */
  expandLevel(): number {
    let best = Infinity;
    const cands: string[] = [];
    for (const id of this.canvas.nodeIds()) {
      if (this.expanded.has(id) || !this.hasChildren(id)) continue;
      const dep = this.store.depth(id);
      if (dep < best) {
        best = dep;
        cands.length = 0;
      }
      if (dep === best) cands.push(id);
    }
    for (const id of cands) this.expanded.add(id);
    if (cands.length) this.refreshNodes(cands);
    return cands.length;
  }

  /** Collapses the expanded nodes of the largest depth. */
  collapseLevel(): number {
    let best = -1;
    const cands: string[] = [];
    for (const id of this.expanded) {
      if (!this.visible(id)) continue;
      const dep = this.store.depth(id);
      if (dep > best) {
        best = dep;
        cands.length = 0;
      }
      if (dep === best) cands.push(id);
    }
    for (const id of cands) this.expanded.delete(id);
    if (cands.length) this.refreshNodes(cands);
    return cands.length;
  }

  expandAll() {
    for (const [id, kids] of this.store.children) if (kids.size) this.expanded.add(id);
    this.refreshNodes([...this.store.nodes.keys()].filter((id) => !this.store.owner.has(id)));
  }

  collapseAll() {
    const was = [...this.expanded];
    this.expanded.clear();
    this.refreshNodes(was);
  }

  /** Expands the owners of the given nodes so that they are shown. */
  reveal(ids: Iterable<string>) {
    const add: string[] = [];
    for (const id of ids) for (const a of this.store.ancestors(id)) if (!this.expanded.has(a)) {
      this.expanded.add(a);
      add.push(a);
    }
    if (add.length) this.refreshNodes(add);
  }

  setHighlight(ids: Iterable<string>) {
    const old = this.highlighted;
    this.highlighted = new Set(ids);
    this.restyle(new Set<string>([...old, ...this.highlighted]));
  }

  setMarks(marks: Map<string, string>) {
    const touched = new Set([...this.marks.keys(), ...marks.keys()]);
    this.marks = marks;
    this.restyle(touched);
  }

  /** Draws again the shown elements among ids (their classes changed). */
  private restyle(ids: Set<string>) {
    for (const id of ids) {
      const n = this.store.nodes.get(id);
      if (n && this.canvas.hasNode(id)) this.drawNode(n);
      const e = this.store.edges.get(id);
      if (e && this.canvas.hasEdge(id)) this.drawEdge(e);
    }
  }

  select(id: string | null) {
    this.canvas.select(id);
  }

  selected(): string | null {
    return this.canvas.selected;
  }

  /** The bands of the view something covers (the legend); main sets it. */
  insets: () => Partial<Insets> = () => ({});

  fit(ids?: string[]) {
    if (ids && ids.length && this.canvas.fit(ids, 80, 1.5, this.insets())) return;
    this.canvas.fit(this.whatMatters(), 30, 1.5, this.insets());
  }

  /**
   * The shown nodes a fit frames: all but strays, nodes that are neither a
   * host nor linked to anything (a node rule's lone object), which would
   * push the rest into a corner. All when that leaves nothing.
   */
  whatMatters(): string[] | null {
    const ids = this.canvas.nodeIds();
    const kept = ids.filter((id) => {
      if (this.types.get(id) === 'host' || this.store.owner.has(id) || this.hasChildren(id)) return true;
      for (const e of this.store.adj.get(id) || []) if (this.canvas.hasEdge(e)) return true;
      return false;
    });
    return kept.length ? kept : null;
  }

  /** Is id an expanded group drawn with a hull? */
  private hullOwner(id: string): boolean {
    if (!this.expanded.has(id)) return false;
    const n = this.store.nodes.get(id);
    return !!(n && styleOfNode(n).hull);
  }

  private hullKey = '';
  private expandedVersion = 0;

  /**
   * The tinted areas of the expanded groups: a host's, a namespace's, a
   * bridge's members (what they own and, for a bridge, its layer2 ports).
   */
  private updateHulls() {
    const key = `${this.canvas.membership}|${this.expandedVersion}`;
    if (key === this.hullKey) return;
    this.hullKey = key;
    const hulls: HullSpec[] = [];
    for (const id of this.expanded) {
      if (!this.canvas.hasNode(id)) continue;
      const n = this.store.nodes.get(id);
      const st = n && styleOfNode(n);
      if (!n || !st?.hull) continue;
      const members = [id];
      const queue = [...(this.store.children.get(id) || [])];
      while (queue.length) {
        const c = queue.pop()!;
        if (!this.canvas.hasNode(c)) continue;
        members.push(c);
        if (this.expanded.has(c)) for (const g of this.store.children.get(c) || []) queue.push(g);
      }
      if (n.Metadata.Type === 'bridge' || n.Metadata.Type === 'ovsbridge') {
        for (const eid of this.store.adj.get(id) || []) {
          const e = this.store.edges.get(eid);
          if (e && e.Metadata.RelationType === 'layer2' && e.Parent === id && this.canvas.hasNode(e.Child)) members.push(e.Child);
        }
      }
      if (members.length > 1) hulls.push({ id, color: st.hull, members, depth: this.store.depth(id) });
    }
    this.canvas.setHulls(hulls);
  }

  /** Forgets all positions and lays the shown nodes out again, tidily. */
  relayout() {
    this.pos.clear();
    this.placedUnder.clear();
    this.otherRootSlots = new Slots();
    this.layouts.clear();
    this.rootOrder = [];
    this.rootAt.clear();
    const ids = this.canvas.nodeIds().sort((a, b) => this.store.depth(a) - this.store.depth(b));
    for (const id of ids) this.canvas.setPosition(id, this.place(id));
    this.fit();
  }
}
