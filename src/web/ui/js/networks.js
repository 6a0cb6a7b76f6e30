// networks.js - the networks page: every corral network (type, subnet,
// gateway, bridge, DHCP, whether it is up, its port forwards), creating a
// NAT network and deleting one, for whoever may change the host
// (Sys.Modify on /networks).

import { h, fill } from './dom.js';
import { api, seg, can } from './api.js';
import { card, table, load, act, deleteButton } from './common.js';

export function show(main) {
  const edit = can('Sys.Modify', '/networks');
  let form = null;
  if (edit) {
    const name = h('input', { id: 'net-name', placeholder: 'name (a-z 0-9 -)', required: true, size: 14 });
    const subnet = h('input', { id: 'net-subnet', placeholder: '10.20.0.0/24', required: true, size: 16 });
    const subnet6 = h('input', { id: 'net-subnet6', placeholder: 'IPv6 /64 (optional)', size: 20 });
    const dhcp = h('input', { id: 'net-dhcp', type: 'checkbox', checked: true });
    form = h('form', { class: 'inline', id: 'net-form' }, 'NAT network ', name, ' ', subnet, ' ', subnet6, ' ',
      h('label', {}, dhcp, ' DHCP'), ' ', h('button', { type: 'submit' }, 'Create'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const body = { name: name.value, type: 'nat', subnet: subnet.value, dhcp: dhcp.checked };
      if (subnet6.value) body.subnet6 = subnet6.value;
      act(`creating network ${name.value}`, () => api.post('/v1/networks', body), () => { name.value = ''; subnet.value = ''; subnet6.value = ''; reload(); });
    });
  }
  const [sec, el] = card('Networks', 'networks', form);
  fill(main, h('h1', {}, 'Networks'), sec);

  function reload() {
    load(el, async () => {
      const x = await api.get('/v1/networks');
      fill(el, table('net-table', ['Name', 'Type', 'Subnet', 'Gateway', 'Bridge', 'DHCP', 'Up', 'Forwards', ''],
        x.networks.map((n) => {
          const st = n.status || {};
          return h('tr', { dataset: { network: n.name } }, h('td', {}, n.name), h('td', {}, n.type),
            h('td', {}, [n.subnet, n.subnet6].filter((s) => s).join(' ')), h('td', {}, [n.gateway, n.gateway6].filter((s) => s).join(' ')),
            h('td', {}, n.bridge || ''), h('td', {}, n.dhcp ? 'yes' : 'no'),
            h('td', {}, st.error ? h('span', { class: 'error' }, st.error) : (st.bridge_up ? 'yes' : 'no')),
            h('td', {}, (n.forwards || []).map((f) => `${f.proto}:${f.port} → ${f.vm}:${f.vm_port}`).join(', ')),
            h('td', { class: 'actions' }, edit ? deleteButton('net-delete', () =>
              act(`deleting network ${n.name}`, () => api.del(`/v1/networks/${seg(n.name)}`), reload)) : null));
        }), 'No network.'));
    });
  }
  reload();
  return null;
}
