/**
 * The co-browse whiteboard (docs/cobrowse.md, "Whiteboard"), the same module
 * on both sides: the visitor's page (web/widget/cobrowse.js, in its shadow
 * root) and the agent's console (web/console/cobrowse.js, over the view).
 * Either side draws freehand, arrows, rectangles and text, over the page or
 * on a blank board; each finished shape goes to the server, which keeps it,
 * shows it to the other side and stores it with the contact.
 *
 * Points are fractions of the board (0 to 1), so the visitor's viewport and
 * the agent's scaled view draw the same picture.
 */

const TOOLS = [
  ['pen', 'Pen'],
  ['arrow', 'Arrow'],
  ['rect', 'Box'],
  ['text', 'Text'],
];
const COLOUR = { agent: '#e0245e', visitor: '#1f6feb' };
/** Freehand points kept per stroke (the server's cap is 2,000). */
const MAX_POINTS = 1500;

const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

export class Whiteboard {
  /**
   * `stage`: the element the board covers (positioned); `bar`: where the
   * tools go; `send(frame)`: to the server; `side`: 'agent' or 'visitor'
   * (its colour); `prefix`: of the test ids (`whiteboard`, `sb-whiteboard`).
   */
  constructor({ stage, bar, send, side, prefix }) {
    this.send = send;
    this.colour = COLOUR[side] || COLOUR.agent;
    this.shapes = [];
    this.blank = false;
    this.tool = 'pen';
    const doc = stage.ownerDocument;
    const canvas = (this.canvas = doc.createElement('canvas'));
    canvas.dataset.testid = prefix;
    canvas.dataset.shapes = '0';
    canvas.hidden = true;
    canvas.setAttribute('aria-label', 'Whiteboard');
    Object.assign(canvas.style, { position: 'absolute', left: '0', top: '0', width: '100%', height: '100%', touchAction: 'none', cursor: 'crosshair', zIndex: '2' });
    stage.append(canvas);
    const button = (id, label, fn) => {
      const b = doc.createElement('button');
      b.type = 'button';
      b.className = 'btn';
      b.textContent = label;
      b.dataset.testid = `${prefix}-${id}`;
      b.addEventListener('click', fn);
      return b;
    };
    this.text = doc.createElement('input');
    this.text.dataset.testid = `${prefix}-text`;
    this.text.placeholder = 'Text to place';
    this.text.maxLength = 200;
    this.text.setAttribute('aria-label', 'Whiteboard text');
    this.bar = doc.createElement('div');
    this.bar.className = 'wb-bar';
    this.bar.hidden = true;
    this.bar.append(
      ...TOOLS.map(([tool, label]) => button(`tool-${tool}`, label, () => this.pick(tool))),
      this.text,
      button('clear', 'Clear', () => {
        this.clear();
        this.send({ type: 'clear' });
      }),
      button('blank', 'On its own', () => this.show(true, !this.blank)),
      button('close', 'Close board', () => this.show(false, this.blank)),
    );
    bar.append(this.bar);
    this.pick('pen');
    this.listen();
    new ResizeObserver(() => this.paint()).observe(canvas);
  }

  get shown() {
    return !this.canvas.hidden;
  }

  pick(tool) {
    this.tool = tool;
    for (const b of this.bar.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.testid.endsWith(`tool-${tool}`)));
  }

  /** Shows or hides the board here and on the other side. */
  show(show, blank) {
    this.set(show, blank);
    this.send({ type: 'board', show, blank });
  }

  /** Shows or hides the board as the other side asked (the `board` frame). */
  set(show, blank, shapes) {
    this.canvas.hidden = !show;
    this.bar.hidden = !show;
    this.blank = !!blank;
    if (Array.isArray(shapes)) this.shapes = shapes.slice();
    this.paint();
  }

  /** A whiteboard frame from the other side; false for any other frame. */
  apply(f) {
    switch (f.type) {
      case 'draw':
        this.add(f.shape);
        return true;
      case 'clear':
        this.clear();
        return true;
      case 'board':
        this.set(!!f.show, !!f.blank, f.shapes);
        return true;
      default:
        return false;
    }
  }

  add(shape) {
    if (!shape || !Array.isArray(shape.pts)) return;
    this.shapes.push(shape);
    if (!this.shown) this.set(true, this.blank);
    else this.paint();
  }

  clear() {
    this.shapes = [];
    this.paint();
  }

  /** A pointer event as a point of the board. */
  at(e) {
    const r = this.canvas.getBoundingClientRect();
    return [round((e.clientX - r.left) / (r.width || 1)), round((e.clientY - r.top) / (r.height || 1))];
  }

  listen() {
    const c = this.canvas;
    c.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      const p = this.at(e);
      if (this.tool === 'text') {
        const text = this.text.value.trim().slice(0, 200);
        if (text) this.finish({ k: 'text', pts: [p], c: this.colour, text });
        return;
      }
      c.setPointerCapture?.(e.pointerId);
      this.drawing = { k: this.tool, pts: this.tool === 'pen' ? [p] : [p, p], c: this.colour };
    });
    c.addEventListener('pointermove', (e) => {
      const d = this.drawing;
      if (!d) return;
      const p = this.at(e);
      if (d.k === 'pen') {
        if (d.pts.length < MAX_POINTS) d.pts.push(p);
      } else d.pts[1] = p;
      this.paint();
    });
    const up = () => {
      const d = this.drawing;
      this.drawing = null;
      if (d) this.finish(d);
    };
    c.addEventListener('pointerup', up);
    c.addEventListener('pointercancel', up);
  }

  finish(shape) {
    this.shapes.push(shape);
    this.paint();
    this.send({ type: 'draw', shape });
  }

  /** Draws every shape (and the one being drawn) at the canvas's size. */
  paint() {
    const c = this.canvas;
    c.dataset.shapes = String(this.shapes.length);
    c.dataset.blank = String(this.blank);
    if (c.hidden) return;
    const ratio = c.ownerDocument.defaultView.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(c.clientWidth * ratio));
    const h = Math.max(1, Math.round(c.clientHeight * ratio));
    if (c.width !== w || c.height !== h) Object.assign(c, { width: w, height: h });
    const g = c.getContext('2d');
    g.clearRect(0, 0, w, h);
    if (this.blank) {
      g.fillStyle = '#ffffff';
      g.fillRect(0, 0, w, h);
    }
    g.lineWidth = Math.max(2, 3 * ratio);
    g.lineCap = g.lineJoin = 'round';
    for (const s of this.drawing ? [...this.shapes, this.drawing] : this.shapes) shape(g, s, w, h);
  }
}

/** One shape on a 2D context of `w` by `h` pixels. */
function shape(g, s, w, h) {
  const pts = s.pts.map(([x, y]) => [x * w, y * h]);
  if (!pts.length) return;
  g.strokeStyle = g.fillStyle = /^#[0-9a-f]{6}$/i.test(s.c) ? s.c : '#000000';
  g.beginPath();
  if (s.k === 'text') {
    g.font = `${Math.max(12, Math.round(h / 30))}px system-ui, sans-serif`;
    g.fillText(String(s.text || ''), pts[0][0], pts[0][1]);
    return;
  }
  const [[x0, y0], [x1, y1] = pts[0]] = pts;
  if (s.k === 'rect') g.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
  else {
    g.moveTo(x0, y0);
    for (const [x, y] of s.k === 'pen' ? pts.slice(1) : [[x1, y1]]) g.lineTo(x, y);
    if (s.k === 'arrow') {
      const a = Math.atan2(y1 - y0, x1 - x0);
      const head = Math.max(10, g.lineWidth * 4);
      for (const turn of [-0.5, 0.5]) {
        g.moveTo(x1, y1);
        g.lineTo(x1 - head * Math.cos(a + turn), y1 - head * Math.sin(a + turn));
      }
    }
  }
  g.stroke();
}
