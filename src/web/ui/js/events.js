// events.js - one server-sent event stream (GET /v1/events?follow=true)
// for the whole page; pages subscribe to the kinds they show.  When the
// stream breaks (corrald restarted, the session ended) EventSource
// reconnects by itself.

const subs = new Set();
let source = null;

function dispatch(kind, ev) {
  let data;
  try { data = JSON.parse(ev.data); } catch (e) { return; }
  for (const s of subs) {
    try { s(kind, data); } catch (e) { console.error(e); }
  }
}

export function startEvents() {
  if (source) return;
  source = new EventSource('/v1/events?follow=true', { withCredentials: true });
  for (const kind of ['state', 'job', 'created', 'edited', 'deleted', 'snapshot', 'api', 'alarm', 'disk', 'reboot', 'cluster', 'quorum'])
    source.addEventListener(kind, (ev) => dispatch(kind, ev));
  source.onmessage = (ev) => dispatch('message', ev);
}

export function stopEvents() {
  if (source) source.close();
  source = null;
}

// fn(kind, data); returns the unsubscribe function.
export function subscribe(fn) {
  subs.add(fn);
  return () => subs.delete(fn);
}
