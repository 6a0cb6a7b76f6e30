// alarms.js - the alarms page: the rules (condition, scope, targets, their
// state and the objects pending or firing), and the history of state
// changes (newest first); "test" sends a test notification and deleting a
// rule takes two clicks, for whoever may (Sys.Modify on /alarms).

import { h, fill, fmtTime, stateBadge } from './dom.js';
import { api, seg, can } from './api.js';
import { subscribe } from './events.js';
import { card, table, load, act, deleteButton } from './common.js';

export function show(main) {
  const edit = can('Sys.Modify', '/alarms');
  let form = null;
  if (edit) {
    const name = h('input', { id: 'alarm-name', placeholder: 'name', required: true, size: 12 });
    const when = h('input', { id: 'alarm-when', placeholder: "cpu > 90% for 5m", required: true, size: 24 });
    const on = h('input', { id: 'alarm-on', placeholder: 'on: VMs (tag:prod) or a pool', size: 20 });
    const notify = h('input', { id: 'alarm-notify', placeholder: 'webhook https://… (optional)', size: 28 });
    form = h('form', { class: 'inline', id: 'alarm-form' }, name, ' when ', when, ' ', on, ' ', notify, ' ', h('button', { type: 'submit' }, 'Add alarm'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const body = { name: name.value, when: when.value };
      if (on.value) body.on = on.value;
      if (notify.value) body.notify = [notify.value];
      act(`adding alarm ${name.value}`, () => api.post('/v1/alarms', body), () => { for (const i of [name, when, on, notify]) i.value = ''; loadRules(); });
    });
  }
  const [ruleSec, ruleEl] = card('Rules', 'alarm-rules', form);
  const [histSec, histEl] = card('History', 'alarm-history');
  fill(main, h('h1', {}, 'Alarms'), ruleSec, histSec);

  const loadRules = () => load(ruleEl, async () => {
    const x = await api.get('/v1/alarms');
    fill(ruleEl, table('alarm-table', ['Alarm', 'When', 'On', 'Notifies', 'State', 'Objects', ''], x.alarms.map((a) =>
      h('tr', { dataset: { alarm: a.name } }, h('td', {}, a.name), h('td', {}, a.when), h('td', {}, a.on || a.scope || ''),
        h('td', {}, (a.notify || []).join(', ')), h('td', {}, stateBadge(a.state)),
        h('td', {}, (a.objects || []).map((o) => `${o.name} ${o.state} since ${fmtTime(o.since)}${o.value !== undefined && o.value !== null ? ` (${o.value})` : ''}`).join('; ')),
        h('td', { class: 'actions' }, edit ? [
          h('button', { type: 'button', class: 'alarm-test', onclick: () =>
            act(`testing alarm ${a.name}`, () => api.post(`/v1/alarms/${seg(a.name)}/test`)) }, 'Test'),
          deleteButton('alarm-delete', () => act(`deleting alarm ${a.name}`, () => api.del(`/v1/alarms/${seg(a.name)}`), loadRules))] : null))),
    'No alarm rule.'));
  });
  const loadHistory = () => load(histEl, async () => {
    const x = await api.get('/v1/alarm-history?limit=200');
    fill(histEl, table('alarm-history-table', ['Time', 'Alarm', 'Object', 'From', 'To', 'Value'], x.history.slice().reverse().map((e) =>
      h('tr', {}, h('td', {}, fmtTime(e.time)), h('td', {}, e.alarm), h('td', {}, e.name || e.object || ''),
        h('td', {}, e.from), h('td', {}, stateBadge(e.to)), h('td', {}, e.value !== undefined && e.value !== null ? String(e.value) : ''))),
    'Nothing has fired yet.'));
  });
  loadRules();
  loadHistory();
  return subscribe((kind) => { if (kind === 'alarm') { loadRules(); loadHistory(); } });
}
