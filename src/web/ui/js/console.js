// console.js - a VM's serial console in xterm.js over a WebSocket that
// corrald relays to the guest's serial port (GET /v1/vms/NAME/console,
// Upgrade: websocket; the session cookie is the credential and corrald
// checks the Origin).  The terminal first shows the recent serial history
// (GET /v1/vms/NAME/log), then what arrives live; keystrokes go to the
// guest.  The guest's output is only ever written into the terminal
// emulator, never into the page.

import { h, fill } from './dom.js';
import { seg } from './api.js';

// xterm.js (vendored, a classic script defining window.Terminal) and its
// stylesheet, loaded the first time a console opens: no other page pays for
// parsing it.
let xtermLoading = null;
function loadXterm() {
  if (window.Terminal) return Promise.resolve();
  if (!xtermLoading) {
    xtermLoading = new Promise((resolve, reject) => {
      document.head.appendChild(h('link', { rel: 'stylesheet', href: 'vendor/xterm/xterm.css' }));
      const s = h('script', { src: 'vendor/xterm/xterm.js' });
      s.onload = () => resolve();
      s.onerror = () => { xtermLoading = null; reject(new Error('cannot load the terminal (xterm.js)')); };
      document.head.appendChild(s);
    });
  }
  return xtermLoading;
}

export function openConsole(container, name, { force = false, onStatus = () => {} } = {}) {
  const el = h('div', { id: 'console' });
  fill(container, el);
  let term = null, ws = null, closed = false;
  const dec = new TextDecoder('utf-8');
  const enc = new TextEncoder();

  (async () => {
    try {
      await loadXterm();
    } catch (e) {
      onStatus('closed', e.message);
      return;
    }
    if (closed) return;
    term = new window.Terminal({ convertEol: false, scrollback: 5000, fontSize: 13 });
    term.open(el);
    el.term = term; // for tests: the terminal's buffer
    term.onData((d) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d)); });
    term.focus();
    try {
      const r = await fetch(`/v1/vms/${seg(name)}/log?tail=65536`, { credentials: 'same-origin', cache: 'no-store' });
      if (r.ok) term.write((await r.text()).replace(/\r?\n/g, '\r\n'));
    } catch (e) { /* history is a nicety */ }
    if (closed) return;
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    ws = new WebSocket(`${proto}://${location.host}/v1/vms/${seg(name)}/console${force ? '?force=true' : ''}`);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => onStatus('connected');
    ws.onmessage = (ev) => term.write(typeof ev.data === 'string' ? ev.data : dec.decode(new Uint8Array(ev.data), { stream: true }));
    ws.onclose = (ev) => { if (!closed) onStatus('closed', ev.reason || ''); };
    ws.onerror = () => {};
  })();

  return () => {
    closed = true;
    if (ws) ws.close(1000);
    if (term) term.dispose();
  };
}
