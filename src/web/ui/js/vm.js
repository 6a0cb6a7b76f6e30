// vm.js - one VM: its details, start/stop/kill/reboot, its running jobs,
// its snapshots (a tree: take, revert, delete), its serial console and
// (with --vnc) its display; and, from their own modules, its graphs, its
// settings, disks and CD-ROM, backups and migration.  Buttons the user's
// rights would not allow are left out (corrald refuses them anyway).

import { h, fill, fmtMiB, fmtTime, stateBadge, flash } from './dom.js';
import { api, seg, can } from './api.js';
import { jobsView } from './jobs.js';
import { graphsSection } from './vmgraphs.js';
import { settingsSection, disksSection } from './vmconfig.js';
import { backupsSection } from './vmbackups.js';
import { migrateSection } from './vmmigrate.js';
import { subscribe } from './events.js';
import { vmAction } from './vms.js';
import { openConsole } from './console.js';
import { openVnc } from './vnc.js';

function details(v) {
  const st = v.status || {};
  const boot = v.boot || {};
  return h('dl', { class: 'kv', id: 'vm-details' },
    h('dt', {}, 'Name'), h('dd', { id: 'vm-name' }, v.name),
    h('dt', {}, 'UUID'), h('dd', {}, v.uuid),
    h('dt', {}, 'State'), h('dd', { id: 'vm-state' }, stateBadge(st.state), st.reason ? ` (${st.reason})` : ''),
    h('dt', {}, 'Description'), h('dd', { id: 'vm-description' }, v.description || ''),
    h('dt', {}, 'Tags'), h('dd', {}, (v.tags || []).join(', ')),
    h('dt', {}, 'CPUs'), h('dd', {}, String(v.cpus)),
    h('dt', {}, 'Memory'), h('dd', {}, fmtMiB(v.memory_mib)),
    h('dt', {}, 'Machine'), h('dd', {}, `${v.machine} (${v.firmware || 'bios'})`),
    h('dt', {}, 'Boot'), h('dd', {}, boot.mode === 'kernel' ? `kernel ${boot.kernel}` : (boot.mode || '')),
    h('dt', {}, 'Disks'), h('dd', {}, (v.disks || []).map((d) => `${d.volume} (${d.bus || 'virtio'})`).join(', ') || 'none'),
    h('dt', {}, 'CD-ROM'), h('dd', {}, v.cdrom || 'empty'),
    h('dt', {}, 'NICs'), h('dd', {}, (v.nics || []).map((n) => `${n.mac} ${n.mode}${n.network ? ':' + n.network : ''}`).join(', ')),
    h('dt', {}, 'VNC'), h('dd', {}, st.vnc ? String(st.vnc) : (v.vnc ? 'configured' : 'none')));
}

export function show(main, name) {
  const info = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const snaps = h('div', { id: 'snapshots' });
  const consoleBox = h('div', { id: 'console-box' });
  const consoleStatus = h('span', { id: 'console-status', class: 'muted' });
  const obj = `/vms/${name}`;
  const actions = h('div', { class: 'actions', id: 'vm-actions' },
    !can('VM.PowerMgmt', obj) ? [] : ['start', 'stop', 'kill', 'reboot'].map((a) =>
      h('button', { type: 'button', id: `vm-${a}`, onclick: () => vmAction(name, a) }, a[0].toUpperCase() + a.slice(1))));
  const snapName = h('input', { id: 'snap-name', placeholder: 'snapshot name', required: true, pattern: '[A-Za-z0-9._\\-]+' });
  const snapMem = h('input', { id: 'snap-memory', type: 'checkbox' });
  const snapForm = h('form', { class: 'inline', id: 'snap-form' }, snapName, ' ', h('label', {}, snapMem, ' with RAM'), ' ',
    h('button', { type: 'submit' }, 'Take snapshot'));
  const vnc = h('div', { id: 'vnc' });
  const vncStatus = h('span', { id: 'vnc-status', class: 'muted' });
  const vncSec = h('section', { class: 'card', id: 'vnc-section', hidden: true },
    h('h2', {}, 'VNC display ', vncStatus),
    h('div', { class: 'console-bar' }, h('button', { type: 'button', id: 'vnc-connect', onclick: () => connectVnc() }, 'Connect')),
    vnc);
  let closeConsole = null, closeVnc = null, state = null, uuid = null;
  const mayConsole = can('VM.Console', obj);
  const jobsEl = h('div', { id: 'vm-jobs' });
  const stopJobs = jobsView(jobsEl, (j) => j.target === name || (uuid && j.vm === uuid));
  const [graphsSec, stopGraphs] = graphsSection(name);
  const [settingsSec, showSettings] = settingsSection(name, () => loadVm());
  const [disksSec, showDisks] = disksSection(name, () => loadVm());

  fill(main, h('h1', {}, 'VM ', name),
    h('section', { class: 'card' }, actions, info),
    h('section', { class: 'card' }, h('h2', {}, 'Running jobs'), jobsEl),
    mayConsole ? h('section', { class: 'card' }, h('h2', {}, 'Serial console ', consoleStatus),
      h('div', { class: 'console-bar' },
        h('button', { type: 'button', id: 'console-connect', onclick: () => connect(false) }, 'Connect'),
        h('button', { type: 'button', id: 'console-takeover', onclick: () => connect(true) }, 'Take over')),
      consoleBox) : null,
    mayConsole ? vncSec : null,
    graphsSec,
    h('section', { class: 'card' }, h('h2', {}, 'Snapshots'), can('VM.Snapshot', obj) ? snapForm : null, snaps),
    settingsSec, disksSec, backupsSection(name), migrateSection(name));

  async function connectVnc() {
    if (closeVnc) closeVnc();
    let stop = false;
    closeVnc = () => { stop = true; };
    fill(vncStatus, 'connecting…');
    const close = await openVnc(vnc, name, (s, why) => fill(vncStatus, why ? `${s}: ${why}` : s));
    if (stop) close();
    else closeVnc = close;
  }

  function connect(force) {
    if (closeConsole) closeConsole();
    fill(consoleStatus, 'connecting…');
    closeConsole = openConsole(consoleBox, name, {
      force,
      onStatus: (s, why) => fill(consoleStatus, s === 'connected' ? 'connected'
        : `disconnected${why ? ': ' + why : ''} (is the VM running? is someone else on its console? “Take over” steals it)`),
    });
  }

  async function loadVm() {
    try {
      const v = await api.get(`/v1/vms/${seg(name)}`);
      fill(info, details(v));
      uuid = v.uuid;
      showSettings(v);
      showDisks(v);
      const was = state;
      state = v.status && v.status.state;
      if (mayConsole && state === 'running' && was !== 'running' && !closeConsole) connect(false);
      vncSec.hidden = !v.vnc;
      if (mayConsole && v.vnc && state === 'running' && was !== 'running' && !closeVnc) connectVnc();
    } catch (e) {
      fill(info, h('p', { class: 'error' }, e.message));
    }
  }

  // The snapshot tree (each snapshot under its parent, depth shown by indent).
  function treeOrder(list) {
    const kids = new Map();
    for (const sn of list) {
      const p = sn.parent || '';
      if (!kids.has(p)) kids.set(p, []);
      kids.get(p).push(sn);
    }
    const out = [], seen = new Set();
    const walk = (p, depth) => {
      for (const sn of kids.get(p) || []) {
        if (seen.has(sn.name)) continue;
        seen.add(sn.name);
        out.push([sn, depth]);
        walk(sn.name, depth + 1);
      }
    };
    walk('', 0);
    for (const sn of list) if (!seen.has(sn.name)) out.push([sn, 0]); // a parent not listed
    return out;
  }

  async function loadSnaps() {
    try {
      const x = await api.get(`/v1/vms/${seg(name)}/snapshots`);
      if (!x.snapshots.length) { fill(snaps, h('p', { class: 'muted' }, 'No snapshot.')); return; }
      const body = h('tbody');
      for (const [s, depth] of treeOrder(x.snapshots)) {
        const del = h('button', { type: 'button', class: 'snap-delete' }, 'Delete');
        del.addEventListener('click', () => {
          if (del.dataset.armed) { remove(s.name); return; }
          del.dataset.armed = '1';
          fill(del, 'Really delete?');
        });
        body.appendChild(h('tr', { dataset: { snapshot: s.name } },
          h('td', {}, depth ? `${'\u00a0\u00a0'.repeat(depth - 1)}\u2514\u00a0` : '', s.name,
            s.name === x.current ? ' (current)' : '', s.state && s.state !== 'ready' ? ` [${s.state}]` : ''),
          h('td', {}, fmtTime(s.created || s.time)),
          h('td', {}, s.memory ? 'with RAM' : 'disks'),
          h('td', {}, s.description || ''),
          h('td', { class: 'actions' }, can('VM.Snapshot', obj) ? [
            h('button', { type: 'button', class: 'snap-revert', onclick: () => revert(s.name) }, 'Revert'), del] : null)));
      }
      fill(snaps, h('table', { id: 'snap-table' }, h('thead', {}, h('tr', {}, ['Name', 'Taken', 'Kind', 'Description', ''].map((t) => h('th', {}, t)))), body));
    } catch (e) {
      fill(snaps, h('p', { class: 'error' }, e.message));
    }
  }

  async function remove(snap) {
    try {
      const r = await api.del(`/v1/vms/${seg(name)}/snapshots/${seg(snap)}`);
      flash(`delete snapshot ${snap}: job ${r.job.id} started`, 'info');
    } catch (e) {
      flash(`deleting ${snap} failed: ${e.message}`);
    }
  }

  async function revert(snap) {
    try {
      const r = await api.post(`/v1/vms/${seg(name)}/snapshots/${seg(snap)}/revert`);
      flash(`revert ${name} to ${snap}: job ${r.job.id} started`, 'info');
    } catch (e) {
      flash(`revert to ${snap} failed: ${e.message}`);
    }
  }

  snapForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const r = await api.post(`/v1/vms/${seg(name)}/snapshots`, { name: snapName.value, memory: snapMem.checked });
      flash(`snapshot ${snapName.value}: job ${r.job.id} started`, 'info');
      snapName.value = '';
    } catch (e) {
      flash(`snapshot failed: ${e.message}`);
    }
  });

  loadVm();
  loadSnaps();
  const unsub = subscribe((kind, e) => {
    if (e.name !== name) return;
    if (kind === 'state') loadVm();
    if (kind === 'job' && e.job && e.job.state !== 'running') {
      if (String(e.job.type).startsWith('snapshot')) {
        loadSnaps();
        if (e.job.state === 'failed') flash(`${e.job.type} failed: ${e.job.error || ''}`);
        else flash(`${e.job.type} done`, 'info');
      }
      loadVm();
    }
    if (kind === 'snapshot') loadSnaps();
    if (kind === 'edited' || kind === 'disk') loadVm();
  });
  return () => { unsub(); stopJobs(); stopGraphs(); if (closeConsole) closeConsole(); if (closeVnc) closeVnc(); };
}
