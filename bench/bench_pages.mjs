// bench_pages.mjs: what the person's log-in page and "Mes papiers" cost on
// a slow mobile link: bytes transferred (HTML, CSS, JS, images, JSON,
// headers included) and time until the page is drawn, in Debian's
// chromium under Chromium's own network emulation (CDP
// Network.emulateNetworkConditions). It prints figures; it checks nothing.
//
//   node bench/bench_pages.mjs [BUILD_DIR] [--papers N] [--runs N]
//
// Profiles: DevTools' "Slow 3G" preset as DevTools sends it (download and
// upload 500 kbit/s x 0.8 = 50,000 B/s, latency 400 ms x 5 = 2,000 ms per
// request: DevTools' way of modelling a 400 ms RTT), and the same
// throughput with the 400 ms RTT itself as latency.
// vaultd runs with its default Argon2id cost and log-in floor, on a
// throw-away data directory under ./var/bench-pages.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
const require = createRequire(path.join(root, 'tests', 'web', 'package.json'));
const { chromium } = require('playwright-core');

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const build = path.resolve(args[0] && !args[0].startsWith('--') ? args[0] : path.join(root, 'build'));
const papers = Number(opt('--papers', 12));
const runs = Number(opt('--runs', 3));
const SECRET = 'administrator secret for the bench';

const PROFILES = [
  { name: 'Slow 3G, DevTools preset (latency 2000 ms)', download: 500 * 1000 / 8 * 0.8, upload: 500 * 1000 / 8 * 0.8, latency: 400 * 5 },
  { name: 'Slow 3G throughput, 400 ms RTT', download: 500 * 1000 / 8 * 0.8, upload: 500 * 1000 / 8 * 0.8, latency: 400 },
];

async function startVault() {
  const work = path.join(root, 'var', 'bench-pages');
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const data = path.join(work, 'data');
  const init = spawnSync(path.join(build, 'vaultctl'), ['init', '--data-dir', data, '--admin-login', 'admin'], { input: SECRET + '\n' });
  if (init.status !== 0) throw new Error('vaultctl init: ' + init.stderr);
  const proc = spawn(path.join(build, 'vaultd'), ['--data-dir', data, '--listen', '127.0.0.1:0', '--web-dir', path.join(root, 'web'), '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    proc.stderr.on('data', (d) => { buf += d; const m = buf.match(/listening on (\S+):(\d+)/); if (m) resolve('http://' + m[1] + ':' + m[2]); });
    proc.on('exit', (c) => reject(new Error('vaultd exited ' + c + ': ' + buf)));
  });
  return { url, proc };
}

async function call(url, method, p, body, token, type) {
  const h = {};
  if (token) h.Authorization = 'Bearer ' + token;
  if (type) h['Content-Type'] = type;
  else if (body !== undefined) h['Content-Type'] = 'application/json';
  const r = await fetch(url + p, { method, headers: h, body: type ? body : body === undefined ? undefined : JSON.stringify(body) });
  return r.json();
}

async function population(url) {
  const admin = (await call(url, 'POST', '/v1/sessions', { login: 'admin', secret: SECRET })).token;
  const sid = (await call(url, 'POST', '/v1/structures', { name: 'Association Solidarité' }, admin)).structure_id;
  await call(url, 'POST', '/v1/structures/' + sid + '/aidants', { login: 'amina', secret: 'aidant secret 2026', display_name: 'Amina', role: 'aidant' }, admin);
  const amina = (await call(url, 'POST', '/v1/sessions', { login: 'amina', secret: 'aidant secret 2026' })).token;
  const e = await call(url, 'POST', '/v1/persons', { login: 'karim', display_name: 'Karim' }, amina);
  await call(url, 'POST', '/v1/activate', { login: 'karim', activation_code: e.activation_code, secret: 'soleil' });
  const karim = (await call(url, 'POST', '/v1/sessions', { login: 'karim', secret: 'soleil' })).token;
  const cats = ['identity', 'residence', 'health', 'housing', 'income', 'tax', 'family', 'employment'];
  for (let i = 0; i < papers; i++) {
    const q = new URLSearchParams({ title: 'Papier numéro ' + (i + 1), category: cats[i % cats.length], expires: '2027-0' + (1 + (i % 9)) + '-15' });
    await call(url, 'POST', '/v1/persons/' + e.person_id + '/documents?' + q, Buffer.alloc(2000, i), karim, 'application/pdf');
  }
}

// One cold visit: a fresh browser context (empty cache), the profile set
// through CDP before the first request; bytes are what the network
// carried (encodedDataLength: headers and bodies).
async function visit(browser, url, prof) {
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: prof.latency, downloadThroughput: prof.download, uploadThroughput: prof.upload });
  const phase = { bytes: 0, requests: 0 };
  cdp.on('Network.loadingFinished', (e) => { phase.bytes += e.encodedDataLength; phase.requests++; });
  const t0 = Date.now();
  await page.goto(url + '/', { waitUntil: 'commit' });
  await page.waitForFunction(() => document.querySelector('main h1') && document.querySelector('form button[type=submit]'), null, { timeout: 120000, polling: 20 });
  const loginMs = await page.evaluate(() => performance.now());
  await page.waitForLoadState('networkidle');
  const login = { ms: loginMs, bytes: phase.bytes, requests: phase.requests };
  phase.bytes = 0; phase.requests = 0;
  await page.getByLabel('Identifiant').fill('karim');
  await page.getByLabel('Secret', { exact: true }).fill('soleil');
  const t1 = Date.now();
  await page.getByRole('button', { name: 'Ouvrir mon coffre-fort' }).click();
  await page.waitForFunction(() => document.querySelectorAll('main .doc').length > 0, null, { timeout: 120000, polling: 20 });
  const papersMs = Date.now() - t1;
  await page.waitForLoadState('networkidle');
  const list = { ms: papersMs, bytes: phase.bytes, requests: phase.requests };
  await page.getByRole('button', { name: 'Terminer la session' }).click();
  await ctx.close();
  void t0;
  return { login, list };
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

async function main() {
  const v = await startVault();
  try {
    await population(v.url);
    const browser = await chromium.launch({ executablePath: process.env.VAULT_CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    const files = ['index.html', 'app.css', 'favicon.svg', 'js/app.js', 'js/core.js', 'js/public.js', 'js/person.js', 'i18n/fr.json', 'i18n/languages.json'];
    const raw = files.reduce((n, f) => n + fs.statSync(path.join(root, 'web', f)).size, 0);
    console.log('pages of web/ a person loads: %d files, %d bytes on disk (no compression)', files.length, raw);
    console.log('papers in the vault: %d; runs per profile: %d (median shown, all in brackets)\n', papers, runs);
    for (const prof of PROFILES) {
      const rs = [];
      for (let i = 0; i < runs; i++) rs.push(await visit(browser, v.url, prof));
      const f = (sel) => median(rs.map(sel));
      const all = (sel) => rs.map(sel).map((x) => Math.round(x)).join(', ');
      console.log(prof.name + ':');
      console.log('  log-in page, cold:          %s bytes in %d requests, drawn at %d ms [%s]', f((r) => r.login.bytes), f((r) => r.login.requests), Math.round(f((r) => r.login.ms)), all((r) => r.login.ms));
      console.log('  "Mes papiers" after log-in: %s bytes in %d requests, drawn %d ms after the click [%s]', f((r) => r.list.bytes), f((r) => r.list.requests), Math.round(f((r) => r.list.ms)), all((r) => r.list.ms));
      console.log('  "Mes papiers" in all (page, log-in, list): %s bytes\n', f((r) => r.login.bytes + r.list.bytes));
    }
    await browser.close();
  } finally {
    v.proc.kill('SIGTERM');
  }
}

main();
