// graph.js - a small line chart in SVG for the metrics history
// (GET /v1/vms/{vm}/stats): one chart, several series, time on x.  Written
// for corral (no charting library); labels are text nodes, like the rest.

const NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#2b5fd9', '#d9622b', '#1e7d3a', '#9b2bd9', '#b3261e', '#2bb3b3'];

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// 1536 -> "1.5 Ki" style numbers for bytes, plain ones for the rest.
export function fmtValue(v, unit) {
  if (v === null || v === undefined || !isFinite(v)) return '–';
  if (unit === '%') return `${v.toFixed(v < 10 ? 1 : 0)} %`;
  if (/^bytes/.test(unit || '')) {
    const k = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0, x = Math.abs(v);
    while (x >= 1024 && i < k.length - 1) { x /= 1024; i++; }
    return `${(v < 0 ? -x : x).toFixed(x < 10 && i ? 1 : 0)} ${k[i]}${unit.slice(5)}`;
  }
  return `${Math.abs(v) < 10 ? v.toFixed(2) : Math.round(v)}${unit ? ' ' + unit : ''}`;
}

// series: [{label, unit, points: [[t, v or null], ...]}]; since, until: the
// range (Unix s), x starting at the first sample instead when there is
// none before it (opts.fit false: the whole range).  Returns an <svg class="graph"> whose data-points says how
// many non-null points it drew (for tests).
export function lineChart(series, since, until, opts = {}) {
  const W = opts.width || 560, H = opts.height || 160, L = 70, R = 10, T = 8, B = 22;
  const svg = el('svg', { class: 'graph', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img' });
  let max = 0, drawn = 0;
  for (const s of series) for (const [, v] of s.points) if (v !== null && v > max) max = v;
  if (max <= 0) max = 1;
  const unit = (series[0] && series[0].unit) || '';
  // less history than the range (a VM started minutes ago): x starts at the
  // first sample rather than squeezing the data against the right edge
  if (opts.fit !== false) {
    let first = Infinity;
    for (const s of series) for (const [t, v] of s.points) if (v !== null && v !== undefined && t < first) { first = t; break; }
    if (first !== Infinity && first > since && first < until) since = first;
  }
  const span = Math.max(1, until - since);
  const x = (t) => L + ((t - since) / span) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  // the frame, two grid lines, the scale
  svg.appendChild(el('rect', { x: L, y: T, width: W - L - R, height: H - T - B, class: 'graph-frame' }));
  for (const f of [0, 0.5, 1]) {
    svg.appendChild(el('line', { x1: L, x2: W - R, y1: y(max * f), y2: y(max * f), class: 'graph-grid' }));
    svg.appendChild(el('text', { x: L - 4, y: y(max * f) + 4, 'text-anchor': 'end', class: 'graph-label' }, fmtValue(max * f, unit)));
  }
  const when = (t) => new Date(t * 1000).toLocaleString([], span > 86400 * 1.5
    ? { month: 'short', day: 'numeric', hour: '2-digit' }
    : span < 600 ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : { hour: '2-digit', minute: '2-digit' });
  svg.appendChild(el('text', { x: L, y: H - 6, class: 'graph-label' }, when(since)));
  svg.appendChild(el('text', { x: W - R, y: H - 6, 'text-anchor': 'end', class: 'graph-label' }, when(until)));
  series.forEach((s, i) => {
    // one polyline per run of points without a gap (null: not sampled)
    let run = [];
    const flush = () => {
      if (run.length === 1) svg.appendChild(el('circle', { cx: run[0][0], cy: run[0][1], r: 1.5, fill: COLORS[i % COLORS.length] }));
      else if (run.length) svg.appendChild(el('polyline', { points: run.map((p) => p.join(',')).join(' '), fill: 'none',
        stroke: COLORS[i % COLORS.length], 'stroke-width': 1.5, class: 'graph-line' }));
      run = [];
    };
    for (const [t, v] of s.points) {
      if (v === null || v === undefined) { flush(); continue; }
      run.push([x(t).toFixed(1), y(v).toFixed(1)]);
      drawn++;
    }
    flush();
  });
  svg.dataset.points = String(drawn);
  svg.dataset.since = String(since); // where x starts (tests)
  return svg;
}

export function legend(series) {
  const ul = document.createElement('ul');
  ul.className = 'graph-legend';
  series.forEach((s, i) => {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = COLORS[i % COLORS.length];
    li.appendChild(sw);
    li.appendChild(document.createTextNode(`${s.label}: now ${fmtValue(s.current, s.unit)}, max ${fmtValue(s.max, s.unit)}`));
    ul.appendChild(li);
  });
  return ul;
}
