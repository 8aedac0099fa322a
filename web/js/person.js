// person.js: the person's pages: "Mes papiers", a paper, adding one,
// "Qui a vu mes papiers ?", her aidants (mandates), sharing, the export.
import { api, bytes, clear, day, h, icon, saveFile, t, when } from './core.js';
import { register, go, onSubmit, field, submit, button, backLink, announce, errorBox, onWipe } from './app.js';

export const CATEGORIES = ['identity', 'residence', 'health', 'housing', 'employment', 'income', 'tax', 'family', 'schooling', 'bank', 'justice', 'other'];
const SOON_DAYS = 60;
const PERSON = ['person'];

const urls = new Set();   // object URLs of papers opened here: revoked at the end
onWipe(() => { for (const u of urls) URL.revokeObjectURL(u); urls.clear(); });

const me = () => api.current().account_id;
const docPath = (pid, did) => '/v1/persons/' + api.enc(pid) + '/documents' + (did ? '/' + api.enc(did) : '');

// ---- shared with the aidant's pages ---------------------------------------------------

export function catLabel(c) { return t('cat.' + c); }

function today() {
  const d = new Date();
  return Date.UTC(d.getFullYear(), d.getMonth(), d.getDate());
}

// 'expired', 'soon' (within 60 days) or '' for a YYYY-MM-DD expiry date.
export function expiryState(ymd) {
  if (!ymd) return '';
  const [y, m, d] = ymd.split('-').map(Number);
  const days = (Date.UTC(y, m - 1, d) - today()) / 86400000;
  return days < 0 ? 'expired' : days <= SOON_DAYS ? 'soon' : '';
}

function expiryLine(doc) {
  const st = expiryState(doc.expires);
  if (!doc.expires) return null;
  return h('p', { class: 'expiry ' + st },
    st ? icon('warning') : null,
    h('span', { text: st === 'expired' ? t('doc.expired', { date: day(doc.expires) }) : st === 'soon' ? t('doc.soon', { date: day(doc.expires) }) : t('doc.expires', { date: day(doc.expires) }) }));
}

// Papers grouped by category, each group with its pictogram and plain name.
export function docList(docs, open) {
  if (!docs.length) return h('p', { class: 'empty', text: t('papers.none') });
  const wrap = h('div', { class: 'groups' });
  const soon = docs.filter((d) => expiryState(d.expires));
  if (soon.length) wrap.append(h('p', { class: 'notice', role: 'note' }, icon('warning'), h('span', { text: t('papers.soon', { n: soon.length }) })));
  for (const c of CATEGORIES) {
    const mine = docs.filter((d) => d.category === c).sort((a, b) => a.title.localeCompare(b.title));
    if (!mine.length) continue;
    const hid = 'cat-' + c;
    wrap.append(h('section', { class: 'group', 'aria-labelledby': hid },
      h('h2', { id: hid }, icon(c, 'cat'), h('span', { text: catLabel(c) }), h('span', { class: 'count', text: t('papers.count', { n: mine.length }) })),
      h('ul', { class: 'docs' }, mine.map((d) => h('li', { class: 'doc' + (expiryState(d.expires) ? ' flag-' + expiryState(d.expires) : '') },
        h('a', { href: '#papier', class: 'doc-link', onclick: (ev) => { ev.preventDefault(); open(d); } }, icon('file'), h('span', { class: 'doc-title', text: d.title })),
        expiryLine(d))))));
  }
  return wrap;
}

export function fingerprint(hex) {
  return h('code', { class: 'fingerprint', text: hex.match(/.{1,8}/g).join(' ') });
}

function extFor(type) {
  return { 'application/pdf': '.pdf', 'image/jpeg': '.jpg', 'image/png': '.png', 'image/webp': '.webp', 'image/heic': '.heic', 'text/plain': '.txt' }[type] || '';
}

export function fileName(doc) {
  return doc.title.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, ' ').trim().slice(0, 80) + extFor(doc.media_type);
}

// Opens a paper: an image is shown on the page, anything else is offered
// as a file. Returns the element to show, or null.
export async function openPaper(pid, doc, place) {
  const blob = await api.call('GET', docPath(pid, doc.document_id) + '/content', { as: 'blob' });
  if (doc.media_type.startsWith('image/') && doc.media_type !== 'image/svg+xml') {
    const u = URL.createObjectURL(blob);
    urls.add(u);
    clear(place).append(h('figure', { class: 'preview' }, h('img', { src: u, alt: t('doc.image', { title: doc.title }) })));
  } else {
    saveFile(blob, fileName(doc));
    clear(place).append(h('p', { class: 'notice', role: 'status' }, icon('download'), h('span', { text: t('doc.saved') })));
  }
}

export async function downloadPaper(pid, doc, place) {
  const blob = await api.call('GET', docPath(pid, doc.document_id) + '/content', { as: 'blob' });
  saveFile(blob, fileName(doc));
  clear(place).append(h('p', { class: 'notice', role: 'status' }, icon('download'), h('span', { text: t('doc.saved') })));
}

export function who(actor) {
  if (!actor) return t('who.someone');
  if (actor.role === 'instance_admin') return t('who.admin', { name: actor.display_name });
  if (actor.structure_name) return t('who.in', { name: actor.display_name, structure: actor.structure_name });
  return actor.display_name;
}

// ---- Mes papiers ---------------------------------------------------------------------------

register('papiers', {
  title: 'papers.title', roles: PERSON,
  async render(main) {
    main.append(h('h1', { text: t('papers.title') }),
      h('p', { class: 'actions' }, h('a', { class: 'btn primary', href: '#ajouter' }, icon('add'), h('span', { text: t('papers.add') }))));
    const r = await api.call('GET', docPath(me()));
    main.append(docList(r.documents, (d) => go('papier', { doc: d })));
  },
});

// ---- one paper -------------------------------------------------------------------------------

function receiptView(env) {
  const r = env.receipt;
  const at = when(r.deposited_at);
  const rows = [
    [t('receipt.for'), r.person.display_name],
    [t('receipt.by'), who(r.deposited_by)],
    [t('receipt.category'), catLabel(r.category)],
    [t('receipt.file'), r.media_type + ', ' + bytes(r.size)],
    [t('receipt.fingerprint'), fingerprint(r.sha256)],
    [t('receipt.at'), t('at', at)],
    [t('receipt.serial'), r.timestamp_serial || t('doc.stamp.pending')],
    [t('receipt.document'), h('code', { text: r.document_id })],
    [t('receipt.signature'), h('code', { class: 'sig', text: env.signature })],
  ];
  return h('section', { class: 'receipt card', id: 'receipt', 'aria-labelledby': 'receipt-h' },
    h('h2', { id: 'receipt-h' }, icon('shield'), h('span', { text: t('receipt.title') })),
    h('p', { text: t('receipt.lead') }),
    h('dl', { class: 'facts' }, rows.map(([k, v]) => [h('dt', { text: k }), h('dd', null, v)])),
    h('p', { class: 'actions no-print' }, button(t('receipt.print'), 'print', () => {
      document.body.classList.add('print-receipt');
      window.print();
      setTimeout(() => document.body.classList.remove('print-receipt'), 500);
    })));
}

register('papier', {
  title: 'doc.title', roles: PERSON,
  async render(main, st) {
    if (!st.doc) { go('papiers'); return; }
    const pid = me();
    const doc = await api.call('GET', docPath(pid, st.doc.document_id));
    const place = h('div', { class: 'opened', 'aria-live': 'polite' });
    const dep = when(doc.deposited_at);
    main.append(backLink('papiers', t('back.papers')),
      h('h1', { class: 'doc-h1' }, icon(doc.category, 'cat'), h('span', { text: doc.title })),
      expiryLine(doc),
      h('div', { class: 'actions' },
        button(t('doc.open'), 'eye', () => openPaper(pid, doc, place).catch((e) => clear(place).append(errorBox(e))), 'primary'),
        button(t('doc.download'), 'download', () => downloadPaper(pid, doc, place).catch((e) => clear(place).append(errorBox(e)))),
        button(t('doc.share'), 'share', () => go('partager', { doc }))),
      place,
      h('dl', { class: 'facts card' },
        h('dt', { text: t('doc.category') }), h('dd', { text: catLabel(doc.category) }),
        doc.issued ? [h('dt', { text: t('doc.issued') }), h('dd', { text: day(doc.issued) })] : null,
        doc.expires ? [h('dt', { text: t('doc.expiry') }), h('dd', { text: day(doc.expires) })] : null,
        h('dt', { text: t('doc.deposited') }), h('dd', { text: t('doc.deposited.by', { who: who(doc.deposited_by), date: dep.date, time: dep.time }) }),
        h('dt', { text: t('doc.file') }), h('dd', { text: doc.media_type + ', ' + bytes(doc.size) }),
        h('dt', { text: t('doc.fingerprint') }), h('dd', null, fingerprint(doc.sha256), h('p', { class: 'hint', text: t('doc.fingerprint.hint') })),
        h('dt', { text: t('doc.stamp') }), h('dd', null, doc.timestamp_pending ? h('span', { text: t('doc.stamp.pending') }) :
          [h('span', { text: t('doc.stamp.ok') }), ' ', button(t('doc.stamp.get'), 'download', async () => {
            const b = await api.call('GET', docPath(pid, doc.document_id) + '/timestamp', { as: 'blob' });
            saveFile(b, fileName(doc).replace(/\.[a-z]+$/, '') + '.tsr');
          }, 'small')])));
    try {
      main.append(receiptView(await api.call('GET', docPath(pid, doc.document_id) + '/receipt')));
    } catch (e) { main.append(errorBox(e)); }
    const del = h('div', { class: 'danger' });
    const ask = () => clear(del).append(h('p', { text: t('doc.delete.sure') }),
      h('div', { class: 'actions' },
        button(t('doc.delete.yes'), 'trash', async () => {
          await api.call('DELETE', docPath(pid, doc.document_id));
          announce(t('doc.deleted'));
          go('papiers');
        }, 'danger'),
        button(t('cancel'), null, () => clear(del).append(button(t('doc.delete'), 'trash', ask)))));
    del.append(button(t('doc.delete'), 'trash', ask));
    main.append(del);
  },
});

// ---- adding a paper --------------------------------------------------------------------------

// The form to add a paper, for the person or an aidant depositing for her.
export function addForm(pid, categories, done) {
  const preview = h('p', { class: 'chosen', 'aria-live': 'polite' });
  let file = null;
  const pick = (ev) => {
    file = ev.target.files[0] || null;
    preview.textContent = file ? t('add.chosen', { name: file.name, size: bytes(file.size) }) : '';
  };
  const fileInput = h('input', { type: 'file', id: 'add-file', class: 'visually-hidden', accept: 'image/*,application/pdf', onchange: pick });
  const camInput = h('input', { type: 'file', id: 'add-camera', class: 'visually-hidden', accept: 'image/*', capture: 'environment', onchange: pick });
  const form = h('form', { class: 'card', autocomplete: 'off', method: 'post', action: '#' },
    h('fieldset', null, h('legend', { text: t('add.which') }),
      h('div', { class: 'pickers' },
        h('label', { class: 'btn big', for: 'add-camera' }, icon('camera'), h('span', { text: t('add.camera') })), camInput,
        h('label', { class: 'btn big', for: 'add-file' }, icon('file'), h('span', { text: t('add.file') })), fileInput),
      preview),
    field(t('add.title'), { name: 'title', required: true, maxlength: 200, autocomplete: 'off' }, t('add.title.hint')),
    field(t('add.category'), { tag: 'select', name: 'category', required: true, options: categories.map((c) => [c, catLabel(c)]) }),
    field(t('add.issued'), { name: 'issued', type: 'date' }, t('add.optional')),
    field(t('add.expires'), { name: 'expires', type: 'date' }, t('add.optional')),
    submit(t('add.submit'), 'add'));
  onSubmit(form, async (d) => {
    if (!file) throw new api.ApiError(400, 'no_file');
    const q = new URLSearchParams({ title: String(d.get('title')).trim(), category: String(d.get('category')) });
    if (d.get('issued')) q.set('issued', d.get('issued'));
    if (d.get('expires')) q.set('expires', d.get('expires'));
    const doc = await api.call('POST', docPath(pid) + '?' + q, { body: file, type: file.type || 'application/octet-stream' });
    file = null;
    fileInput.value = '';
    camInput.value = '';
    await done(doc);
  });
  return form;
}

register('ajouter', {
  title: 'add.title.page', roles: PERSON,
  render(main) {
    main.append(backLink('papiers', t('back.papers')), h('h1', { text: t('add.title.page') }), h('p', { class: 'lead', text: t('add.lead') }),
      addForm(me(), CATEGORIES, (doc) => {
        announce(t('add.done', { title: doc.title }));
        go('papier', { doc });
      }));
  },
});

// ---- Qui a vu mes papiers ? ----------------------------------------------------------------------

const SELF_HIDDEN = new Set(['document.list', 'document.read', 'mandate.use']);

export function sentence(ev, mine, titles, aidants) {
  const at = when(ev.at);
  const self = ev.actor && ev.actor.account_id === mine;
  const doc = ev.object_id && titles.has(ev.object_id) ? t('ev.doc', { title: titles.get(ev.object_id) }) : t('ev.doc.unknown');
  const aidant = ev.object_id && aidants.has(ev.object_id) ? aidants.get(ev.object_id) : t('ev.aidant.unknown');
  const vars = { date: at.date, time: at.time, who: who(ev.actor), doc, aidant };
  if (ev.outcome === 'denied') return t(self ? 'ev.denied.self' : 'ev.denied', vars);
  const k = 'ev.' + ev.action + (self ? '.self' : '');
  let s = t(k, vars);
  if (s === k) s = t('ev.' + ev.action, vars);
  if (s === 'ev.' + ev.action) s = t('ev.other', Object.assign(vars, { action: ev.action }));
  return s;
}

register('journal', {
  title: 'journal.title', roles: PERSON,
  async render(main) {
    main.append(h('h1', { text: t('journal.title') }), h('p', { class: 'lead', text: t('journal.lead') }));
    const pid = me();
    const [docs, events, mandates] = await Promise.all([api.call('GET', docPath(pid)), allEvents(pid), api.call('GET', '/v1/persons/' + api.enc(pid) + '/mandates')]);
    const titles = new Map(docs.documents.map((d) => [d.document_id, d.title]));
    const aidants = new Map(mandates.mandates.map((m) => [m.mandate_id, who(m.aidant)]));
    const shown = events.filter((e) => !(e.actor && e.actor.account_id === pid && SELF_HIDDEN.has(e.action) && e.outcome !== 'denied'));
    if (!shown.length) { main.append(h('p', { class: 'empty', text: t('journal.none') })); return; }
    main.append(h('ol', { class: 'journal' }, shown.reverse().map((e) => h('li', { class: e.outcome === 'denied' ? 'denied' : (e.actor && e.actor.account_id !== pid ? 'other' : '') }, h('span', { text: sentence(e, pid, titles, aidants) })))));
  },
});

async function allEvents(pid) {
  let out = [], after = -1;
  for (let i = 0; i < 20; i++) {
    const r = await api.call('GET', '/v1/persons/' + api.enc(pid) + '/journal?limit=1000&after=' + after);
    out = out.concat(r.events);
    if (r.events.length < 1000) break;
    after = r.events[r.events.length - 1].index;
  }
  return out;
}

// ---- mandates ------------------------------------------------------------------------------------------

export function scopesText(scopes) {
  return scopes.map((s) => t('scope.' + s)).join(t('list.and'));
}

export function catsText(cats) {
  return cats.length === CATEGORIES.length ? t('cats.all') : cats.map(catLabel).join(', ');
}

register('mandats', {
  title: 'mandates.title', roles: PERSON,
  async render(main) {
    const pid = me();
    main.append(h('h1', { text: t('mandates.title') }), h('p', { class: 'lead', text: t('mandates.lead') }),
      h('p', { class: 'actions' }, h('a', { class: 'btn primary', href: '#mandat-nouveau' }, icon('add'), h('span', { text: t('mandates.new') }))));
    const r = await api.call('GET', '/v1/persons/' + api.enc(pid) + '/mandates');
    const active = r.mandates.filter((m) => m.status === 'active');
    const past = r.mandates.filter((m) => m.status !== 'active');
    main.append(h('h2', { text: t('mandates.active') }));
    if (!active.length) main.append(h('p', { class: 'empty', text: t('mandates.none') }));
    else main.append(h('ul', { class: 'cards' }, active.map((m) => h('li', { class: 'card mandate' },
      h('h3', null, icon('people'), h('span', { text: who(m.aidant) })),
      h('p', { text: t('mandates.can', { scopes: scopesText(m.scopes) }) }),
      h('p', { text: t('mandates.cats', { cats: catsText(m.categories) }) }),
      h('p', { text: t('mandates.until', when(m.expires_at)) }),
      button(t('mandates.revoke'), 'trash', async () => {
        await api.call('DELETE', '/v1/persons/' + api.enc(pid) + '/mandates/' + api.enc(m.mandate_id));
        announce(t('mandates.revoked', { who: who(m.aidant) }));
        go('mandats');
      }, 'danger')))));
    if (past.length) {
      main.append(h('h2', { text: t('mandates.past') }), h('ul', { class: 'plain past' }, past.map((m) => h('li', {
        text: t(m.status === 'revoked' ? 'mandates.was.revoked' : 'mandates.was.expired', Object.assign({ who: who(m.aidant) }, when(m.revoked_at || m.expires_at))),
      }))));
    }
  },
});

const DURATIONS = [[1, 'dur.day'], [7, 'dur.week'], [30, 'dur.month'], [90, 'dur.3months'], [180, 'dur.6months'], [365, 'dur.year']];

// Aidants the person has met: who enrolled her, deposited for her, or had a mandate.
async function knownAidants(pid) {
  const [events, mandates] = await Promise.all([allEvents(pid), api.call('GET', '/v1/persons/' + api.enc(pid) + '/mandates')]);
  const seen = new Map();
  const addA = (a) => { if (a && (a.role === 'aidant' || a.role === 'structure_admin') && !seen.has(a.account_id)) seen.set(a.account_id, a); };
  for (const m of mandates.mandates) addA(m.aidant);
  for (const e of events) addA(e.actor);
  return [...seen.values()];
}

register('mandat-nouveau', {
  title: 'grant.title', roles: PERSON,
  async render(main) {
    const pid = me();
    const aidants = await knownAidants(pid);
    const form = h('form', { class: 'card', autocomplete: 'off', method: 'post', action: '#' },
      h('fieldset', null, h('legend', { text: t('grant.who') }),
        aidants.map((a, i) => h('div', { class: 'choice' },
          h('input', { type: 'radio', name: 'aidant', id: 'ga' + i, value: a.account_id, checked: i === 0 }),
          h('label', { for: 'ga' + i, text: who(a) }))),
        h('div', { class: 'choice' },
          h('input', { type: 'radio', name: 'aidant', id: 'ga-other', value: '', checked: !aidants.length }),
          h('label', { for: 'ga-other', text: t('grant.other') })),
        field(t('grant.number'), { name: 'number', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' }, t('grant.number.hint'))),
      h('fieldset', null, h('legend', { text: t('grant.what') }),
        ['read', 'deposit'].map((s) => h('div', { class: 'choice' },
          h('input', { type: 'checkbox', name: 'scope', id: 'gs-' + s, value: s, checked: s === 'read' }),
          h('label', { for: 'gs-' + s, text: t('scope.long.' + s) })))),
      h('fieldset', null, h('legend', { text: t('grant.cats') }),
        h('div', { class: 'cat-grid' }, CATEGORIES.map((c) => h('div', { class: 'choice' },
          h('input', { type: 'checkbox', name: 'cat', id: 'gc-' + c, value: c }),
          h('label', { for: 'gc-' + c }, icon(c, 'cat'), h('span', { text: catLabel(c) })))))),
      field(t('grant.duration'), { tag: 'select', name: 'days', value: 30, options: DURATIONS.map(([d, k]) => [d, t(k)]) }),
      submit(t('grant.submit'), 'people'));
    form.querySelector('select[name=days]').value = '30';
    onSubmit(form, async (d) => {
      let aid = String(d.get('aidant') || '') || String(d.get('number') || '');
      aid = aid.replace(/[\s-]/g, '').toLowerCase();
      const scopes = d.getAll('scope'), cats = d.getAll('cat');
      if (!aid) throw new api.ApiError(400, 'no_aidant');
      if (!scopes.length) throw new api.ApiError(400, 'no_scope');
      if (!cats.length) throw new api.ApiError(400, 'no_category');
      await api.call('POST', '/v1/persons/' + api.enc(pid) + '/mandates', { json: { aidant_id: aid, scopes, categories: cats, duration_days: Number(d.get('days')) } });
      announce(t('grant.done'));
      go('mandats');
    });
    main.append(backLink('mandats', t('back.mandates')), h('h1', { text: t('grant.title') }), h('p', { class: 'lead', text: t('grant.lead') }), form);
  },
});

// ---- sharing a paper with an office -------------------------------------------------------------------

const HOURS = [[1, 'dur.hour'], [24, 'dur.day'], [72, 'dur.3days'], [168, 'dur.week'], [744, 'dur.month']];

register('partager', {
  title: 'share.title', roles: PERSON,
  render(main, st) {
    if (!st.doc) { go('papiers'); return; }
    const pid = me(), doc = st.doc;
    const out = h('div', { 'aria-live': 'polite' });
    const form = h('form', { class: 'card', autocomplete: 'off', method: 'post', action: '#' },
      field(t('share.for'), { tag: 'select', name: 'hours', options: HOURS.map(([n, k]) => [n, t(k)]) }),
      field(t('share.count'), { tag: 'select', name: 'max', options: [1, 2, 3, 5, 10].map((n) => [n, t('share.times', { n })]) }, t('share.count.hint')),
      submit(t('share.submit'), 'share'));
    form.querySelector('select[name=hours]').value = '72';
    onSubmit(form, async (d) => {
      const r = await api.call('POST', docPath(pid, doc.document_id) + '/shares', { json: { expires_in_hours: Number(d.get('hours')), max_downloads: Number(d.get('max')) } });
      form.hidden = true;
      const link = h('input', { type: 'text', id: 'share-url', readonly: true, value: r.url, class: 'link' });
      const copied = h('span', { class: 'hint', role: 'status' });
      clear(out).append(h('div', { class: 'card' },
        h('h2', { text: t('share.ready') }),
        h('label', { for: 'share-url', text: t('share.link') }), link,
        h('p', { class: 'actions' },
          button(t('share.copy'), 'copy', async () => {
            link.select();
            try { await navigator.clipboard.writeText(r.url); } catch { document.execCommand && document.execCommand('copy'); }
            copied.textContent = t('share.copied');
          }, 'primary'), copied),
        h('p', { text: t('share.until', Object.assign({ n: d.get('max') }, when(r.expires_at))) }),
        h('p', { class: 'hint', text: t('share.how') }),
        button(t('share.revoke'), 'trash', async () => {
          await api.call('DELETE', '/v1/persons/' + api.enc(pid) + '/shares/' + api.enc(r.share_id));
          clear(out).append(h('p', { class: 'notice', role: 'status', text: t('share.revoked') }));
        }, 'danger')));
      link.focus();
      link.select();
    });
    main.append(backLink('papiers', t('back.papers')), h('h1', { text: t('share.title') }),
      h('p', { class: 'lead', text: t('share.lead', { title: doc.title }) }), form, out);
  },
});

// ---- everything, as one file -------------------------------------------------------------------------------

register('export', {
  title: 'export.title', roles: PERSON,
  render(main) {
    const out = h('div', { 'aria-live': 'polite' });
    main.append(h('h1', { text: t('export.title') }), h('p', { class: 'lead', text: t('export.lead') }),
      h('p', { text: t('export.what') }),
      h('p', { class: 'actions' }, button(t('export.submit'), 'download', async (ev) => {
        const b = ev.currentTarget;
        b.disabled = true;
        clear(out).append(h('p', { text: t('export.wait') }));
        try {
          const blob = await api.call('GET', '/v1/persons/' + api.enc(me()) + '/export', { as: 'blob' });
          saveFile(blob, 'mon-coffre.tar.gz');
          clear(out).append(h('p', { class: 'notice', role: 'status' }, icon('download'), h('span', { text: t('doc.saved') })));
        } catch (e) { clear(out).append(errorBox(e)); } finally { b.disabled = false; }
      }, 'primary')), out);
  },
});
