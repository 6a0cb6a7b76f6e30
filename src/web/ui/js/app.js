// app.js - the web UI's entry: the login form, the navigation (#/ paths),
// and which page module draws the main area.

import { h, fill, flash } from './dom.js';
import { loadSession, login, logout, setUnauthorizedHandler, currentUser, can } from './api.js';
import { startEvents, stopEvents } from './events.js';
import * as dashboard from './dashboard.js';
import * as vms from './vms.js';
import * as vm from './vm.js';
import * as create from './create.js';
import * as storage from './storage.js';
import * as networks from './networks.js';
import * as backups from './backups.js';
import * as users from './users.js';
import * as alarms from './alarms.js';

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

function route() {
  if (!currentUser()) return;
  if (leave) { leave(); leave = null; }
  flash('');
  const path = location.hash.replace(/^#/, '') || '/';
  let m;
  if (path === '/' || path === '') leave = dashboard.show(main);
  else if (path === '/vms') leave = vms.show(main);
  else if (path === '/create') leave = create.show(main);
  else if (path === '/storage') leave = storage.show(main);
  else if (path === '/networks') leave = networks.show(main);
  else if (path === '/backups') leave = backups.show(main);
  else if (path === '/users') leave = users.show(main);
  else if (path === '/alarms') leave = alarms.show(main);
  else if ((m = path.match(/^\/vm\/([^/]+)$/))) leave = vm.show(main, decodeURIComponent(m[1]));
  else fill(main, h('p', {}, 'No such page.'));
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
