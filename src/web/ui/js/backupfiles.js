// backupfiles.js - a file browser inside one backup (the VM page's
// backups): pick a disk of the backup (GET /v1/backups/show: its disks)
// and a partition, walk its directories (GET /v1/backups/files), and
// download one file (GET /v1/backups/content) through the browser under
// its own name.  Every part of a query is percent-encoded; names from the
// backup are text in the page and the download attribute's value, never
// markup or a path the page builds URLs from unescaped.

import { h, fill } from './dom.js';
import { api } from './api.js';
import { fmtValue } from './graph.js';

const enc = encodeURIComponent;

// "id=..&disk=..[&partition=..][&path=..]" for one backup's disk
function query(ref, path) {
  let q = `id=${enc(ref.id)}&disk=${ref.disk}`;
  if (ref.partition > 0) q += `&partition=${ref.partition}`;
  if (path !== undefined) q += `&path=${enc(path)}`;
  return q;
}

// the URL that downloads path out of the backup (what the link points at)
export function contentUrl(ref, path) {
  return `/v1/backups/content?${query(ref, path)}`;
}

function join(dir, name) {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

function parent(dir) {
  const i = dir.lastIndexOf('/');
  return i <= 0 ? '/' : dir.slice(0, i);
}

// The browser for backup id (of the VM page's table) drawn into box.
export async function browseBackup(box, id) {
  const ref = { id, disk: 0, partition: 0 };
  const diskSel = h('select', { id: 'bfiles-disk' });
  const partIn = h('input', { id: 'bfiles-partition', type: 'number', min: 0, max: 256, value: '0', size: 4,
    title: '0: the only filesystem on the disk' });
  const where = h('code', { id: 'bfiles-path' });
  const list = h('div', { id: 'bfiles-list' }, h('p', { class: 'muted' }, 'Loading…'));
  fill(box, h('h3', {}, `Files in backup ${id}`),
    h('div', { class: 'console-bar' }, h('label', {}, 'Disk ', diskSel), ' ',
      h('label', {}, 'Partition ', partIn), ' ', where), list);

  let seq = 0; // a newer listing wins over a slower older one
  async function show(dir) {
    const mine = ++seq;
    fill(where, dir);
    try {
      const x = await api.get(`/v1/backups/files?${query(ref, dir)}`);
      if (mine !== seq) return;
      const rows = [];
      if (dir !== '/') rows.push(h('tr', {}, h('td', {}, h('a', { href: '#', class: 'bfiles-up', onclick: (ev) => { ev.preventDefault(); show(parent(dir)); } }, '..')),
        h('td', {}, 'directory'), h('td', {}), h('td', {})));
      for (const e of x.entries || []) {
        const p = join(x.path || dir, e.name);
        let name;
        if (e.type === 'directory') {
          name = h('a', { href: '#', class: 'bfiles-dir', dataset: { path: p }, onclick: (ev) => { ev.preventDefault(); show(p); } }, `${e.name}/`);
        } else if (e.type === 'file') {
          // same origin: the session cookie goes along, and download= names the file
          name = h('a', { href: contentUrl(ref, p), download: e.name, class: 'bfiles-file', dataset: { path: p } }, e.name);
        } else {
          name = h('span', {}, e.name, e.target ? ` → ${e.target}` : '');
        }
        rows.push(h('tr', { dataset: { entry: e.name } }, h('td', {}, name), h('td', {}, e.type),
          h('td', { class: 'num' }, e.type === 'file' ? fmtValue(e.size, 'bytes') : ''),
          h('td', {}, e.mtime ? new Date(e.mtime * 1000).toLocaleString() : '')));
      }
      fill(list, h('table', { id: 'bfiles-table' }, h('thead', {}, h('tr', {},
        ['Name', 'Type', 'Size', 'Modified'].map((t) => h('th', {}, t)))), h('tbody', {}, rows)),
      x.truncated ? h('p', { class: 'muted' }, 'The directory is longer than what is listed.') : null);
    } catch (e) {
      if (mine === seq) fill(list, h('p', { class: 'error', id: 'bfiles-error' }, e.message));
    }
  }

  try {
    const b = await api.get(`/v1/backups/show?id=${enc(id)}`);
    const disks = b.disk_list || [];
    fill(diskSel, disks.map((d, i) => h('option', { value: String(i) }, `${i}: ${d.volume || d.name || 'disk'}`)));
    if (!disks.length) { fill(list, h('p', { class: 'muted' }, 'This backup has no disk.')); return; }
  } catch (e) {
    fill(list, h('p', { class: 'error', id: 'bfiles-error' }, e.message));
    return;
  }
  diskSel.addEventListener('change', () => { ref.disk = Number(diskSel.value) || 0; show('/'); });
  partIn.addEventListener('change', () => { ref.partition = Math.max(0, Number(partIn.value) || 0); show('/'); });
  show('/');
}
