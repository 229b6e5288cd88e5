/**
 * Tiny DOM helpers shared by the staff pages.
 *
 * `h()` builds elements without markup strings: text children become Text nodes, so
 * visitor or server data can never be parsed as HTML.
 */

/**
 * Creates an element. `props`: `class`, `text`, `dataset`, `on` ({event: fn}),
 * `attrs` ({name: value}); anything else is set as a property. Children may be
 * nodes, strings, numbers, or null/false (skipped), also nested in arrays.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'attrs') for (const [a, v] of Object.entries(value)) el.setAttribute(a, v);
    else if (key === 'on') for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else el[key] = value;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A link only for http(s) URLs; anything else (javascript:, data:) stays plain text. */
export function safeLink(url, text = url) {
  try {
    const u = new URL(url);
    if (u.protocol === 'http:' || u.protocol === 'https:') {
      return h('a', { href: u.href, target: '_blank', rel: 'noopener noreferrer', text });
    }
  } catch {
    /* not a URL */
  }
  return h('span', { text });
}

/** `14:03` for today, `21 Nov, 14:03` otherwise. */
export function formatTime(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

/** `45 s`, `3 min 05 s`, `1 h 02 min`. */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** Shows a message in a status element for a while. */
export function flash(el, message, { error = false, ms = 5000 } = {}) {
  el.textContent = message;
  el.classList.toggle('error', error);
  el.hidden = false;
  clearTimeout(el._flashTimer);
  if (ms) el._flashTimer = setTimeout(() => (el.hidden = true), ms);
}
