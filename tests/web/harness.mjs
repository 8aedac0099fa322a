// harness.mjs: a real vaultd on loopback with a fresh data directory (as
// tests/vaultd_harness.py does), Debian's chromium through playwright-core,
// and small helpers for the browser tests. Never downloads a browser.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const ADMIN_SECRET = 'administrator secret for tests';
export const CHROMIUM = process.env.VAULT_CHROMIUM || '/usr/bin/chromium';

export async function startVault(build, work, web, extra = []) {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const data = path.join(work, 'data');
  const fast = ['--argon2-ops', '1', '--argon2-mem-kib', '8'];
  const init = spawnSync(path.join(build, 'vaultctl'), ['init', '--data-dir', data, '--admin-login', 'admin', ...fast], { input: ADMIN_SECRET + '\n' });
  if (init.status !== 0) throw new Error('vaultctl init: ' + init.stderr);
  const log = fs.openSync(path.join(work, 'vaultd.log'), 'a');
  const proc = spawn(path.join(build, 'vaultd'), ['--data-dir', data, '--listen', '127.0.0.1:0', '--login-min-ms', '5', '--web-dir', web, ...fast, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('vaultd did not start')), 60000);
    proc.stderr.on('data', (d) => {
      fs.writeSync(log, d);
      buf += d;
      const m = buf.match(/listening on (\S+):(\d+)/);
      if (m && !resolve.done) { resolve.done = true; clearTimeout(timer); resolve('http://' + m[1] + ':' + m[2]); }
    });
    proc.on('exit', (c) => reject(new Error('vaultd exited ' + c)));
  });
  return {
    url,
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      return new Promise((r) => proc.on('exit', (c) => r(c)));
    },
    // the API, straight (to build a population quickly)
    async call(method, p, body, token) {
      const h = {};
      if (token) h.Authorization = 'Bearer ' + token;
      if (body !== undefined) h['Content-Type'] = 'application/json';
      const r = await fetch(url + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      let json = null;
      try { json = JSON.parse(text); } catch { /* not JSON */ }
      return { status: r.status, body: json, text };
    },
    async login(login, secret) {
      const r = await this.call('POST', '/v1/sessions', { login, secret });
      if (r.status !== 201) throw new Error('login ' + login + ': ' + r.status + ' ' + r.text);
      return r.body.token;
    },
  };
}

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

// Named checks; the last line is "N passed, M failed" as ctest's log expects.
export function checker() {
  let passed = 0, failed = 0;
  const fn = (name, ok, detail) => {
    if (ok) { passed++; console.log('ok   ' + name); } else { failed++; console.log('FAIL ' + name + (detail !== undefined ? ': ' + (typeof detail === 'string' ? detail : JSON.stringify(detail)) : '')); }
    return ok;
  };
  fn.finish = () => { console.log(passed + ' passed, ' + failed + ' failed'); return failed === 0 && passed > 0 ? 0 : 1; };
  return fn;
}
