// e2e.mjs: the pages clicked through as people would, in Debian's chromium,
// against a real vaultd on loopback.
//
//   node e2e.mjs BUILD_DIR WORKDIR WEB_DIR
//
// The administrator creates a structure and its aidant; the aidant enrols
// a person; the person activates her vault, logs in, adds a photo of a
// paper (its fingerprint shown), grants the aidant a read mandate for one
// category; the aidant sees only that category; the person revokes; the
// aidant sees nothing; "Qui a vu mes papiers ?" lists each step. Then
// public-terminal mode: after log-out, the back button and a reload show
// nothing of the person, and no storage holds anything; the idle countdown
// ends the session; a hostile title shows as text; the keyboard alone
// logs in; right to left works at 360 px.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startVault, launch, checker, ADMIN_SECRET } from './harness.mjs';

const [build, work, web] = process.argv.slice(2);
const check = checker();
const shots = path.join(work, 'screenshots');
const AIDANT_SECRET = 'aidant secret 2026';
const PERSON_SECRET = 'soleil du matin';
const HOSTILE = '<img src=x onerror=alert(1)>';

// A small real PNG (a 40 x 30 grey picture), as a phone's camera would give.
function png() {
  const w = 40, hgt = 30;
  const raw = Buffer.alloc((w * 3 + 1) * hgt, 0x80);
  for (let y = 0; y < hgt; y++) raw[y * (w * 3 + 1)] = 0;
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(hgt, 4); ihdr[8] = 8; ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', require_zlib().deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
let zlibMod;
function require_zlib() { return zlibMod; }
function crc32(buf) {
  let c, crc = 0xffffffff;
  for (let n = 0; n < buf.length; n++) {
    c = (crc ^ buf[n]) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return crc ^ 0xffffffff;
}

function isoDay(offsetDays) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return d.toISOString().slice(0, 10);
}

async function main() {
  zlibMod = await import('node:zlib');
  fs.mkdirSync(shots, { recursive: true });
  const v = await startVault(build, path.join(work, 'vault'), web);
  const browser = await launch();
  const problems = [];
  const apiHeaders = [];
  const foreign = [];
  let rc = 1;
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('console', (m) => { if (m.type() === 'error' || /Content.Security.Policy|Trusted Type/i.test(m.text())) problems.push('console: ' + m.text()); });
    page.on('dialog', (d) => { problems.push('a dialog opened: ' + d.message()); d.dismiss(); });
    page.on('request', (r) => { const u = r.url(); if (!u.startsWith(v.url) && !u.startsWith('blob:') && !u.startsWith('data:')) foreign.push(u); });
    page.on('response', (r) => { if (r.url().startsWith(v.url + '/v1/')) apiHeaders.push([r.url(), r.headers()['cache-control']]); });
    const main = page.locator('main');
    const h1 = () => page.locator('main h1').first().innerText();
    const endSession = async () => {
      await page.getByRole('button', { name: 'Terminer la session' }).click();
      await page.waitForFunction(() => location.hash === '#fin' && document.querySelector('main h1'));
    };
    const login = async (l, s) => {
      await page.goto(v.url + '/');
      await page.getByLabel('Identifiant').fill(l);
      await page.getByLabel('Secret', { exact: true }).fill(s);
      await page.getByRole('button', { name: 'Ouvrir mon coffre-fort' }).click();
      await page.locator('#session:not([hidden])').waitFor();
    };

    // -- 0. the start page a newcomer meets
    const first = await page.goto(v.url + '/');
    await page.locator('main h1').waitFor();
    check('the start page is the log-in page, in French', (await h1()) === 'Se connecter' && (await page.getAttribute('html', 'lang')) === 'fr');
    const csp = first.headers()['content-security-policy'] || '';
    check('the page has a strict CSP (no inline script, no eval, frame-ancestors none)', csp.includes("script-src 'self'") && !csp.includes('unsafe') && csp.includes("frame-ancestors 'none'"), csp);
    check('the page sends no referrer and is not cached', first.headers()['referrer-policy'] === 'no-referrer' && first.headers()['cache-control'] === 'no-store');
    check('the log-in form offers no "remember me"', (await main.getByText(/souvenir|remember/i).count()) === 0);
    check('the secret field is a password field the browser is asked not to fill', (await page.getByLabel('Secret', { exact: true }).getAttribute('type')) === 'password' && (await page.getByLabel('Secret', { exact: true }).getAttribute('autocomplete')) === 'off');

    // -- 1. the instance administrator creates a structure and its aidant
    await login('admin', ADMIN_SECRET);
    check('the administrator lands on the structures page', (await h1()) === 'Organisations');
    await page.getByLabel("Nom de l'organisation").fill('Association Solidarité');
    await page.getByRole('button', { name: "Créer l'organisation" }).click();
    await main.getByText('« Association Solidarité » est créée.').waitFor();
    const card = main.locator('.card').filter({ hasText: 'Association Solidarité' });
    await card.getByLabel('Nom', { exact: true }).fill('Amina');
    await card.getByLabel('Identifiant').fill('amina');
    await card.getByLabel('Secret de départ').fill(AIDANT_SECRET);
    await card.getByRole('button', { name: 'Créer', exact: true }).click();
    await main.getByText('Le compte « amina » est créé.').waitFor();
    check('the administrator created the aidant through the pages', true);
    await endSession();

    // -- 2. the aidant enrols a person
    await login('amina', AIDANT_SECRET);
    check('the aidant lands on "Mes personnes"', (await h1()) === 'Mes personnes');
    check('her aidant number is shown', (await page.locator('#aidant-number').innerText()).replace(/\s/g, '').length === 32);
    await page.getByRole('link', { name: 'Inscrire une personne' }).first().click();
    await page.getByLabel('Nom de la personne').fill('Karim');
    await page.getByLabel('Identifiant').fill('karim');
    await page.getByRole('button', { name: 'Inscrire', exact: true }).click();
    await page.locator('#activation-code').waitFor();
    const code = (await page.locator('#activation-code').innerText()).trim();
    check('the activation code is shown once, on its own page', (await h1()) === "Code d'activation" && code.length >= 12, code);
    check('the aidant is not shown a recovery code or a secret', !(await main.innerText()).includes('code de secours') || (await main.innerText()).includes('Ensuite, elle reçoit son code de secours'));
    await page.screenshot({ path: path.join(shots, 'e2e-activation-code.png'), fullPage: true });
    await page.getByRole('button', { name: 'Terminer ma session et laisser la personne activer' }).click();
    await page.waitForFunction(() => location.hash === '#fin' && document.querySelector('main h1'));

    // -- 3. the person activates her vault, chooses her secret, gets her recovery code
    await page.getByRole('link', { name: 'Se connecter' }).click();
    await page.getByRole('link', { name: "J'ai un code d'activation" }).click();
    await page.getByLabel('Identifiant').fill('karim');
    await page.getByLabel("Code d'activation").fill(code);
    await page.getByLabel('Choisissez votre secret').fill(PERSON_SECRET);
    await page.getByLabel('Tapez encore le même secret').fill(PERSON_SECRET);
    await page.getByRole('button', { name: 'Activer' }).click();
    await page.locator('#recovery-code').waitFor();
    const recovery = (await page.locator('#recovery-code').innerText()).trim();
    check('the recovery code is shown to the person, with what it is for', recovery.length >= 12 && (await main.innerText()).includes('si vous oubliez votre secret'));
    await page.getByRole('link', { name: "C'est fait, je me connecte" }).click();
    await page.getByLabel('Identifiant').fill('karim');
    await page.getByLabel('Secret', { exact: true }).fill(PERSON_SECRET);
    await page.getByRole('button', { name: 'Ouvrir mon coffre-fort' }).click();
    await page.locator('#session:not([hidden])').waitFor();
    check('the person lands on "Mes papiers"', (await h1()) === 'Mes papiers');
    check('the idle countdown is visible', /Fin de la session dans \d+:\d\d/.test(await page.locator('#countdown').innerText()));

    // -- 4. she adds a photo of a paper (the camera input)
    const photo = png();
    const sha = crypto.createHash('sha256').update(photo).digest('hex');
    await page.getByRole('link', { name: 'Ajouter un papier' }).click();
    check('the camera input asks for the back camera', (await page.locator('#add-camera').getAttribute('capture')) === 'environment');
    await page.locator('#add-camera').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: photo });
    await page.getByLabel('Nom du papier').fill('Titre de séjour');
    await page.getByLabel('Sorte de papier').selectOption('residence');
    await page.getByLabel("Date d'expiration").fill(isoDay(30));
    await page.getByRole('button', { name: 'Mettre au coffre' }).click();
    await page.locator('.fingerprint').first().waitFor();
    const shown = (await page.locator('.fingerprint').first().innerText()).replace(/\s/g, '');
    check("the paper's page shows its fingerprint (SHA-256 of the photo)", shown === sha, [shown, sha]);
    await page.locator('#receipt').waitFor();
    check('the paper page shows its time-stamp and its deposit receipt', (await main.innerText()).includes('Horodaté') && (await page.locator('#receipt').innerText()).includes(sha.slice(0, 8)));
    check('the receipt can be printed', (await page.getByRole('button', { name: "Imprimer l'attestation" }).count()) === 1);
    // a second paper with a hostile title, in another category
    await page.getByRole('link', { name: 'Ajouter', exact: true }).click();
    await page.locator('#add-file').setInputFiles({ name: 'carte.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n% carte\n') });
    await page.getByLabel('Nom du papier').fill(HOSTILE);
    await page.getByLabel('Sorte de papier').selectOption('identity');
    await page.getByRole('button', { name: 'Mettre au coffre' }).click();
    await page.locator('.fingerprint').first().waitFor();
    check('a hostile title shows as those characters', (await page.locator('main h1').innerText()) === HOSTILE && (await page.locator('main img').count()) === 0);
    await page.getByRole('link', { name: 'Mes papiers', exact: true }).click();
    await main.locator('.group').first().waitFor();
    const groups = await main.locator('.group h2').allInnerTexts();
    check('"Mes papiers" groups papers by category, with plain names', groups.some((g) => g.includes('Titre de séjour')) && groups.some((g) => g.includes('Identité')), groups);
    check('each category has its pictogram', (await main.locator('.group h2 svg.icon.cat').count()) === 2);
    check('the paper expiring within 60 days is flagged', (await main.locator('.flag-soon').innerText()).includes('Expire bientôt'));
    check('the hostile title is listed as text', (await main.getByText(HOSTILE, { exact: true }).count()) === 1);
    await page.screenshot({ path: path.join(shots, 'e2e-papers.png'), fullPage: true });

    // -- 5. she grants the aidant a read mandate for residence papers only
    await page.getByRole('link', { name: 'Mes aidants' }).click();
    await page.getByRole('link', { name: 'Donner un accès à un aidant' }).click();
    const choice = page.getByLabel('Amina (Association Solidarité)');
    check('the aidant who enrolled her is offered by name', await choice.isChecked());
    await page.getByLabel('Voir et télécharger mes papiers').check();
    await page.getByLabel('Titre de séjour').check();
    await page.getByLabel('Pour combien de temps ?').selectOption({ label: 'Un mois' });
    await page.getByRole('button', { name: "Donner l'accès" }).click();
    await main.locator('.mandate').first().waitFor();
    const mtext = await main.locator('.mandate').innerText();
    check('the mandate is listed with its scope, category and end date in words', mtext.includes('voir et télécharger') && mtext.includes('Titre de séjour') && mtext.includes("Jusqu'au"), mtext);
    await endSession();

    // -- 6. the aidant sees only that category
    await login('amina', AIDANT_SECRET);
    await main.locator('.person').first().waitFor();
    check('the aidant sees the person and the mandate', (await main.locator('.person').innerText()).includes('Karim'));
    await page.getByRole('button', { name: 'Voir ses papiers' }).click();
    await main.locator('.group').first().waitFor();
    const seen = await main.innerText();
    check('the aidant sees the residence paper and only it', seen.includes('Titre de séjour') && !seen.includes(HOSTILE) && (await main.locator('.doc').count()) === 1, seen);
    check('the aidant is reminded to keep no copy', seen.includes('Ne gardez aucune copie'));
    await main.locator('.doc-link').first().click();
    await page.getByRole('button', { name: 'Ouvrir' }).click();
    await main.locator('figure.preview img').waitFor();
    check('the photo opens on the page, from memory (blob:)', (await main.locator('figure.preview img').getAttribute('src')).startsWith('blob:'));
    const dl = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Télécharger' }).click();
    const file = await dl;
    const got = fs.readFileSync(await file.path());
    check('the download is the exact photo', crypto.createHash('sha256').update(got).digest('hex') === sha);
    check('the download reminds to delete the file', (await main.innerText()).includes('supprimez-le quand vous avez fini'));
    await endSession();

    // -- 7. the person revokes; her journal lists each step
    await login('karim', PERSON_SECRET);
    await page.getByRole('link', { name: 'Mes aidants' }).click();
    await page.getByRole('button', { name: 'Retirer cet accès' }).click();
    await main.getByText('Aucun aidant n\'a accès à vos papiers.').waitFor();
    check('the mandate is revoked with one action', (await main.locator('.past').innerText()).includes('accès retiré'));
    await page.getByRole('link', { name: 'Qui a vu mes papiers ?' }).click();
    await main.locator('.journal').waitFor();
    const lines = await main.locator('.journal li').allInnerTexts();
    const has = (re) => lines.some((l) => re.test(l));
    check('journal: the aidant opened the vault', has(/^Le .+ à \d\d h \d\d, Amina \(Association Solidarité\) a ouvert votre coffre-fort\.$/), lines);
    check('journal: she activated it', has(/vous avez choisi votre secret/));
    check('journal: she added the paper', has(/vous avez ajouté « Titre de séjour »/));
    check('journal: she gave Amina access', has(/vous avez donné un accès à Amina \(Association Solidarité\)/));
    check('journal: Amina looked at the list', has(/Amina \(Association Solidarité\) a regardé la liste de vos papiers/));
    check('journal: Amina downloaded the paper', has(/Amina \(Association Solidarité\) a téléchargé « Titre de séjour »/));
    check('journal: she withdrew the access', has(/vous avez retiré l'accès de Amina \(Association Solidarité\)/));
    check('journal: newest first', /retiré l'accès/.test(lines[0]) || /session/.test(lines[0]), lines[0]);
    await page.screenshot({ path: path.join(shots, 'e2e-journal.png'), fullPage: true });
    await endSession();

    // -- 8. the aidant sees nothing
    await login('amina', AIDANT_SECRET);
    await main.getByText("Personne ne vous a donné d'accès pour le moment.").waitFor();
    check('after revocation the aidant sees no person', (await main.locator('.person').count()) === 0 && !(await main.innerText()).includes('Karim'));
    await endSession();

    // -- 9. public-terminal mode after log-out
    let token = null;
    page.on('request', (r) => { const a = r.headers().authorization; if (a) token = a.slice(7); });
    await login('karim', PERSON_SECRET);
    await main.locator('.group').first().waitFor();
    await main.locator('.doc-link').first().click();
    await main.locator('.fingerprint').first().waitFor();
    await endSession();
    const personal = ['Karim', 'Titre de séjour', sha.slice(0, 8), HOSTILE];
    const clean = async (what) => {
      const text = await page.evaluate(() => document.body.innerText);
      const leaked = personal.filter((p) => text.includes(p));
      check(what + ': no personal data on the page', leaked.length === 0, leaked);
    };
    await clean('after log-out');
    check('after log-out the page says the session ended', (await h1()) === 'La session est terminée');
    await page.goBack();
    await page.waitForTimeout(500);
    await page.locator('main h1').waitFor();
    await clean('after the back button');
    await page.goBack();
    await page.waitForTimeout(500);
    await clean('after the back button twice');
    await page.reload();
    await page.locator('main h1').waitFor();
    await clean('after a reload');
    const storage = await page.evaluate(async () => ({
      local: localStorage.length, session: sessionStorage.length, cookie: document.cookie,
      idb: indexedDB.databases ? (await indexedDB.databases()).length : 0,
      caches: self.caches ? (await caches.keys()).length : 0,
      sw: navigator.serviceWorker ? (await navigator.serviceWorker.getRegistrations()).length : 0,
    }));
    check('localStorage, sessionStorage, IndexedDB, cookies, caches and service workers hold nothing', storage.local === 0 && storage.session === 0 && storage.cookie === '' && storage.idb === 0 && storage.caches === 0 && storage.sw === 0, storage);
    check('the browser holds no cookie', (await ctx.cookies()).length === 0);
    const after = await v.call('GET', '/v1/me', undefined, token);
    check('the session token is dead on the server after log-out', token && after.status === 401, after.status);

    // -- 10. every API answer is no-store; nothing was loaded from elsewhere
    const bad = apiHeaders.filter(([, cc]) => cc !== 'no-store');
    check('every API answer seen was Cache-Control: no-store (' + apiHeaders.length + ')', apiHeaders.length > 20 && bad.length === 0, bad);
    check('no request left the vault\'s origin', foreign.length === 0, foreign);
    await ctx.close();

    // -- 11. the idle countdown ends the session
    const ctx2 = await browser.newContext({ viewport: { width: 360, height: 740 } });
    await ctx2.clock.install();
    const p2 = await ctx2.newPage();
    p2.on('pageerror', (e) => problems.push('page error (idle): ' + e.message));
    let token2 = null;
    p2.on('request', (r) => { const a = r.headers().authorization; if (a) token2 = a.slice(7); });
    await p2.goto(v.url + '/');
    await p2.getByLabel('Identifiant').fill('karim');
    await p2.getByLabel('Secret', { exact: true }).fill(PERSON_SECRET);
    await p2.getByRole('button', { name: 'Ouvrir mon coffre-fort' }).click();
    await p2.locator('main .group').first().waitFor();
    await p2.clock.fastForward(4 * 60 * 1000 + 5000);
    check('a minute before the end the countdown says so', /Fin de la session dans 0:5\d/.test(await p2.locator('#countdown').innerText()), await p2.locator('#countdown').innerText());
    await p2.clock.fastForward(60 * 1000);
    await p2.waitForFunction(() => location.hash === '#fin-temps' && document.querySelector('main h1'));
    check('at the end of the countdown the session ends by itself', (await p2.locator('main h1').innerText()) === "La session s'est terminée toute seule");
    check('... and the page holds nothing of the person', !(await p2.evaluate(() => document.body.innerText)).includes('Titre de séjour'));
    check('... and the server session is closed', (await v.call('GET', '/v1/me', undefined, token2)).status === 401);
    await ctx2.close();

    // -- 12. the keyboard alone
    const ctx3 = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p3 = await ctx3.newPage();
    await p3.goto(v.url + '/');
    await p3.locator('main h1').waitFor();
    let reached = false;
    for (let i = 0; i < 10 && !reached; i++) {
      await p3.keyboard.press('Tab');
      reached = await p3.evaluate(() => document.activeElement && document.activeElement.name === 'login');
    }
    await p3.keyboard.type('karim');
    await p3.keyboard.press('Tab');
    await p3.keyboard.type(PERSON_SECRET);
    await p3.keyboard.press('Enter');
    await p3.locator('main .group').first().waitFor();
    let onDoc = false;
    for (let i = 0; i < 30 && !onDoc; i++) {
      await p3.keyboard.press('Tab');
      onDoc = await p3.evaluate(() => document.activeElement && document.activeElement.classList.contains('doc-link'));
    }
    await p3.keyboard.press('Enter');
    await p3.locator('main .fingerprint').first().waitFor();
    check('with the keyboard alone: log in, reach a paper, open its page', reached && onDoc);
    const focusVisible = await p3.evaluate(() => { const b = document.querySelector('main .actions .btn'); b.focus(); return getComputedStyle(b, ':focus-visible').outlineStyle; });
    check('focused controls show a visible outline', focusVisible !== 'none', focusVisible);
    await p3.getByRole('button', { name: 'Terminer la session' }).press('Enter');
    await p3.waitForFunction(() => location.hash === '#fin');
    await ctx3.close();

    // -- 13. another language, right to left (a pseudo-catalogue, as a translator would add one)
    const ctx4 = await browser.newContext({ viewport: { width: 360, height: 740 } });
    const p4 = await ctx4.newPage();
    const fr = JSON.parse(fs.readFileSync(path.join(web, 'i18n', 'fr.json'), 'utf8'));
    const langs = JSON.parse(fs.readFileSync(path.join(web, 'i18n', 'languages.json'), 'utf8'));
    await p4.route('**/i18n/languages.json', (r) => r.fulfill({ contentType: 'application/json', body: JSON.stringify(langs.concat([{ code: 'xx', name: 'RTL test', dir: 'rtl' }])) }));
    await p4.route('**/i18n/xx.json', (r) => r.fulfill({ contentType: 'application/json', body: JSON.stringify(Object.fromEntries(Object.entries(fr).map(([k, s]) => [k, '\u202b' + s]))) }));
    await p4.goto(v.url + '/?lang=xx');
    await p4.locator('main h1').waitFor();
    check('a right-to-left catalogue turns the page right to left', (await p4.getAttribute('html', 'dir')) === 'rtl' && (await p4.getAttribute('html', 'lang')) === 'xx');
    check('right to left at 360 px: nothing overflows sideways', await p4.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
    const order = await p4.evaluate(() => { const r = document.querySelector('.brand').getBoundingClientRect(); return r.right > window.innerWidth / 2; });
    check('right to left: the header starts on the right', order);
    await p4.screenshot({ path: path.join(shots, 'e2e-rtl-360.png'), fullPage: true });
    await p4.goto(v.url + '/?lang=en');
    await p4.locator('main h1').waitFor();
    check('English is the second language', (await p4.locator('main h1').innerText()) === 'Log in');
    await ctx4.close();

    check('no page error, no CSP or Trusted Types violation, no dialog', problems.length === 0, problems);
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
  process.exit(rc);
}

main();
