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

export type Shape = 'ellipse' | 'round-rectangle' | 'hexagon' | 'diamond' | 'octagon' | 'rectangle';

/** How a node looks; the view resolves it from type and state. */
export interface NodeLook {
  fill: string;
  shape: Shape;
  size: number;
  label: string;
  labelInside: boolean; // hosts: white label on the node
  stroke: string;
  strokeWidth: number;
  dashed: boolean;
  double: boolean; // collapsed group
  overlay: string; // halo colour ('' for none): highlight, diff marks
}

export interface EdgeLook {
  color: string;
  width: number;
  dashed: boolean;
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

const edgeKey = (e: EdgeLook) => `${e.color}|${e.width}|${e.dashed ? 1 : 0}`;

export interface Point {
  x: number;
  y: number;
}

const LABEL_FONT_PX = 9;
const MIN_LABEL_PX = 7; // labels smaller than this on screen are not drawn
const MAX_LABELS = 4000; // per frame
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

  setNode(id: string, look: NodeLook, pos?: Point) {
    const n = this.nodes.get(id);
    if (n) {
      Object.assign(n, look, nodeKeys(look));
      if (pos) (n.x = pos.x), (n.y = pos.y);
    } else {
      this.nodes.set(id, { id, x: pos?.x ?? 0, y: pos?.y ?? 0, ...look, ...nodeKeys(look) });
      this.nodeSet++;
    }
    this.redraw();
  }

  removeNode(id: string) {
    if (this.nodes.delete(id)) {
      this.nodeSet++;
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
    this.redraw();
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

  /** Fits the given nodes (all when none) in the view. */
  fit(ids: Iterable<string> | null, padding: number, maxZoom = this.opts.maxZoom) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    const add = (n: RNode) => {
      const r = n.size / 2 + (n.labelInside ? 0 : LABEL_FONT_PX + 4);
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
    const w = Math.max(1, this.width - 2 * padding);
    const h = Math.max(1, this.height - 2 * padding);
    const z = Math.min(maxZoom, this.opts.maxZoom, Math.max(this.opts.minZoom, Math.min(w / (x1 - x0 || 1), h / (y1 - y0 || 1))));
    this.setViewport(z, { x: this.width / 2 - ((x0 + x1) / 2) * z, y: this.height / 2 - ((y0 + y1) / 2) * z });
    return true;
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
    const strokeEdges = (list: REdge[], color: string, width: number, dashed: boolean) => {
      ctx.beginPath();
      for (const e of list) {
        ctx.moveTo(e.a!.x, e.a!.y);
        ctx.lineTo(e.b!.x, e.b!.y);
      }
      ctx.strokeStyle = color;
      ctx.lineWidth = Math.max(width, 0.6 * px);
      ctx.setLineDash(dashed ? [4 * Math.max(1, px), 3 * Math.max(1, px)] : []);
      ctx.stroke();
    };
    for (const list of edgeGroups.values()) strokeEdges(list, list[0].color, list[0].width, list[0].dashed);
    if (selectedEdge) strokeEdges([selectedEdge], SELECT_COLOR, 3, false);
    ctx.setLineDash([]);

    // Nodes: halos, fills, borders, each one path per look.
    const shown: RNode[] = [];
    const halos = new Map<string, RNode[]>();
    const fills = new Map<string, RNode[]>();
    const strokes = new Map<string, RNode[]>();
    const tiny = 2.5 * px; // below this a node is a dot: no border, no shape
    for (const n of this.nodes.values()) {
      if (!inView(n)) continue;
      shown.push(n);
      if (n.overlay) bucket(halos, n.overlay, n);
      bucket(fills, n.size < tiny ? n.dotKey : n.fillKey, n);
      if (n.size >= tiny * 3 && n.id !== this.selectedId) bucket(strokes, n.strokeKey, n);
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
    const sel = this.selectedId ? this.nodes.get(this.selectedId) : undefined;
    if (sel) {
      ctx.beginPath();
      tracePath(ctx, sel.shape, sel.x, sel.y, sel.size);
      ctx.strokeStyle = SELECT_COLOR;
      ctx.lineWidth = Math.max(4, 2 * px);
      ctx.stroke();
    }

    // Labels, when readable.
    if (LABEL_FONT_PX * z >= MIN_LABEL_PX && shown.length) {
      ctx.font = `${LABEL_FONT_PX}px sans-serif`;
      ctx.textAlign = 'center';
      ctx.lineJoin = 'round';
      let count = 0;
      for (const n of shown) {
        if (!n.label || count++ >= MAX_LABELS) continue;
        if (n.labelInside) {
          ctx.textBaseline = 'middle';
          ctx.font = `${LABEL_FONT_PX + 1}px sans-serif`;
          ctx.lineWidth = 2;
          ctx.strokeStyle = n.fill;
          ctx.strokeText(n.label, n.x, n.y);
          ctx.fillStyle = '#fff';
          ctx.fillText(n.label, n.x, n.y);
          ctx.font = `${LABEL_FONT_PX}px sans-serif`;
        } else {
          ctx.textBaseline = 'top';
          ctx.fillStyle = '#223';
          ctx.fillText(n.label, n.x, n.y + n.size / 2 + 2);
        }
      }
    }
    this.frames++;
    this.lastDrawMs = performance.now() - t0;
    this.onDraw();
  }
}
