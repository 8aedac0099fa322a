// a11y.mjs: every page, checked with axe-core (no serious or critical
// violation of WCAG 2.1 A/AA), photographed at 360 px and 1280 px wide
// (kept in WORKDIR/screenshots as artefacts), and checked for sideways
// overflow at 360 px and at 640 px (1280 px at 200 % zoom).
//
//   node a11y.mjs BUILD_DIR WORKDIR WEB_DIR
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { startVault, launch, checker, ADMIN_SECRET } from './harness.mjs';

const [build, work, web] = process.argv.slice(2);
const check = checker();
const shots = path.join(work, 'screenshots');
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

async function population(v) {
  const admin = await v.login('admin', ADMIN_SECRET);
  const sid = (await v.call('POST', '/v1/structures', { name: 'Association Solidarité' }, admin)).body.structure_id;
  const aid = (await v.call('POST', '/v1/structures/' + sid + '/aidants', { login: 'amina', secret: 'aidant secret 2026', display_name: 'Amina', role: 'aidant' }, admin)).body.aidant_id;
  await v.call('POST', '/v1/structures/' + sid + '/aidants', { login: 'sam', secret: 'structure admin 2026', display_name: 'Sam', role: 'structure_admin' }, admin);
  // a removed aidant (the lists show him removed) and a second structure
  const bruno = (await v.call('POST', '/v1/structures/' + sid + '/aidants', { login: 'bruno', secret: 'bruno secret 2026', display_name: 'Bruno', role: 'aidant' }, admin)).body.aidant_id;
  await v.call('DELETE', '/v1/structures/' + sid + '/aidants/' + bruno, undefined, admin);
  await v.call('POST', '/v1/structures', { name: 'Bibliothèque du centre' }, admin);
  const amina = await v.login('amina', 'aidant secret 2026');
  const e = (await v.call('POST', '/v1/persons', { login: 'karim', display_name: 'Karim' }, amina)).body;
  await v.call('POST', '/v1/activate', { login: 'karim', activation_code: e.activation_code, secret: 'soleil' });
  const karim = await v.login('karim', 'soleil');
  const pid = e.person_id;
  const dep = async (title, category, expires) => {
    const q = new URLSearchParams({ title, category });
    if (expires) q.set('expires', expires);
    const r = await fetch(v.url + '/v1/persons/' + pid + '/documents?' + q, { method: 'POST', headers: { Authorization: 'Bearer ' + karim, 'Content-Type': 'application/pdf' }, body: '%PDF-1.4\n% ' + title + '\n' });
    if (r.status !== 201) throw new Error('deposit ' + r.status);
  };
  const soon = new Date(Date.now() + 20 * 86400000).toISOString().slice(0, 10);
  await dep('Titre de séjour', 'residence', soon);
  await dep("Carte d'identité", 'identity', '2031-05-02');
  await dep('Attestation CAF', 'income');
  await dep('Carte Vitale', 'health');
  await v.call('POST', '/v1/persons/' + pid + '/mandates', { aidant_id: aid, scopes: ['read', 'deposit'], categories: ['residence', 'income'], duration_days: 90 }, karim);
  // a second person, enrolled, not yet activated (the activation pages)
  const e2 = (await v.call('POST', '/v1/persons', { login: 'lea', display_name: 'Léa' }, amina)).body;
  return { leaCode: e2.activation_code };
}

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const v = await startVault(build, path.join(work, 'vault'), web);
  const browser = await launch();
  let rc = 1;
  const pages = [];
  try {
    const pop = await population(v);
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

    const snap = async (name) => {
      await page.locator('main h1').first().waitFor();
      await page.waitForTimeout(150);
      await page.evaluate(axeSource);
      const res = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
      const bad = res.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical');
      check(name + ': axe finds no serious or critical violation', !bad.length, bad.map((x) => x.id + ' (' + x.impact + '): ' + x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')));
      await page.screenshot({ path: path.join(shots, name + '-1280.png'), fullPage: true });
      for (const w of [640, 360]) {
        await page.setViewportSize({ width: w, height: 800 });
        await page.waitForTimeout(100);
        const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        check(name + ': nothing overflows sideways at ' + w + ' px' + (w === 640 ? ' (200 % zoom)' : ''), over <= 0, over + ' px');
        if (w === 360) await page.screenshot({ path: path.join(shots, name + '-360.png'), fullPage: true });
      }
      await page.setViewportSize({ width: 1280, height: 900 });
      pages.push(name);
    };
    const go = async (hash) => { await page.evaluate((x) => { location.hash = x; }, hash); await page.waitForTimeout(100); };
    const login = async (l, s) => {
      await page.goto(v.url + '/');
      await page.getByLabel('Identifiant').fill(l);
      await page.getByLabel('Secret', { exact: true }).fill(s);
      await page.getByRole('button', { name: 'Ouvrir mon coffre-fort' }).click();
      await page.locator('#session:not([hidden])').waitFor();
    };
    const end = async () => {
      await page.getByRole('button', { name: 'Terminer la session' }).click();
      await page.waitForFunction(() => location.hash === '#fin');
    };

    // before a session
    await page.goto(v.url + '/');
    await snap('login');
    await page.goto(v.url + '/?lang=en');
    await snap('login-en');
    await page.goto(v.url + '/');
    await page.getByRole('link', { name: "J'ai un code d'activation" }).click();
    await snap('activate');
    await page.getByLabel('Identifiant').fill('lea');
    await page.getByLabel("Code d'activation").fill(pop.leaCode);
    await page.getByLabel('Choisissez votre secret').fill('lune');
    await page.getByLabel('Tapez encore le même secret').fill('lune');
    await page.getByRole('button', { name: 'Activer' }).click();
    await page.locator('#recovery-code').waitFor();
    await snap('recovery-code');
    await page.goto(v.url + '/#recuperer');
    await snap('recover');

    // the person
    await login('karim', 'soleil');
    await snap('papers');
    await page.locator('main .doc-link').filter({ hasText: 'Titre de séjour' }).click();
    await page.locator('#receipt').waitFor();
    await snap('paper');
    await page.getByRole('button', { name: 'Envoyer à un service' }).click();
    await snap('share');
    await page.getByRole('button', { name: 'Créer le lien' }).click();
    await page.locator('#share-url').waitFor();
    await snap('share-link');
    await go('ajouter');
    await snap('add');
    await go('journal');
    await page.locator('main .journal').waitFor();
    await snap('journal');
    await go('mandats');
    await page.locator('main .mandate').waitFor();
    await snap('mandates');
    await go('mandat-nouveau');
    await snap('mandate-new');
    await go('export');
    await snap('export');
    await end();
    await snap('logged-out');

    // the aidant
    await login('amina', 'aidant secret 2026');
    await page.locator('main .person').waitFor();
    await snap('aidant');
    await page.getByRole('button', { name: 'Voir ses papiers' }).click();
    await page.locator('main .group').first().waitFor();
    await snap('aidant-papers');
    await go('aidant');
    await page.getByRole('button', { name: 'Déposer un papier' }).click();
    await snap('aidant-deposit');
    await go('inscrire');
    await snap('enrol');
    await page.getByLabel('Nom de la personne').fill('Mo');
    await page.getByLabel('Identifiant').fill('mo.b');
    await page.getByRole('button', { name: 'Inscrire', exact: true }).click();
    await page.locator('#activation-code').waitFor();
    await snap('activation-code');
    await end();

    // the structure administrator
    await login('sam', 'structure admin 2026');
    await go('structure');
    await page.locator('main li.member').first().waitFor();
    await snap('structure');
    await page.getByRole('button', { name: 'Retirer Amina' }).click();
    await page.locator('main .confirm').waitFor();
    await snap('structure-confirm');
    await end();

    // the instance administrator: no page asks for a paper
    const before = requests.length;
    await login('admin', ADMIN_SECRET);
    await page.locator('main li.structure').first().waitFor();
    await snap('structures');
    await page.getByRole('link', { name: 'Association Solidarité' }).click();
    await page.locator('main li.member').first().waitFor();
    await snap('organisation');
    await go('audit');
    await page.getByRole('button', { name: 'Chercher' }).click();
    await page.locator('main table').waitFor();
    await snap('audit');
    await go('checkpoint');
    await page.locator('main pre').waitFor();
    await snap('checkpoint');
    const asked = requests.slice(before).filter((u) => /\/documents|\/content|\/export|\/shares\//.test(u));
    check("the administrator's pages ask for no paper", !asked.length, asked);
    await end();
    check('no page error (' + pages.length + ' pages)', !errors.length, errors);
    check('every page was checked', pages.length >= 26, pages.length);
    rc = check.finish();
  } catch (e) {
    console.log('FAIL the run stopped: ' + (e.stack || e));
    check('the run completes', false);
    rc = check.finish() || 1;
  } finally {
    await browser.close();
    const code = await v.stop();
    if (code !== 0) { console.log('FAIL vaultd exit status ' + code); rc = 1; }
  }
  console.log('screenshots: ' + shots);
  process.exit(rc);
}

main();
