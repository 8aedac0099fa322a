// api.js: the public API (/v1), as any client calls it. The session token
// lives in this module's memory only: never in localStorage, IndexedDB,
// sessionStorage or a cookie. Reloading the page forgets it.
let session = null; // {token, role, account_id, expires_at}
let lastCall = 0;
let onLost = () => {};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

export function current() { return session; }
export function lastCallAt() { return lastCall; }
export function onSessionLost(fn) { onLost = fn; }

// call('GET', '/v1/me') → parsed JSON, a Blob (as: 'blob'), text (as: 'text'),
// or null for 204. Throws ApiError.
export async function call(method, path, opts = {}) {
  const headers = {};
  if (session && !opts.anonymous) headers.Authorization = 'Bearer ' + session.token;
  let body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = opts.type || 'application/octet-stream';
    body = opts.body;
  }
  let r;
  try {
    r = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer', keepalive: !!opts.keepalive });
  } catch {
    throw new ApiError(0, 'network', '');
  }
  lastCall = Date.now();
  if (r.status === 401 && session && !opts.anonymous) {
    session = null;
    onLost('expired');
    throw new ApiError(401, 'unauthorized', '');
  }
  if (!r.ok) {
    let code = 'error', message = '';
    try { const e = await r.json(); code = e.error || code; message = e.message || ''; } catch { /* not JSON */ }
    throw new ApiError(r.status, code, message);
  }
  if (r.status === 204) return null;
  if (opts.as === 'blob') return r.blob();
  if (opts.as === 'text') return r.text();
  return r.json();
}

export async function login(loginName, secret) {
  const s = await call('POST', '/v1/sessions', { json: { login: loginName, secret }, anonymous: true });
  session = { token: s.token, role: s.role, account_id: s.account_id, expires_at: s.expires_at };
  return session;
}

// Ends the session on the server (its unlocked key is wiped there) and
// forgets the token here, whatever the server answers.
export async function logout() {
  const s = session;
  session = null;
  if (!s) return;
  try {
    await fetch('/v1/sessions/current', { method: 'DELETE', headers: { Authorization: 'Bearer ' + s.token }, cache: 'no-store', credentials: 'omit', keepalive: true });
  } catch { /* the server ends it by itself after its idle time */ }
}

export const enc = encodeURIComponent;
