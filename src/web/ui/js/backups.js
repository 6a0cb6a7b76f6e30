// backups.js - the backups page: the repositories (the default one marked,
// how many backups each holds), the policies (what they select, keep, when
// they run next) with "run now", and the recent backup, restore, verify and
// prune jobs; running ones with their live progress (jobs.js).  Whoever
// may (Datastore.Allocate) creates repositories and policies here
// (backupforms.js).

import { h, fill, fmtTime } from './dom.js';
import { api, seg, can } from './api.js';
import { subscribe } from './events.js';
import { jobsView, followJob } from './jobs.js';
import { card, table, load, act, deleteButton } from './common.js';
import { repoForm, policyForm } from './backupforms.js';

const BACKUP_JOBS = /^(backup|restore|verify|prune)/;

export function show(main) {
  const newPolicy = h('div', { id: 'policy-new' });
  const [repoSec, repoEl] = card('Repositories', 'backup-repos',
    can('Datastore.Allocate', '/repos') ? repoForm(() => loadRepos()) : null);
  const [polSec, polEl] = card('Policies', 'backup-policies');
  polSec.appendChild(newPolicy);
  const [runSec, runEl] = card('Running backup jobs', 'backup-running');
  const [jobSec, jobEl] = card('Recent backup jobs', 'backup-jobs');
  fill(main, h('h1', {}, 'Backups'), repoSec, polSec, runSec, jobSec);
  const stopJobs = jobsView(runEl, (j) => BACKUP_JOBS.test(j.type));

  const loadRepos = () => load(repoEl, async () => {
    const x = await api.get('/v1/repos');
    if (can('Datastore.Allocate', '/policies')) fill(newPolicy, policyForm(x.repos, () => loadPolicies()));
    const rows = await Promise.all(x.repos.map(async (r) => {
      let n = '';
      try {
        const s = await api.get(`/v1/repos/show?path=${seg(r.path)}`);
        n = s.reachable === false ? `unreachable: ${s.problem || ''}` : String(s.backups);
      } catch (e) { n = e.message; }
      return h('tr', { dataset: { repo: r.path } }, h('td', {}, r.path, r.default ? ' (default)' : ''),
        h('td', {}, r.encrypted ? 'yes' : 'no'), h('td', {}, n), h('td', {}, fmtTime(r.created)));
    }));
    fill(repoEl, table('repo-table', ['Path', 'Encrypted', 'Backups', 'Created'], rows,
      'No repository yet.'));
  });
  loadRepos();

  const loadPolicies = () => load(polEl, async () => {
    const x = await api.get('/v1/policies');
    fill(polEl, table('policy-table', ['Policy', 'Selects', 'Excludes', 'Repository', 'Keeps', 'Schedule', 'Enabled', ''],
      x.policies.map((p) => h('tr', { dataset: { policy: p.name } }, h('td', {}, p.name),
        h('td', {}, (p.select || []).join(', ')), h('td', {}, (p.exclude || []).join(', ')),
        h('td', {}, p.repo || '(default)'),
        h('td', {}, Object.entries(p.keep || {}).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', ')),
        h('td', {}, p.schedule || 'on demand'), h('td', {}, p.enabled === false ? 'no' : 'yes'),
        h('td', { class: 'actions' },
          can('VM.Backup', '/backups') ? h('button', { type: 'button', class: 'policy-run', onclick: () =>
            act(`starting policy ${p.name}`, () => api.post('/v1/backups', { policy: p.name }),
              (r) => followJob(r.job, `policy ${p.name}`, loadJobs)) }, 'Run now') : null,
          can('Datastore.Allocate', '/policies') ? deleteButton('policy-delete', () =>
            act(`deleting policy ${p.name}`, () => api.del(`/v1/policies/${seg(p.name)}`), loadPolicies)) : null))),
    'No policy yet.'));
  });
  loadPolicies();

  const loadJobs = () => load(jobEl, async () => {
    const x = await api.get('/v1/jobs');
    fill(jobEl, table('backup-job-table', ['#', 'Type', 'Target', 'State', 'Started', 'Finished', 'Error'],
      x.jobs.filter((j) => BACKUP_JOBS.test(j.type)).sort((a, b) => b.id - a.id).map((j) => h('tr', { dataset: { job: String(j.id) } },
        h('td', { class: 'num' }, String(j.id)), h('td', {}, j.type), h('td', {}, j.target || ''),
        h('td', {}, j.state), h('td', {}, fmtTime(j.started)), h('td', {}, fmtTime(j.finished)),
        h('td', { class: 'error' }, j.error || ''))), 'No backup job lately.'));
  });
  loadJobs();
  const unsub = subscribe((kind, e) => {
    if (kind === 'job' && e.job && e.job.state !== 'running' && BACKUP_JOBS.test(e.job.type)) loadJobs();
  });
  return () => { unsub(); stopJobs(); };
}
