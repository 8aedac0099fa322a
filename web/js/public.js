// public.js: the views before a session: log in, activate with the code
// an aidant gave, recover with the recovery code, and the end of a session.
import { api, h, icon, t } from './core.js';
import { register, go, onSubmit, field, submit, startSession } from './app.js';

register('login', {
  title: 'login.title', roles: null, publicOnly: true,
  render(main) {
    const form = h('form', { class: 'card narrow', autocomplete: 'off', method: 'post', action: '#' },
      field(t('login.login'), { name: 'login', required: true, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' }, t('login.login.hint')),
      field(t('login.secret'), { name: 'secret', type: 'password', required: true, autocomplete: 'off' }),
      h('p', { class: 'hint', text: t('login.shared') }),
      submit(t('login.submit'), 'key'));
    onSubmit(form, (d) => startSession(String(d.get('login')).trim(), String(d.get('secret'))));
    main.append(h('h1', { text: t('login.title') }), h('p', { class: 'lead', text: t('login.lead') }), form,
      h('ul', { class: 'links' },
        h('li', null, h('a', { href: '#activer' }, icon('add'), h('span', { text: t('login.first') }))),
        h('li', null, h('a', { href: '#recuperer' }, icon('key'), h('span', { text: t('login.lost') })))));
  },
});

register('activer', {
  title: 'activate.title', roles: null,
  render(main, st) {
    const form = h('form', { class: 'card narrow', autocomplete: 'off', method: 'post', action: '#' },
      field(t('login.login'), { name: 'login', required: true, autocomplete: 'off', autocapitalize: 'none', value: st.login || '' }),
      field(t('activate.code'), { name: 'code', required: true, autocomplete: 'off', autocapitalize: 'characters' }, t('activate.code.hint')),
      field(t('activate.secret'), { name: 'secret', type: 'password', required: true, autocomplete: 'new-password' }, t('activate.secret.hint')),
      field(t('activate.again'), { name: 'again', type: 'password', required: true, autocomplete: 'new-password' }),
      submit(t('activate.submit'), 'key'));
    onSubmit(form, async (d) => {
      if (d.get('secret') !== d.get('again')) throw new api.ApiError(400, 'secrets_differ');
      const r = await api.call('POST', '/v1/activate', { anonymous: true, json: { login: String(d.get('login')).trim(), activation_code: String(d.get('code')).trim(), secret: String(d.get('secret')) } });
      go('code-secours', { code: r.recovery_code, login: String(d.get('login')).trim() });
    });
    main.append(h('h1', { text: t('activate.title') }), h('p', { class: 'lead', text: t('activate.lead') }), form);
  },
});

register('recuperer', {
  title: 'recover.title', roles: null, publicOnly: true,
  render(main) {
    const form = h('form', { class: 'card narrow', autocomplete: 'off', method: 'post', action: '#' },
      field(t('login.login'), { name: 'login', required: true, autocomplete: 'off', autocapitalize: 'none' }),
      field(t('recover.code'), { name: 'code', required: true, autocomplete: 'off', autocapitalize: 'characters' }, t('recover.code.hint')),
      field(t('recover.secret'), { name: 'secret', type: 'password', required: true, autocomplete: 'new-password' }),
      field(t('activate.again'), { name: 'again', type: 'password', required: true, autocomplete: 'new-password' }),
      submit(t('recover.submit'), 'key'));
    onSubmit(form, async (d) => {
      if (d.get('secret') !== d.get('again')) throw new api.ApiError(400, 'secrets_differ');
      const r = await api.call('POST', '/v1/recover', { anonymous: true, json: { login: String(d.get('login')).trim(), recovery_code: String(d.get('code')).trim(), new_secret: String(d.get('secret')) } });
      go('code-secours', { code: r.recovery_code, login: String(d.get('login')).trim(), recovered: true });
    });
    main.append(h('h1', { text: t('recover.title') }), h('p', { class: 'lead', text: t('recover.lead') }), form);
  },
});

// The recovery code, shown once, on a page of its own that prints alone.
register('code-secours', {
  title: 'rcode.title', roles: null,
  render(main, st) {
    if (!st.code) { go('login'); return; }
    main.append(
      h('div', { class: 'printable sheet' },
        h('h1', { text: t('rcode.title') }),
        h('p', { class: 'lead', text: st.recovered ? t('rcode.recovered') : t('rcode.lead') }),
        h('p', { class: 'label', text: t('rcode.for', { login: st.login }) }),
        h('p', { class: 'code', id: 'recovery-code', text: st.code }),
        h('ul', { class: 'plain' },
          h('li', { text: t('rcode.what') }),
          h('li', { text: t('rcode.keep') }),
          h('li', { text: t('rcode.once') }))),
      h('div', { class: 'actions no-print' },
        h('button', { type: 'button', class: 'btn', onclick: () => window.print() }, icon('print'), h('span', { text: t('print') })),
        h('a', { class: 'btn primary', href: '#login' }, icon('key'), h('span', { text: t('rcode.done') }))));
  },
});

function ended(main, timeout) {
  main.append(h('div', { class: 'card narrow' },
    h('h1', { text: timeout ? t('end.timeout') : t('end.title') }),
    h('p', { class: 'lead', text: t('end.lead') }),
    h('p', { text: t('end.downloads') }),
    h('p', null, h('a', { class: 'btn primary', href: '#login' }, icon('key'), h('span', { text: t('end.again') })))));
}
register('fin', { title: 'end.title', roles: null, publicOnly: true, render: (m) => ended(m, false) });
register('fin-temps', { title: 'end.timeout', roles: null, publicOnly: true, render: (m) => ended(m, true) });
