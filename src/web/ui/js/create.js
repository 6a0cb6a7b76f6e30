// create.js - a form for the common VM: name, CPUs, memory, a new disk,
// and optionally a kernel to boot directly; POST /v1/volumes for the disk,
// then POST /v1/vms, then (if asked) start.

import { h, fill, flash } from './dom.js';
import { api, seg } from './api.js';

export function show(main) {
  const f = (name, label, attrs = {}) => {
    const input = h(attrs.tag || 'input', Object.assign({ name, id: `create-${name}` }, attrs, { tag: undefined }));
    return [h('label', {}, label, h('br'), input), input];
  };
  const [nameL, name] = f('name', 'Name', { required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]*' });
  const [cpusL, cpus] = f('cpus', 'CPUs', { type: 'number', min: 1, max: 64, value: '1' });
  const [memL, mem] = f('memory', 'Memory (MiB)', { type: 'number', min: 16, value: '256' });
  const [diskL, disk] = f('disk', 'New disk (MiB, empty: none)', { type: 'number', min: 1 });
  const [descL, desc] = f('description', 'Description', { tag: 'textarea', rows: 2 });
  const [kernL, kern] = f('kernel', 'Kernel (direct boot, optional: a file in a pool or allowed directory)');
  const [initL, init] = f('initrd', 'Initrd');
  const [cmdL, cmd] = f('cmdline', 'Kernel command line', { value: 'console=ttyS0' });
  const start = h('input', { type: 'checkbox', id: 'create-start', checked: true });
  const err = h('p', { class: 'error', id: 'create-error', role: 'alert' });
  const form = h('form', { class: 'stack', id: 'create-form' }, nameL, cpusL, memL, diskL, descL,
    h('fieldset', {}, h('legend', {}, 'Direct kernel boot'), kernL, initL, cmdL),
    h('label', {}, start, ' start it now'),
    h('button', { type: 'submit', class: 'primary' }, 'Create'), err);
  fill(main, h('h1', {}, 'Create a VM'), h('section', { class: 'card' }, form));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fill(err, '');
    const def = { name: name.value, cpus: Number(cpus.value), memory_mib: Number(mem.value) };
    if (desc.value) def.description = desc.value;
    if (kern.value) def.boot = { mode: 'kernel', kernel: kern.value, initrd: init.value || undefined, cmdline: cmd.value };
    try {
      if (disk.value) {
        const vol = `${name.value}-root`;
        await api.post('/v1/volumes', { name: vol, size: Number(disk.value) * 1048576, format: 'qcow2' });
        def.disks = [{ volume: vol }];
      }
      await api.post('/v1/vms', def);
      if (start.checked) await api.post(`/v1/vms/${seg(name.value)}/start`);
      flash(`created ${name.value}`, 'info');
      location.hash = `#/vm/${seg(name.value)}`;
    } catch (e) {
      fill(err, e.message);
    }
  });
}
