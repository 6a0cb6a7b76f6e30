// backupforms.js - the backups page's two forms: creating a repository
// (POST /v1/repos: a path, and for an encrypted one a passphrase typed
// twice, as `corral repo create --encrypt` asks it) and a policy
// (POST /v1/policies: name, select and exclude patterns, repository,
// keep rules, schedule; one of an existing name is replaced, as the API
// does).  The server's refusal is shown in its words.
//
// The passphrase lives only in its two password fields until the request
// is sent; both are emptied whatever the answer, and nothing the page
// shows repeats it (the answer names the key file, never the secret).

import { h, flash } from './dom.js';
import { api } from './api.js';
import { act } from './common.js';

// onMade(repo) after a repository was registered.
export function repoForm(onMade) {
  const path = h('input', { id: 'repo-path', placeholder: '/srv/backup/main', required: true, size: 28 });
  const encrypt = h('input', { id: 'repo-encrypt', type: 'checkbox' });
  const pass = h('input', { id: 'repo-pass', type: 'password', autocomplete: 'new-password', placeholder: 'passphrase (8+ characters)', size: 20 });
  const pass2 = h('input', { id: 'repo-pass2', type: 'password', autocomplete: 'new-password', placeholder: 'again', size: 12 });
  const secret = h('span', { hidden: true }, ' ', pass, ' ', pass2);
  encrypt.addEventListener('change', () => { secret.hidden = !encrypt.checked; });
  const form = h('form', { class: 'inline', id: 'repo-form' }, 'New repository ', path, ' ',
    h('label', {}, encrypt, ' encrypted'), secret, ' ', h('button', { type: 'submit' }, 'Create'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = { path: path.value.trim(), encrypt: encrypt.checked };
    if (encrypt.checked) {
      if (pass.value !== pass2.value) {
        pass.value = pass2.value = '';
        flash('creating the repository failed: the passphrases differ');
        return;
      }
      body.passphrase = pass.value;
    }
    pass.value = pass2.value = '';
    act(`creating repository ${body.path}`, () => api.post('/v1/repos', body), (r) => {
      path.value = '';
      encrypt.checked = false;
      secret.hidden = true;
      if (r && r.keyfile) {
        flash(`repository ${r.path} created (encrypted); its key file is ${r.keyfile}: keep a copy away from the ` +
          'repository, without it and the passphrase the backups are lost', 'info');
      }
      onMade(r);
    });
  });
  return form;
}

const KEEP = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'];

// "a, b ,c" -> ["a","b","c"]
function patterns(s) {
  return s.split(',').map((p) => p.trim()).filter((p) => p);
}

// repos: the registered repositories (for the choice); onMade(policy).
export function policyForm(repos, onMade) {
  const name = h('input', { id: 'policy-name', placeholder: 'name', required: true, size: 12 });
  const select = h('input', { id: 'policy-select', placeholder: 'PROD*, tag:db, web1:3', required: true, size: 24 });
  const exclude = h('input', { id: 'policy-exclude', placeholder: '*-test, tag:nobackup', size: 20 });
  const repo = h('select', { id: 'policy-repo' }, h('option', { value: '' }, 'the default repository'),
    repos.map((r) => h('option', { value: r.path }, r.path)));
  const keep = Object.fromEntries(KEEP.map((k) => [k, h('input', { id: `policy-keep-${k}`, type: 'number', min: 0, max: 10000, size: 4 })]));
  const schedule = h('input', { id: 'policy-schedule', placeholder: 'daily 02:00 (empty: on demand)', size: 22 });
  const form = h('form', { class: 'stack', id: 'policy-form' }, h('h3', {}, 'New policy'),
    h('label', {}, 'Name ', name), h('label', {}, 'Select ', select), h('label', {}, 'Exclude ', exclude),
    h('label', {}, 'Repository ', repo),
    h('p', {}, 'Keep (empty: the last 4) ', KEEP.map((k) => h('label', { class: 'keep' }, `${k} `, keep[k], ' '))),
    h('label', {}, 'Schedule ', schedule), h('button', { type: 'submit' }, 'Save policy'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = { name: name.value.trim(), select: patterns(select.value) };
    const ex = patterns(exclude.value);
    if (ex.length) body.exclude = ex;
    if (repo.value) body.repo = repo.value;
    const k = {};
    for (const key of KEEP) if (keep[key].value !== '') k[key] = Number(keep[key].value);
    if (Object.keys(k).length) body.keep = k;
    if (schedule.value.trim()) body.schedule = schedule.value.trim();
    act(`creating policy ${body.name}`, () => api.post('/v1/policies', body), (p) => {
      for (const el of [name, select, exclude, schedule, ...Object.values(keep)]) el.value = '';
      onMade(p);
    });
  });
  return form;
}
