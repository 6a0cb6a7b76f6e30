// vmmigrate.js - the VM page's migration: to one of the hosts this host
// trusts (GET /v1/hosts), live (or offline for a stopped VM), with its
// local disks if asked; POST /v1/vms/{vm}/migrate starts a job whose
// progress the page's job table shows (jobs.js).

import { h, fill, flash } from './dom.js';
import { api, seg, can } from './api.js';
import { followJob } from './jobs.js';

export function migrateSection(name) {
  const box = h('div', { id: 'vm-migrate' }, h('p', { class: 'muted' }, 'Loading…'));
  const sec = h('section', { class: 'card', id: 'migrate-section' }, h('h2', {}, 'Migrate'), box);
  if (!can('VM.Config', `/vms/${name}`) || !can('VM.PowerMgmt', `/vms/${name}`)) {
    fill(box, h('p', { class: 'muted' }, 'Moving this VM needs VM.Config and VM.PowerMgmt on it.'));
    return sec;
  }
  api.get('/v1/hosts').then((x) => {
    const others = x.hosts.filter((o) => !o.self);
    if (!others.length) { fill(box, h('p', { class: 'muted' }, 'This host trusts no other host (corral host trust).')); return; }
    const to = h('select', { id: 'migrate-to' }, others.map((o) =>
      h('option', { value: o.name }, o.name + (o.reachable ? '' : ' (unreachable)'))));
    const local = h('input', { type: 'checkbox', id: 'migrate-local' });
    const offline = h('input', { type: 'checkbox', id: 'migrate-offline' });
    const form = h('form', { class: 'inline', id: 'migrate-form' }, 'to ', to, ' ',
      h('label', {}, local, ' copy local disks'), ' ', h('label', {}, offline, ' offline (a stopped VM)'), ' ',
      h('button', { type: 'submit' }, 'Migrate'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = { to: to.value };
      if (local.checked) body.with_local_disks = true;
      if (offline.checked) body.offline = true;
      try {
        const r = await api.post(`/v1/vms/${seg(name)}/migrate`, body);
        followJob(r.job, `migrate ${name} to ${to.value}`);
      } catch (e) {
        flash(`migrate ${name} failed: ${e.message}`);
      }
    });
    fill(box, form);
  }, (e) => fill(box, h('p', { class: 'error' }, e.message)));
  return sec;
}
