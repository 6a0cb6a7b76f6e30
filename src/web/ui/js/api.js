// api.js - calling corrald's REST API (docs/api.md) from the page.
//
// The browser's credential is the session cookie (HttpOnly: this code
// never sees it); every request that changes something carries the
// session's CSRF token in X-CSRF-Token, which GET /ui/session and the
// login answer give the page.  Over the unix socket there is no session
// (the socket is root's door) and no token is needed.

const session = { user: null, csrf: '', local: false, rights: [] };

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export function currentUser() { return session.user; }

function remember(j) {
  session.user = j.user;
  session.csrf = j.csrf || '';
  session.local = !!j.local;
  session.rights = Array.isArray(j.rights) ? j.rights : [];
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// fetch, sent again while corrald answers 503 with Retry-After: the request
// was refused before it was routed (queue full, restarting), so nothing
// happened; at most 5 s a wait and 60 s in all, as the CLI does.
async function fetchRetrying(path, init) {
  for (let waited = 0; ;) {
    const r = await fetch(path, init);
    const after = Math.min(5, parseInt(r.headers.get('Retry-After') || '0', 10) || 0);
    if (r.status !== 503 || after <= 0 || waited + after > 60) return r;
    waited += after;
    await sleep(after * 1000);
  }
}

// May the session's user exercise privilege priv ("VM.Config") on object
// ("/vms/web")?  Her ACL entries as GET /ui/session gave them: an entry
// covers its path and everything below it.  Only for leaving out buttons
// that would be refused: corrald checks every request itself.
export function can(priv, object = '/') {
  for (const r of session.rights) {
    const p = r.path || '/';
    const covers = p === '/' || object === p || object.startsWith(p + '/');
    if (covers && (r.privileges || []).includes(priv)) return true;
  }
  return false;
}

async function call(method, path, body, raw = false, extra = {}) {
  const headers = Object.assign({}, extra);
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  const r = await fetchRetrying(path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let j = null;
  try { j = await r.json(); } catch (e) { j = null; }
  if (!r.ok) {
    const e = (j && j.error) || {};
    const err = new ApiError(r.status, e.code || 'error', e.message || `${method} ${path}: HTTP ${r.status}`);
    if (r.status === 401 && !raw) onUnauthorized(err);
    throw err;
  }
  return j;
}

export const api = {
  get: (p) => call('GET', p),
  post: (p, b = {}) => call('POST', p, b),
  put: (p, b, headers = {}) => call('PUT', p, b, false, headers),
  del: (p) => call('DELETE', p),
};

// The session the cookie holds: the user, or null when not logged in.
export async function loadSession() {
  try {
    remember(await call('GET', '/ui/session', undefined, true));
    return session.user;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

export async function login(user, password) {
  remember(await call('POST', '/ui/login', { user, password }, true));
  return session.user;
}

export async function logout() {
  try { await call('POST', '/ui/logout', {}, true); } finally { session.user = null; session.csrf = ''; session.rights = []; }
}

// A VM name in a path segment.
export function seg(s) { return encodeURIComponent(s); }
