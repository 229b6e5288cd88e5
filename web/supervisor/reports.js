/**
 * Supervisor reports: a form (dates, interval, grouping, figure), a chart
 * drawn here by /common/chart.js, the rows as a table and a CSV download of
 * the same report. Reads `GET /api/v1/reports/intervals` (docs/reports.md
 * defines each figure). Fills `#reports` on the supervisor page.
 */
import { api } from '/common/api.js';
import { h } from '/common/dom.js';
import { chart } from '/common/chart.js';

/** Figures a person may chart, with how their values read. */
const FIGURES = {
  contacts: { label: 'Offered, answered, abandoned', kind: 'count' },
  service_level: { label: 'Service level', kind: 'ratio' },
  average_speed_of_answer_secs: { label: 'Average speed of answer', kind: 'secs' },
  average_handle_secs: { label: 'Average handle time', kind: 'secs' },
  abandoned: { label: 'Abandoned', kind: 'count' },
  occupancy: { label: 'Occupancy', kind: 'ratio' },
};

const COLUMNS = [
  ['offered', 'Offered', 'count'], ['answered', 'Answered', 'count'], ['abandoned', 'Abandoned', 'count'],
  ['abandoned_short', 'Short abandons', 'count'], ['service_level', 'Service level', 'ratio'],
  ['average_speed_of_answer_secs', 'ASA', 'secs'], ['average_handle_secs', 'AHT', 'secs'],
  ['average_talk_secs', 'Talk', 'secs'], ['average_hold_secs', 'Hold', 'secs'],
  ['average_wrap_up_secs', 'Wrap-up', 'secs'], ['transfers', 'Transfers', 'count'],
  ['callbacks_requested', 'Callbacks asked', 'count'], ['callbacks_completed', 'Callbacks done', 'count'],
  ['occupancy', 'Occupancy', 'ratio'],
];

function show(value, kind) {
  if (value == null) return '—';
  if (kind === 'ratio') return `${Math.round(value * 1000) / 10} %`;
  if (kind === 'secs') return `${value} s`;
  return String(value);
}

/** `2026-12-07T09:00:00-06:00` -> `09:00` (hours) or `2026-12-07` (days). */
function shortLabel(start, interval) {
  return interval === 'day' ? start.slice(0, 10) : start.slice(11, 16);
}

function field(label, control) {
  return h('label', { class: 'field' }, label, ' ', control);
}

function select(name, options, value) {
  return h('select', { name, dataset: { testid: `report-${name}` } },
    Object.entries(options).map(([v, text]) => h('option', { value: v, selected: v === value, text })));
}

export function mountReports(root) {
  // Empty at first: the server answers for today in the tenant's time zone
  // (which may not be this browser's), and the dates are filled from that.
  const day = '';
  const form = h('form', { class: 'filters', dataset: { testid: 'report-form' } },
    field('From', h('input', { type: 'date', name: 'from', value: day, required: true, dataset: { testid: 'report-from' } })),
    field('To', h('input', { type: 'date', name: 'to', value: day, required: true, dataset: { testid: 'report-to' } })),
    field('Interval', select('interval', { '15m': '15 minutes', hour: 'Hour', day: 'Day' }, 'hour')),
    field('Per', select('group', { none: 'Whole center', queue: 'Queue', link: 'Link', agent: 'Agent' }, 'none')),
    field('Chart', select('figure', Object.fromEntries(Object.entries(FIGURES).map(([k, f]) => [k, f.label])), 'contacts')),
    h('button', { type: 'submit', class: 'btn primary', dataset: { testid: 'report-run' }, text: 'Show' }),
    h('a', { class: 'btn', dataset: { testid: 'report-csv' }, text: 'Download CSV', download: 'report.csv', href: '#' }));
  const status = h('p', { class: 'muted', role: 'status', dataset: { testid: 'report-status' } });
  const figure = h('figure', { class: 'report-chart', dataset: { testid: 'report-chart' } });
  const table = h('div', { class: 'report-table' });
  root.replaceChildren(form, status, figure, table);

  const query = () => {
    const data = new FormData(form);
    const params = new URLSearchParams();
    for (const key of ['from', 'to', 'interval', 'group']) if (data.get(key)) params.set(key, data.get(key));
    return params;
  };
  const run = async () => {
    const params = query();
    form.querySelector('[data-testid="report-csv"]').href = `/api/v1/reports/intervals.csv?${params}`;
    status.textContent = 'Loading…';
    try {
      params.set('per_page', '2000');
      const report = await api(`/api/v1/reports/intervals?${params}`);
      if (!form.elements.from.value) {
        form.elements.from.value = report.intervals[0]?.slice(0, 10) ?? '';
        form.elements.to.value = report.intervals.at(-1)?.slice(0, 10) ?? '';
      }
      render(report, new FormData(form).get('figure'), figure, table);
      status.textContent = `${report.total} row${report.total === 1 ? '' : 's'}, ${report.tz}` +
        (report.total > report.rows.length ? ` (first ${report.rows.length} shown; the CSV has all)` : '');
    } catch (err) {
      status.textContent = err.message;
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });
  form.addEventListener('change', run);
  run();
}

function render(report, figureName, figure, table) {
  const interval = report.interval;
  const labels = report.intervals.map((s) => shortLabel(s, interval));
  const index = new Map(report.intervals.map((s, i) => [s, i]));
  const groups = [...new Set(report.rows.map((r) => r.group ?? ''))];
  const valuesOf = (pick, group) => {
    const values = labels.map(() => null);
    for (const r of report.rows) {
      if ((r.group ?? '') !== group) continue;
      const i = index.get(r.start);
      if (i != null) values[i] = pick(r);
    }
    return values;
  };
  const spec = FIGURES[figureName] || FIGURES.contacts;
  let series;
  if (figureName === 'contacts' || !FIGURES[figureName]) {
    // Summed over the groups: the center's contacts per interval.
    const sum = (key) => labels.map((_, i) =>
      groups.reduce((t, g) => t + (valuesOf((r) => r[key], g)[i] || 0), 0));
    series = [
      { name: 'Offered', values: sum('offered') },
      { name: 'Answered', values: sum('answered') },
      { name: 'Abandoned', values: sum('abandoned') },
    ];
  } else {
    series = groups.map((g) => ({ name: g || (report.group === 'agent' ? 'unanswered' : 'all'), values: valuesOf((r) => r[figureName], g) }));
  }
  const title = `${spec.label} per ${interval === '15m' ? '15 minutes' : interval}`;
  const svg = chart(figure, {
    type: spec.kind === 'count' ? 'bar' : 'line',
    title,
    labels,
    series,
    format: (v) => show(v, spec.kind),
  });
  figure.append(h('figcaption', { class: 'muted', text: title }));
  svg.dataset.testid = 'report-svg';

  const head = h('tr', {}, h('th', { scope: 'col', text: 'Interval' }),
    report.group !== 'none' ? h('th', { scope: 'col', text: report.group }) : null,
    COLUMNS.map(([, name]) => h('th', { scope: 'col', class: 'num', text: name })));
  const rows = report.rows.map((r) => h('tr', { dataset: { start: r.start } },
    h('th', { scope: 'row', text: shortLabel(r.start, interval) }),
    report.group !== 'none' ? h('td', { text: r.group || '—' }) : null,
    COLUMNS.map(([key, , kind]) => h('td', { class: 'num', dataset: { figure: key }, text: show(r[key], kind) }))));
  const totals = h('tr', { class: 'totals' }, h('th', { scope: 'row', text: 'Total' }),
    report.group !== 'none' ? h('td') : null,
    COLUMNS.map(([key, , kind]) => h('td', { class: 'num', dataset: { total: key }, text: show(report.totals[key], kind) })));
  table.replaceChildren(report.rows.length
    ? h('table', { dataset: { testid: 'report-rows' } }, h('thead', {}, head), h('tbody', {}, rows, totals))
    : h('p', { class: 'empty', text: 'No contacts in this range.' }));
}

const root = document.getElementById('reports');
if (root) mountReports(root);
