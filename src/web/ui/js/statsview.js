// statsview.js - a card of charts over time from one metrics history
// route (GET /v1/vms/{vm}/stats, GET /v1/host/stats; docs/metrics.md):
// buttons for the last hour, day or week, one chart per group of series
// (graph.js), fetched again every 10 s (the hour) or minute (day, week)
// while the page is open.  The VM page and the dashboard use it.

import { h, fill } from './dom.js';
import { api } from './api.js';
import { lineChart, legend } from './graph.js';

const RANGES = [['1h', 'hour'], ['1d', 'day'], ['1w', 'week']];

// o: {url (without ?since), ids: {section, box, chart (prefix of each chart's id)}, title,
//     charts: [[id, title, pick(series) -> bool]], label(series) -> string, empty: text}
// Returns [section element, stop()].
export function statsSection(o) {
  let range = '1h', timer = null, gone = false;
  const charts = h('div', { id: o.ids.box }, h('p', { class: 'muted' }, 'Loading…'));
  const buttons = RANGES.map(([r, word]) => h('button', {
    type: 'button', class: 'graph-range', dataset: { range: r },
    onclick: () => { range = r; draw(); },
  }, `last ${word}`));
  const sec = h('section', { class: 'card', id: o.ids.section },
    h('h2', {}, o.title), h('div', { class: 'console-bar' }, buttons), charts);

  async function draw() {
    clearTimeout(timer);
    for (const b of buttons) b.classList.toggle('primary', b.dataset.range === range);
    try {
      const x = await api.get(`${o.url}?since=${range}`);
      if (gone) return;
      charts.dataset.range = range; // what is drawn (tests wait for it)
      if (!x.series.length) fill(charts, h('p', { class: 'muted' }, o.empty));
      else {
        fill(charts, o.charts.map(([id, title, pick]) => {
          const ss = x.series.filter(pick).map((s) => Object.assign({}, s, { label: o.label(s) }));
          if (!ss.length) return null;
          return h('div', { class: 'graph-box', id: `${o.ids.chart}${id}` }, h('h3', {}, title),
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
