// vmgraphs.js - which charts the graphs show: the VM page's CPU, memory,
// disk and network from GET /v1/vms/{vm}/stats, and the dashboard's host
// CPU, memory, load and pools from GET /v1/host/stats (docs/metrics.md);
// statsview.js draws and refreshes them.

import { seg } from './api.js';
import { statsSection } from './statsview.js';

// which series go into which chart
const CHARTS = [
  ['cpu', 'CPU (% of one CPU)', (s) => s.name === 'cpu'],
  ['memory', 'Memory', (s) => s.name === 'memory_rss' || s.name === 'balloon'],
  ['disk', 'Disk I/O', (s) => s.name === 'disk_read' || s.name === 'disk_write'],
  ['net', 'Network', (s) => s.name === 'net_receive' || s.name === 'net_transmit'],
];

export function graphsSection(name) {
  return statsSection({
    url: `/v1/vms/${seg(name)}/stats`, title: 'Graphs', charts: CHARTS,
    ids: { section: 'graphs-section', box: 'vm-graphs', chart: 'graph-' },
    label: (s) => s.name + (s.disk ? ` ${s.disk}` : '') + (s.nic ? ` ${s.nic}` : ''),
    empty: 'No samples: the VM has not run since metrics were kept.',
  });
}

// The host's own history for the dashboard (GET /v1/host/stats).
const HOST_CHARTS = [
  ['cpu', 'CPU (% of all CPUs)', (s) => s.name === 'cpu'],
  ['memory', 'Memory', (s) => s.name === 'memory_used' || s.name === 'memory_total'],
  ['load', 'Load', (s) => /^load(1|5|15)$/.test(s.name)],
  ['pools', 'Pools', (s) => s.name === 'pool_used'],
];

export function hostGraphsSection() {
  return statsSection({
    url: '/v1/host/stats', title: 'Host graphs', charts: HOST_CHARTS,
    ids: { section: 'host-graphs-section', box: 'host-graphs', chart: 'host-graph-' },
    label: (s) => s.name + (s.pool ? ` ${s.pool}` : ''),
    empty: 'No samples yet: the sampler takes one every interval (docs/metrics.md).',
  });
}
