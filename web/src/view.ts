// The topology view: a GraphCanvas (canvas.ts) holding only the visible part
// of the store. A node is visible when every owner above it is expanded.
// Positions are computed once, when a node is first shown, near its owner,
// and kept: the drawing keeps its shape while nodes come and go.

import { GraphCanvas, NodeLook, EdgeLook, Shape } from './canvas';
import { Store, GNode, GEdge, isOwnership } from './model';

export interface TypeStyle {
  color: string;
  shape: Shape;
  size: number;
  label: string;
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
  host: { color: '#5b6b82', shape: 'round-rectangle', size: 46, label: 'host' },
  netns: { color: NS_BLUE, shape: 'hexagon', size: 34, label: 'network namespace' },
  device: { color: BEIGE, shape: 'ellipse', size: 24, label: 'physical NIC (device)' },
  ovsbridge: { color: BEIGE, shape: 'diamond', size: 32, label: 'OVS bridge' },
  openvswitch: { color: BEIGE, shape: 'octagon', size: 32, label: 'Open vSwitch' },
  ovsport: { color: '#fdd0a2', shape: 'round-rectangle', size: 22, label: 'OVS port' },
  bond: { color: '#fdd0a2', shape: 'round-rectangle', size: 22, label: 'bond' },
  bridge: { color: '#a6dfcc', shape: 'diamond', size: 28, label: 'Linux bridge' },
  veth: { color: '#d8cdef', shape: 'ellipse', size: 20, label: 'veth' },
  tap: { color: '#c6e2f5', shape: 'ellipse', size: 20, label: 'tap / tun' },
  tun: { color: '#c6e2f5', shape: 'ellipse', size: 20, label: 'tap / tun' },
  internal: { color: '#efe3a6', shape: 'ellipse', size: 20, label: 'OVS internal' },
  patch: { color: '#efe3a6', shape: 'ellipse', size: 20, label: 'OVS patch' },
  vxlan: { color: '#e3c9a4', shape: 'ellipse', size: 20, label: 'tunnel (vxlan, gre, geneve)' },
  gre: { color: '#e3c9a4', shape: 'ellipse', size: 20, label: 'tunnel (vxlan, gre, geneve)' },
  geneve: { color: '#e3c9a4', shape: 'ellipse', size: 20, label: 'tunnel (vxlan, gre, geneve)' },
  macvlan: { color: '#d5e8c4', shape: 'ellipse', size: 20, label: 'macvlan / vlan' },
  vlan: { color: '#d5e8c4', shape: 'ellipse', size: 20, label: 'macvlan / vlan' },
  container: { color: '#9cc5a1', shape: 'round-rectangle', size: 30, label: 'container' },
  libvirt: { color: '#9cc5a1', shape: 'round-rectangle', size: 30, label: 'VM (libvirt)' },
  // LLDP neighbours; fabric objects (FABRIC below) share the look.
  switch: { color: FABRIC_ORANGE, shape: 'rectangle', size: 32, label: 'switch (LLDP) / fabric object' },
  switchport: { color: '#fcdc94', shape: 'rectangle', size: 18, label: 'switch port (LLDP)' },
  // OVN northbound objects (Manager ovn): switches teal, routers purple.
  logical_switch: { color: '#7cc4bd', shape: 'diamond', size: 30, label: 'OVN logical switch' },
  logical_port: { color: '#c4e6e2', shape: 'ellipse', size: 18, label: 'OVN logical switch port' },
  logical_router: { color: '#b39ddb', shape: 'octagon', size: 30, label: 'OVN logical router' },
  logical_router_port: { color: '#dcd0f0', shape: 'ellipse', size: 18, label: 'OVN logical router port' },
};
/** Objects of the fabric probe: Type device unless the definition says otherwise. */
export const FABRIC: TypeStyle = { color: FABRIC_ORANGE, shape: 'rectangle', size: 26, label: 'switch (LLDP) / fabric object' };
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

const ROOT_CELL = 1100;
const ROOT_COLS = 10;
// Roots that are not hosts (fabric objects, LLDP switches, OVN's logical
// switches and routers) go in rows of their own above the hosts, packed
// tighter: spread among the hosts they made the drawing a thin line.
const OTHER_ROOT_CELL = 320;
const OTHER_ROOT_COLS = 24;
const OTHER_ROOTS = '^'; // placedUnder's mark for them

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

function ringPos(center: Pos, i: number, r0: number, step: number): Pos {
  let r = r0;
  let k = i;
  for (;;) {
    const cap = Math.max(6, Math.floor((2 * Math.PI * r) / step));
    if (k < cap) {
      const a = -Math.PI / 2 + (2 * Math.PI * k) / cap + (r / step) * 0.37;
      return { x: center.x + r * Math.cos(a), y: center.y + r * Math.sin(a) };
    }
    k -= cap;
    r += step;
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
  const look: NodeLook = { fill: st.color, shape: st.shape, size: st.size, label, labelInside: cls.has('host'), stroke: '#8a8a7a', strokeWidth: 1, dashed: false, double: false, overlay: '', badge: '' };
  if (cls.has('group')) (look.stroke = '#445'), (look.strokeWidth = 2);
  if (cls.has('collapsed')) (look.double = true), (look.strokeWidth = 4);
  if (cls.has('down')) (look.fill = DOWN_RED), (look.stroke = '#8e1f2b');
  // The badge says it; a red border of the badge's colour ties the two together.
  if (cls.has('instance')) (look.badge = 'instance'), (look.stroke = INSTANCE_RED), (look.strokeWidth = cls.has('collapsed') ? look.strokeWidth : 1.5);
  for (const c of ['hl', 'diff-added', 'diff-changed']) if (cls.has(c)) look.overlay = OVERLAYS[c];
  return look;
}

export class TopologyView {
  readonly canvas: GraphCanvas;
  expanded = new Set<string>();
  pos = new Map<string, Pos>();
  placedUnder = new Map<string, string>(); // node → owner it was placed near ('' = root slot)
  rootSlots = new Slots();
  otherRootSlots = new Slots();
  groupSlots = new Map<string, Slots>(); // owner → slots for group children
  leafSlots = new Map<string, Slots>(); // owner → slots for leaf children
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
      p = { x: (i % OTHER_ROOT_COLS) * OTHER_ROOT_CELL, y: -700 - Math.floor(i / OTHER_ROOT_COLS) * OTHER_ROOT_CELL };
      under = OTHER_ROOTS;
    } else if (ownerId === undefined) {
      const i = this.rootSlots.take(id);
      p = { x: (i % ROOT_COLS) * ROOT_CELL, y: Math.floor(i / ROOT_COLS) * ROOT_CELL };
    } else {
      const op = this.pos.get(ownerId) || { x: 0, y: 0 };
      const n = this.store.nodes.get(id)!;
      const type = String(n.Metadata.Type || '');
      const ownerIsHost = this.store.nodes.get(ownerId)?.Metadata.Type === 'host';
      const group = GROUP_TYPES.has(type);
      const table = group ? this.groupSlots : this.leafSlots;
      let slots = table.get(ownerId);
      if (!slots) table.set(ownerId, (slots = new Slots()));
      const i = slots.take(id);
      p = group
        ? ringPos(op, i, ownerIsHost ? 300 : 150, 150)
        : ringPos(op, i, ownerIsHost ? 85 : 50, ownerIsHost ? 40 : 32);
    }
    this.pos.set(id, p);
    this.placedUnder.set(id, under);
    return p;
  }

  private unplace(id: string) {
    const placed = this.placedUnder.get(id);
    if (placed === undefined) return;
    if (placed === '') this.rootSlots.free(id);
    else if (placed === OTHER_ROOTS) this.otherRootSlots.free(id);
    else {
      this.groupSlots.get(placed)?.free(id);
      this.leafSlots.get(placed)?.free(id);
    }
    this.placedUnder.delete(id);
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
        this.groupSlots.delete(id);
        this.leafSlots.delete(id);
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
    this.onStats({ visibleNodes: this.canvas.nodeCount, visibleEdges: this.canvas.edgeCount });
  }

  private refreshNodes(ids: Iterable<string>) {
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

  fit(ids?: string[]) {
    if (ids && ids.length && this.canvas.fit(ids, 80, 1.5)) return;
    this.canvas.fit(null, 30, 1.3);
  }

  /** Forgets all positions and lays the shown nodes out again, tidily. */
  relayout() {
    this.pos.clear();
    this.placedUnder.clear();
    this.rootSlots = new Slots();
    this.otherRootSlots = new Slots();
    this.groupSlots.clear();
    this.leafSlots.clear();
    const ids = this.canvas.nodeIds().sort((a, b) => this.store.depth(a) - this.store.depth(b));
    for (const id of ids) this.canvas.setPosition(id, this.place(id));
    this.fit();
  }
}
