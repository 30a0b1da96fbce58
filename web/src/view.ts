// The topology view: Cytoscape.js (canvas) holding only the visible part of
// the store. A node is visible when every owner above it is expanded.
// Positions are computed once, when a node is first shown, near its owner,
// and kept: the drawing keeps its shape while nodes come and go.

import cytoscape from 'cytoscape';
import type { Core, ElementDefinition, NodeSingular, EdgeSingular } from 'cytoscape';
import { Store, GNode, isOwnership } from './model';

export interface TypeStyle {
  color: string;
  shape: string;
  size: number;
  label: string;
}

// Colours of Red Hat's guide and the original UI: physical NICs and OVS
// bridges beige, namespaces blue, down interfaces red.
export const BEIGE = '#f4e7c0';
export const NS_BLUE = '#709faf';
export const DOWN_RED = '#cf5c67';

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
};
const OTHER: TypeStyle = { color: '#dddddd', shape: 'ellipse', size: 20, label: 'other interface' };

export const styleOf = (type: string): TypeStyle => TYPE_STYLES[type] || OTHER;

const GROUP_TYPES = new Set(['host', 'netns', 'ovsbridge', 'openvswitch', 'container', 'libvirt', 'bridge', 'switch', 'fabric']);

export function isDown(n: GNode): boolean {
  const s = n.Metadata?.State;
  return typeof s === 'string' && s.toUpperCase() === 'DOWN';
}

/** OpenStack instance interfaces (the guide marks them with a logo). */
export function isInstance(n: GNode): boolean {
  const m = n.Metadata || {};
  return !!(m.ExtID?.['vm-id'] || m['ExtID.vm-id'] || m.Neutron || m.ExtID?.['iface-id']);
}

type Pos = { x: number; y: number };

const ROOT_CELL = 1100;
const ROOT_COLS = 10;

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

export class TopologyView {
  cy: Core;
  expanded = new Set<string>();
  pos = new Map<string, Pos>();
  placedUnder = new Map<string, string>(); // node → owner it was placed near ('' = root slot)
  rootSlots = new Slots();
  groupSlots = new Map<string, Slots>(); // owner → slots for group children
  leafSlots = new Map<string, Slots>(); // owner → slots for leaf children
  highlighted = new Set<string>();
  marks = new Map<string, string>(); // node → extra class (diff-added ...)
  frozen = false;
  onSelect: (kind: 'node' | 'edge' | null, id: string | null) => void = () => {};
  onStats: (s: ViewStats) => void = () => {};
  private flushTimer = 0;

  constructor(public store: Store, container: HTMLElement) {
    this.cy = cytoscape({
      container,
      elements: [],
      layout: { name: 'preset' },
      // Measured at 10,000 nodes in headless Chromium (software canvas):
      // textureOnViewport made the first frame of a drag take 8-18 s (the
      // whole scene drawn into a texture); without it frames stay short.
      textureOnViewport: false,
      hideEdgesOnViewport: true,
      hideLabelsOnViewport: true,
      motionBlur: false,
      pixelRatio: 1,
      minZoom: 0.02,
      maxZoom: 4,
      wheelSensitivity: 0.4,
      boxSelectionEnabled: false,
      selectionType: 'single',
      style: this.stylesheet(),
    });
    this.cy.on('tap', 'node', (ev) => this.onSelect('node', ev.target.id()));
    this.cy.on('tap', 'edge', (ev) => this.onSelect('edge', ev.target.id()));
    this.cy.on('tap', (ev) => {
      if (ev.target === this.cy) this.onSelect(null, null);
    });
    this.cy.on('dbltap', 'node', (ev) => this.toggle(ev.target.id()));
    this.cy.on('dragfree', 'node', (ev) => {
      const n = ev.target as NodeSingular;
      this.pos.set(n.id(), { ...n.position() });
    });
    store.onChange(() => this.schedule());
  }

  private stylesheet(): any[] {
    const s: any[] = [
      {
        selector: 'node',
        style: {
          'background-color': 'data(color)',
          shape: 'data(shape)' as any,
          width: 'data(size)',
          height: 'data(size)',
          label: 'data(label)',
          'font-size': 9,
          'min-zoomed-font-size': 7,
          'text-valign': 'bottom',
          'text-margin-y': 2,
          color: '#223',
          'border-width': 1,
          'border-color': '#8a8a7a',
        },
      },
      { selector: 'node.group', style: { 'border-width': 2, 'border-color': '#445' } },
      { selector: 'node.collapsed', style: { 'border-style': 'double', 'border-width': 4 } },
      { selector: 'node.host', style: { color: '#fff', 'text-valign': 'center', 'font-size': 10, 'text-margin-y': 0, 'text-outline-color': '#5b6b82', 'text-outline-width': 2 } },
      { selector: 'node.down', style: { 'background-color': DOWN_RED, 'border-color': '#8e1f2b' } },
      { selector: 'node.instance', style: { 'border-color': '#e0162b', 'border-width': 3, 'border-style': 'dashed' } },
      { selector: 'node.hl', style: { 'overlay-color': '#ffd400', 'overlay-opacity': 0.45, 'overlay-padding': 6, 'z-index': 10 } },
      { selector: 'node.diff-added', style: { 'overlay-color': '#2ca02c', 'overlay-opacity': 0.4, 'overlay-padding': 6 } },
      { selector: 'node.diff-changed', style: { 'overlay-color': '#ff7f0e', 'overlay-opacity': 0.4, 'overlay-padding': 6 } },
      { selector: 'node:selected', style: { 'border-color': '#0069d9', 'border-width': 4 } },
      {
        selector: 'edge',
        style: { width: 1, 'line-color': '#c9c9c9', 'curve-style': 'haystack', 'haystack-radius': 0, opacity: 0.8 },
      },
      { selector: 'edge.layer2', style: { width: 2, 'line-color': '#555', opacity: 1 } },
      { selector: 'edge.other', style: { width: 1.5, 'line-color': '#7a9cc6', 'line-style': 'dashed', 'curve-style': 'straight' } },
      { selector: 'edge:selected', style: { 'line-color': '#0069d9', width: 3 } },
      { selector: 'edge.hl', style: { 'line-color': '#e0b000', width: 3 } },
    ];
    return s;
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

  private nodeData(n: GNode) {
    const type = String(n.Metadata.Type || '');
    const st = styleOf(type);
    const kids = this.store.children.get(n.ID)?.size || 0;
    const collapsed = kids > 0 && !this.expanded.has(n.ID);
    let label = String(n.Metadata.Name ?? n.ID.slice(0, 8));
    if (collapsed) label += ` (+${kids})`;
    const cls = [type === 'host' ? 'host' : '', isDown(n) ? 'down' : '', isInstance(n) ? 'instance' : '',
      kids > 0 || GROUP_TYPES.has(type) ? 'group' : '', collapsed ? 'collapsed' : '',
      this.highlighted.has(n.ID) ? 'hl' : '', this.marks.get(n.ID) || ''].filter(Boolean).join(' ');
    return { data: { id: n.ID, label, color: st.color, shape: st.shape, size: st.size, type }, cls };
  }

  /** Position of a node about to be shown: kept, or near its owner. */
  private place(id: string): Pos {
    const ownerId = this.store.owner.get(id);
    const placed = this.placedUnder.get(id);
    const old = this.pos.get(id);
    if (old && placed === (ownerId ?? '')) return old;
    // First time shown, or its owner changed (e.g. shown as a root before its ownership edge).
    this.unplace(id);
    let p: Pos;
    if (ownerId === undefined) {
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
    this.placedUnder.set(id, ownerId ?? '');
    return p;
  }

  private unplace(id: string) {
    const placed = this.placedUnder.get(id);
    if (placed === undefined) return;
    if (placed === '') this.rootSlots.free(id);
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
    const cy = this.cy;
    const nodeIds = new Set(d.nodes);
    const edgeIds = new Set(d.edges);
    if (d.reset) {
      for (const n of cy.nodes()) nodeIds.add(n.id());
      for (const e of cy.edges()) edgeIds.add(e.id());
    }
    // A node whose visibility changed drags its descendants and edges along.
    const queue = [...nodeIds];
    while (queue.length) {
      const id = queue.pop()!;
      const shown = cy.getElementById(id).nonempty();
      const vis = this.visible(id);
      if (shown !== vis || (vis && d.reset)) {
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

  /**
   * Adds, updates and removes the given elements in the drawing. Adds and
   * removes are one call each (Cytoscape is much faster so than element by
   * element or inside a batch); updates of shown elements are batched.
   */
  reconcile(nodeIds: Iterable<string>, edgeIds: Iterable<string>) {
    const cy = this.cy;
    const adds: ElementDefinition[] = [];
    const added = new Set<string>();
    const removed = new Set<string>();
    // Owners first, so that children are placed from their owner's position.
    const sorted = [...nodeIds].sort((a, b) => this.store.depth(a) - this.store.depth(b));
    cy.batch(() => {
      for (const id of sorted) {
        const n = this.store.nodes.get(id);
        const el = cy.getElementById(id);
        if (!n) {
          if (el.nonempty()) removed.add(id);
          this.unplace(id);
          this.pos.delete(id);
          this.expanded.delete(id);
          this.highlighted.delete(id);
          this.groupSlots.delete(id);
          this.leafSlots.delete(id);
          continue;
        }
        if (!this.visible(id)) {
          if (el.nonempty()) removed.add(id);
          // Shown before its ownership edge came: give its place back.
          if (this.placedUnder.has(id) && this.placedUnder.get(id) !== (this.store.owner.get(id) ?? '')) {
            this.unplace(id);
            this.pos.delete(id);
          }
          continue;
        }
        const { data, cls } = this.nodeData(n);
        if (el.nonempty()) {
          el.data(data);
          (el as any).classes(cls);
          if (this.placedUnder.get(id) !== (this.store.owner.get(id) ?? '')) el.position(this.place(id));
        } else {
          adds.push({ group: 'nodes', data, classes: cls, position: { ...this.place(id) } });
          added.add(id);
        }
      }
    });
    const shown = (id: string) => added.has(id) || (!removed.has(id) && cy.getElementById(id).nonempty());
    const edgeRemoves: string[] = [];
    const edgeUpdates: [any, string][] = [];
    for (const id of edgeIds) {
      const e = this.store.edges.get(id);
      const el = cy.getElementById(id);
      if (!e || !shown(e.Parent) || !shown(e.Child)) {
        if (el.nonempty() && !removed.has(e?.Parent ?? '') && !removed.has(e?.Child ?? '')) edgeRemoves.push(id);
        continue;
      }
      const rt = String(e.Metadata.RelationType || '');
      const cls = (isOwnership(e) ? 'ownership' : rt === 'layer2' ? 'layer2' : 'other') + (this.highlighted.has(id) ? ' hl' : '');
      if (el.nonempty()) edgeUpdates.push([el, cls]);
      else adds.push({ group: 'edges', data: { id, source: e.Parent, target: e.Child, rt }, classes: cls });
    }
    if (edgeUpdates.length) cy.batch(() => edgeUpdates.forEach(([el, cls]) => el.classes(cls)));
    if (removed.size || edgeRemoves.length) {
      const ids = [...removed, ...edgeRemoves];
      cy.remove(cy.collection(ids.map((id) => cy.getElementById(id)[0]) as any));
    }
    if (adds.length) cy.add(adds);
    this.onStats({ visibleNodes: cy.nodes().length, visibleEdges: cy.edges().length });
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
    this.cy.nodes().forEach((n) => {
      const id = n.id();
      if (this.expanded.has(id) || !this.hasChildren(id)) return;
      const dep = this.store.depth(id);
      if (dep < best) {
        best = dep;
        cands.length = 0;
      }
      if (dep === best) cands.push(id);
    });
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
    const touched = new Set<string>([...old, ...this.highlighted]);
    this.cy.batch(() => {
      for (const id of touched) {
        const el = this.cy.getElementById(id);
        if (el.nonempty()) (el as any).toggleClass('hl', this.highlighted.has(id));
      }
    });
  }

  setMarks(marks: Map<string, string>) {
    const touched = new Set([...this.marks.keys(), ...marks.keys()]);
    this.marks = marks;
    this.cy.batch(() => {
      for (const id of touched) {
        const el = this.cy.getElementById(id);
        if (el.empty()) continue;
        el.removeClass('diff-added diff-changed');
        const m = marks.get(id);
        if (m) el.addClass(m);
      }
    });
  }

  select(id: string | null) {
    this.cy.$(':selected').unselect();
    if (id) this.cy.getElementById(id).select();
  }

  fit(ids?: string[]) {
    if (ids && ids.length) {
      const els = this.cy.collection(ids.map((i) => this.cy.getElementById(i)).filter((e) => e.nonempty()) as any);
      if (els.nonempty()) {
        this.cy.fit(els, 80);
        if (this.cy.zoom() > 1.5) this.cy.zoom(1.5);
        return;
      }
    }
    this.cy.fit(undefined, 30);
    if (this.cy.zoom() > 1.3) {
      this.cy.zoom(1.3);
      this.cy.center();
    }
  }

  /** Forgets all positions and lays the shown nodes out again, tidily. */
  relayout() {
    this.pos.clear();
    this.placedUnder.clear();
    this.rootSlots = new Slots();
    this.groupSlots.clear();
    this.leafSlots.clear();
    const ids = this.cy.nodes().map((n) => n.id()).sort((a, b) => this.store.depth(a) - this.store.depth(b));
    this.cy.batch(() => {
      for (const id of ids) this.cy.getElementById(id).position(this.place(id));
    });
    this.fit();
  }

  elementFor(id: string): NodeSingular | EdgeSingular | null {
    const el = this.cy.getElementById(id);
    return el.nonempty() ? (el as any) : null;
  }
}
