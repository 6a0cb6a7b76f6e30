// dashboard.js - the host at a glance: the host and its graphs over time,
// the hosts it trusts, its VMs with their state, running jobs with live
// progress, recent events, firing alarms.  Live
// parts follow the event stream (events.js).

import { h, fill, fmtMiB, fmtTime, stateBadge } from './dom.js';
import { api, seg } from './api.js';
import { subscribe } from './events.js';
import { jobsView } from './jobs.js';
import { hostGraphsSection } from './vmgraphs.js';

function section(title, id) {
  const body = h('div', { id }, h('p', { class: 'muted' }, 'Loading…'));
  return [h('section', { class: 'card' }, h('h2', {}, title), body), body];
}

// Fill el from an API call; a refusal (e.g. no right) is shown in its place.
async function load(el, fn) {
  try { await fn(); } catch (e) { fill(el, h('p', { class: 'error' }, e.message)); }
}

function eventLine(e) {
  return h('li', {}, h('time', {}, fmtTime(e.time)), h('strong', {}, e.kind || e.type || ''), ' ',
    e.name ? h('a', { href: `#/vm/${seg(e.name)}` }, e.name) : '', ' ', e.detail || '');
}

export function show(main) {
  const [hostSec, hostEl] = section('Host', 'dash-host');
  const [hostsSec, hostsEl] = section('Hosts', 'dash-hosts');
  const [clusterSec, clusterEl] = section('Cluster', 'dash-cluster');
  const [vmSec, vmEl] = section('VMs', 'dash-vms');
  const [jobSec, jobEl] = section('Running jobs', 'dash-jobs');
  const [alarmSec, alarmEl] = section('Firing alarms', 'dash-alarms');
  const [evSec, evEl] = section('Recent events', 'dash-events');
  const [graphSec, stopGraphs] = hostGraphsSection();
  fill(main, h('h1', {}, 'Dashboard'), hostSec, graphSec, hostsSec, clusterSec, vmSec, jobSec, alarmSec, evSec);

  load(hostEl, async () => {
    const x = await api.get('/v1/host');
    fill(hostEl, h('dl', { class: 'kv' },
      h('dt', {}, 'Host'), h('dd', {}, x.hostname),
      h('dt', {}, 'corral'), h('dd', {}, x.version),
      h('dt', {}, 'QEMU'), h('dd', {}, `${x.qemu_version} (${x.accel})`),
      h('dt', {}, 'CPUs'), h('dd', {}, String(x.cpus)),
      h('dt', {}, 'Memory'), h('dd', {}, fmtMiB(x.memory_mib)),
      h('dt', {}, 'VMs'), h('dd', { id: 'dash-vm-count' }, `${x.vms_running} running of ${x.vms_total}`)));
  });

  // this host and the hosts it trusts (docs/remote.md), each asked by corrald
  load(hostsEl, async () => {
    const x = await api.get('/v1/hosts');
    fill(hostsEl, h('table', {}, h('thead', {}, h('tr', {}, ['Host', 'Reachable', 'VMs running', 'Pools', 'URL'].map((t) => h('th', {}, t)))),
      h('tbody', {}, x.hosts.map((o) => h('tr', {},
        h('td', {}, o.name, o.self ? ' (this host)' : ''),
        h('td', {}, o.reachable ? `yes (${o.ms} ms)` : `no: ${o.error || ''}`),
        h('td', { class: 'num' }, `${(o.vms || []).filter((v) => v.state === 'running').length} of ${(o.vms || []).length}`),
        h('td', {}, (o.pools || []).map((p) => p.name + (p.shared ? ' (shared)' : '')).join(', ')),
        h('td', {}, o.url || ''))))));
  });

  // the pool of hosts on Corosync this host is in (docs/cluster.md): quorum and each node
  const loadCluster = () => load(clusterEl, async () => {
    const x = await api.get('/v1/cluster');
    if (!x.cluster) { fill(clusterEl, h('p', { class: 'muted' }, 'This host is in no cluster.')); return; }
    fill(clusterEl,
      h('p', {}, h('strong', {}, x.cluster), ' ',
        x.quorate ? stateBadge('quorate') : stateBadge('not quorate'),
        x.votes ? ` ${x.votes.total} of ${x.votes.expected} votes` : '',
        x.error ? ` (${x.error})` : ''),
      h('table', {}, h('thead', {}, h('tr', {}, ['Node', 'Id', 'Online', 'Addresses'].map((t) => h('th', {}, t)))),
        h('tbody', {}, (x.nodes || []).map((n) => h('tr', {},
          h('td', {}, n.name, n.self ? ' (this host)' : ''), h('td', { class: 'num' }, String(n.id)),
          h('td', {}, n.online ? 'yes' : 'no'), h('td', {}, (n.addrs || []).join(', ')))))),
      (x.warnings || []).map((w) => h('p', { class: 'muted' }, w)));
  });
  loadCluster();

  const vmState = new Map();
  load(vmEl, async () => {
    const x = await api.get('/v1/vms');
    const frag = document.createDocumentFragment();
    const counts = {};
    for (const v of x.vms) counts[v.state] = (counts[v.state] || 0) + 1;
    frag.appendChild(h('p', {}, Object.entries(counts).map(([s, n]) => [stateBadge(s), ` ${n}  `])));
    const tbody = h('tbody');
    for (const v of x.vms.slice(0, 50)) {
      const st = h('td', {}, stateBadge(v.state));
      vmState.set(v.name, st);
      tbody.appendChild(h('tr', {}, h('td', {}, h('a', { href: `#/vm/${seg(v.name)}` }, v.name)), st,
        h('td', { class: 'num' }, String(v.cpus)), h('td', { class: 'num' }, fmtMiB(v.memory_mib))));
    }
    frag.appendChild(h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'State'),
      h('th', {}, 'CPUs'), h('th', {}, 'Memory'))), tbody));
    if (x.vms.length > 50) frag.appendChild(h('p', {}, h('a', { href: '#/vms' }, `All ${x.vms.length} VMs…`)));
    fill(vmEl, frag);
  });

  const stopJobs = jobsView(jobEl);

  load(alarmEl, async () => {
    const x = await api.get('/v1/alarms');
    const firing = x.alarms.filter((a) => a.state === 'firing');
    fill(alarmEl, firing.length ? h('ul', {}, firing.map((a) => h('li', {}, h('strong', {}, a.name), ' ', a.when)))
      : h('p', { class: 'muted' }, 'None.'));
  });

  const evList = h('ul', { class: 'events', id: 'dash-event-list' });
  load(evEl, async () => {
    const x = await api.get('/v1/events?limit=20');
    fill(evList, x.events.slice().reverse().map(eventLine));
    fill(evEl, evList);
  });

  const unsub = subscribe((kind, e) => {
    if (kind === 'cluster' || kind === 'quorum') loadCluster();
    if (kind === 'quorum') return; // its "cluster" event says it in words
    if (kind === 'job') return; // jobsView draws them
    if (kind === 'state' && e.name && vmState.has(e.name)) fill(vmState.get(e.name), stateBadge(e.state));
    evList.insertBefore(eventLine(e), evList.firstChild);
    while (evList.childNodes.length > 50) evList.removeChild(evList.lastChild);
  });
  return () => { unsub(); stopJobs(); stopGraphs(); };
}
