// GraphCanvas draws the topology on one 2D canvas and handles pan, zoom,
// node drag, taps and double taps.
//
// Written by hand because the libraries made for big graphs did not hold
// 10,000 nodes in the Chromium the UI is tested in (software rendering,
// measured with tests/ui/perf.test.mjs on 2 shared cores):
//   - Cytoscape.js canvas: 4-5 s to add the elements and fit, 100-400 ms
//     frames while zooming (per-element cached bitmaps and bounding boxes)
//     and while the mouse hovers (a hit test over every element per move);
//   - Cytoscape.js WebGL mode and sigma.js 4 (WebGL): 1-2 s frames on
//     SwiftShader, sigma stalling on readPixels for picking.
// What makes this one fast: nodes and edges are drawn in one path per
// style (a handful of fill/stroke calls per frame, not one per element),
// labels only when they are readable, and hit tests only on press and
// release, never on hover.

const TRACE_OK = '#2e9b4f';
const TRACE_LOST = '#d62828';

export type Shape = 'ellipse' | 'round-rectangle' | 'hexagon' | 'diamond' | 'octagon' | 'rectangle';

/** A mark at a node's top-right corner ('' for none); see BADGES. */
export type Badge = '' | 'instance';

/** How an edge's line is drawn. */
export type LineDash = 'solid' | 'dashed' | 'dotted';

/** A small picture inside a node that says its kind at a glance ('' for none); see ICONS. */
export type Icon = '' | 'host' | 'netns' | 'bridge' | 'vm' | 'container' | 'switch' | 'tunnel';

/**
 * Label priority: hosts first, then namespaces, bridges and other groups,
 * then interfaces. Labels are placed in this order and never overlap: a
 * lower one that would is left out.
 */
export const LabelRank = { Host: 0, Namespace: 1, Group: 2, Leaf: 3 } as const;
export type LabelRank = (typeof LabelRank)[keyof typeof LabelRank];

/** A tinted area around a group's members (a namespace's, a bridge's, a host's). */
export interface HullSpec {
  id: string; // the group's node
  color: string;
  members: string[]; // node ids, the group's node included
  depth: number; // nesting: outer groups have smaller depths
}

/** How a node looks; the view resolves it from type and state. */
export interface NodeLook {
  fill: string;
  shape: Shape;
  size: number;
  label: string;
  stroke: string;
  strokeWidth: number;
  dashed: boolean;
  double: boolean; // collapsed group
  overlay: string; // halo colour ('' for none): highlight, diff marks
  badge: Badge;
  rank: LabelRank;
  icon: Icon;
}

/** A label the last frame drew: its box in container pixels. */
export interface DrawnLabel {
  id: string;
  text: string;
  rank: LabelRank;
  x: number; // left
  y: number; // top
  w: number;
  h: number;
}

export interface EdgeLook {
  color: string;
  width: number;
  dash: LineDash;
}

interface RNode extends NodeLook {
  id: string;
  x: number;
  y: number;
  // Bucket keys, computed when the look changes rather than every frame.
  fillKey: string;
  dotKey: string;
  strokeKey: string;
}

interface REdge extends EdgeLook {
  id: string;
  source: string;
  target: string;
  key: string;
  // The ends, looked up again when nodes were added or removed since (ends).
  a?: RNode;
  b?: RNode;
  endsAt: number;
}

function nodeKeys(n: NodeLook) {
  return {
    fillKey: `${n.shape}|${n.fill}`,
    dotKey: `rectangle|${n.fill}`,
    strokeKey: `${n.shape}|${n.stroke}|${n.strokeWidth}|${n.dashed ? 1 : 0}|${n.double ? 1 : 0}`,
  };
}

const edgeKey = (e: EdgeLook) => `${e.color}|${e.width}|${e.dash}`;

/**
 * One leg of a traced flow between two captured hops: drawn over the graph
 * as a thick line with its counts; red where packets were lost.
 */
export interface TraceLeg {
  from: string;
  to: string;
  label: string;
  lost: boolean;
}

/** Where a trace leg was drawn, in screen pixels (tests read it). */
export interface DrawnLeg extends TraceLeg {
  ax: number;
  ay: number;
  bx: number;
  by: number;
}

export interface Point {
  x: number;
  y: number;
}

/** Bands of the view, in pixels, that something covers. */
export interface Insets {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/**
 * Label sizes on screen, by rank: a label is scale × zoom pixels high,
 * within [min, max]; below hide it is not drawn (hosts and namespaces are
 * always drawn, at least 13 and 12 px high, so that they read at any zoom).
 */
const LABEL_STYLES: { scale: number; min: number; max: number; hide: number; font: string }[] = [
  { scale: 14, min: 13, max: 18, hide: 0, font: 'bold' },
  { scale: 11, min: 12, max: 16, hide: 0, font: 'bold' },
  { scale: 10, min: 10, max: 14, hide: 4, font: '' },
  { scale: 9, min: 9, max: 13, hide: 4, font: '' },
];
const MAX_LABELS = 3000; // candidates per frame
const LABEL_CELL = 48; // the overlap grid's cell, in screen pixels
const TAP_SLOP_PX = 4;
const DOUBLE_TAP_MS = 350;
const SELECT_COLOR = '#0069d9';

const POLYGONS: Partial<Record<Shape, Point[]>> = {
  hexagon: regular(6, 0),
  octagon: regular(8, Math.PI / 8),
  diamond: regular(4, 0),
};

function regular(n: number, phase: number): Point[] {
  const pts: Point[] = [];
  for (let i = 0; i < n; i++) {
    const a = phase + (2 * Math.PI * i) / n - Math.PI / 2;
    pts.push({ x: Math.cos(a) / 2, y: Math.sin(a) / 2 });
  }
  return pts;
}

function tracePath(ctx: CanvasRenderingContext2D, shape: Shape, x: number, y: number, size: number) {
  const r = size / 2;
  switch (shape) {
    case 'ellipse':
      ctx.moveTo(x + r, y);
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      return;
    case 'rectangle':
      ctx.rect(x - r, y - r, size, size);
      return;
    case 'round-rectangle':
      ctx.roundRect(x - r, y - r, size, size, size * 0.18);
      return;
    default: {
      const pts = POLYGONS[shape]!;
      ctx.moveTo(x + pts[0].x * size, y + pts[0].y * size);
      for (let i = 1; i < pts.length; i++) ctx.lineTo(x + pts[i].x * size, y + pts[i].y * size);
      ctx.closePath();
    }
  }
}

// ---- badges
//
// OpenStack instance interfaces carry a mark of our own (the guide uses the
// OpenStack logo, a trademark): a red rounded square with a white cloud,
// half inside the node's top-right corner so that it reads as part of it.

interface BadgeStyle {
  color: string;
  /** Adds the white glyph of a badge of side s centred at (x, y) to the current path. */
  glyph: (ctx: CanvasRenderingContext2D, x: number, y: number, s: number) => void;
}

/** A cloud of three puffs on a flat base, all traced clockwise so that the nonzero fill is their union. */
function traceCloud(ctx: CanvasRenderingContext2D, x: number, y: number, s: number) {
  const puff = (cx: number, cy: number, r: number) => {
    ctx.moveTo(x + (cx + r) * s, y + cy * s);
    ctx.arc(x + cx * s, y + cy * s, r * s, 0, 2 * Math.PI);
  };
  puff(-0.17, 0.09, 0.15);
  puff(0.03, -0.03, 0.2);
  puff(0.2, 0.1, 0.14);
  ctx.rect(x - 0.17 * s, y + 0.09 * s, 0.37 * s, 0.15 * s);
}

export const BADGES: Record<Exclude<Badge, ''>, BadgeStyle> = {
  instance: { color: '#e0162b', glyph: traceCloud },
};

/** Side of a node's badge, in model units: readable on small interfaces, not huge on hosts. */
const badgeSide = (size: number) => Math.min(15, Math.max(11, size * 0.6));
/** The badge's centre is on the node's top-right diagonal, this far (× size) from the node's centre: its outer corner just outside the node. */
const BADGE_AT = 0.36;
/** Below this side on screen the badge is a plain red square: a glyph would be a smudge. */
const MIN_GLYPH_PX = 7;

/**
 * Paints the badges of one kind for the given nodes: one path for the
 * squares, one for their white rims and one for the glyphs, whatever the
 * number of nodes. px is one screen pixel in the context's units.
 */
export function paintBadges(ctx: CanvasRenderingContext2D, kind: Exclude<Badge, ''>, nodes: readonly { x: number; y: number; size: number }[], px: number) {
  const b = BADGES[kind];
  ctx.beginPath();
  for (const n of nodes) {
    const s = badgeSide(n.size);
    ctx.roundRect(n.x + n.size * BADGE_AT - s / 2, n.y - n.size * BADGE_AT - s / 2, s, s, s * 0.24);
  }
  ctx.fillStyle = b.color;
  ctx.fill();
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = Math.max(1, px);
  ctx.stroke();
  ctx.beginPath();
  for (const n of nodes) {
    const s = badgeSide(n.size);
    if (s >= MIN_GLYPH_PX * px) b.glyph(ctx, n.x + n.size * BADGE_AT, n.y - n.size * BADGE_AT, s);
  }
  ctx.fillStyle = '#fff';
  ctx.fill();
}

/** A small picture of a node with its badge, for the legend and the details panel. */
export function badgeIcon(kind: Exclude<Badge, ''>, fill: string, cssPx = 20): HTMLCanvasElement {
  const dpr = Math.min(2, window.devicePixelRatio || 1);
  const c = document.createElement('canvas');
  c.className = `badge-icon ${kind}`;
  c.width = c.height = Math.round(cssPx * dpr);
  c.style.width = c.style.height = `${cssPx}px`;
  const ctx = c.getContext('2d')!;
  // A small node (14) so that its badge (the smallest, 11) is most of the
  // picture: they span 18.54 units, from the node's left to the badge's right.
  const z = (cssPx * dpr) / 18.54;
  ctx.setTransform(z, 0, 0, z, 0, 0);
  const node = { x: 7.5, y: 11.04, size: 14 };
  ctx.beginPath();
  tracePath(ctx, 'ellipse', node.x, node.y, node.size);
  ctx.fillStyle = fill;
  ctx.fill();
  ctx.strokeStyle = BADGES[kind].color;
  ctx.lineWidth = 1.5;
  ctx.stroke();
  paintBadges(ctx, kind, [node], 1 / z);
  return c;
}

/** The convex hull of points (Andrew's monotone chain), counter-clockwise. */
export function convexHull(points: Point[]): Point[] {
  const pts = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  if (pts.length < 3) return pts;
  const cross = (o: Point, a: Point, b: Point) => (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
  const lower: Point[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/** Points around a circle, to build hulls that keep a margin around nodes. */
function ring(out: Point[], x: number, y: number, r: number, k = 12) {
  for (let i = 0; i < k; i++) {
    const a = (2 * Math.PI * i) / k;
    out.push({ x: x + r * Math.cos(a), y: y + r * Math.sin(a) });
  }
}

/** Margin of a hull around its members, in graph units. */
const HULL_PAD = 14;

// ---- icons: a few strokes in a node's middle, drawn when the node is big enough on screen
const ICON_MIN_PX = 20;
type IconPainter = (ctx: CanvasRenderingContext2D, x: number, y: number, s: number) => void;
export const ICONS: Record<Exclude<Icon, ''>, IconPainter> = {
  // A screen on a stand.
  host: (c, x, y, s) => {
    c.rect(x - 0.3 * s, y - 0.24 * s, 0.6 * s, 0.36 * s);
    c.moveTo(x, y + 0.12 * s);
    c.lineTo(x, y + 0.24 * s);
    c.moveTo(x - 0.14 * s, y + 0.24 * s);
    c.lineTo(x + 0.14 * s, y + 0.24 * s);
  },
  // Braces: a scope.
  netns: (c, x, y, s) => {
    for (const d of [-1, 1]) {
      c.moveTo(x + d * 0.12 * s, y - 0.26 * s);
      c.lineTo(x + d * 0.22 * s, y - 0.26 * s);
      c.lineTo(x + d * 0.22 * s, y + 0.26 * s);
      c.lineTo(x + d * 0.12 * s, y + 0.26 * s);
    }
  },
  // Two opposite arrows: a switch of frames.
  bridge: (c, x, y, s) => {
    for (const d of [-1, 1]) {
      const yy = y + d * 0.1 * s;
      c.moveTo(x - 0.24 * s, yy);
      c.lineTo(x + 0.24 * s, yy);
      c.moveTo(x + d * 0.24 * s, yy);
      c.lineTo(x + d * 0.14 * s, yy - 0.07 * s);
      c.moveTo(x + d * 0.24 * s, yy);
      c.lineTo(x + d * 0.14 * s, yy + 0.07 * s);
    }
  },
  // A window with a title bar.
  vm: (c, x, y, s) => {
    c.rect(x - 0.26 * s, y - 0.22 * s, 0.52 * s, 0.44 * s);
    c.moveTo(x - 0.26 * s, y - 0.1 * s);
    c.lineTo(x + 0.26 * s, y - 0.1 * s);
  },
  // A box with a lid.
  container: (c, x, y, s) => {
    c.rect(x - 0.24 * s, y - 0.12 * s, 0.48 * s, 0.34 * s);
    c.moveTo(x - 0.28 * s, y - 0.2 * s);
    c.lineTo(x + 0.28 * s, y - 0.2 * s);
  },
  // Four ports in a row.
  switch: (c, x, y, s) => {
    for (let i = 0; i < 4; i++) c.rect(x - 0.27 * s + i * 0.14 * s, y - 0.05 * s, 0.1 * s, 0.1 * s);
  },
  // A tube.
  tunnel: (c, x, y, s) => {
    c.moveTo(x - 0.26 * s, y - 0.1 * s);
    c.lineTo(x + 0.26 * s, y - 0.1 * s);
    c.moveTo(x - 0.26 * s, y + 0.1 * s);
    c.lineTo(x + 0.26 * s, y + 0.1 * s);
  },
};

/** Appends v to the list of key in m. */
function bucket<T>(m: Map<string, T[]>, key: string, v: T) {
  const l = m.get(key);
  if (l) l.push(v);
  else m.set(key, [v]);
}

export interface CanvasOptions {
  minZoom: number;
  maxZoom: number;
}

export class GraphCanvas {
  readonly canvas: HTMLCanvasElement;
  private ctx: CanvasRenderingContext2D;
  private nodes = new Map<string, RNode>();
  private nodeSet = 0; // bumped when a node is added or removed
  private edges = new Map<string, REdge>();
  private z = 1;
  private p: Point = { x: 0, y: 0 };
  private width = 0;
  private height = 0;
  private dpr = 1;
  private frame = 0;
  private selectedId: string | null = null;
  private press: { x: number; y: number; node: RNode | null; moved: boolean; id: number } | null = null;
  private lastTap = { id: '', at: 0 };
  /** Frames drawn so far (tests and perf counters read it). */
  frames = 0;
  lastDrawMs = 0;
  private badgedLast: RNode[] = [];
  private hullSpecs: HullSpec[] = [];
  private hullCache: { id: string; color: string; depth: number; points: Point[] }[] = [];
  private hullsAt = -1; // geometry version of hullCache
  private geom = 0; // bumped whenever a node moves, comes or goes
  private labelsLast: DrawnLabel[] = [];
  private widths = new Map<string, number>();

  onTap: (kind: 'node' | 'edge' | null, id: string | null) => void = () => {};
  onDoubleTap: (id: string) => void = () => {};
  onDragEnd: (id: string, p: Point) => void = () => {};
  onDraw: () => void = () => {};

  constructor(readonly container: HTMLElement, private opts: CanvasOptions) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'graph-canvas';
    this.canvas.style.cssText = 'position:absolute;inset:0;width:100%;height:100%;touch-action:none;display:block';
    container.appendChild(this.canvas);
    this.ctx = this.canvas.getContext('2d', { alpha: false })!;
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
    this.canvas.addEventListener('pointerdown', (e) => this.pointerDown(e));
    this.canvas.addEventListener('pointermove', (e) => this.pointerMove(e));
    this.canvas.addEventListener('pointerup', (e) => this.pointerUp(e));
    this.canvas.addEventListener('pointercancel', () => (this.press = null));
    this.canvas.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
  }

  // ---- elements

  hasNode(id: string) {
    return this.nodes.has(id);
  }
  hasEdge(id: string) {
    return this.edges.has(id);
  }
  nodeIds(): string[] {
    return [...this.nodes.keys()];
  }
  get nodeCount() {
    return this.nodes.size;
  }
  get edgeCount() {
    return this.edges.size;
  }
  look(id: string): NodeLook | EdgeLook | undefined {
    return this.nodes.get(id) || this.edges.get(id);
  }
  /** Nodes whose badge the last frame drew (tests read it). */
  badged(): { id: string; badge: Badge }[] {
    return this.badgedLast.map((n) => ({ id: n.id, badge: n.badge }));
  }

  setNode(id: string, look: NodeLook, pos?: Point) {
    const n = this.nodes.get(id);
    if (n) {
      Object.assign(n, look, nodeKeys(look));
      if (pos) (n.x = pos.x), (n.y = pos.y), this.geom++;
    } else {
      this.nodes.set(id, { id, x: pos?.x ?? 0, y: pos?.y ?? 0, ...look, ...nodeKeys(look) });
      this.nodeSet++;
      this.geom++;
    }
    this.redraw();
  }

  removeNode(id: string) {
    if (this.nodes.delete(id)) {
      this.nodeSet++;
      this.geom++;
      this.redraw();
    }
    if (this.selectedId === id) this.selectedId = null;
  }

  setEdge(id: string, source: string, target: string, look: EdgeLook) {
    const e = this.edges.get(id);
    if (e) Object.assign(e, look, { source, target, key: edgeKey(look), endsAt: -1 });
    else this.edges.set(id, { id, source, target, ...look, key: edgeKey(look), endsAt: -1 });
    this.redraw();
  }

  removeEdge(id: string) {
    if (this.edges.delete(id)) this.redraw();
    if (this.selectedId === id) this.selectedId = null;
  }

  /** Resolves the ends of e (undefined when one is not drawn). */
  private ends(e: REdge): boolean {
    if (e.endsAt !== this.nodeSet) {
      e.a = this.nodes.get(e.source);
      e.b = this.nodes.get(e.target);
      e.endsAt = this.nodeSet;
    }
    return !!(e.a && e.b);
  }

  setPosition(id: string, p: Point) {
    const n = this.nodes.get(id);
    if (!n) return;
    n.x = p.x;
    n.y = p.y;
    this.geom++;
    this.redraw();
  }

  private legs: TraceLeg[] = [];
  private legsLast: DrawnLeg[] = [];

  /** Sets the trace drawn over the graph ([] for none). */
  setTrace(legs: TraceLeg[]) {
    this.legs = legs;
    this.redraw();
  }

  /** The trace legs of the last frame whose two ends were drawn. */
  tracedLegs(): DrawnLeg[] {
    return this.legsLast;
  }

  /** Sets the groups drawn as tinted areas around their members. */
  setHulls(hulls: HullSpec[]) {
    this.hullSpecs = hulls;
    this.geom++;
    this.redraw();
  }

  /**
   * What the last frame drew, for tests: the labels' boxes in container
   * pixels, the hulls' outlines in graph coordinates, and the viewport.
   */
  drawn(): { zoom: number; pan: Point; width: number; height: number; labels: DrawnLabel[]; hulls: { id: string; points: Point[] }[] } {
    return {
      zoom: this.z,
      pan: { ...this.p },
      width: this.width,
      height: this.height,
      labels: this.labelsLast.map((l) => ({ ...l })),
      hulls: this.hullCache.map((h) => ({ id: h.id, points: h.points.map((p) => ({ ...p })) })),
    };
  }

  /** A node's position in graph coordinates (null when not drawn). */
  position(id: string): Point | null {
    const n = this.nodes.get(id);
    return n ? { x: n.x, y: n.y } : null;
  }

  select(id: string | null) {
    this.selectedId = id && (this.nodes.has(id) || this.edges.has(id)) ? id : null;
    this.redraw();
  }
  get selected() {
    return this.selectedId;
  }

  // ---- viewport: rendered = model × zoom + pan (as in Cytoscape)

  zoom() {
    return this.z;
  }
  pan(): Point {
    return { ...this.p };
  }
  setViewport(zoom: number, pan: Point) {
    this.z = Math.min(this.opts.maxZoom, Math.max(this.opts.minZoom, zoom));
    this.p = { ...pan };
    this.redraw();
  }
  panBy(d: Point) {
    this.p = { x: this.p.x + d.x, y: this.p.y + d.y };
    this.redraw();
  }
  /** Zooms by factor around a point of the container. */
  zoomAt(factor: number, at: Point) {
    const z = Math.min(this.opts.maxZoom, Math.max(this.opts.minZoom, this.z * factor));
    const mx = (at.x - this.p.x) / this.z;
    const my = (at.y - this.p.y) / this.z;
    this.z = z;
    this.p = { x: at.x - mx * z, y: at.y - my * z };
    this.redraw();
  }
  renderedPosition(id: string): Point | null {
    const n = this.nodes.get(id);
    return n ? { x: n.x * this.z + this.p.x, y: n.y * this.z + this.p.y } : null;
  }
  size() {
    return { width: this.width, height: this.height };
  }
  /** Where a node's badge is, centre and side in container pixels (tests read it); null without one. */
  badgeBox(id: string): { x: number; y: number; side: number } | null {
    const n = this.nodes.get(id);
    if (!n || !n.badge) return null;
    const d = n.size * BADGE_AT;
    return { x: (n.x + d) * this.z + this.p.x, y: (n.y - d) * this.z + this.p.y, side: badgeSide(n.size) * this.z };
  }

  /**
   * Fits the given nodes (all when none) in the view, padding pixels from
   * its sides, leaving the inset bands free (the legend's).
   */
  fit(ids: Iterable<string> | null, padding: number, maxZoom = this.opts.maxZoom, inset: Partial<Insets> = {}) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    const add = (n: RNode) => {
      const r = n.size / 2;
      x0 = Math.min(x0, n.x - r);
      y0 = Math.min(y0, n.y - r);
      x1 = Math.max(x1, n.x + r);
      y1 = Math.max(y1, n.y + r);
    };
    if (ids) for (const id of ids) {
      const n = this.nodes.get(id);
      if (n) add(n);
    }
    else for (const n of this.nodes.values()) add(n);
    if (x0 > x1) return false;
    const { left = 0, right = 0, top = 0, bottom = 0 } = inset;
    // Labels hang below the nodes, a fixed height on screen.
    const labelPx = 26;
    const w = Math.max(1, this.width - 2 * padding - left - right);
    const h = Math.max(1, this.height - 2 * padding - top - bottom - labelPx);
    const z = Math.min(maxZoom, this.opts.maxZoom, Math.max(this.opts.minZoom, Math.min(w / (x1 - x0 || 1), h / (y1 - y0 || 1))));
    const cx = left + padding + w / 2;
    const cy = top + padding + h / 2;
    this.setViewport(z, { x: cx - ((x0 + x1) / 2) * z, y: cy - ((y0 + y1) / 2) * z });
    return true;
  }

  /** Bumped whenever a node is added or removed. */
  get membership() {
    return this.nodeSet;
  }

  /** Centres the view on a node, keeping the zoom. */
  center(id: string) {
    const n = this.nodes.get(id);
    if (n) this.setViewport(this.z, { x: this.width / 2 - n.x * this.z, y: this.height / 2 - n.y * this.z });
  }

  // ---- hit tests (on press and release only)

  nodeAt(cx: number, cy: number): RNode | null {
    const x = (cx - this.p.x) / this.z;
    const y = (cy - this.p.y) / this.z;
    const slop = 2 / this.z;
    let best: RNode | null = null;
    for (const n of this.nodes.values()) {
      const r = n.size / 2 + slop;
      if (Math.abs(n.x - x) <= r && Math.abs(n.y - y) <= r) {
        if (n.shape === 'ellipse' && (n.x - x) ** 2 + (n.y - y) ** 2 > r * r) continue;
        best = n; // the last drawn is on top
      }
    }
    return best;
  }

  edgeAt(cx: number, cy: number): REdge | null {
    const x = (cx - this.p.x) / this.z;
    const y = (cy - this.p.y) / this.z;
    let best: REdge | null = null;
    let bestD = (6 / this.z) ** 2;
    for (const e of this.edges.values()) {
      if (!this.ends(e)) continue;
      const a = e.a!;
      const b = e.b!;
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const l2 = dx * dx + dy * dy || 1;
      const t = Math.max(0, Math.min(1, ((x - a.x) * dx + (y - a.y) * dy) / l2));
      const d = (a.x + t * dx - x) ** 2 + (a.y + t * dy - y) ** 2;
      if (d <= bestD) {
        bestD = d;
        best = e;
      }
    }
    return best;
  }

  // ---- input

  private local(e: MouseEvent): Point {
    const r = this.canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  private pointerDown(e: PointerEvent) {
    if (e.button !== 0) return;
    const p = this.local(e);
    this.canvas.setPointerCapture(e.pointerId);
    this.press = { ...p, node: this.nodeAt(p.x, p.y), moved: false, id: e.pointerId };
  }

  private pointerMove(e: PointerEvent) {
    const pr = this.press;
    if (!pr || pr.id !== e.pointerId) return;
    const p = this.local(e);
    const dx = p.x - pr.x;
    const dy = p.y - pr.y;
    if (!pr.moved && Math.hypot(dx, dy) < TAP_SLOP_PX) return;
    pr.moved = true;
    pr.x = p.x;
    pr.y = p.y;
    if (pr.node) {
      pr.node.x += dx / this.z;
      pr.node.y += dy / this.z;
      this.geom++;
      this.redraw();
    } else this.panBy({ x: dx, y: dy });
  }

  private pointerUp(e: PointerEvent) {
    const pr = this.press;
    this.press = null;
    if (!pr || pr.id !== e.pointerId) return;
    if (pr.moved) {
      if (pr.node) this.onDragEnd(pr.node.id, { x: pr.node.x, y: pr.node.y });
      return;
    }
    const p = this.local(e);
    const n = this.nodeAt(p.x, p.y);
    if (n) {
      const now = performance.now();
      const double = this.lastTap.id === n.id && now - this.lastTap.at < DOUBLE_TAP_MS;
      this.lastTap = double ? { id: '', at: 0 } : { id: n.id, at: now };
      this.onTap('node', n.id);
      if (double) this.onDoubleTap(n.id);
      return;
    }
    this.lastTap = { id: '', at: 0 };
    const ed = this.edgeAt(p.x, p.y);
    this.onTap(ed ? 'edge' : null, ed ? ed.id : null);
  }

  private wheel(e: WheelEvent) {
    e.preventDefault();
    const d = e.deltaMode === 1 ? e.deltaY * 33 : e.deltaY;
    this.zoomAt(Math.exp(-d * 0.0015), this.local(e));
  }

  private resize() {
    const r = this.container.getBoundingClientRect();
    this.dpr = Math.min(2, window.devicePixelRatio || 1);
    this.width = Math.max(1, Math.round(r.width));
    this.height = Math.max(1, Math.round(r.height));
    this.canvas.width = Math.round(this.width * this.dpr);
    this.canvas.height = Math.round(this.height * this.dpr);
    this.draw();
  }

  // ---- labels

  private textWidth(font: string, text: string): number {
    const key = font + '\u0000' + text;
    let w = this.widths.get(key);
    if (w === undefined) {
      this.ctx.font = font;
      w = this.ctx.measureText(text).width;
      if (this.widths.size > 20000) this.widths.clear();
      this.widths.set(key, w);
    }
    return w;
  }

  /**
   * Draws the labels in screen space, by rank (hosts, namespaces, groups,
   * interfaces), each below its node, leaving out any that would overlap
   * one already placed. Returns their boxes.
   */
  private drawLabels(shown: RNode[]): DrawnLabel[] {
    const { ctx, z, p } = this;
    const ranks: RNode[][] = [[], [], [], []];
    for (const n of shown) if (n.label) ranks[n.rank].push(n);
    const grid = new Map<number, DrawnLabel[]>();
    const cellKey = (cx: number, cy: number) => cx * 65536 + cy;
    const cells = (b: DrawnLabel, f: (k: number) => boolean | void) => {
      for (let cx = Math.floor(b.x / LABEL_CELL); cx <= Math.floor((b.x + b.w) / LABEL_CELL); cx++)
        for (let cy = Math.floor(b.y / LABEL_CELL); cy <= Math.floor((b.y + b.h) / LABEL_CELL); cy++) if (f(cellKey(cx + 1000, cy + 1000))) return true;
      return false;
    };
    const overlaps = (b: DrawnLabel) =>
      cells(b, (k) => (grid.get(k) || []).some((o) => b.x < o.x + o.w && o.x < b.x + b.w && b.y < o.y + o.h && o.y < b.y + b.h));
    const placed: DrawnLabel[] = [];
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.lineJoin = 'round';
    let candidates = 0;
    for (let rank = 0; rank < 4; rank++) {
      const st = LABEL_STYLES[rank];
      const want = st.scale * z;
      if (want < st.hide) continue;
      const fontPx = Math.round(Math.min(st.max, Math.max(st.min, want)));
      const font = `${st.font} ${fontPx}px sans-serif`.trim();
      // Big nodes first: they are the ones one looks for.
      const list = ranks[rank].length > 1 ? [...ranks[rank]].sort((a, b) => b.size - a.size) : ranks[rank];
      for (const n of list) {
        if (candidates++ >= MAX_LABELS) break;
        const w = this.textWidth(font, n.label) + (rank === 0 ? 10 : 2);
        const h = fontPx + (rank === 0 ? 6 : 2);
        const sx = n.x * z + p.x;
        const sy = n.y * z + p.y + (n.size * z) / 2 + 2;
        const b: DrawnLabel = { id: n.id, text: n.label, rank: rank as LabelRank, x: sx - w / 2, y: sy, w, h };
        if (b.x > this.width || b.x + b.w < 0 || b.y > this.height || b.y + b.h < 0) continue;
        if (overlaps(b)) continue;
        cells(b, (k) => {
          const l = grid.get(k);
          if (l) l.push(b);
          else grid.set(k, [b]);
        });
        placed.push(b);
        ctx.font = font;
        if (rank === 0) {
          // Hosts: white on a pill of their colour, below their box.
          ctx.beginPath();
          ctx.roundRect(b.x, b.y, b.w, b.h, h / 2);
          ctx.fillStyle = n.fill;
          ctx.fill();
          ctx.fillStyle = '#fff';
          ctx.fillText(n.label, sx, sy + h / 2);
        } else {
          // A white rim keeps the text readable over links and hulls.
          ctx.lineWidth = 3;
          ctx.strokeStyle = 'rgba(255,255,255,0.85)';
          ctx.strokeText(n.label, sx, sy + h / 2);
          ctx.fillStyle = rank === 1 ? '#2c4a57' : '#223';
          ctx.fillText(n.label, sx, sy + h / 2);
        }
      }
    }
    return placed;
  }

  // ---- trace legs

  /** Draws the trace over everything, in screen space: it is what one looks at. */
  private drawLegs(): DrawnLeg[] {
    const { ctx, z, p } = this;
    const out: DrawnLeg[] = [];
    if (!this.legs.length) return out;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.lineCap = 'round';
    for (const leg of this.legs) {
      const a = this.nodes.get(leg.from);
      const b = this.nodes.get(leg.to);
      if (!a || !b) continue;
      const d: DrawnLeg = { ...leg, ax: a.x * z + p.x, ay: a.y * z + p.y, bx: b.x * z + p.x, by: b.y * z + p.y };
      ctx.beginPath();
      ctx.moveTo(d.ax, d.ay);
      ctx.lineTo(d.bx, d.by);
      ctx.strokeStyle = leg.lost ? TRACE_LOST : TRACE_OK;
      ctx.lineWidth = leg.lost ? 6 : 4;
      ctx.globalAlpha = 0.85;
      ctx.stroke();
      ctx.globalAlpha = 1;
      out.push(d);
    }
    // Labels after every line, so that no line crosses one.
    ctx.font = 'bold 12px sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (const d of out) {
      const mx = (d.ax + d.bx) / 2;
      const my = (d.ay + d.by) / 2;
      const w = this.textWidth(ctx.font, d.label) + 10;
      ctx.beginPath();
      ctx.roundRect(mx - w / 2, my - 9, w, 18, 9);
      ctx.fillStyle = d.lost ? TRACE_LOST : '#fff';
      ctx.fill();
      ctx.strokeStyle = d.lost ? TRACE_LOST : TRACE_OK;
      ctx.lineWidth = 1.5;
      ctx.stroke();
      ctx.fillStyle = d.lost ? '#fff' : '#1d5f2f';
      ctx.fillText(d.label, mx, my);
    }
    return out;
  }

  // ---- hulls

  /**
   * The hulls' outlines, computed again only when nodes moved, came or
   * went. Inner groups first, so that an outer hull goes around the inner
   * ones whole.
   */
  private hulls() {
    if (this.hullsAt === this.geom) return this.hullCache;
    const byOwner = new Map<string, Point[]>();
    const specs = [...this.hullSpecs].sort((a, b) => b.depth - a.depth);
    const out: typeof this.hullCache = [];
    for (const h of specs) {
      const pts: Point[] = [];
      for (const id of h.members) {
        const inner = id !== h.id ? byOwner.get(id) : undefined;
        if (inner) for (const p of inner) ring(pts, p.x, p.y, HULL_PAD / 2, 4);
        const n = this.nodes.get(id);
        if (n) ring(pts, n.x, n.y, n.size / 2 + HULL_PAD);
      }
      if (pts.length < 3) continue;
      const poly = convexHull(pts);
      byOwner.set(h.id, poly);
      out.push({ id: h.id, color: h.color, depth: h.depth, points: poly });
    }
    this.hullCache = out.sort((a, b) => a.depth - b.depth);
    this.hullsAt = this.geom;
    return this.hullCache;
  }

  // ---- drawing

  /** Asks for a frame; several changes in one task share it. */
  redraw() {
    if (!this.frame) this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  draw() {
    const t0 = performance.now();
    const { ctx, z, p } = this;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, this.width, this.height);
    ctx.setTransform(this.dpr * z, 0, 0, this.dpr * z, this.dpr * p.x, this.dpr * p.y);
    const margin = 60 / z + 40;
    const x0 = -p.x / z - margin;
    const y0 = -p.y / z - margin;
    const x1 = (this.width - p.x) / z + margin;
    const y1 = (this.height - p.y) / z + margin;
    const inView = (n: RNode) => n.x >= x0 && n.x <= x1 && n.y >= y0 && n.y <= y1;
    const px = 1 / z; // one screen pixel in model units

    // Hulls under everything, outer ones first.
    for (const h of this.hulls()) {
      ctx.beginPath();
      const pts = h.points;
      ctx.moveTo(pts[0].x, pts[0].y);
      for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i].x, pts[i].y);
      ctx.closePath();
      ctx.globalAlpha = 0.13;
      ctx.fillStyle = h.color;
      ctx.fill();
      ctx.globalAlpha = 0.55;
      ctx.strokeStyle = h.color;
      ctx.lineWidth = 1.5 * px;
      ctx.lineJoin = 'round';
      ctx.stroke();
      ctx.globalAlpha = 1;
    }

    // Edges: one path per look.
    const edgeGroups = new Map<string, REdge[]>();
    let selectedEdge: REdge | null = null;
    for (const e of this.edges.values()) {
      if (!this.ends(e)) continue;
      const a = e.a!;
      const b = e.b!;
      if ((a.x < x0 && b.x < x0) || (a.x > x1 && b.x > x1) || (a.y < y0 && b.y < y0) || (a.y > y1 && b.y > y1)) continue;
      if (e.id === this.selectedId) selectedEdge = e;
      else bucket(edgeGroups, e.key, e);
    }
    const strokeEdges = (list: REdge[], color: string, width: number, dash: LineDash) => {
      ctx.beginPath();
      for (const e of list) {
        ctx.moveTo(e.a!.x, e.a!.y);
        ctx.lineTo(e.b!.x, e.b!.y);
      }
      ctx.strokeStyle = color;
      ctx.lineWidth = Math.max(width, 0.6 * px);
      const u = Math.max(1, px);
      ctx.setLineDash(dash === 'dashed' ? [4 * u, 3 * u] : dash === 'dotted' ? [1.2 * u, 2.4 * u] : []);
      ctx.stroke();
    };
    for (const list of edgeGroups.values()) strokeEdges(list, list[0].color, list[0].width, list[0].dash);
    if (selectedEdge) strokeEdges([selectedEdge], SELECT_COLOR, 3, 'solid');
    ctx.setLineDash([]);

    // Nodes: halos, fills, borders, each one path per look.
    const shown: RNode[] = [];
    const halos = new Map<string, RNode[]>();
    const fills = new Map<string, RNode[]>();
    const strokes = new Map<string, RNode[]>();
    const badges = new Map<string, RNode[]>();
    const tiny = 2.5 * px; // below this a node is a dot: no border, no shape
    for (const n of this.nodes.values()) {
      if (!inView(n)) continue;
      shown.push(n);
      if (n.overlay) bucket(halos, n.overlay, n);
      bucket(fills, n.size < tiny ? n.dotKey : n.fillKey, n);
      if (n.size >= tiny * 3) {
        if (n.id !== this.selectedId) bucket(strokes, n.strokeKey, n);
        // Like borders, badges only where a node is more than a dot.
        if (n.badge) bucket(badges, n.badge, n);
      }
    }
    ctx.globalAlpha = 0.45;
    for (const [color, list] of halos) {
      ctx.beginPath();
      for (const n of list) tracePath(ctx, 'ellipse', n.x, n.y, n.size + 14);
      ctx.fillStyle = color;
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    for (const [key, list] of fills) {
      const shape = key.slice(0, key.indexOf('|')) as Shape;
      ctx.beginPath();
      for (const n of list) tracePath(ctx, shape, n.x, n.y, Math.max(n.size, px));
      ctx.fillStyle = list[0].fill;
      ctx.fill();
    }
    for (const list of strokes.values()) {
      const f = list[0];
      ctx.beginPath();
      for (const n of list) tracePath(ctx, n.shape, n.x, n.y, n.size);
      ctx.strokeStyle = f.stroke;
      ctx.lineWidth = f.double ? f.strokeWidth / 3 : f.strokeWidth;
      ctx.setLineDash(f.dashed ? [4, 3] : []);
      ctx.stroke();
      if (f.double) {
        ctx.beginPath();
        for (const n of list) tracePath(ctx, n.shape, n.x, n.y, Math.max(1, n.size - f.strokeWidth * 1.4));
        ctx.stroke();
      }
    }
    ctx.setLineDash([]);
    // Icons, where a node is big enough on screen to show one.
    const icons = new Map<Icon, RNode[]>();
    for (const n of shown) if (n.icon && n.size * z >= ICON_MIN_PX) bucket(icons, n.icon, n);
    for (const [icon, list] of icons) {
      ctx.beginPath();
      for (const n of list) ICONS[icon as Exclude<Icon, ''>](ctx, n.x, n.y, n.size);
      ctx.strokeStyle = 'rgba(20, 25, 40, 0.55)';
      ctx.lineWidth = Math.max(1.2 * px, 0.045 * list[0].size);
      ctx.stroke();
    }
    const sel = this.selectedId ? this.nodes.get(this.selectedId) : undefined;
    if (sel) {
      ctx.beginPath();
      tracePath(ctx, sel.shape, sel.x, sel.y, sel.size);
      ctx.strokeStyle = SELECT_COLOR;
      ctx.lineWidth = Math.max(4, 2 * px);
      ctx.stroke();
    }
    // Badges over the borders and the selection, so that they stay whole.
    this.badgedLast = [];
    for (const [kind, list] of badges) {
      paintBadges(ctx, kind as Exclude<Badge, ''>, list, px);
      this.badgedLast = this.badgedLast.concat(list);
    }

    this.labelsLast = this.drawLabels(shown);
    this.legsLast = this.drawLegs();
    this.frames++;
    this.lastDrawMs = performance.now() - t0;
    this.onDraw();
  }
}
