// users.js - users and roles, for an Administrator (User.Modify): the
// users (add, delete), each user's API tokens (add: the secret is shown
// once, in this page only, never again; delete) and the ACL entries that
// give users and tokens a role on a scope (add, delete).

import { h, fill, fmtTime, flash } from './dom.js';
import { api, seg, can } from './api.js';
import { card, table, load, act, deleteButton } from './common.js';

const ROLES = ['Auditor', 'Operator', 'Administrator']; // the least first: the form's default

export function show(main) {
  if (!can('User.Modify', '/users')) {
    fill(main, h('h1', {}, 'Users and roles'),
      h('p', { class: 'muted', id: 'users-denied' }, 'Users, tokens and ACL entries are managed by an Administrator (User.Modify).'));
    return null;
  }
  // users
  const uName = h('input', { id: 'user-name', placeholder: 'user name', required: true });
  const uPass = h('input', { id: 'user-password', type: 'password', placeholder: 'password (8+ bytes)', required: true, autocomplete: 'new-password' });
  const uComment = h('input', { id: 'user-comment', placeholder: 'comment' });
  const uForm = h('form', { class: 'inline', id: 'user-form' }, uName, ' ', uPass, ' ', uComment, ' ', h('button', { type: 'submit' }, 'Add user'));
  const [userSec, userEl] = card('Users', 'users', uForm);
  // tokens
  const tUser = h('select', { id: 'token-user' });
  const tId = h('input', { id: 'token-id', placeholder: 'token id', required: true });
  const tTtl = h('input', { id: 'token-ttl', type: 'number', min: 0, placeholder: 'ttl s (0: never)' });
  const tInherit = h('input', { id: 'token-inherit', type: 'checkbox' });
  const tForm = h('form', { class: 'inline', id: 'token-form' }, tUser, ' ', tId, ' ', tTtl, ' ',
    h('label', {}, tInherit, ' with the user\u2019s rights'), ' ', h('button', { type: 'submit' }, 'Add token'));
  const secretBox = h('div', { id: 'token-secret-box' });
  const [tokSec, tokEl] = card('Tokens', 'tokens', tForm, secretBox);
  // ACL
  const aSubject = h('input', { id: 'acl-subject', placeholder: 'user or user!token', required: true });
  const aRole = h('select', { id: 'acl-role' }, ROLES.map((r) => h('option', { value: r }, r)));
  const aPath = h('input', { id: 'acl-path', placeholder: '/ or /vms/NAME …', value: '/', required: true });
  const aForm = h('form', { class: 'inline', id: 'acl-form' }, aSubject, ' ', aRole, ' on ', aPath, ' ', h('button', { type: 'submit' }, 'Grant'));
  const [aclSec, aclEl] = card('ACL entries', 'acl', aForm);
  fill(main, h('h1', {}, 'Users and roles'), userSec, tokSec, aclSec);

  uForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(`adding user ${uName.value}`, () => api.post('/v1/users', { name: uName.value, password: uPass.value, comment: uComment.value }),
      () => { uName.value = ''; uPass.value = ''; uComment.value = ''; loadUsers(); });
  });
  tForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { id: tId.value, ttl: Number(tTtl.value || 0), inherit: tInherit.checked };
    try {
      const r = await api.post(`/v1/users/${seg(tUser.value)}/tokens`, body);
      // shown once: the page keeps it nowhere but in this element
      fill(secretBox, h('p', {}, `Token ${r.user}!${r.id} made. Its secret is shown this once: copy it now.`),
        h('p', {}, 'The header to send: ', h('code', { class: 'secret', id: 'token-secret' }, `Authorization: ${r.authorization}`)),
        h('p', { class: 'muted' }, r.expires ? `It expires ${fmtTime(r.expires)}. ` : 'It does not expire. ',
          body.inherit ? 'It has a copy of the user\u2019s ACL entries.' : 'It may do nothing until an ACL entry names it.'));
      flash(`token ${r.user}!${r.id} added`, 'info');
      tId.value = '';
      loadUsers();
      loadAcl();
    } catch (e) {
      flash(`adding the token failed: ${e.message}`);
    }
  });
  aForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(`granting ${aRole.value} on ${aPath.value} to ${aSubject.value}`,
      () => api.post('/v1/acl', { subject: aSubject.value, role: aRole.value, path: aPath.value }), () => loadAcl());
  });

  function loadUsers() {
    load(userEl, async () => {
      const x = await api.get('/v1/users');
      const keep = tUser.value;
      fill(tUser, x.users.map((u) => h('option', { value: u.name, selected: u.name === keep }, u.name)));
      fill(userEl, table('user-table', ['User', 'Comment', 'Created', 'Tokens', ''], x.users.map((u) =>
        h('tr', { dataset: { user: u.name } }, h('td', {}, u.name), h('td', {}, u.comment || ''), h('td', {}, fmtTime(u.created)),
          h('td', {}, (u.tokens || []).join(', ')),
          h('td', { class: 'actions' }, deleteButton('user-delete', () =>
            act(`deleting user ${u.name}`, () => api.del(`/v1/users/${seg(u.name)}`), () => { loadUsers(); loadAcl(); }))))), 'No user.'));
      const toks = [];
      for (const u of x.users) {
        if (!(u.tokens || []).length) continue;
        const t = await api.get(`/v1/users/${seg(u.name)}/tokens`);
        toks.push(...t.tokens);
      }
      fill(tokEl, table('token-table', ['Token', 'Comment', 'Created', 'Expires', ''], toks.map((t) =>
        h('tr', { dataset: { token: `${t.user}!${t.id}` } }, h('td', {}, `${t.user}!${t.id}`), h('td', {}, t.comment || ''),
          h('td', {}, fmtTime(t.created)), h('td', {}, t.expires ? `${fmtTime(t.expires)}${t.expired ? ' (expired)' : ''}` : 'never'),
          h('td', { class: 'actions' }, deleteButton('token-delete', () =>
            act(`deleting token ${t.user}!${t.id}`, () => api.del(`/v1/users/${seg(t.user)}/tokens/${seg(t.id)}`),
              () => { loadUsers(); loadAcl(); }))))), 'No token.'));
    });
  }
  function loadAcl() {
    load(aclEl, async () => {
      const x = await api.get('/v1/acl');
      fill(aclEl, table('acl-table', ['Subject', 'Role', 'Scope', ''], x.acl.map((a) =>
        h('tr', { dataset: { subject: a.subject, path: a.path } }, h('td', {}, a.subject), h('td', {}, a.role), h('td', {}, a.path),
          h('td', { class: 'actions' }, deleteButton('acl-delete', () =>
            act(`removing ${a.role} on ${a.path} from ${a.subject}`,
              () => api.del(`/v1/acl?subject=${seg(a.subject)}&path=${seg(a.path)}`), loadAcl))))), 'No entry.'));
    });
  }
  loadUsers();
  loadAcl();
  return null;
}
