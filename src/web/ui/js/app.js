// app.js - the web UI's entry: the login form, the navigation (#/ paths),
// and which page module draws the main area (loaded on first use).

import { h, fill, flash } from './dom.js';
import { loadSession, login, logout, setUnauthorizedHandler, currentUser, can } from './api.js';
import { startEvents, stopEvents } from './events.js';

// The pages, each a module loaded when first shown (index.html preloads
// the dashboard's and the VM list's; the rest are fetched once the first
// page is drawn), so the first paint waits for one page's code only.
const PAGES = {
  '/': () => import('./dashboard.js'),
  '/vms': () => import('./vms.js'),
  '/create': () => import('./create.js'),
  '/storage': () => import('./storage.js'),
  '/networks': () => import('./networks.js'),
  '/backups': () => import('./backups.js'),
  '/users': () => import('./users.js'),
  '/alarms': () => import('./alarms.js'),
  vm: () => import('./vm.js'),
};

const main = document.getElementById('main');
let leave = null; // the current page's cleanup

function showLoginForm(message) {
  stopEvents();
  if (leave) { leave(); leave = null; }
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  fill(document.getElementById('who'));
  const err = h('p', { class: 'error', id: 'login-error', role: 'alert' }, message || '');
  const user = h('input', { name: 'user', id: 'login-user', autocomplete: 'username', required: true });
  const pass = h('input', { name: 'password', id: 'login-password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'stack login card', id: 'login-form' },
    h('h1', {}, 'Log in to corral'),
    h('label', {}, 'User', h('br'), user),
    h('label', {}, 'Password', h('br'), pass),
    h('button', { class: 'primary', type: 'submit' }, 'Log in'),
    err);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fill(err, '');
    try {
      await login(user.value, pass.value);
      pass.value = '';
      started();
    } catch (e) {
      fill(err, e.message);
    }
  });
  flash('');
  fill(main, form);
  user.focus();
}

let routeSeq = 0; // a later navigation wins over a page still loading

async function route() {
  if (!currentUser()) return;
  if (leave) { leave(); leave = null; }
  flash('');
  const seq = ++routeSeq;
  const path = location.hash.replace(/^#/, '') || '/';
  let m, load = path.startsWith('/') && Object.hasOwn(PAGES, path) ? PAGES[path] : undefined, args = [];
  if (!load && (m = path.match(/^\/vm\/([^/]+)$/))) { load = PAGES.vm; args = [decodeURIComponent(m[1])]; }
  if (!load) { fill(main, h('p', {}, 'No such page.')); return; }
  fill(main, h('p', { class: 'muted' }, 'Loading…'));
  let page;
  try {
    page = await load();
  } catch (e) {
    if (seq === routeSeq) fill(main, h('p', { class: 'error' }, `Cannot load the page: ${e.message}`));
    return;
  }
  if (seq !== routeSeq || !currentUser()) return;
  leave = page.show(main, ...args);
}

// The other pages' code fetched while the user reads the first one.
function prefetchPages() {
  setTimeout(() => { for (const load of Object.values(PAGES)) load().catch(() => {}); }, 1500);
}

function started() {
  document.getElementById('nav').hidden = false;
  const out = document.getElementById('logout');
  out.hidden = false;
  fill(document.getElementById('who'), currentUser());
  document.getElementById('nav-users').hidden = !can('User.Modify', '/users');
  document.getElementById('nav-create').hidden = !can('VM.Config', '/vms');
  startEvents();
  route();
  prefetchPages();
}

document.getElementById('logout').addEventListener('click', async () => {
  try { await logout(); } catch (e) { /* the session may be gone already */ }
  showLoginForm('Logged out.');
});

setUnauthorizedHandler((e) => showLoginForm(e.message));
window.addEventListener('hashchange', route);

(async () => {
  try {
    if (await loadSession()) started();
    else showLoginForm('');
  } catch (e) {
    fill(main, h('p', { class: 'error' }, `Cannot reach corrald: ${e.message}`));
  }
})();
