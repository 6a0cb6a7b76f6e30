// vmbackups.js - the VM page's backups: the VM's backups in the default
// repository (GET /v1/backups?vm=), "back up now" (POST /v1/backups, a job
// followed to its end), and restoring one under a new name
// (POST /v1/backups/restore); "Files" opens a browser inside one backup
// that downloads a single file (backupfiles.js).

import { h, fill, fmtTime, flash } from './dom.js';
import { api, seg, can } from './api.js';
import { followJob } from './jobs.js';
import { fmtValue } from './graph.js';
import { browseBackup } from './backupfiles.js';

export function backupsSection(name) {
  const box = h('div', { id: 'vm-backups' }, h('p', { class: 'muted' }, 'Loading…'));
  const files = h('div', { id: 'backup-files' });
  const mayRead = can('Datastore.Audit', `/vms/${name}`) || can('Datastore.Audit', '/backups');
  const run = h('button', { type: 'button', id: 'backup-run', onclick: () => runNow() }, 'Back up now');
  const sec = h('section', { class: 'card', id: 'backups-section' }, h('h2', {}, 'Backups'),
    can('VM.Backup', `/vms/${name}`) ? h('div', { class: 'console-bar' }, run) : null, box, files);

  async function load() {
    try {
      const x = await api.get(`/v1/backups?vm=${seg(name)}`);
      const mine = x.backups.filter((b) => b.vm === name);
      if (!mine.length) { fill(box, h('p', { class: 'muted' }, 'No backup of this VM in the default repository.')); return; }
      const restore = can('VM.Config', '/backups');
      fill(box, h('table', { id: 'backup-table' }, h('thead', {}, h('tr', {},
        ['Backup', 'Taken', 'Kind', 'Size', 'New data', '', restore ? 'Restore as a new VM' : ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, mine.slice().reverse().map((b) => {
        let form = null;
        if (restore && !b.error) {
          const nn = h('input', { class: 'restore-name', placeholder: 'new VM name', required: true });
          form = h('form', { class: 'inline' }, nn, ' ', h('button', { type: 'submit' }, 'Restore'));
          form.addEventListener('submit', async (ev) => {
            ev.preventDefault();
            try {
              const r = await api.post('/v1/backups/restore', { id: b.id, name: nn.value });
              followJob(r.job, `restore ${b.id} as ${nn.value}`);
            } catch (e) {
              failed(`restore ${b.id}`, e);
            }
          });
        }
        return h('tr', { dataset: { backup: b.id } }, h('td', {}, b.id), h('td', {}, fmtTime(b.time)),
          h('td', {}, b.error ? `unreadable: ${b.error}` : b.kind), h('td', { class: 'num' }, fmtValue(b.size, 'bytes')),
          h('td', { class: 'num' }, fmtValue(b.bytes_new, 'bytes')),
          h('td', {}, mayRead && !b.error ? h('button', { type: 'button', class: 'backup-files',
            onclick: () => browseBackup(files, b.id) }, 'Files') : null),
          h('td', {}, form));
      }))));
    } catch (e) {
      fill(box, h('p', { class: 'error' }, e.message));
    }
  }

  function failed(what, e) {
    flash(`${what} failed: ${e.message}`);
  }

  async function runNow() {
    try {
      const r = await api.post('/v1/backups', { vm: name });
      followJob(r.job, `backup of ${name}`, load);
    } catch (e) {
      failed(`backup of ${name}`, e);
    }
  }

  load();
  return sec;
}
