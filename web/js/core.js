// core.js: what every page needs, in one file (one request on a slow
// link): building the page (text only, never HTML), the catalogues, and
// the public API with the session token in memory.

// ---- the page -------------------------------------------------------------
// dom.js: building the page. Every text goes in as a text node, never as
// HTML: a title such as <img src=x onerror=alert(1)> shows as those
// characters. (The page's CSP also forbids innerHTML: Trusted Types.)
const SVG = 'http://www.w3.org/2000/svg';

// h('p', {class: 'x', onclick: fn, hidden: true}, 'text', node, [more])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) add(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// A pictogram of the sprite in index.html, hidden from screen readers.
export function icon(name, cls) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'icon' + (cls ? ' ' + cls : ''));
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const use = document.createElementNS(SVG, 'use');
  use.setAttribute('href', '#i-' + name);
  svg.appendChild(use);
  return svg;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Offers bytes as a file to save, then forgets them.
export function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---- the catalogues ---------------------------------------------------------
// i18n.js: every visible string comes from one catalogue per language
// (web/i18n/LANG.json); web/i18n/languages.json lists them with their
// direction, so that a translator adds a language without touching code.
let cat = {};
let lang = 'fr';
let langs = [];
const DEFAULT = 'fr';

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(url + ': ' + r.status);
  return r.json();
}

export async function loadLanguages() {
  try { langs = await getJSON('/i18n/languages.json'); } catch { langs = [{ code: DEFAULT, name: 'Fran\u00e7ais', dir: 'ltr' }]; }
  return langs;
}

export function languages() { return langs; }
export function currentLang() { return lang; }

export async function setLanguage(code) {
  const known = langs.find((l) => l.code === code) || langs.find((l) => l.code === DEFAULT) || langs[0];
  cat = await getJSON('/i18n/' + known.code + '.json');
  lang = known.code;
  document.documentElement.lang = lang;
  document.documentElement.dir = known.dir === 'rtl' ? 'rtl' : 'ltr';
  return lang;
}

// t('key', {name: 'Amina'}): the catalogue's sentence with {name} filled in.
export function t(key, vars) {
  let s = Object.prototype.hasOwnProperty.call(cat, key) ? cat[key] : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

// The static parts of index.html: data-i18n (text), data-i18n-label (aria-label).
export function applyStatic(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  document.title = t('app.title');
}

// Dates: "3 mars 2026" (a YYYY-MM-DD date is a calendar day, not an instant).
export function day(ymd) {
  if (!ymd) return '';
  const [y, m, d] = ymd.split('-').map(Number);
  return new Intl.DateTimeFormat(lang, { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

// An instant, in the terminal's time zone: {date: "3 mars 2026", time: "14 h 05"}.
export function when(iso) {
  const d = new Date(iso);
  const date = new Intl.DateTimeFormat(lang, { day: 'numeric', month: 'long', year: 'numeric' }).format(d);
  const parts = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false }).formatToParts(d);
  const hh = parts.find((p) => p.type === 'hour').value;
  const mm = parts.find((p) => p.type === 'minute').value;
  return { date, time: t('time.format', { h: hh, m: mm }) };
}

export function bytes(n) {
  const u = ['unit.b', 'unit.kb', 'unit.mb', 'unit.gb'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  const v = i === 0 ? String(n) : new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(n);
  return t(u[i], { n: v });
}

export const i18n = { loadLanguages, languages, current: currentLang, setLanguage, applyStatic };

// ---- the API -------------------------------------------------------------------
// api.js: the public API (/v1), as any client calls it. The session token
// lives in this module's memory only: never in localStorage, IndexedDB,
// sessionStorage or a cookie. Reloading the page forgets it.
let session = null; // {token, role, account_id, expires_at}
let lastCall = 0;
let onLost = () => {};

class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

function current() { return session; }
function lastCallAt() { return lastCall; }
function onSessionLost(fn) { onLost = fn; }

// call('GET', '/v1/me') → parsed JSON, a Blob (as: 'blob'), text (as: 'text'),
// or null for 204. Throws ApiError.
async function call(method, path, opts = {}) {
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

async function login(loginName, secret) {
  const s = await call('POST', '/v1/sessions', { json: { login: loginName, secret }, anonymous: true });
  session = { token: s.token, role: s.role, account_id: s.account_id, expires_at: s.expires_at };
  return session;
}

// Ends the session on the server (its unlocked key is wiped there) and
// forgets the token here, whatever the server answers.
async function logout() {
  const s = session;
  session = null;
  if (!s) return;
  try {
    await fetch('/v1/sessions/current', { method: 'DELETE', headers: { Authorization: 'Bearer ' + s.token }, cache: 'no-store', credentials: 'omit', keepalive: true });
  } catch { /* the server ends it by itself after its idle time */ }
}

const enc = encodeURIComponent;

export const api = { call, login, logout, current, lastCallAt, onSessionLost, enc, ApiError };
