// members.mjs: the administrators' pages for a structure's aidants, clicked
// through in Debian's chromium against a real vaultd on loopback.
//
//   node members.mjs BUILD_DIR WORKDIR WEB_DIR
//
// The structure administrator lists her aidants (herself without
// "Retirer"), opens the confirmation with the keyboard, reads what removal
// does, cancels, then removes an aidant: the list shows him removed, with
// the date. The aidant's open page ends at his next click, and the log-in
// page refuses him. The person who had given him a mandate reads in her
// journal who ended it. The instance administrator's list shows the
// structures, by name, with their number of aidants; choosing one shows
// the same list, where he removes another aidant.
import fs from 'node:fs';
import path from 'node:path';
import { startVault, launch, checker, ADMIN_SECRET } from './harness.mjs';

const [build, work, web] = process.argv.slice(2);
const check = checker();
const shots = path.join(work, 'screenshots');
const HOSTILE = '<img src=x onerror=alert(1)>';
const SAM = 'structure admin 2026';
const AMINA = 'aidant secret 2026';
const KARIM = 'soleil du matin';

async function population(v) {
  const admin = await v.login('admin', ADMIN_SECRET);
  const sid = (await v.call('POST', '/v1/structures', { name: 'Association Solidarité' }, admin)).body.structure_id;
  await v.call('POST', '/v1/structures', { name: 'Bibliothèque du centre' }, admin);
  const member = async (token, login, name, secret, role) => {
    const r = await v.call('POST', '/v1/structures/' + sid + '/aidants', { login, display_name: name, secret, role }, token);
    if (r.status !== 201) throw new Error('aidant ' + login + ': ' + r.status + ' ' + r.text);
    return r.body.aidant_id;
  };
  await member(admin, 'sam', 'Sam', SAM, 'structure_admin');
  const sam = await v.login('sam', SAM);
  const aid = await member(sam, 'amina', 'Amina', AMINA, 'aidant');
  await member(admin, 'bruno', 'Bruno', 'bruno secret 2026', 'aidant');
  await member(sam, 'hostile', HOSTILE, 'hostile secret 2026', 'aidant');
  const amina = await v.login('amina', AMINA);
  const e = (await v.call('POST', '/v1/persons', { login: 'karim', display_name: 'Karim' }, amina)).body;
  await v.call('POST', '/v1/activate', { login: 'karim', activation_code: e.activation_code, secret: KARIM });
  const karim = await v.login('karim', KARIM);
  const m = await v.call('POST', '/v1/persons/' + e.person_id + '/mandates', { aidant_id: aid, scopes: ['read'], categories: ['residence'], duration_days: 30 }, karim);
  if (m.status !== 201) throw new Error('mandate: ' + m.status + ' ' + m.text);
  for (const t of [admin, sam, amina, karim]) await v.call('DELETE', '/v1/sessions/current', undefined, t);
}

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const v = await startVault(build, path.join(work, 'vault'), web);
  const browser = await launch();
  const problems = [];
  let rc = 1;
  try {
    await population(v);
    const watch = (p, who) => {
      p.on('pageerror', (e) => problems.push(who + ': page error: ' + e.message));
      p.on('console', (m) => { if (/Content.Security.Policy|Trusted Type/i.test(m.text()) || (m.type() === 'error' && !/401/.test(m.text()))) problems.push(who + ': console: ' + m.text()); });
      p.on('dialog', (d) => { problems.push(who + ': a dialog opened: ' + d.message()); d.dismiss(); });
    };
    const loginOn = async (p, l, s) => {
      await p.goto(v.url + '/');
      await p.getByLabel('Identifiant').fill(l);
      await p.getByLabel('Secret', { exact: true }).fill(s);
      await p.getByRole('button', { name: 'Ouvrir mon coffre-fort' }).click();
      await p.locator('#session:not([hidden])').waitFor();
    };
    const endOn = async (p) => {
      await p.getByRole('button', { name: 'Terminer la session' }).click();
      await p.waitForFunction(() => location.hash === '#fin' && document.querySelector('main h1'));
    };

    // -- 1. the aidant is at work, his page open
    const ctxA = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const pa = await ctxA.newPage();
    watch(pa, 'aidant');
    await loginOn(pa, 'amina', AMINA);
    await pa.locator('main .person').first().waitFor();
    check('before: the aidant logs in and sees the person who gave him a mandate', (await pa.locator('main .person').innerText()).includes('Karim'));

    // -- 2. the structure administrator lists her aidants
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    watch(page, 'administrators');
    const main = page.locator('main');
    const card = (name) => main.locator('li.member').filter({ has: page.locator('h3', { hasText: name }) });
    await loginOn(page, 'sam', SAM);
    await page.getByRole('link', { name: 'Mon organisation' }).click();
    await main.locator('li.member').first().waitFor();
    check('"Mon organisation" names her structure', (await page.locator('main h1').innerText()) === 'Mon organisation' && (await main.innerText()).includes('Organisation : Association Solidarité'));
    const names = await main.locator('li.member h3').allInnerTexts();
    check('the list shows her four members', names.length === 4 && ['Sam', 'Amina', 'Bruno', HOSTILE].every((n) => names.some((x) => x.startsWith(n))), names);
    const aminaCard = await card('Amina').innerText();
    check("each aidant's card shows name, login, role and since when", aminaCard.includes('Identifiant : amina') && aminaCard.includes('Aidant') && /Depuis le \d{1,2} \S+ \d{4}/.test(aminaCard), aminaCard);
    const samCard = await card('Sam').innerText();
    check('her own card says it is her, with her role, and has no "Retirer"', samCard.includes("c'est vous") && samCard.includes("Administrateur de l'organisation") && (await card('Sam').getByRole('button').count()) === 0, samCard);
    check('every other present aidant has "Retirer", named for him', (await main.getByRole('button', { name: /^Retirer / }).count()) === 3);
    check('a hostile name shows as those characters', (await card(HOSTILE).count()) === 1 && (await main.locator('img').count()) === 0);

    // -- 3. the confirmation, with the keyboard; cancel, then remove
    await main.getByRole('button', { name: 'Retirer Amina' }).focus();
    await page.keyboard.press('Enter');
    const confirm = card('Amina').locator('.confirm');
    await confirm.waitFor();
    const ctext = await confirm.innerText();
    check('the confirmation says what removal does', ctext.includes("Retirer Amina de l'organisation ?") && ctext.includes('Amina ne pourra plus se connecter') && ctext.includes('prennent fin') && ctext.includes('journal'), ctext);
    check('the keyboard lands on the question', await page.evaluate(() => document.activeElement && document.activeElement.classList.contains('confirm-q')));
    await page.screenshot({ path: path.join(shots, 'members-confirm.png'), fullPage: true });
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    check('Tab reaches "Annuler" after "Oui, retirer Amina"', await page.evaluate(() => document.activeElement && document.activeElement.textContent === 'Annuler'));
    await page.keyboard.press('Enter');
    check('cancelling removes nothing and gives the keyboard back to "Retirer"', (await confirm.count()) === 0 &&
      await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('aria-label') === 'Retirer Amina'));
    await page.keyboard.press('Enter');
    await confirm.waitFor();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await main.getByText('Le compte de Amina est retiré.', { exact: false }).waitFor();
    await card('Amina').locator('.gone').waitFor();
    const gone = await card('Amina').innerText();
    check('after removal the list shows him removed, with the date', /Compte retiré le \d{1,2} \S+ \d{4}/.test(gone) && (await card('Amina').getByRole('button').count()) === 0, gone);
    check('... listed after the present ones', (await main.locator('li.member h3').last().innerText()).startsWith('Amina'));
    check('... and the keyboard is on the notice', await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('role') === 'status'));
    await page.screenshot({ path: path.join(shots, 'members-removed.png'), fullPage: true });

    // -- 4. his open page ends at his next click; the log-in page refuses him
    await pa.getByRole('button', { name: 'Voir ses papiers' }).click();
    await pa.waitForFunction(() => location.hash === '#fin-temps' && document.querySelector('main h1'));
    check("the removed aidant's open page ends at his next click", !(await pa.evaluate(() => document.body.innerText)).includes('Karim'));
    await ctxA.close();
    await endOn(page);
    await page.goto(v.url + '/');
    await page.getByLabel('Identifiant').fill('amina');
    await page.getByLabel('Secret', { exact: true }).fill(AMINA);
    await page.getByRole('button', { name: 'Ouvrir mon coffre-fort' }).click();
    await main.locator('.error').waitFor();
    check('the removed aidant cannot log in through the log-in page', (await main.locator('.error').innerText()).includes("L'identifiant ou le secret est faux.") &&
      (await page.locator('#session').isHidden()) && (await page.locator('main h1').innerText()) === 'Se connecter');

    // -- 5. the person is told in her journal
    await loginOn(page, 'karim', KARIM);
    await page.getByRole('link', { name: 'Qui a vu mes papiers ?' }).click();
    await main.locator('.journal').waitFor();
    const lines = await main.locator('.journal li').allInnerTexts();
    check("the person's journal says who removed the aidant and that his access ended",
      lines.some((l) => /^Le .+ à \d\d h \d\d, Sam \(Association Solidarité\) a retiré le compte de Amina \(Association Solidarité\) : son accès à vos papiers a pris fin\.$/.test(l)), lines);
    await page.getByRole('link', { name: 'Mes aidants' }).click();
    await main.getByText("Aucun aidant n'a accès à vos papiers.").waitFor();
    check('her mandate to him is no longer active', (await main.locator('.past').innerText()).includes('Amina (Association Solidarité) : accès retiré'));
    await endOn(page);

    // -- 6. the instance administrator: the structures, then one of them
    await loginOn(page, 'admin', ADMIN_SECRET);
    await main.locator('li.structure').first().waitFor();
    const structs = await main.locator('li.structure').allInnerTexts();
    check("the instance administrator's list shows the structures by name, with their aidants and creation date",
      structs.length === 2 && structs[0].startsWith('Association Solidarité') && structs[0].includes('3 aidants') && /Créée le \d{1,2} \S+ \d{4}/.test(structs[0]) &&
      structs[1].startsWith('Bibliothèque du centre') && structs[1].includes('Aucun aidant'), structs);
    await main.getByRole('link', { name: 'Association Solidarité' }).click();
    await main.locator('li.member').first().waitFor();
    check('choosing one shows its page and its aidants', (await page.locator('main h1').innerText()) === 'Association Solidarité' && (await main.locator('li.member').count()) === 4);
    check('Amina is shown removed there too', (await card('Amina').locator('.gone').count()) === 1);
    check('the instance administrator may remove the structure administrator', (await main.getByRole('button', { name: 'Retirer Sam' }).count()) === 1);
    await main.getByRole('button', { name: 'Retirer Bruno' }).click();
    await main.getByRole('button', { name: 'Oui, retirer Bruno' }).click();
    await card('Bruno').locator('.gone').waitFor();
    check('he removes an aidant through the same list', (await card('Bruno').getByRole('button').count()) === 0);
    check('... and Bruno can no longer log in', (await v.call('POST', '/v1/sessions', { login: 'bruno', secret: 'bruno secret 2026' })).status === 401);
    await main.getByRole('link', { name: 'Retour aux organisations' }).click();
    await main.locator('li.structure').first().waitFor();
    check('back on the list, the structure counts one aidant fewer', (await main.locator('li.structure').first().innerText()).includes('2 aidants'));
    // a new structure appears in the list at once
    await page.getByLabel("Nom de l'organisation").fill('CCAS de la ville');
    await page.getByRole('button', { name: "Créer l'organisation" }).click();
    await main.getByText('« CCAS de la ville » est créée.').waitFor();
    await main.locator('li.structure', { hasText: 'CCAS de la ville' }).waitFor();
    check('a structure just created is listed', (await main.locator('li.structure').count()) === 3);
    await endOn(page);
    await ctx.close();

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
