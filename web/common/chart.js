/**
 * A small SVG chart: bars (grouped or stacked) or lines over a row of labels,
 * drawn in the browser from numbers, with axes, a legend and a title that
 * screen readers read. No outside service, no inline styles (the staff pages'
 * CSP forbids them): colours are SVG attributes, sizes come from the viewBox.
 *
 *   chart(element, {
 *     type: 'bar' | 'line', stacked: false,
 *     title: 'Contacts per hour', labels: ['09:00', '10:00'],
 *     series: [{ name: 'Answered', values: [3, 5] }, ...],
 *     format: (v) => `${v}`,   // axis and tooltip values
 *   });
 *
 * `null` values are gaps (no bar, a break in the line). Returns the <svg>.
 */

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 720;
const HEIGHT = 260;
const PAD = { top: 28, right: 12, bottom: 44, left: 48 };
/** Colours that stay apart for the common kinds of colour blindness (Okabe-Ito). */
export const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#d55e00', '#cc79a7', '#56b4e9', '#f0e442', '#000000'];

function el(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text != null) node.textContent = String(text);
  return node;
}

/** A "nice" axis maximum and step: 1, 2 or 5 times a power of ten. */
export function niceScale(max, ticks = 5) {
  if (!(max > 0)) return { max: 1, step: 0.2 };
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return { max: Math.ceil(max / step) * step, step };
}

export function chart(target, { type = 'bar', stacked = false, title = '', labels = [], series = [], format = String }) {
  const svg = el('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-label': title,
    class: 'chart',
    width: '100%',
    preserveAspectRatio: 'xMidYMid meet',
  });
  svg.append(el('title', {}, title));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const totals = labels.map((_, i) =>
    stacked
      ? series.reduce((sum, s) => sum + (Number(s.values[i]) || 0), 0)
      : Math.max(0, ...series.map((s) => Number(s.values[i]) || 0)),
  );
  const { max, step } = niceScale(Math.max(0, ...totals));
  const y = (v) => PAD.top + plotH - (v / max) * plotH;
  const band = labels.length ? plotW / labels.length : plotW;
  const x = (i) => PAD.left + i * band;

  // Grid and the value axis.
  for (let v = 0; v <= max + step / 2; v += step) {
    svg.append(el('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v), stroke: '#e2e5ea' }));
    svg.append(el('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#555' }, format(round(v))));
  }
  // Label axis: at most ~12 labels so they never overlap.
  const every = Math.max(1, Math.ceil(labels.length / 12));
  labels.forEach((label, i) => {
    if (i % every) return;
    svg.append(el('text', {
      x: x(i) + band / 2, y: HEIGHT - PAD.bottom + 16, 'text-anchor': 'middle', 'font-size': 11, fill: '#555',
    }, label));
  });
  svg.append(el('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(0), y2: y(0), stroke: '#888' }));

  const plot = el('g', { 'data-testid': 'chart-plot' });
  if (type === 'line') drawLines(plot, { labels, series, x, y, band, format });
  else drawBars(plot, { labels, series, stacked, x, y, band, format });
  svg.append(plot);
  svg.append(legend(series));
  target.replaceChildren(svg);
  return svg;
}

function round(v) {
  return Math.round(v * 1000) / 1000;
}

function drawBars(plot, { labels, series, stacked, x, y, band, format }) {
  const gap = Math.min(4, band * 0.15);
  const width = stacked ? band - 2 * gap : (band - 2 * gap) / Math.max(1, series.length);
  labels.forEach((label, i) => {
    let base = 0;
    series.forEach((s, k) => {
      const v = s.values[i];
      if (v == null || !(Number(v) > 0)) return;
      const left = stacked ? x(i) + gap : x(i) + gap + k * width;
      const bottom = stacked ? base : 0;
      const rect = el('rect', {
        x: left, y: y(bottom + Number(v)), width: Math.max(1, width), height: Math.max(0, y(bottom) - y(bottom + Number(v))),
        fill: s.color || PALETTE[k % PALETTE.length], 'data-series': s.name,
      });
      rect.append(el('title', {}, `${label} · ${s.name}: ${format(v)}`));
      plot.append(rect);
      if (stacked) base += Number(v);
    });
  });
}

function drawLines(plot, { labels, series, x, y, band, format }) {
  series.forEach((s, k) => {
    const colour = s.color || PALETTE[k % PALETTE.length];
    let d = '';
    let pen = 'M';
    labels.forEach((label, i) => {
      const v = s.values[i];
      if (v == null) {
        pen = 'M';
        return;
      }
      const cx = x(i) + band / 2;
      d += `${pen}${cx.toFixed(1)},${y(Number(v)).toFixed(1)} `;
      pen = 'L';
      const dot = el('circle', { cx, cy: y(Number(v)), r: 3, fill: colour, 'data-series': s.name });
      dot.append(el('title', {}, `${label} · ${s.name}: ${format(v)}`));
      plot.append(dot);
    });
    if (d) plot.prepend(el('path', { d: d.trim(), fill: 'none', stroke: colour, 'stroke-width': 2 }));
  });
}

function legend(series) {
  const g = el('g', { 'font-size': 12 });
  let left = PAD.left;
  series.forEach((s, k) => {
    g.append(el('rect', { x: left, y: 8, width: 10, height: 10, fill: s.color || PALETTE[k % PALETTE.length] }));
    const text = el('text', { x: left + 14, y: 17, fill: '#222' }, s.name);
    g.append(text);
    left += 24 + 7 * String(s.name).length;
  });
  return g;
}
