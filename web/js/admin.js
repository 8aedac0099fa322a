// admin.js: administrators' pages. A structure administrator lists,
// creates and removes her structure's aidants; an instance administrator
// lists and creates structures, opens one to list, create and remove its
// aidants, searches the journal and reads the latest checkpoint. No page
// here shows a document's content: the API gives none to these roles, and
// these pages ask for none.
import { api, clear, h, icon, t, when } from './core.js';
import { register, go, onSubmit, field, submit, button, backLink, announce, errorBox } from './app.js';

function memberForm(sid, out, done) {
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
    if (done) await done();
  });
  return form;
}

let uid = 0;

// A structure's aidants and administrators: name, login, role, since
// when; removed ones last, marked removed with the date. "Retirer" on
// each present one but oneself, behind one confirmation that says what
// removal does. Returns {el, refresh}; refresh() fetches the list again.
function memberList(sid) {
  const hid = 'members-' + (++uid);
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div');
  const el = h('section', { class: 'members', 'aria-labelledby': hid }, h('h2', { id: hid, text: t('members.title') }), status, list);
  let closeOpen = null;

  function notice(text, cls) {
    const p = h('p', { class: cls || 'notice', role: 'status', tabindex: '-1' }, icon('people'), h('span', { text }));
    clear(status).append(p);
    p.focus();
  }

  function removal(a, slot) {
    const offer = () => {
      const b = h('button', { type: 'button', class: 'btn danger', 'aria-label': t('members.remove.label', { name: a.display_name }), onclick: ask },
        icon('trash'), h('span', { text: t('members.remove') }));
      clear(slot).append(b);
      return b;
    };
    const close = () => { offer().focus(); };
    function ask() {
      if (closeOpen) closeOpen(true);
      const qid = 'confirm-' + (++uid);
      const q = h('p', { class: 'confirm-q', id: qid, tabindex: '-1' }, icon('warning'), h('strong', { text: t('members.confirm.q', { name: a.display_name }) }));
      const yes = h('button', { type: 'button', class: 'btn danger', onclick: remove }, icon('trash'), h('span', { text: t('members.confirm.yes', { name: a.display_name }) }));
      const box = h('div', { class: 'confirm', role: 'group', 'aria-labelledby': qid }, q,
        h('ul', { class: 'plain' },
          h('li', { text: t('members.confirm.login', { name: a.display_name }) }),
          h('li', { text: t('members.confirm.mandates', { name: a.display_name }) }),
          h('li', { text: t('members.confirm.final') })),
        h('div', { class: 'actions' }, yes, button(t('cancel'), null, () => { closeOpen = null; close(); })));
      clear(slot).append(box);
      closeOpen = (quiet) => { closeOpen = null; if (quiet) offer(); else close(); };
      q.focus();

      async function remove() {
        const old = box.querySelector('.error');
        if (old) old.remove();
        yes.disabled = true;
        yes.setAttribute('aria-busy', 'true');
        try {
          await api.call('DELETE', '/v1/structures/' + api.enc(sid) + '/aidants/' + api.enc(a.aidant_id));
        } catch (e) {
          if (e instanceof api.ApiError && e.status === 404) {
            closeOpen = null;
            await refresh();
            notice(t('members.already'));
            return;
          }
          if (e instanceof api.ApiError && e.status === 401) return;
          yes.disabled = false;
          yes.removeAttribute('aria-busy');
          const err = errorBox(e);
          box.prepend(err);
          err.tabIndex = -1;
          err.focus();
          return;
        }
        closeOpen = null;
        await refresh();
        announce(t('members.removed', { name: a.display_name }));
        notice(t('members.removed', { name: a.display_name }));
      }
    }
    offer();
  }

  function row(a, me) {
    const self = a.aidant_id === me;
    const slot = h('div', { class: 'actions' });
    const li = h('li', { class: 'card member' + (a.removed ? ' removed' : '') },
      h('h3', null, icon('people'), h('span', { text: a.display_name }), self ? h('span', { class: 'tag', text: t('members.you') }) : null),
      h('p', null, h('span', { text: t('members.login') + ' ' }), h('code', { text: a.login })),
      h('p', { text: t('role.' + a.role) }),
      h('p', { text: t('members.since', { date: when(a.created_at).date }) }),
      a.removed ? h('p', { class: 'gone' }, icon('warning'), h('span', { text: t('members.gone', { date: when(a.removed_at).date }) })) : null,
      a.removed || self ? null : slot);
    if (!a.removed && !self) removal(a, slot);
    return li;
  }

  async function refresh() {
    const r = await api.call('GET', '/v1/structures/' + api.enc(sid) + '/aidants');
    const me = api.current() && api.current().account_id;
    closeOpen = null;
    clear(list);
    if (!r.aidants.length) { list.append(h('p', { class: 'empty', text: t('members.none') })); return; }
    const ordered = r.aidants.filter((a) => !a.removed).concat(r.aidants.filter((a) => a.removed));
    list.append(h('ul', { class: 'cards' }, ordered.map((a) => row(a, me))));
  }

  return { el, refresh };
}

register('structure', {
  title: 'structure.title', roles: ['structure_admin'],
  async render(main) {
    const me = await api.call('GET', '/v1/me');
    const out = h('div', { 'aria-live': 'polite' });
    const members = memberList(me.structure_id);
    await members.refresh();
    main.append(h('h1', { text: t('structure.title') }),
      me.structure_name ? h('p', { class: 'org' }, h('span', { text: t('structure.name') + ' ' }), h('strong', { text: me.structure_name })) : null,
      h('p', { class: 'lead', text: t('structure.lead') }),
      members.el,
      h('h2', { text: t('member.new') }), out, memberForm(me.structure_id, out, members.refresh));
  },
});

function aidantsCount(n) {
  return n === 0 ? t('structures.aidants.none') : n === 1 ? t('structures.aidants.one') : t('structures.aidants.many', { n });
}

// The structures, by name; choosing one opens its page.
async function structureList(box) {
  const r = await api.call('GET', '/v1/structures');
  clear(box);
  if (!r.structures.length) { box.append(h('p', { class: 'empty', text: t('structures.none') })); return; }
  const sorted = r.structures.slice().sort((a, b) => a.name.localeCompare(b.name));
  box.append(h('ul', { class: 'cards' }, sorted.map((s) => h('li', { class: 'card structure' },
    h('h3', null, h('a', { href: '#organisation', class: 'doc-link', onclick: (ev) => { ev.preventDefault(); go('organisation', { s }); } }, icon('shield'), h('span', { text: s.name }))),
    h('p', { text: aidantsCount(s.aidants) }),
    h('p', { text: t('structures.created', { date: when(s.created_at).date }) })))));
}

register('structures', {
  title: 'structures.title', roles: ['instance_admin'],
  async render(main) {
    const listBox = h('div');
    const refresh = () => structureList(listBox);
    await refresh();
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
        h('p', { text: t('structures.first') }), mout, memberForm(r.structure_id, mout, refresh)));
      await refresh();
    });
    main.append(h('h1', { text: t('structures.title') }), h('p', { class: 'lead', text: t('structures.lead') }),
      h('h2', { text: t('structures.list') }), listBox,
      h('h2', { text: t('structures.new') }), form, out);
  },
});

// One structure, for the instance administrator: its aidants, removal,
// and a new aidant. The address carries no identifier: the structure
// chosen is kept in memory.
register('organisation', {
  title: 'organisation.title', roles: ['instance_admin'],
  async render(main, st) {
    if (!st.s) { go('structures'); return; }
    const sid = st.s.structure_id;
    const out = h('div', { 'aria-live': 'polite' });
    const members = memberList(sid);
    await members.refresh();
    main.append(backLink('structures', t('back.structures')),
      h('h1', null, icon('shield'), h('span', { text: st.s.name })),
      h('p', { class: 'lead', text: t('organisation.lead', { date: when(st.s.created_at).date }) }),
      members.el,
      h('h2', { text: t('member.new') }), out, memberForm(sid, out, members.refresh));
  },
});

const ACTIONS = ['', 'session.login', 'session.login_failed', 'session.locked', 'account.enrol', 'account.activate', 'account.recover',
  'document.deposit', 'document.list', 'document.read', 'document.download', 'document.delete',
  'mandate.grant', 'mandate.use', 'mandate.revoke', 'mandate.expire', 'share.create', 'share.download', 'share.revoke', 'export', 'fsck.finding',
  'aidant.remove'];

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
