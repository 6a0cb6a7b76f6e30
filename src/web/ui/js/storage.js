// storage.js - the storage page: the pools with how full their filesystem
// is (a bar), and the volumes (size, allocation, pool, the VM using each);
// creating a volume and deleting an unused one for whoever may
// (Datastore.Allocate).

import { h, fill } from './dom.js';
import { api, seg, can } from './api.js';
import { subscribe } from './events.js';
import { card, table, load, usageBar, act, deleteButton } from './common.js';
import { fmtValue } from './graph.js';

export function show(main) {
  const [poolSec, poolEl] = card('Pools', 'storage-pools');
  let form = null;
  if (can('Datastore.Allocate', '/volumes')) {
    const name = h('input', { id: 'vol-name', placeholder: 'volume name', required: true });
    const size = h('input', { id: 'vol-size', type: 'number', min: 1, placeholder: 'size MiB', required: true });
    const pool = h('input', { id: 'vol-pool', placeholder: 'pool (default)' });
    form = h('form', { class: 'inline', id: 'vol-form' }, name, ' ', size, ' ', pool, ' ', h('button', { type: 'submit' }, 'Create volume'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const body = { name: name.value, size: Number(size.value) * 1048576, format: 'qcow2' };
      if (pool.value) body.pool = pool.value;
      act(`creating volume ${name.value}`, () => api.post('/v1/volumes', body), () => { name.value = ''; loadAll(); });
    });
  }
  const [volSec, volEl] = card('Volumes', 'storage-volumes', form);
  fill(main, h('h1', {}, 'Storage'), poolSec, volSec);

  function loadAll() {
    load(poolEl, async () => {
      const x = await api.get('/v1/pools');
      fill(poolEl, table('pool-table', ['Pool', 'Path', 'Usage', 'Used', 'Free', 'Size', 'Volumes', 'Shared'],
        x.pools.map((p) => h('tr', { dataset: { pool: p.name } }, h('td', {}, p.name), h('td', {}, p.path),
          h('td', {}, usageBar(p.used, p.capacity)), h('td', { class: 'num' }, fmtValue(p.used, 'bytes')),
          h('td', { class: 'num' }, fmtValue(p.free, 'bytes')), h('td', { class: 'num' }, fmtValue(p.capacity, 'bytes')),
          h('td', { class: 'num' }, String(p.volumes)), h('td', {}, p.shared ? 'yes' : 'no'))), 'No pool.'));
    });
    load(volEl, async () => {
      const x = await api.get('/v1/volumes');
      fill(volEl, table('volume-table', ['Volume', 'Pool', 'Format', 'Size', 'Allocated', 'Used by', ''],
        x.volumes.map((v) => {
          const usedBy = Array.isArray(v.used_by) ? v.used_by.join(', ') : (v.used_by || '');
          const mayDelete = !usedBy && can('Datastore.Allocate', `/pools/${v.pool}/volumes/${v.name}`);
          return h('tr', { dataset: { volume: v.name } }, h('td', {}, v.name), h('td', {}, v.pool),
            h('td', {}, v.format), h('td', { class: 'num' }, fmtValue(v.capacity, 'bytes')),
            h('td', { class: 'num' }, fmtValue(v.allocation, 'bytes')),
            h('td', {}, usedBy ? h('a', { href: `#/vm/${seg(usedBy)}` }, usedBy) : ''),
            h('td', { class: 'actions' }, mayDelete ? deleteButton('vol-delete', () =>
              act(`deleting volume ${v.name}`, () => api.del(`/v1/volumes/${seg(v.name)}`), loadAll)) : null));
        }), 'No volume.'));
    });
  }
  loadAll();
  return subscribe((kind, e) => {
    if (kind === 'job' && e.job && e.job.state !== 'running' && /volume|move|import|restore/.test(e.job.type)) loadAll();
  });
}
