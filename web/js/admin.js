// admin.js: administrators' pages. A structure administrator creates her
// structure's aidants; an instance administrator creates structures and
// their first administrator, searches the journal and reads the latest
// checkpoint. No page here shows a document's content: the API gives none
// to these roles, and these pages ask for none.
import { api, clear, h, icon, t, when } from './core.js';
import { register, onSubmit, field, submit } from './app.js';

function memberForm(sid, out) {
  const form = h('form', { class: 'card narrow', autocomplete: 'off', method: 'post', action: '#' },
    field(t('member.name'), { name: 'name', required: true, maxlength: 128, autocomplete: 'off' }),
    field(t('member.login'), { name: 'login', required: true, maxlength: 64, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' }, t('enrol.login.hint')),
    field(t('member.secret'), { name: 'secret', type: 'password', required: true, minlength: 10, autocomplete: 'new-password' }, t('member.secret.hint')),
    field(t('member.role'), { tag: 'select', name: 'role', options: [['aidant', t('role.aidant')], ['structure_admin', t('role.structure_admin')]] }),
    submit(t('member.submit'), 'add'));
  onSubmit(form, async (d) => {
    const login = String(d.get('login')).trim().toLowerCase();
    await api.call('POST', '/v1/structures/' + api.enc(sid) + '/aidants', { json: { login, display_name: String(d.get('name')).trim(), secret: String(d.get('secret')), role: String(d.get('role')) } });
    form.reset();
    clear(out).append(h('p', { class: 'notice', role: 'status' }, icon('people'), h('span', { text: t('member.done', { login }) })));
  });
  return form;
}

register('structure', {
  title: 'structure.title', roles: ['structure_admin'],
  async render(main) {
    const me = await api.call('GET', '/v1/me');
    const out = h('div', { 'aria-live': 'polite' });
    main.append(h('h1', { text: t('structure.title') }), h('p', { class: 'lead', text: t('structure.lead') }),
      h('h2', { text: t('member.new') }), out, memberForm(me.structure_id, out));
  },
});

register('structures', {
  title: 'structures.title', roles: ['instance_admin'],
  render(main) {
    const out = h('div', { 'aria-live': 'polite' });
    const form = h('form', { class: 'card narrow', autocomplete: 'off', method: 'post', action: '#' },
      field(t('structures.name'), { name: 'name', required: true, maxlength: 128, autocomplete: 'off' }, t('structures.name.hint')),
      submit(t('structures.submit'), 'add'));
    onSubmit(form, async (d) => {
      const name = String(d.get('name')).trim();
      const r = await api.call('POST', '/v1/structures', { json: { name } });
      form.reset();
      const mout = h('div', { 'aria-live': 'polite' });
      clear(out).append(h('div', { class: 'card' },
        h('h2', { text: t('structures.made', { name }) }),
        h('p', null, h('span', { text: t('structures.id') + ' ' }), h('code', { text: r.structure_id })),
        h('p', { text: t('structures.first') }), mout, memberForm(r.structure_id, mout)));
    });
    const form2 = h('form', { class: 'card narrow', autocomplete: 'off', method: 'post', action: '#' },
      field(t('structures.id'), { name: 'sid', required: true, autocomplete: 'off', spellcheck: 'false' }),
      submit(t('structures.open'), 'people'));
    const out2 = h('div', { 'aria-live': 'polite' });
    onSubmit(form2, async (d) => {
      const sid = String(d.get('sid')).replace(/\s/g, '').toLowerCase();
      const mout = h('div', { 'aria-live': 'polite' });
      clear(out2).append(h('div', { class: 'card' }, mout, memberForm(sid, mout)));
    });
    main.append(h('h1', { text: t('structures.title') }), h('p', { class: 'lead', text: t('structures.lead') }),
      h('h2', { text: t('structures.new') }), form, out,
      h('h2', { text: t('structures.add') }), form2, out2);
  },
});

const ACTIONS = ['', 'session.login', 'session.login_failed', 'session.locked', 'account.enrol', 'account.activate', 'account.recover',
  'document.deposit', 'document.list', 'document.read', 'document.download', 'document.delete',
  'mandate.grant', 'mandate.use', 'mandate.revoke', 'mandate.expire', 'share.create', 'share.download', 'share.revoke', 'export', 'fsck.finding'];

register('audit', {
  title: 'audit.title', roles: ['instance_admin', 'auditor'],
  render(main) {
    const out = h('div', { 'aria-live': 'polite' });
    const form = h('form', { class: 'card', autocomplete: 'off', method: 'post', action: '#' },
      field(t('audit.since'), { name: 'since', type: 'date' }),
      field(t('audit.person'), { name: 'person', autocomplete: 'off', spellcheck: 'false' }, t('audit.id.hint')),
      field(t('audit.actor'), { name: 'actor', autocomplete: 'off', spellcheck: 'false' }, t('audit.id.hint')),
      field(t('audit.action'), { tag: 'select', name: 'action', options: ACTIONS.map((a) => [a, a || t('audit.any')]) }),
      submit(t('audit.submit'), 'journal'));
    onSubmit(form, async (d) => {
      const q = new URLSearchParams({ limit: '200' });
      if (d.get('since')) q.set('since', d.get('since') + 'T00:00:00Z');
      for (const k of ['person', 'actor', 'action']) { const v = String(d.get(k) || '').trim(); if (v) q.set(k, v); }
      const r = await api.call('GET', '/v1/journal?' + q);
      clear(out);
      if (!r.events.length) { out.append(h('p', { class: 'empty', text: t('audit.none') })); return; }
      out.append(h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': t('audit.results') }, h('table', { class: 'audit' },
        h('caption', { text: t('audit.count', { n: r.events.length }) }),
        h('thead', null, h('tr', null, ['audit.col.index', 'audit.col.at', 'audit.col.actor', 'audit.col.person', 'audit.col.action', 'audit.col.outcome'].map((k) => h('th', { scope: 'col', text: t(k) })))),
        h('tbody', null, r.events.map((e) => { const w = when(e.at); return h('tr', null,
          h('td', { text: e.index }), h('td', { text: w.date + ' ' + w.time }),
          h('td', { text: e.actor ? e.actor.display_name + ' (' + e.actor.role + ')' : '—' }),
          h('td', null, e.person_id ? h('code', { text: e.person_id }) : '—'),
          h('td', { text: e.action }), h('td', { text: e.outcome })); })))));
    });
    main.append(h('h1', { text: t('audit.title') }), h('p', { class: 'lead', text: t('audit.lead') }), form, out);
  },
});

register('checkpoint', {
  title: 'checkpoint.title', roles: ['instance_admin', 'auditor'],
  async render(main) {
    main.append(h('h1', { text: t('checkpoint.title') }), h('p', { class: 'lead', text: t('checkpoint.lead') }));
    const text = await api.call('GET', '/v1/journal/checkpoint', { as: 'text' });
    main.append(h('pre', { class: 'checkpoint card', tabindex: '0', text }));
  },
});
