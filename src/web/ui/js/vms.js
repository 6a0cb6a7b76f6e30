// vms.js - the VM list: state, CPUs, memory, tags, and start/stop/kill (in a
// pool every member's VMs, with their host).
// Drawn in one pass into a DocumentFragment (500 VMs stay quick); state
// changes from the event stream update only their row's cell.

import { h, fill, fmtMiB, stateBadge, flash } from './dom.js';
import { api, seg, can } from './api.js';
import { subscribe } from './events.js';

// Run a VM action; errors (403 for a user without the right) are shown.
export async function vmAction(name, action, body = {}) {
  try {
    const r = await api.post(`/v1/vms/${seg(name)}/${action}`, body);
    flash(`${action} ${name}: job ${r.job ? r.job.id : ''} started`, 'info');
    return r;
  } catch (e) {
    flash(`${action} ${name} failed: ${e.message}`);
    return null;
  }
}

export function show(main) {
  const body = h('tbody', { id: 'vm-rows' });
  const count = h('span', { class: 'muted' });
  const table = h('table', { id: 'vm-table' },
    h('thead', {}, h('tr', {}, ['Name', 'State', 'CPUs', 'Memory', 'Tags', 'Actions'].map((t) => h('th', {}, t)))), body);
  fill(main, h('h1', {}, 'Virtual machines ', count), table);
  const cells = new Map();

  const t0 = performance.now();
  (async () => {
    let x;
    try { x = await api.get('/v1/vms'); } catch (e) { fill(body, h('tr', {}, h('td', { class: 'error', colspan: 6 }, e.message))); return; }
    // In a pool the list holds every member's VMs, each with its host
    // (docs/cluster.md "Pool-wide answers"); verbs on them are handed on.
    const pool = Array.isArray(x.unreachable);
    if (pool) {
      const hr = table.querySelector('thead tr');
      hr.insertBefore(h('th', {}, 'Host'), hr.children[1]);
      if (x.unreachable.length) flash(`not listed: host ${x.unreachable.join(', ')} did not answer`);
    }
    const frag = document.createDocumentFragment();
    for (const v of x.vms) {
      const st = h('td', {}, stateBadge(v.state));
      if (!cells.has(v.name)) cells.set(v.name, st); // this host's come first: its events name them
      frag.appendChild(h('tr', { dataset: { vm: v.name } },
        h('td', {}, h('a', { href: `#/vm/${seg(v.name)}` }, v.name)),
        pool ? h('td', {}, v.host || '') : null,
        st,
        h('td', { class: 'num' }, String(v.cpus)),
        h('td', { class: 'num' }, fmtMiB(v.memory_mib)),
        h('td', {}, (v.tags || []).join(', ')),
        h('td', { class: 'actions' }, !can('VM.PowerMgmt', `/vms/${v.name}`) ? null : [
          h('button', { type: 'button', class: 'act-start', onclick: () => vmAction(v.name, 'start') }, 'Start'),
          h('button', { type: 'button', class: 'act-stop', onclick: () => vmAction(v.name, 'stop') }, 'Stop'),
          h('button', { type: 'button', class: 'act-kill', onclick: () => vmAction(v.name, 'kill') }, 'Kill')])));
    }
    fill(body, frag);
    fill(count, `(${x.vms.length})`);
    table.dataset.drawMs = String(Math.round(performance.now() - t0)); // request + drawing, for tests
  })();

  return subscribe((kind, e) => {
    if (kind === 'state' && e.name && cells.has(e.name)) fill(cells.get(e.name), stateBadge(e.state));
  });
}
