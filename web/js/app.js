// app.js: start-up, views, the menu, and public-terminal mode.
//
// Public-terminal mode is always on: the token is in api.js's memory only;
// an idle countdown is always visible; at its end, on "Terminer la
// session", on leaving the page or when the server ends the session, the
// page logs out, empties what it showed, and reloads itself on the "fin"
// view, which holds no personal data. View addresses (#papiers) never
// carry an identifier or a name: what a view is about is kept in memory.

const main = document.getElementById('main');
const menu = document.getElementById('menu');
const announcer = document.getElementById('announce');
const sessionBar = document.getElementById('session');
const countdown = document.getElementById('countdown');

const views = {};      // name → {title, roles (null: anyone), render(main, state)}
let state = {};        // what the next view is about (memory only)
let shownState = {};   // what the current view is about
let lastActivity = Date.now();
let warned = false;
let ending = false;
const idleSeconds = Math.max(30, Number(document.querySelector('meta[name="vault-idle-seconds"]')?.content) || 300);

export function register(name, view) { views[name] = view; }

// ---- navigation ---------------------------------------------------------

export function go(name, st) {
  state = st || {};
  if (location.hash === '#' + name) render();
  else location.hash = name;
}

function viewName() {
  const n = location.hash.replace(/^#/, '');
  return views[n] ? n : '';
}

function home() {
  const s = api.current();
  if (!s) return 'login';
  return { person: 'papiers', aidant: 'aidant', structure_admin: 'aidant', instance_admin: 'structures', auditor: 'audit' }[s.role] || 'login';
}

let first = true;
async function render() {
  let name = viewName() || home();
  const s = api.current();
  let v = views[name];
  if (v.roles && (!s || !v.roles.includes(s.role))) { name = home(); v = views[name]; }
  if (!v.roles && s && v.publicOnly) { name = home(); v = views[name]; }
  buildMenu(name);
  clear(main);
  document.title = t(v.title) + ' – ' + t('app.title');
  const st = state;
  shownState = st;
  state = {};
  try {
    await v.render(main, st);
  } catch (e) {
    if (!(e instanceof api.ApiError && e.status === 401)) {
      clear(main);
      main.append(h('h1', { text: t(v.title) }), errorBox(e));
    }
  }
  // a new view: the keyboard and screen readers start at its heading
  const h1 = main.querySelector('h1');
  if (h1 && !first) { h1.tabIndex = -1; h1.focus(); }
  first = false;
}

const MENUS = {
  person: [['papiers', 'menu.papers', 'vault'], ['ajouter', 'menu.add', 'add'], ['journal', 'menu.journal', 'journal'], ['mandats', 'menu.mandates', 'people'], ['export', 'menu.export', 'download']],
  aidant: [['aidant', 'menu.persons', 'people'], ['inscrire', 'menu.enrol', 'add']],
  structure_admin: [['aidant', 'menu.persons', 'people'], ['inscrire', 'menu.enrol', 'add'], ['structure', 'menu.structure', 'shield']],
  instance_admin: [['structures', 'menu.structures', 'shield'], ['audit', 'menu.audit', 'journal'], ['checkpoint', 'menu.checkpoint', 'key']],
  auditor: [['audit', 'menu.audit', 'journal'], ['checkpoint', 'menu.checkpoint', 'key']],
};

function buildMenu(active) {
  const s = api.current();
  clear(menu);
  sessionBar.hidden = !s;
  menu.hidden = !s;
  if (!s) return;
  const ul = h('ul');
  for (const [name, key, ic] of MENUS[s.role] || []) {
    ul.append(h('li', null, h('a', { href: '#' + name, 'aria-current': name === active ? 'page' : null }, icon(ic), h('span', { text: t(key) }))));
  }
  menu.append(ul);
}

export function announce(text) {
  announcer.textContent = '';
  setTimeout(() => { announcer.textContent = text; }, 50);
}

// ---- errors ------------------------------------------------------------------

export function errorText(e) {
  if (e instanceof api.ApiError) {
    const k = 'err.' + e.code;
    const s = t(k);
    if (s !== k) return s;
    if (e.status === 0) return t('err.network');
    if (e.status === 403) return t('err.forbidden');
    if (e.status === 404) return t('err.not_found');
  }
  return t('err.generic');
}

export function errorBox(e) {
  return h('p', { class: 'error', role: 'alert' }, icon('warning'), h('span', { text: errorText(e) }));
}

// A form's submit: runs fn, shows its error in the form, keeps the button
// busy meanwhile.
export function onSubmit(form, fn) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const btn = form.querySelector('button[type=submit]');
    const old = form.querySelector('.error');
    if (old) old.remove();
    if (btn) { btn.disabled = true; btn.setAttribute('aria-busy', 'true'); }
    try {
      await fn(new FormData(form));
    } catch (e) {
      if (!(e instanceof api.ApiError && e.status === 401 && !api.current() && ending)) {
        const box = errorBox(e);
        form.prepend(box);
        box.tabIndex = -1;
        box.focus();
      }
    } finally {
      if (btn && btn.isConnected) { btn.disabled = false; btn.removeAttribute('aria-busy'); }
    }
  });
  return form;
}

// ---- form pieces -------------------------------------------------------------------

let uid = 0;
export function field(label, attrs, hint) {
  const id = 'f' + (++uid);
  const hintId = hint ? id + '-hint' : null;
  const input = attrs.tag === 'select'
    ? h('select', { id, name: attrs.name, required: attrs.required, 'aria-describedby': hintId }, attrs.options.map(([v, l]) => h('option', { value: v, text: l, selected: v === attrs.value })))
    : h('input', Object.assign({ id, 'aria-describedby': hintId }, attrs, { tag: undefined }));
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), hint ? h('p', { class: 'hint', id: hintId, text: hint }) : null, input);
}

export function submit(label, ic) {
  return h('button', { type: 'submit', class: 'btn primary' }, ic ? icon(ic) : null, h('span', { text: label }));
}

export function button(label, ic, onclick, cls) {
  return h('button', { type: 'button', class: 'btn ' + (cls || ''), onclick }, ic ? icon(ic) : null, h('span', { text: label }));
}

export function backLink(view, label) {
  return h('p', { class: 'back' }, h('a', { href: '#' + view }, icon('back'), h('span', { text: label || t('back') })));
}

// ---- session and public-terminal mode ---------------------------------------------

export async function startSession(loginName, secret) {
  const s = await api.login(loginName, secret);
  // the pages of aidants and administrators are fetched only for them
  const mods = { person: ['./person.js'], aidant: ['./aidant.js'], structure_admin: ['./aidant.js', './admin.js'], instance_admin: ['./admin.js'], auditor: ['./admin.js'] }[s.role] || [];
  await Promise.all(mods.map((m) => import(m)));
  lastActivity = Date.now();
  warned = false;
  tick();
  go(home());
}

// Ends the session: log-out on the server, everything shown is emptied,
// and the page is loaded anew (memory and history entries of this
// document gone) on a view that holds nothing personal.
export async function endSession(reason) {
  if (ending) return;
  ending = true;
  clear(main);
  clear(menu);
  sessionBar.hidden = true;
  announcer.textContent = '';
  for (const fn of wipers) { try { fn(); } catch { /* keep going */ } }
  await api.logout();
  history.replaceState(null, '', location.pathname + location.search + '#' + (reason === 'idle' || reason === 'expired' ? 'fin-temps' : 'fin'));
  location.reload();
}

const wipers = [];
export function onWipe(fn) { wipers.push(fn); }

function activity() {
  lastActivity = Date.now();
  warned = false;
  // The server ends a session after 15 idle minutes of API calls; a
  // person busy on a long form keeps it open.
  if (api.current() && Date.now() - api.lastCallAt() > 120000) api.call('GET', '/v1/me').catch(() => {});
}

function tick() {
  if (!api.current() || ending) return;
  const left = Math.max(0, Math.ceil(idleSeconds - (Date.now() - lastActivity) / 1000));
  const m = Math.floor(left / 60), s = String(left % 60).padStart(2, '0');
  countdown.textContent = t('session.countdown', { time: m + ':' + s });
  countdown.classList.toggle('soon', left <= 60);
  if (left <= 60 && !warned) { warned = true; announce(t('session.warning')); }
  if (left === 0) endSession('idle');
}

// ---- language --------------------------------------------------------------------

function buildLanguages() {
  const nav = document.getElementById('langs');
  clear(nav);
  for (const l of i18n.languages()) {
    const cur = l.code === i18n.current();
    nav.append(h('a', { href: '?lang=' + l.code, lang: l.code, hreflang: l.code, 'aria-current': cur ? 'true' : null,
      onclick: async (ev) => {
        ev.preventDefault();
        await i18n.setLanguage(l.code);
        history.replaceState(null, '', '?lang=' + l.code + location.hash);
        i18n.applyStatic(document);
        buildLanguages();
        state = shownState;
        render();
      } }, l.name));
  }
}

// ---- start --------------------------------------------------------------------------

async function boot() {
  const wanted = new URLSearchParams(location.search).get('lang') || 'fr';
  await i18n.loadLanguages();
  await i18n.setLanguage(wanted);
  i18n.applyStatic(document);
  buildLanguages();
  api.onSessionLost((why) => endSession(why));
  document.getElementById('end-session').addEventListener('click', () => endSession('user'));
  for (const ev of ['pointerdown', 'keydown', 'touchstart', 'wheel']) document.addEventListener(ev, activity, { passive: true });
  setInterval(tick, 1000);
  // Leaving the page ends the session; a page restored from the
  // back-forward cache is loaded anew rather than shown as it was.
  window.addEventListener('pagehide', () => { if (api.current()) { api.logout(); clear(main); } });
  window.addEventListener('pageshow', (ev) => { if (ev.persisted) location.reload(); });
  window.addEventListener('hashchange', render);
  await import('./public.js');
  // the person's pages are needed only once she is logged in (startSession
  // waits for them): the log-in page is drawn first, they come while she types
  render();
  import('./person.js').catch(() => {});
}

boot();import { api, i18n, clear, h, icon, t } from './core.js';

