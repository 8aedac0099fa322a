// catalogues.mjs: every language's catalogue has the same keys as the
// French one, with the same {placeholders}; every key the pages use
// exists; the scripts hold no visible text of their own.
//
//   node catalogues.mjs WEB_DIR
import fs from 'node:fs';
import path from 'node:path';
import { checker } from './harness.mjs';

const web = process.argv[2];
const check = checker();
const read = (p) => JSON.parse(fs.readFileSync(path.join(web, p), 'utf8'));
const langs = read('i18n/languages.json');
check('languages.json lists French first, then English', langs[0].code === 'fr' && langs[1].code === 'en', langs);
const fr = read('i18n/fr.json');
const holes = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
for (const l of langs) {
  check(l.code + ': direction is ltr or rtl, with a name', (l.dir === 'ltr' || l.dir === 'rtl') && l.name, l);
  let c;
  try { c = read('i18n/' + l.code + '.json'); } catch (e) { check(l.code + '.json exists and is JSON', false, String(e)); continue; }
  const missing = Object.keys(fr).filter((k) => !(k in c));
  const extra = Object.keys(c).filter((k) => !(k in fr));
  check(l.code + '.json has the same keys as fr.json (' + Object.keys(fr).length + ')', !missing.length && !extra.length, { missing, extra });
  const empty = Object.entries(c).filter(([, v]) => typeof v !== 'string' || !v.trim()).map(([k]) => k);
  check(l.code + '.json: every string is non-empty text', !empty.length, empty);
  const diff = Object.keys(fr).filter((k) => k in c && holes(fr[k]) !== holes(c[k]));
  check(l.code + '.json: the same {placeholders} as French', !diff.length, diff);
}
// every catalogue file is listed
const files = fs.readdirSync(path.join(web, 'i18n')).filter((f) => f.endsWith('.json') && f !== 'languages.json');
check('every catalogue file is listed in languages.json', files.every((f) => langs.some((l) => l.code + '.json' === f)), files);

// keys the pages use
const used = new Set();
const js = fs.readdirSync(path.join(web, 'js')).filter((f) => f.endsWith('.js'));
for (const f of js) {
  const src = fs.readFileSync(path.join(web, 'js', f), 'utf8');
  for (const m of src.matchAll(/\bt\(\s*'([a-z0-9_.-]+)'/gi)) if (!m[1].endsWith('.') && m[1] !== 'key') used.add(m[1]);
  for (const m of src.matchAll(/\[\s*'[a-z_]+'\s*,\s*'((?:menu|dur)\.[a-z0-9.]+)'/gi)) used.add(m[1]);
  // visible text lives in the catalogues: no accented letter in a script
  check('web/js/' + f + ' holds no French text of its own', !/[À-ÿ«»]/.test(src.replace(/\/\/.*$/gm, '')));
}
const html = fs.readFileSync(path.join(web, 'index.html'), 'utf8');
for (const m of html.matchAll(/data-i18n(?:-label)?="([^"]+)"/g)) used.add(m[1]);
for (const c of ['identity', 'residence', 'health', 'housing', 'employment', 'income', 'tax', 'family', 'schooling', 'bank', 'justice', 'other']) used.add('cat.' + c);
const unknown = [...used].filter((k) => !(k in fr));
check('every key the pages use is in the catalogues (' + used.size + ' keys)', used.size > 150 && !unknown.length, unknown);
process.exit(check.finish());
