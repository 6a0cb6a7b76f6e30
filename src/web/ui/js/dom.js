// dom.js - building the page from data without ever parsing it as HTML.
//
// Every string a caller passes becomes a text node or a property value:
// there is no innerHTML anywhere in the UI, so a VM description such as
// "<img src=x onerror=...>" is shown as those characters.

// h('tr', {class: 'x', onclick: fn}, 'text', childNode, [more, nodes])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Replace el's content with children.
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

export function fmtMiB(mib) {
  if (mib === undefined || mib === null) return '';
  return mib >= 1024 ? `${(mib / 1024).toFixed(mib % 1024 ? 1 : 0)} GiB` : `${mib} MiB`;
}

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

export function stateBadge(state) {
  return h('span', { class: `state state-${String(state || 'unknown').replace(/[^a-z-]/g, '')}` }, state || '?');
}

// A flash message at the top of the page (role=alert): errors in red, infos in blue.
export function flash(msg, kind = 'error') {
  const el = document.getElementById('flash');
  el.className = kind === 'error' ? '' : kind;
  fill(el, msg);
  el.hidden = !msg;
}
