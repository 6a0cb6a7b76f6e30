// common.js - small pieces the list pages share: a card with a title, a
// table from rows, a usage bar, a button that asks a second click before it
// deletes, and running an action with its refusal shown as the server
// words it.

import { h, fill, flash } from './dom.js';

export function card(title, id, ...extra) {
  const body = h('div', { id }, h('p', { class: 'muted' }, 'Loading…'));
  return [h('section', { class: 'card' }, h('h2', {}, title), ...extra, body), body];
}

export function table(id, heads, rows, empty = 'None.') {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('table', { id }, h('thead', {}, h('tr', {}, heads.map((t) => h('th', {}, t)))), h('tbody', {}, rows));
}

// Fill el from an API call; a refusal (e.g. no right) is shown in its place.
export async function load(el, fn) {
  try { await fn(); } catch (e) { fill(el, h('p', { class: 'error' }, e.message)); }
}

// used of total as a bar (red past 90 %) and a percentage.
export function usageBar(used, total) {
  const pct = total > 0 && used !== null && used !== undefined ? Math.min(100, (100 * used) / total) : 0;
  const fillEl = h('span');
  fillEl.style.width = `${pct.toFixed(1)}%`;
  return h('span', {}, h('span', { class: `bar${pct >= 90 ? ' high' : ''}`, dataset: { pct: pct.toFixed(1) } }, fillEl),
    `${pct.toFixed(0)}%`);
}

// Run fn(); say "what done" or "what failed: the server's message"; then after().
export async function act(what, fn, after = () => {}) {
  try {
    const r = await fn();
    flash(`${what} done`, 'info');
    after(r);
    return r;
  } catch (e) {
    flash(`${what} failed: ${e.message}`);
    return null;
  }
}

// A Delete button that arms on the first click and acts on the second.
export function deleteButton(cls, fn) {
  const b = h('button', { type: 'button', class: cls }, 'Delete');
  b.addEventListener('click', () => {
    if (b.dataset.armed) { fn(); return; }
    b.dataset.armed = '1';
    fill(b, 'Really delete?');
  });
  return b;
}
