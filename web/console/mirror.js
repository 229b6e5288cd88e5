/**
 * The mirror of a visitor's page (docs/cobrowse.md, "Rendering"): rebuilt
 * from snapshots and changes in an iframe that runs no script (sandboxed
 * without allow-scripts; its document's CSP says script-src 'none'). Used by
 * the agent's co-browse view (cobrowse.js) and a supervisor watching
 * (supervisor/cobrowse-watch.js).
 *
 * Whatever the page sends is treated as hostile: scripts, event handler
 * attributes, javascript: URLs, plug-ins, frames, refresh and base tags and
 * CSS expressions are dropped before they reach the mirror document.
 */

/** Nodes the mirror holds; a bigger page is cut with a notice. */
const MAX_NODES = 60000;
const SVG_NS = 'http://www.w3.org/2000/svg';
/** Capture frames that change the mirror's document. */
const DOCUMENT_FRAMES = new Set(['snapshot', 'mutations', 'scroll', 'viewport', 'input']);
/** Elements never rebuilt (a comment keeps their place). */
const DROPPED = new Set(['script', 'noscript', 'object', 'embed', 'applet', 'base', 'frame', 'frameset', 'portal', 'template']);
/** A frame is rebuilt empty (its captured document goes in it) and never loads anything. */
const FRAME_ATTRS = new Set(['src', 'srcdoc', 'sandbox', 'allow', 'name', 'csp']);
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'poster', 'background', 'cite', 'data', 'xlink:href', 'srcset', 'ping', 'manifest']);
const BAD_URL = /^\s*(javascript|vbscript|data:text\/html|data:image\/svg)/i;
const BAD_CSS = /expression\s*\(|javascript:|vbscript:|-moz-binding|behavior\s*:/gi;

/** An attribute as the mirror may carry it, or null. */
export function safeAttr(tag, name, value) {
  const n = String(name).toLowerCase();
  if (n.startsWith('on') || n === 'srcdoc' || n === 'formaction' || n === 'http-equiv') return null;
  const v = String(value ?? '');
  if (URL_ATTRS.has(n) && BAD_URL.test(v.replace(/[\u0000-\u0020]/g, ''))) return null;
  if (n === 'style') return v.replace(BAD_CSS, '/*x*/');
  if (tag === 'meta' && n === 'content' && /url\s*=/i.test(v)) return null;
  return v;
}

/** The page's canvas as a picture (an image, not drawing code); the page
 * sends it again when it changes. */
function canvasPicture(node, url) {
  if (node.localName !== 'canvas' || !/^data:image\/(webp|png);base64,[A-Za-z0-9+/=]*$/.test(url || '')) return;
  node.style.backgroundImage = `url("${url}")`;
  node.style.backgroundSize = '100% 100%';
}

export const safeCss = (css) => String(css ?? '').replace(BAD_CSS, '/*x*/');
/** How a view of `session` asks the server for an asset of the visitor's site. */
export const assetUrl = (session) => (url) => `/cobrowse/asset?session=${encodeURIComponent(session)}&url=${encodeURIComponent(url)}`;
/** Font files in a stylesheet's url(...). */
const FONT_URL = /url\(\s*(["']?)(https?:[^"')\s]+\.(?:woff2?|ttf|otf|eot)(?:[?#][^"')\s]*)?)\1\s*\)/gi;

export class Mirror {
  /** `pointer`: an element that shows the visitor's pointer over the view. */
  constructor(iframe, notice, pointer) {
    this.iframe = iframe;
    this.notice = notice;
    this.pointer = pointer;
    this.nodes = new Map();
    this.ids = new WeakMap();
    this.scale = 1;
    // Frames wait until the mirror document has loaded (else its load would
    // wipe what was built in the blank document before it).
    this.loaded = false;
    this.queue = [];
    iframe.addEventListener('load', () => {
      this.loaded = true;
      const queued = this.queue;
      this.queue = [];
      queued.forEach((f) => this.apply(f));
    });
  }

  /** A capture frame from the page, applied; false for any other frame. */
  apply(f) {
    if (!this.loaded && DOCUMENT_FRAMES.has(f.type)) {
      if (this.queue.length < 1000) this.queue.push(f);
      return true;
    }
    switch (f.type) {
      case 'snapshot':
        this.snapshot(f);
        break;
      case 'mutations':
        this.mutations(f);
        break;
      case 'scroll':
        this.scroll(f);
        break;
      case 'viewport':
        this.size(f.w, f.h);
        break;
      case 'input':
        this.input(f);
        break;
      case 'pointer':
        if (this.pointer) {
          this.pointer.hidden = false;
          this.pointer.style.transform = `translate(${(Number(f.x) || 0) * this.scale}px,${(Number(f.y) || 0) * this.scale}px)`;
        }
        break;
      default:
        return false;
    }
    return true;
  }

  /** Back to a blank mirror document (the session ended). */
  restart() {
    this.loaded = false;
    this.iframe.src = '/cobrowse/frame';
  }

  get doc() {
    return this.iframe.contentDocument;
  }

  reset() {
    this.nodes.clear();
    this.ids = new WeakMap();
    this.cut = false;
  }

  create(r) {
    const doc = this.doc;
    if (r.t === 3) return doc.createTextNode(String(r.x ?? ''));
    const tag = String(r.g || 'div').toLowerCase();
    if (DROPPED.has(tag) || !/^[a-z][a-z0-9-]*$/.test(tag)) return doc.createComment(tag);
    const node = r.s ? doc.createElementNS(SVG_NS, tag) : doc.createElement(tag);
    if (tag === 'meta' && r.a && r.a['http-equiv']) return doc.createComment('meta');
    for (const [k, v] of Object.entries(r.a || {})) {
      if (tag === 'iframe' && FRAME_ATTRS.has(k.toLowerCase())) continue;
      const safe = safeAttr(tag, k, v);
      if (safe === null) continue;
      try {
        node.setAttribute(k, safe);
      } catch {
        /* a name the DOM refuses: left out */
      }
    }
    if (tag === 'iframe') node.setAttribute('sandbox', 'allow-same-origin');
    if (tag === 'link' && /stylesheet/i.test(r.a?.rel || '') && node.hasAttribute('href')) node.setAttribute('href', this.own(node.getAttribute('href')));
    if (tag === 'style' && r.x != null) node.textContent = this.css(r.x);
    if (tag === 'canvas' && r.a) canvasPicture(node, r.a['data-sb-image']);
    if (r.v != null && 'value' in node && tag !== 'button') node.value = String(r.v);
    if (tag === 'textarea' && r.v != null) node.textContent = String(r.v);
    if (r.c != null && 'checked' in node) node.checked = !!r.c;
    return node;
  }

  /** Inserts records in order: each goes under `p`, before `n` when given. */
  add(records) {
    for (const r of records) {
      if (this.nodes.size >= MAX_NODES) {
        this.cut = true;
        break;
      }
      const id = Number(r.i);
      if (r.t === 11 || r.t === 9) {
        this.root(id, r);
        continue;
      }
      const node = this.create(r);
      if (Number(r.p) === 0) {
        const doc = this.doc;
        if (node.nodeType !== 1) continue;
        doc.replaceChild(node, doc.documentElement);
      } else {
        const parent = this.nodes.get(Number(r.p));
        if (!parent || ![1, 9, 11].includes(parent.nodeType)) continue;
        const next = r.n != null ? this.nodes.get(Number(r.n)) : null;
        try {
          if (parent.nodeType === 9) {
            // A frame's document: its root element.
            if (node.nodeType !== 1) continue;
            if (parent.documentElement) parent.replaceChild(node, parent.documentElement);
            else parent.append(node);
          } else parent.insertBefore(node, next && next.parentNode === parent ? next : null);
        } catch {
          continue;
        }
      }
      const old = this.nodes.get(id);
      if (old && old !== node && old.parentNode) old.remove();
      this.nodes.set(id, node);
      this.ids.set(node, id);
    }
    if (this.cut) this.notice(`The page is larger than ${MAX_NODES} nodes; the view is cut.`);
  }

  /**
   * A URL of the visitor's own site, or of one of the tenant's allowed
   * origins (`assetOrigins`, from the server's `joined`/`sharing`), through
   * the server (`/cobrowse/asset`), when the view knows its session: the
   * site's fonts and stylesheets may be refused to the console's origin
   * (CORS), the server fetches them. Other URLs are left as they are.
   */
  own(url) {
    try {
      const origin = new URL(url).origin;
      const listed = origin === this.pageOrigin || (this.assetOrigins || []).includes(origin);
      if (this.asset && this.pageOrigin && listed) return this.asset(url);
    } catch {
      /* not a URL */
    }
    return url;
  }

  /** A stylesheet's text as the mirror may use it, its site's fonts through the server. */
  css(text) {
    return safeCss(text).replace(FONT_URL, (whole, _q, url) => {
      const own = this.own(url);
      return own === url ? whole : `url("${own}")`;
    });
  }

  /** An open shadow root (type 11) or a same-origin frame's document (9)
   * of node `r.p`, for the records under it. */
  root(id, r) {
    const host = this.nodes.get(Number(r.p));
    if (!host || host.nodeType !== 1) return;
    let root = null;
    try {
      if (r.t === 11) root = host.shadowRoot || host.attachShadow({ mode: 'open' });
      else if (host.localName === 'iframe') root = host.contentDocument;
    } catch {
      /* an element that takes no shadow root: its content is left out */
    }
    if (!root) return;
    this.nodes.set(id, root);
    this.ids.set(root, id);
  }

  snapshot(f) {
    try {
      this.pageOrigin = new URL(String(f.url)).origin;
    } catch {
      this.pageOrigin = null;
    }
    if (f.part === 0) {
      this.reset();
      this.size(f.w, f.h);
    }
    this.add(Array.isArray(f.adds) ? f.adds : []);
    if (f.last) {
      this.scroll({ id: 0, x: f.sx, y: f.sy });
      if (f.cut) this.notice('The page is very large; the view shows its first 50,000 nodes.');
    }
  }

  mutations(f) {
    for (const id of f.removes || []) {
      const node = this.nodes.get(Number(id));
      if (node) node.remove();
      this.nodes.delete(Number(id));
    }
    this.add(f.adds || []);
    for (const [id, text] of f.texts || []) {
      const node = this.nodes.get(Number(id));
      if (!node) continue;
      if (node.nodeType === 3) node.data = String(text);
      else if (node.localName === 'style') node.textContent = this.css(text);
    }
    for (const [id, name, value] of f.attrs || []) {
      const node = this.nodes.get(Number(id));
      if (!node || node.nodeType !== 1) continue;
      try {
        if (value === null) node.removeAttribute(name);
        else if (name === 'data-sb-image') canvasPicture(node, value);
        else {
          const safe = safeAttr(node.localName, name, value);
          if (safe !== null) node.setAttribute(name, safe);
        }
      } catch {
        /* refused name: ignored */
      }
    }
  }

  input(f) {
    const node = this.nodes.get(Number(f.id));
    if (!node) return;
    if ('value' in node && f.value != null) node.value = String(f.value);
    if ('checked' in node && f.checked != null) node.checked = !!f.checked;
  }

  scroll(f) {
    const x = Number(f.x) || 0;
    const y = Number(f.y) || 0;
    if (Number(f.id) === 0) {
      const root = this.doc.scrollingElement || this.doc.documentElement;
      root.scrollLeft = x;
      root.scrollTop = y;
    } else {
      const node = this.nodes.get(Number(f.id));
      if (node && node.nodeType === 1) {
        node.scrollLeft = x;
        node.scrollTop = y;
      }
    }
  }

  size(w, h) {
    const width = Math.max(200, Math.min(Number(w) || 1024, 4000));
    const height = Math.max(150, Math.min(Number(h) || 768, 4000));
    const room = this.iframe.parentElement.clientWidth || width;
    this.scale = Math.min(1, room / width);
    Object.assign(this.iframe.style, { width: `${width}px`, height: `${height}px`, transform: `scale(${this.scale})` });
    this.iframe.parentElement.style.height = `${Math.ceil(height * this.scale)}px`;
    if (this.resized) this.resized(width * this.scale, height * this.scale);
  }

  /** The mirrored node under a point of the overlay (CSS px of the console). */
  idAt(x, y) {
    const node = this.doc.elementFromPoint(x / this.scale, y / this.scale);
    for (let n = node; n; n = n.parentNode) {
      const id = this.ids.get(n);
      if (id !== undefined) return { id, node: n };
    }
    return null;
  }
}

