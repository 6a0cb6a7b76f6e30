// vmgraphs.js - the VM page's graphs over time: CPU, memory, disk and
// network from GET /v1/vms/{vm}/stats (docs/metrics.md), over the last
// hour, day or week, redrawn while the page is open.

import { h, fill } from './dom.js';
import { api, seg } from './api.js';
import { lineChart, legend } from './graph.js';

const RANGES = [['1h', 'hour'], ['1d', 'day'], ['1w', 'week']];
// which series go into which chart
const CHARTS = [
  ['cpu', 'CPU (% of one CPU)', (s) => s.name === 'cpu'],
  ['memory', 'Memory', (s) => s.name === 'memory_rss' || s.name === 'balloon'],
  ['disk', 'Disk I/O', (s) => s.name === 'disk_read' || s.name === 'disk_write'],
  ['net', 'Network', (s) => s.name === 'net_receive' || s.name === 'net_transmit'],
];

function label(s) {
  return s.name + (s.disk ? ` ${s.disk}` : '') + (s.nic ? ` ${s.nic}` : '');
}

export function graphsSection(name) {
  let range = '1h', timer = null, gone = false;
  const charts = h('div', { id: 'vm-graphs' }, h('p', { class: 'muted' }, 'Loading…'));
  const buttons = RANGES.map(([r, word]) => h('button', {
    type: 'button', class: 'graph-range', dataset: { range: r },
    onclick: () => { range = r; draw(); },
  }, `last ${word}`));
  const sec = h('section', { class: 'card', id: 'graphs-section' },
    h('h2', {}, 'Graphs'), h('div', { class: 'console-bar' }, buttons), charts);

  async function draw() {
    clearTimeout(timer);
    for (const b of buttons) b.classList.toggle('primary', b.dataset.range === range);
    try {
      const x = await api.get(`/v1/vms/${seg(name)}/stats?since=${range}`);
      if (gone) return;
      charts.dataset.range = range; // what is drawn (tests wait for it)
      if (!x.series.length) fill(charts, h('p', { class: 'muted' }, 'No samples: the VM has not run since metrics were kept.'));
      else {
        fill(charts, CHARTS.map(([id, title, pick]) => {
          const ss = x.series.filter(pick).map((s) => Object.assign({}, s, { label: label(s) }));
          if (!ss.length) return null;
          return h('div', { class: 'graph-box', id: `graph-${id}` }, h('h3', {}, title),
            lineChart(ss, x.since, x.until), legend(ss));
        }));
      }
    } catch (e) {
      if (!gone) fill(charts, h('p', { class: 'error' }, e.message));
    }
    if (!gone) timer = setTimeout(draw, range === '1h' ? 10000 : 60000);
  }
  draw();
  return [sec, () => { gone = true; clearTimeout(timer); }];
}
