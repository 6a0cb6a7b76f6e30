// vnc.js - a VM's VNC display in noVNC (Debian's novnc package, served by
// corrald under /ui/novnc/) over a WebSocket that corrald relays to the
// VM's VNC server (GET /v1/vms/NAME/vnc; VM.Console on the VM, the Origin
// checked).  The browser needs only the API's port, never QEMU's.

import { h, fill } from './dom.js';
import { seg } from './api.js';

export async function openVnc(container, name, onStatus = () => {}) {
  let RFB;
  try {
    ({ default: RFB } = await import('../novnc/core/rfb.js'));
  } catch (e) {
    onStatus('unavailable', 'noVNC is not installed on the host (Debian package novnc)');
    return () => {};
  }
  const el = h('div', { id: 'vnc-screen' });
  fill(container, el);
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const rfb = new RFB(el, `${proto}://${location.host}/v1/vms/${seg(name)}/vnc`);
  rfb.scaleViewport = true;
  rfb.viewOnly = false;
  el.rfb = rfb; // for tests
  rfb.addEventListener('connect', () => onStatus('connected'));
  rfb.addEventListener('disconnect', (ev) => onStatus('disconnected', ev.detail && ev.detail.clean ? '' : 'the connection failed or was refused'));
  rfb.addEventListener('desktopname', (ev) => onStatus('connected', ev.detail.name));
  return () => { try { rfb.disconnect(); } catch (e) { /* gone already */ } };
}
