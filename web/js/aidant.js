// aidant.js: the aidant's pages: the persons who gave me a mandate, enrolling
// a person, depositing for her, and opening the papers a read mandate covers.
// Nothing is kept on the machine: papers are shown from memory or offered
// as files, with a reminder to delete them.
import { api, clear, h, icon, t, when } from './core.js';
import { register, go, onSubmit, field, submit, button, backLink, announce, errorBox, endSession } from './app.js';
import { docList, openPaper, downloadPaper, addForm, fingerprint, scopesText, catsText, catLabel } from './person.js';

const AIDANTS = ['aidant', 'structure_admin'];

function groupByPerson(mandates) {
  const by = new Map();
  for (const m of mandates.filter((x) => x.status === 'active')) {
    const id = m.person.account_id;
    if (!by.has(id)) by.set(id, { person: m.person, mandates: [] });
    by.get(id).mandates.push(m);
  }
  return [...by.values()];
}

function cats(p, scope) {
  const s = new Set();
  for (const m of p.mandates) if (m.scopes.includes(scope)) m.categories.forEach((c) => s.add(c));
  return [...s];
}

register('aidant', {
  title: 'aidant.title', roles: AIDANTS,
  async render(main) {
    const me = api.current().account_id;
    main.append(h('h1', { text: t('aidant.title') }),
      h('p', { class: 'lead', text: t('aidant.lead') }),
      h('p', { class: 'card number' }, h('span', { text: t('aidant.number') }), ' ',
        h('code', { id: 'aidant-number', text: me.match(/.{1,4}/g).join(' ') }),
        h('span', { class: 'hint', text: t('aidant.number.hint') })),
      h('p', { class: 'actions' }, h('a', { class: 'btn primary', href: '#inscrire' }, icon('add'), h('span', { text: t('aidant.enrol') }))));
    const r = await api.call('GET', '/v1/aidants/me/mandates');
    const persons = groupByPerson(r.mandates);
    main.append(h('h2', { text: t('aidant.persons') }));
    if (!persons.length) { main.append(h('p', { class: 'empty', text: t('aidant.none') })); return; }
    main.append(h('ul', { class: 'cards' }, persons.map((p) => h('li', { class: 'card person' },
      h('h3', null, icon('people'), h('span', { text: p.person.display_name })),
      p.mandates.map((m) => h('p', { text: t('aidant.mandate', Object.assign({ scopes: scopesText(m.scopes), cats: catsText(m.categories) }, when(m.expires_at))) })),
      h('div', { class: 'actions' },
        cats(p, 'read').length ? button(t('aidant.see'), 'eye', () => go('personne', { p }), 'primary') : null,
        cats(p, 'deposit').length ? button(t('aidant.deposit'), 'add', () => go('deposer', { p })) : null)))));
  },
});

register('personne', {
  title: 'aidant.papers', roles: AIDANTS,
  async render(main, st) {
    if (!st.p) { go('aidant'); return; }
    const pid = st.p.person.account_id;
    const place = h('div', { class: 'opened', 'aria-live': 'polite' });
    const view = h('div', { 'aria-live': 'polite' });
    main.append(backLink('aidant', t('back.persons')),
      h('h1', { text: t('aidant.papers.of', { name: st.p.person.display_name }) }),
      h('p', { class: 'notice', role: 'note' }, icon('warning'), h('span', { text: t('aidant.nocopy') })));
    const r = await api.call('GET', '/v1/persons/' + api.enc(pid) + '/documents');
    main.append(place, docList(r.documents, (d) => {
      clear(place).append(h('div', { class: 'card' },
        h('h2', null, icon(d.category, 'cat'), h('span', { text: d.title })),
        h('p', { text: catLabel(d.category) }),
        h('p', null, h('span', { text: t('doc.fingerprint') + ' : ' }), fingerprint(d.sha256)),
        h('div', { class: 'actions' },
          button(t('doc.open'), 'eye', () => openPaper(pid, d, view).catch((e) => clear(view).append(errorBox(e))), 'primary'),
          button(t('doc.download'), 'download', () => downloadPaper(pid, d, view).catch((e) => clear(view).append(errorBox(e))))),
        view));
      place.querySelector('h2').tabIndex = -1;
      place.querySelector('h2').focus();
    }));
  },
});

register('deposer', {
  title: 'aidant.deposit.title', roles: AIDANTS,
  render(main, st) {
    if (!st.p) { go('aidant'); return; }
    const pid = st.p.person.account_id;
    const out = h('div', { 'aria-live': 'polite' });
    main.append(backLink('aidant', t('back.persons')),
      h('h1', { text: t('aidant.deposit.for', { name: st.p.person.display_name }) }),
      h('p', { class: 'lead', text: t('aidant.deposit.lead') }),
      addForm(pid, cats(st.p, 'deposit'), (doc) => {
        announce(t('add.done', { title: doc.title }));
        clear(out).append(h('div', { class: 'card', role: 'status' },
          h('h2', { text: t('aidant.deposited', { title: doc.title }) }),
          h('p', null, h('span', { text: t('doc.fingerprint') + ' : ' }), fingerprint(doc.sha256)),
          h('p', { text: t('aidant.deposited.hint') })));
      }), out);
  },
});

register('inscrire', {
  title: 'enrol.title', roles: AIDANTS,
  render(main) {
    const form = h('form', { class: 'card narrow', autocomplete: 'off', method: 'post', action: '#' },
      field(t('enrol.name'), { name: 'name', required: true, maxlength: 128, autocomplete: 'off' }, t('enrol.name.hint')),
      field(t('enrol.login'), { name: 'login', required: true, maxlength: 64, pattern: '[A-Za-z0-9._\\-]{3,64}', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' }, t('enrol.login.hint')),
      submit(t('enrol.submit'), 'add'));
    onSubmit(form, async (d) => {
      const login = String(d.get('login')).trim().toLowerCase();
      const r = await api.call('POST', '/v1/persons', { json: { login, display_name: String(d.get('name')).trim() } });
      go('code-activation', { login, code: r.activation_code, expires: r.activation_expires_at, name: String(d.get('name')).trim() });
    });
    main.append(h('h1', { text: t('enrol.title') }), h('p', { class: 'lead', text: t('enrol.lead') }), form);
  },
});

// The activation code, shown once on a page of its own that prints alone.
register('code-activation', {
  title: 'acode.title', roles: AIDANTS,
  render(main, st) {
    if (!st.code) { go('aidant'); return; }
    const until = when(st.expires);
    main.append(
      h('div', { class: 'printable sheet' },
        h('h1', { text: t('acode.title') }),
        h('p', { class: 'lead', text: t('acode.lead', { name: st.name }) }),
        h('dl', { class: 'facts' },
          h('dt', { text: t('login.login') }), h('dd', null, h('code', { class: 'code', id: 'activation-login', text: st.login })),
          h('dt', { text: t('activate.code') }), h('dd', null, h('code', { class: 'code', id: 'activation-code', text: st.code }))),
        h('ul', { class: 'plain' },
          h('li', { text: t('acode.what') }),
          h('li', { text: t('acode.until', until) }),
          h('li', { text: t('acode.then') }))),
      h('div', { class: 'actions no-print' },
        h('button', { type: 'button', class: 'btn', onclick: () => window.print() }, icon('print'), h('span', { text: t('print') })),
        button(t('acode.handover'), 'logout', () => endSession('handover'), 'primary')));
  },
});
