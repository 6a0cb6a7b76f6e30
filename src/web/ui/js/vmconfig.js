// vmconfig.js - the VM page's changes to the definition: its settings
// (CPUs, memory, description, tags, autostart: PUT /v1/vms/{vm} with
// If-Match, the VM stopped), its disks (list, create and hot-add, detach)
// and its CD-ROM (insert, eject).  Each section is redrawn from the VM
// object the page loaded; the server's refusals are shown as it words them.

import { h, fill, fmtMiB, flash } from './dom.js';
import { api, seg, can } from './api.js';

// Settings: a form filled from the definition; saving sends the whole
// definition back with only these fields changed, guarded by its generation.
export function settingsSection(name, reload) {
  const box = h('div', { id: 'vm-settings' });
  const sec = h('section', { class: 'card', id: 'settings-section' }, h('h2', {}, 'Settings'), box);
  let drawn = null;
  function show(v) {
    // redrawn only when the definition changed: a state event must not
    // wipe what the user is typing
    const gen = v.status ? v.status.generation : null;
    if (drawn !== null && gen === drawn) return;
    drawn = gen;
    const obj = `/vms/${name}`;
    const cpus = h('input', { id: 'set-cpus', type: 'number', min: 1, max: 255, value: String(v.cpus) });
    const mem = h('input', { id: 'set-memory', type: 'number', min: 16, value: String(v.memory_mib) });
    const desc = h('textarea', { id: 'set-description', rows: 2 });
    desc.value = v.description || '';
    const tags = h('input', { id: 'set-tags', value: (v.tags || []).join(', ') });
    const auto = h('input', { id: 'set-autostart', type: 'checkbox', checked: !!v.autostart });
    const edit = can('VM.Config', obj);
    for (const i of [cpus, mem, desc, tags, auto]) i.disabled = !edit;
    const form = h('form', { class: 'stack', id: 'settings-form' },
      h('label', {}, 'CPUs', h('br'), cpus), h('label', {}, 'Memory (MiB)', h('br'), mem),
      h('label', {}, 'Description', h('br'), desc), h('label', {}, 'Tags (comma separated)', h('br'), tags),
      h('label', {}, auto, ' start with corrald (autostart)'),
      edit ? h('button', { type: 'submit', class: 'primary', id: 'settings-save' }, 'Save') : null,
      edit ? h('span', { class: 'muted' }, ' the VM must be stopped') : null);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const cur = await api.get(`/v1/vms/${seg(name)}`);
        const gen = cur.status && cur.status.generation;
        delete cur.status;
        delete cur.agent;
        cur.cpus = Number(cpus.value);
        cur.memory_mib = Number(mem.value);
        cur.description = desc.value;
        cur.tags = tags.value.split(',').map((t) => t.trim()).filter((t) => t);
        cur.autostart = auto.checked;
        await api.put(`/v1/vms/${seg(name)}`, cur, gen !== undefined && gen !== null ? { 'If-Match': `"${gen}"` } : {});
        flash(`settings of ${name} saved`, 'info');
        reload();
      } catch (e) {
        flash(`saving the settings of ${name} failed: ${e.message}`);
      }
    });
    fill(box, form);
  }
  return [sec, show];
}

// Disks and CD-ROM.
export function disksSection(name, reload) {
  const box = h('div', { id: 'vm-disks' });
  const cd = h('div', { id: 'vm-cdrom' });
  const sec = h('section', { class: 'card', id: 'disks-section' }, h('h2', {}, 'Disks'), box, h('h2', {}, 'CD-ROM'), cd);
  let vols = null; // volume name -> volume, for sizes

  async function act(what, fn) {
    try { await fn(); flash(`${what} done`, 'info'); reload(); } catch (e) { flash(`${what} failed: ${e.message}`); }
  }

  let drawn = null;
  function show(v, force = false) {
    const key = JSON.stringify([v.disks, v.cdrom]);
    if (!force && key === drawn) return;
    drawn = key;
    const edit = can('VM.Config', `/vms/${name}`);
    const rows = (v.disks || []).map((d) => {
      const vol = vols && vols.get(d.volume);
      return h('tr', { dataset: { disk: d.volume } }, h('td', {}, d.volume), h('td', {}, d.bus || 'virtio'),
        h('td', { class: 'num' }, vol && vol.capacity ? fmtMiB(Math.round(vol.capacity / 1048576)) : ''),
        h('td', {}, vol ? vol.pool || '' : ''),
        h('td', { class: 'actions' }, edit ? h('button', { type: 'button', class: 'disk-detach',
          onclick: () => act(`detaching ${d.volume}`, () => api.del(`/v1/vms/${seg(name)}/disks/${seg(d.volume)}`)) }, 'Detach') : null));
    });
    const list = rows.length ? h('table', { id: 'disk-table' }, h('thead', {}, h('tr', {},
      ['Volume', 'Bus', 'Size', 'Pool', ''].map((t) => h('th', {}, t)))), h('tbody', {}, rows))
      : h('p', { class: 'muted' }, 'No disk.');
    let add = null;
    if (edit) {
      const vname = h('input', { id: 'disk-volume', placeholder: 'volume name', required: true });
      const size = h('input', { id: 'disk-size', type: 'number', min: 1, placeholder: 'new: size MiB' });
      const bus = h('select', { id: 'disk-bus' }, ['virtio', 'scsi', 'ide'].map((b) => h('option', { value: b }, b)));
      add = h('form', { class: 'inline', id: 'disk-add-form' }, vname, ' ', size, ' ', bus, ' ',
        h('button', { type: 'submit' }, 'Add disk'),
        h('span', { class: 'muted' }, ' (with a size: a new qcow2 volume; empty: an existing volume; hot-plugged when running)'));
      add.addEventListener('submit', (ev) => {
        ev.preventDefault();
        act(`adding disk ${vname.value}`, async () => {
          if (size.value) await api.post('/v1/volumes', { name: vname.value, size: Number(size.value) * 1048576, format: 'qcow2' });
          await api.post(`/v1/vms/${seg(name)}/disks`, { volume: vname.value, bus: bus.value });
          vols = null;
        });
      });
    }
    fill(box, list, add);
    if (!vols && can('Datastore.Audit', '/volumes')) {
      vols = new Map();
      api.get('/v1/volumes').then((x) => { for (const o of x.volumes) vols.set(o.name, o); show(v, true); }, () => {});
    }

    // the drive always exists; cdrom is the medium's path, or null when empty
    const path = h('input', { id: 'cdrom-path', placeholder: '/abs/path/to/image.iso', size: 40 });
    const insert = h('form', { class: 'inline', id: 'cdrom-form' }, path, ' ', h('button', { type: 'submit' }, 'Insert'));
    insert.addEventListener('submit', (ev) => {
      ev.preventDefault();
      act(`inserting ${path.value}`, () => api.post(`/v1/vms/${seg(name)}/cdrom`, { path: path.value }));
    });
    fill(cd, h('p', { id: 'cdrom-medium' }, v.cdrom ? `Medium: ${v.cdrom}` : 'The drive is empty.'),
      edit ? insert : null, ' ',
      edit && v.cdrom ? h('button', { type: 'button', id: 'cdrom-eject',
        onclick: () => act('ejecting the CD-ROM', () => api.del(`/v1/vms/${seg(name)}/cdrom`)) }, 'Eject') : null);
  }
  return [sec, show];
}
