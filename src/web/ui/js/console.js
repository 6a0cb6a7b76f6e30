// console.js - a VM's serial console in xterm.js over a WebSocket that
// corrald relays to the guest's serial port (GET /v1/vms/NAME/console,
// Upgrade: websocket; the session cookie is the credential and corrald
// checks the Origin).  The terminal first shows the recent serial history
// (GET /v1/vms/NAME/log), then what arrives live; keystrokes go to the
// guest.  The guest's output is only ever written into the terminal
// emulator, never into the page.

import { h, fill } from './dom.js';
import { seg } from './api.js';

export function openConsole(container, name, { force = false, onStatus = () => {} } = {}) {
  const el = h('div', { id: 'console' });
  fill(container, el);
  const term = new window.Terminal({ convertEol: false, scrollback: 5000, fontSize: 13 });
  term.open(el);
  el.term = term; // for tests: the terminal's buffer
  let ws = null, closed = false;
  const dec = new TextDecoder('utf-8');

  (async () => {
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
  const enc = new TextEncoder();
  term.onData((d) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d)); });
  term.focus();

  return () => {
    closed = true;
    if (ws) ws.close(1000);
    term.dispose();
  };
}
