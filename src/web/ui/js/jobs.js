// jobs.js - jobs in the page: a table of running jobs with their progress,
// live from the event stream (events.js), and following one job a page
// started until it ends ("… done" or "… failed: reason" in the flash).
// The dashboard, the VM page and the other pages all use these two; no
// page follows jobs by itself.

import { h, fill, flash } from './dom.js';
import { api } from './api.js';
import { subscribe } from './events.js';

function jobRow(j) {
  const pct = Math.round(j.progress || 0);
  return h('tr', { dataset: { job: String(j.id) } },
    h('td', { class: 'num' }, String(j.id)), h('td', {}, j.type), h('td', {}, j.target || ''),
    h('td', {}, j.state), h('td', {}, h('progress', { max: 100, value: pct }), ` ${pct}%`),
    h('td', {}, j.phase || ''));
}

// Draw the running jobs that pass keep(job) into el, kept current from the
// event stream; returns the function that stops following.
export function jobsView(el, keep = () => true) {
  const jobs = new Map();
  const body = h('tbody', { class: 'job-rows' });
  const table = h('table', { class: 'jobs' }, h('thead', {}, h('tr', {},
    ['#', 'Type', 'Target', 'State', 'Progress', 'Phase'].map((t) => h('th', {}, t)))), body);
  const draw = () => {
    if (!jobs.size) { fill(el, h('p', { class: 'muted' }, 'No job is running.')); return; }
    fill(body, [...jobs.values()].map(jobRow));
    fill(el, table);
  };
  const unsub = subscribe((kind, e) => {
    if (kind !== 'job' || !e.job || !keep(e.job)) return;
    if (e.job.state === 'running') jobs.set(e.job.id, e.job);
    else jobs.delete(e.job.id);
    draw();
  });
  api.get('/v1/jobs').then((x) => {
    for (const j of x.jobs) if (j.state === 'running' && keep(j) && !jobs.has(j.id)) jobs.set(j.id, j);
    draw();
  }, (e) => fill(el, h('p', { class: 'error' }, e.message)));
  return unsub;
}

// A job the page started: say so, and when it ends say how (the job's own
// error, verbatim) and call onEnd(job).  Follows the event stream, and asks
// once in case the job ended before the page was listening.
export function followJob(job, label, onEnd = () => {}) {
  flash(`${label}: job ${job.id} started`, 'info');
  let done = false;
  const end = (j) => {
    if (done) return;
    done = true;
    unsub();
    if (j.state === 'succeeded') flash(`${label} done`, 'info');
    else flash(`${label} ${j.state}: ${j.error || ''}`);
    onEnd(j);
  };
  const unsub = subscribe((kind, e) => {
    if (kind === 'job' && e.job && e.job.id === job.id && e.job.state !== 'running') end(e.job);
  });
  api.get(`/v1/jobs/${job.id}`).then((j) => { if (j.state !== 'running') end(j); }, () => {});
}
