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
export function current() { return lang; }

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
