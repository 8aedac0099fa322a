/*
 * handlers.c: the routes of DESIGN.md and who may call each.
 *
 * Divisions: who is asking (roles, the person herself, an aidant's
 * mandate); JSON shapes; accounts and sessions; documents; mandates;
 * shares; the journal; routes not yet served; the route table.
 *
 * Authorisation is decided here, once per handler, before anything is read
 * or written; storage/ then enforces the same thing with keys: an aidant
 * without a read mandate holds no wrapping that would open a paper.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "documents.h"
#include "http.h"
#include "instance.h"
#include "journal.h"
#include "timestamps.h"
#include "mandates.h"
#include "note.h"
#include "receipts.h"
#include "shares.h"
#include "tsa.h"
#include "vault_os.h"

/* ---- who is asking ------------------------------------------------------- */

static int
role_is(const struct api_request *rq, const char *role)
{
	return rq->have_session && strcmp(rq->sess.role, role) == 0;
}

static int
is_aidant(const struct api_request *rq)
{
	return role_is(rq, "aidant") || role_is(rq, "structure_admin");
}

static int
is_self(const struct api_request *rq, const vault_id *pid)
{
	return role_is(rq, "person") &&
	    memcmp(rq->sess.account.b, pid->b, VAULT_ID_LEN) == 0;
}

static enum MHD_Result
forbidden(struct api_request *rq)
{
	return api_error(rq, 403, "forbidden",
	    "You may not do this for this person.");
}

/* A refusal that concerns a person is hers to see: "who tried to look at
 * my papers" includes those who were turned away (charter 6). Only for
 * accounts that exist: a made-up id has nobody to tell. */
static enum MHD_Result
refuse(struct api_request *rq, const vault_id *pid, const char *action)
{
	struct account_info a;

	if (rq->have_session && accounts_get(rq->st, pid, &a) == VAULT_OK &&
	    strcmp(a.role, "person") == 0)
		(void)journal_record(rq->st, &(struct journal_event){
		    &rq->sess.account, pid, action, rq->params[1][0] != '\0' ?
		    rq->params[1] : NULL, "denied", rq->origin });
	return forbidden(rq);
}

/* The session as the unlocked account storage/ expects (borrowing its key). */
static struct account_unlocked
session_account(const struct api_request *rq)
{
	struct account_unlocked u;

	memset(&u, 0, sizeof u);
	u.id = rq->sess.account;
	memcpy(u.role, rq->sess.role, sizeof u.role);
	memcpy(u.pk, rq->sess.pk, sizeof u.pk);
	u.sk = rq->sess.sk;
	return u;
}

/* The person herself (owner holder), or an aidant with an active read
 * mandate from her (his mandates' wrappings). Anyone else: 403. */
static int
reader_holder(struct api_request *rq, const vault_id *pid, struct doc_holder *h,
    unsigned *mask, const char *action)
{
	vault_err r;

	memset(h, 0, sizeof *h);
	*mask = MANDATE_ALL_CATEGORIES;
	if (is_self(rq, pid) && rq->sess.sk != NULL) {
		h->is_owner = 1;
	} else if (is_aidant(rq) && rq->sess.sk != NULL) {
		if ((r = mandates_categories(rq->st, &rq->sess.account, pid,
		    MANDATE_SCOPE_READ, mask)) != VAULT_OK) {
			api_vault_error(rq, r);
			return -1;
		}
		if (*mask == 0) {
			refuse(rq, pid, action);
			return -1;
		}
	} else {
		refuse(rq, pid, action);
		return -1;
	}
	h->account = rq->sess.account;
	h->pk = rq->sess.pk;
	h->sk = rq->sess.sk;
	return 0;
}

/* Journals a read by an aidant as the use of his mandate too. */
/* Returns VAULT_OK, or an error when an aidant's read could not be
 * journaled: then nothing is served (charter 6: the person sees every
 * read; with the store read-only she cannot revoke either, so an aidant
 * reading unseen is exactly what must not happen). Her own reads go on. */
static vault_err
journal_read(struct api_request *rq, const vault_id *pid, const char *action,
    const char *object, int category)
{
	char mt[VAULT_ID_TEXT_LEN + 1];
	vault_id mid;
	vault_err r;

	r = journal_record(rq->st, &(struct journal_event){ &rq->sess.account,
	    pid, action, object, "ok", rq->origin });
	if (is_self(rq, pid))
		return VAULT_OK;
	if (r != VAULT_OK)
		return r;
	if (mandates_check(rq->st, &rq->sess.account, pid, MANDATE_SCOPE_READ,
	    category, &mid) == VAULT_OK) {
		vault_id_to_text(&mid, mt);
		r = journal_record(rq->st, &(struct journal_event){
		    &rq->sess.account, pid, "mandate.use", mt, "ok", rq->origin });
	}
	return r;
}

/* ---- JSON shapes ---------------------------------------------------------- */

static json_t *
id_json(const vault_id *id)
{
	char t[VAULT_ID_TEXT_LEN + 1];

	vault_id_to_text(id, t);
	return json_string(t);
}

static json_t *
time_json(int64_t ms)
{
	char t[32];

	if (ms <= 0)
		return json_null();
	api_time(ms, t);
	return json_string(t);
}

/* {account_id, role, display_name, structure_id, structure_name}, or
 * null. The structure's name is what lets a person recognise an aidant
 * ("Amina (Association Solidarité)"). */
static json_t *
actor_json(struct store *st, const vault_id *id)
{
	struct account_info a;

	if (id == NULL || accounts_get(st, id, &a) != VAULT_OK)
		return json_null();
	return json_pack("{s:o, s:s, s:s, s:o, s:o}", "account_id", id_json(id),
	    "role", a.role, "display_name", a.display_name, "structure_id",
	    a.has_structure ? id_json(&a.structure_id) : json_null(),
	    "structure_name", a.has_structure && a.structure_name[0] != '\0' ?
	    json_string(a.structure_name) : json_null());
}

static json_t *
document_json(struct store *st, const struct document_info *d)
{
	char sha[65];
	json_t *o;

	sodium_bin2hex(sha, sizeof sha, d->sha256, 32);
	o = json_pack("{s:o, s:o, s:s, s:s, s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:b}",
	    "document_id", id_json(&d->id), "person_id", id_json(&d->owner),
	    "title", d->title, "category", d->category, "media_type", d->media_type,
	    "size", (json_int_t)d->size, "sha256", sha,
	    "issued", d->issued[0] ? json_string(d->issued) : json_null(),
	    "expires", d->expires[0] ? json_string(d->expires) : json_null(),
	    "deposited_by", actor_json(st, &d->deposited_by),
	    "deposited_at", time_json(d->deposited_at),
	    "timestamp_pending", d->tsa_pending);
	/* only when the scheduled control found the stored copy damaged or
	 * gone (its fsck.finding is in the person's journal) */
	if (o != NULL && d->integrity[0] != '\0')
		json_object_set_new(o, "integrity", json_string(d->integrity));
	return o;
}

static json_t *
scopes_json(int scopes)
{
	json_t *a = json_array();

	if (scopes & MANDATE_SCOPE_DEPOSIT)
		json_array_append_new(a, json_string("deposit"));
	if (scopes & MANDATE_SCOPE_READ)
		json_array_append_new(a, json_string("read"));
	return a;
}

static json_t *
categories_json(unsigned mask)
{
	json_t *a = json_array();
	int i;

	for (i = 0; i < DOC_CATEGORY_COUNT; i++)
		if (mask & (1u << i))
			json_array_append_new(a, json_string(documents_category_name(i)));
	return a;
}

/* ---- accounts and sessions --------------------------------------------------- */

/* Bodies are read and checked in parse.c (the secret policy too): the
 * handlers decide who may, and act. */
static enum MHD_Result
bad_secret(struct api_request *rq, const char *role)
{
	struct api_bad bad;

	api_bad_secret(role, &bad);
	return api_refuse(rq, &bad);
}

static enum MHD_Result
h_login(struct api_request *rq)
{
	struct account_unlocked u;
	struct unlock_report rep;
	char token[SESSION_TOKEN_TEXT_LEN + 1];
	struct api_login_body b;
	struct api_bad bad;
	enum MHD_Result ret;
	int64_t expires;
	json_t *o;
	vault_err r;

	if (api_ip_check(rq) != 0)
		return MHD_YES;
	if ((o = api_body_json(rq)) == NULL)
		return MHD_YES;
	if (api_body_login(o, &b, &bad) != 0) {
		json_decref(o);
		return api_refuse(rq, &bad);
	}
	if (api_argon_enter(rq) != 0) {
		json_decref(o);
		return MHD_YES;
	}
	r = accounts_unlock(rq->st, b.login, b.secret, strlen(b.secret), rq->origin,
	    &u, &rep);
	api_argon_leave(rq);
	json_decref(o);
	api_ip_result(rq, r == VAULT_OK);
	/* Every answer to a log-in takes the same minimum time, whatever
	 * happened: nothing tells a wrong secret from an unknown login. */
	api_login_floor(rq);
	if (r == VAULT_ERR_AUTH)
		return api_error(rq, 401, "invalid_credentials",
		    "The login or the secret is wrong.");
	if (r != VAULT_OK)
		return api_vault_error(rq, r);
	if ((r = sessions_open(rq->srv->sessions, &u, token, &expires)) != VAULT_OK) {
		account_unlocked_wipe(&u);
		return api_error(rq, 503, "busy", "Too many open sessions. Try again later.");
	}
	vault_id_to_text(&u.id, rq->log_account);
	ret = api_json(rq, 201, json_pack("{s:s, s:s, s:o, s:o}", "token", token,
	    "role", u.role, "account_id", id_json(&u.id), "expires_at",
	    time_json(expires)));
	sodium_memzero(token, sizeof token);
	account_unlocked_wipe(&u);
	return ret;
}

static enum MHD_Result
h_logout(struct api_request *rq)
{
	sessions_close(rq->srv->sessions, rq->sess.token_hash);
	(void)journal_record(rq->st, &(struct journal_event){ &rq->sess.account,
	    &rq->sess.account, "session.logout", NULL, "ok", rq->origin });
	return api_no_content(rq);
}

static enum MHD_Result
h_me(struct api_request *rq)
{
	struct account_info a;
	uint64_t used;
	json_t *o;
	vault_err r;

	if ((r = accounts_get(rq->st, &rq->sess.account, &a)) != VAULT_OK)
		return api_vault_error(rq, r);
	o = json_pack("{s:o, s:s, s:s, s:s, s:o, s:o}", "account_id",
	    id_json(&a.id), "login", a.login, "role", a.role, "display_name",
	    a.display_name, "structure_id", a.has_structure ?
	    id_json(&a.structure_id) : json_null(), "structure_name",
	    a.has_structure && a.structure_name[0] != '\0' ?
	    json_string(a.structure_name) : json_null());
	if (strcmp(a.role, "person") == 0) {
		if ((r = documents_usage(rq->st, &a.id, &used)) != VAULT_OK) {
			json_decref(o);
			return api_vault_error(rq, r);
		}
		json_object_set_new(o, "usage_bytes", json_integer((json_int_t)used));
		json_object_set_new(o, "quota_bytes",
		    json_integer((json_int_t)rq->st->opt.quota_bytes));
	}
	json_object_set_new(o, "session_expires_at", time_json(rq->sess.expires_at));
	return api_json(rq, 200, o);
}

static enum MHD_Result
account_create_error(struct api_request *rq, vault_err r)
{
	if (r == VAULT_ERR_EXISTS)
		return api_error(rq, 409, "login_taken", "This login is already used.");
	if (r == VAULT_ERR_FORMAT)
		return api_error(rq, 400, "bad_request", "A login has 3 to 64 "
		    "characters among a-z 0-9 . _ -, and a name 1 to 128 characters.");
	return api_vault_error(rq, r);
}

/* An aidant (or an administrator) enrols a person, who later chooses her
 * own secret with the activation code; with self-enrolment on, anyone may
 * enrol herself with a secret. Nobody sets a person's secret for her. */
static enum MHD_Result
h_persons_create(struct api_request *rq)
{
	struct api_person_body b;
	struct api_bad bad;
	char *code = NULL;
	enum MHD_Result ret;
	int64_t expires;
	vault_id id;
	json_t *o;
	vault_err r;

	if (rq->have_session && !is_aidant(rq) && !role_is(rq, "instance_admin"))
		return forbidden(rq);
	if (!rq->have_session && !rq->srv->opt.self_enrolment)
		return api_error(rq, 401, "unauthorized",
		    "Ask an aidant to open your vault, or log in first.");
	if ((o = api_body_json(rq)) == NULL)
		return MHD_YES;
	if (api_body_person(o, &b, &bad) != 0) {
		json_decref(o);
		return api_refuse(rq, &bad);
	}
	if (rq->have_session) {
		if (b.secret != NULL) {
			json_decref(o);
			return api_error(rq, 400, "secret_not_allowed", "Nobody sets a "
			    "person's secret for her: she chooses it herself with "
			    "her activation code.");
		}
		r = accounts_enrol(rq->st, b.login, b.display_name, &rq->sess.account,
		    rq->origin, &id, &code, &expires);
		json_decref(o);
		if (r != VAULT_OK)
			return account_create_error(rq, r);
		ret = api_json(rq, 201, json_pack("{s:o, s:s, s:o}", "person_id",
		    id_json(&id), "activation_code", code, "activation_expires_at",
		    time_json(expires)));
		sodium_free(code);
		return ret;
	}
	if (b.secret == NULL || strlen(b.secret) < api_secret_min("person")) {
		json_decref(o);
		return bad_secret(rq, "person");
	}
	if (api_argon_enter(rq) != 0) {
		json_decref(o);
		return MHD_YES;
	}
	r = accounts_create(rq->st, b.login, b.display_name, "person", NULL, NULL,
	    b.secret, strlen(b.secret), &id, &code);
	api_argon_leave(rq);
	json_decref(o);
	if (r != VAULT_OK)
		return account_create_error(rq, r);
	ret = api_json(rq, 201, json_pack("{s:o, s:s}", "person_id", id_json(&id),
	    "recovery_code", code));
	sodium_free(code);
	return ret;
}

/* The anonymous routes that take a login, a code and a new secret
 * (activation, recovery): throttled by address, parsed, the secret checked
 * against the policy, then inside the Argon2id gate. Returns 0 with *op to
 * json_decref and the gate to leave, or -1 after answering. */
static int
code_request(struct api_request *rq,
    int (*parse)(json_t *, struct api_code_body *, struct api_bad *),
    json_t **op, struct api_code_body *b)
{
	struct api_bad bad;
	json_t *o;

	*op = NULL;
	if (api_ip_check(rq) != 0 || (o = api_body_json(rq)) == NULL)
		return -1;
	if (parse(o, b, &bad) != 0) {
		json_decref(o);
		api_refuse(rq, &bad);
		return -1;
	}
	if (api_argon_enter(rq) != 0) {
		json_decref(o);
		return -1;
	}
	*op = o;
	return 0;
}

static enum MHD_Result
h_activate(struct api_request *rq)
{
	struct api_code_body b;
	char *code = NULL;
	enum MHD_Result ret;
	vault_id id;
	json_t *o;
	vault_err r;

	if (code_request(rq, api_body_activate, &o, &b) != 0)
		return MHD_YES;
	r = accounts_activate(rq->st, b.login, b.code, b.secret, strlen(b.secret),
	    rq->origin, &id, &code);
	api_argon_leave(rq);
	json_decref(o);
	api_ip_result(rq, r == VAULT_OK);
	api_login_floor(rq);
	if (r == VAULT_ERR_AUTH)
		return api_error(rq, 401, "invalid_code", "The login or the activation "
		    "code is wrong, or the code has expired. Ask your aidant for a new one.");
	if (r != VAULT_OK)
		return api_vault_error(rq, r);
	ret = api_json(rq, 201, json_pack("{s:o, s:s}", "person_id", id_json(&id),
	    "recovery_code", code));
	sodium_free(code);
	return ret;
}

static enum MHD_Result
h_recover(struct api_request *rq)
{
	struct api_code_body b;
	char *code = NULL;
	vault_id id;
	enum MHD_Result ret;
	json_t *o;
	vault_err r;

	if (code_request(rq, api_body_recover, &o, &b) != 0)
		return MHD_YES;
	r = accounts_recover(rq->st, b.login, b.code, b.secret, strlen(b.secret),
	    rq->origin, &id, &code);
	/* Sessions opened with the old secret end now. */
	if (r == VAULT_OK)
		sessions_close_account(rq->srv->sessions, &id);
	api_argon_leave(rq);
	json_decref(o);
	api_ip_result(rq, r == VAULT_OK);
	api_login_floor(rq);
	if (r == VAULT_ERR_AUTH || r == VAULT_ERR_FORMAT)
		return api_error(rq, 401, "invalid_code",
		    "The login or the recovery code is wrong.");
	if (r != VAULT_OK)
		return api_vault_error(rq, r);
	ret = api_json(rq, 200, json_pack("{s:s}", "recovery_code", code));
	sodium_free(code);
	return ret;
}

static enum MHD_Result
h_structures_create(struct api_request *rq)
{
	struct api_structure_body b;
	struct api_bad bad;
	vault_id id;
	json_t *o;
	vault_err r;

	if (!role_is(rq, "instance_admin"))
		return forbidden(rq);
	if ((o = api_body_json(rq)) == NULL)
		return MHD_YES;
	if (api_body_structure(o, &b, &bad) != 0) {
		json_decref(o);
		return api_refuse(rq, &bad);
	}
	r = accounts_structure_create(rq->st, b.name, &rq->sess.account, rq->origin,
	    &id);
	json_decref(o);
	if (r != VAULT_OK)
		return account_create_error(rq, r);
	return api_json(rq, 201, json_pack("{s:o}", "structure_id", id_json(&id)));
}

/* Accounts made with a secret by someone else: aidants (by their structure's
 * administrator or the instance administrator) and auditors. */
static enum MHD_Result
create_member(struct api_request *rq, const char *role, const vault_id *structure,
    const char *id_field)
{
	struct api_member_body b;
	struct api_bad bad;
	char *code = NULL;
	vault_id id;
	json_t *o;
	vault_err r;

	if ((o = api_body_json(rq)) == NULL)
		return MHD_YES;
	if (api_body_member(o, role, &b, &bad) != 0) {
		json_decref(o);
		return api_refuse(rq, &bad);
	}
	if (api_argon_enter(rq) != 0) {
		json_decref(o);
		return MHD_YES;
	}
	r = accounts_create(rq->st, b.login, b.display_name, b.role, structure,
	    &rq->sess.account, b.secret, strlen(b.secret), &id, &code);
	api_argon_leave(rq);
	json_decref(o);
	/* The recovery code of an account made by someone else goes to
	 * nobody: its holder resets a lost secret through her administrator. */
	sodium_free(code);
	if (r != VAULT_OK)
		return account_create_error(rq, r);
	return api_json(rq, 201, json_pack("{s:o}", id_field, id_json(&id)));
}

/* The structure of the path, if the session administers it (its own
 * structure administrator, or the instance administrator); else answers
 * and returns -1. */
static int
administered_structure(struct api_request *rq, vault_id *sid)
{
	struct account_info me;
	vault_err r;

	if (api_param_id(rq, 0, sid) != 0)
		return -1;
	if (role_is(rq, "structure_admin")) {
		if ((r = accounts_get(rq->st, &rq->sess.account, &me)) != VAULT_OK) {
			(void)api_vault_error(rq, r);
			return -1;
		}
		if (!me.has_structure || memcmp(me.structure_id.b, sid->b, VAULT_ID_LEN) != 0) {
			(void)api_error(rq, 403, "forbidden", "You administer another structure.");
			return -1;
		}
	} else if (!role_is(rq, "instance_admin")) {
		(void)forbidden(rq);
		return -1;
	}
	if ((r = accounts_structure_exists(rq->st, sid)) != VAULT_OK) {
		(void)api_vault_error(rq, r);
		return -1;
	}
	return 0;
}

static enum MHD_Result
h_aidants_create(struct api_request *rq)
{
	vault_id sid;

	if (administered_structure(rq, &sid) != 0)
		return MHD_YES;
	return create_member(rq, NULL, &sid, "aidant_id");
}

static vault_err
add_member(void *ctx, const struct member_info *m)
{
	return json_array_append_new(ctx, json_pack("{s:o, s:s, s:s, s:s, s:o, s:b, s:o}",
	    "aidant_id", id_json(&m->id), "login", m->login, "display_name",
	    m->display_name, "role", m->role, "created_at", time_json(m->created_at),
	    "removed", m->removed_at != 0, "removed_at", m->removed_at != 0 ?
	    time_json(m->removed_at) : json_null())) == 0 ? VAULT_OK : VAULT_ERR_NOMEM;
}

/* The structure's aidants and administrators, removed ones included. */
static enum MHD_Result
h_aidants_list(struct api_request *rq)
{
	vault_id sid;
	json_t *a;
	vault_err r;

	if (administered_structure(rq, &sid) != 0)
		return MHD_YES;
	if ((a = json_array()) == NULL)
		return api_vault_error(rq, VAULT_ERR_NOMEM);
	if ((r = accounts_members_list(rq->st, &sid, add_member, a)) != VAULT_OK) {
		json_decref(a);
		return api_vault_error(rq, r);
	}
	return api_json(rq, 200, json_pack("{s:o}", "aidants", a));
}

/* Removes an aidant from the structure: he can no longer log in, his
 * sessions end now, and every mandate he held ends (journaled to each
 * person). */
static enum MHD_Result
h_aidants_remove(struct api_request *rq)
{
	vault_id sid, aid;
	vault_err r;

	if (administered_structure(rq, &sid) != 0 || api_param_id(rq, 1, &aid) != 0)
		return MHD_YES;
	if (memcmp(aid.b, rq->sess.account.b, VAULT_ID_LEN) == 0)
		return api_error(rq, 409, "conflict", "You cannot remove yourself; "
		    "ask another administrator.");
	if ((r = accounts_member_remove(rq->st, &sid, &aid, &rq->sess.account,
	    rq->origin)) != VAULT_OK)
		return r == VAULT_ERR_NOTFOUND ? api_error(rq, 404, "not_found",
		    "This structure has no such aidant, or he was already removed.") :
		    api_vault_error(rq, r);
	sessions_close_account(rq->srv->sessions, &aid);
	return api_no_content(rq);
}

static vault_err
add_structure(void *ctx, const struct structure_info *si)
{
	return json_array_append_new(ctx, json_pack("{s:o, s:s, s:o, s:i}",
	    "structure_id", id_json(&si->id), "name", si->name, "created_at",
	    time_json(si->created_at), "aidants", (int)si->members)) == 0 ?
	    VAULT_OK : VAULT_ERR_NOMEM;
}

static enum MHD_Result
h_structures_list(struct api_request *rq)
{
	json_t *a;
	vault_err r;

	if (!role_is(rq, "instance_admin"))
		return forbidden(rq);
	if ((a = json_array()) == NULL)
		return api_vault_error(rq, VAULT_ERR_NOMEM);
	if ((r = accounts_structures_list(rq->st, add_structure, a)) != VAULT_OK) {
		json_decref(a);
		return api_vault_error(rq, r);
	}
	return api_json(rq, 200, json_pack("{s:o}", "structures", a));
}

static enum MHD_Result
h_auditors_create(struct api_request *rq)
{
	if (!role_is(rq, "instance_admin"))
		return forbidden(rq);
	return create_member(rq, "auditor", NULL, "auditor_id");
}

/* ---- documents ------------------------------------------------------------ */

enum MHD_Result api_upload_begin(struct api_request *rq);

/* First call of a deposit: everything is checked before a byte is read. */
enum MHD_Result
api_upload_begin(struct api_request *rq)
{
	char media[DOC_MEDIA_TYPE_MAX + 1];
	struct document_meta m;
	struct api_bad bad;
	const char *cl;
	uint64_t used = 0;
	vault_id pid;
	int cat;
	vault_err r;

	if (api_param_id(rq, 0, &pid) != 0)
		return MHD_YES;
	m.title = api_arg(rq, "title");
	m.category = api_arg(rq, "category");
	m.issued = api_arg(rq, "issued");
	m.expires = api_arg(rq, "expires");
	api_media_type(MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE), media);
	m.media_type = media;
	if ((cat = api_upload_meta(&m, &bad)) < 0)
		return api_refuse(rq, &bad);
	/* Who may deposit: the person, or an aidant with a deposit mandate
	 * for this category. */
	if (!is_self(rq, &pid)) {
		if (!is_aidant(rq))
			return refuse(rq, &pid, "document.deposit");
		r = mandates_check(rq->st, &rq->sess.account, &pid,
		    MANDATE_SCOPE_DEPOSIT, cat, &rq->mandate);
		if (r == VAULT_ERR_NOTFOUND)
			return refuse(rq, &pid, "document.deposit");
		if (r != VAULT_OK)
			return api_vault_error(rq, r);
	}
	/* A declared length is checked against both limits before a byte is
	 * read; without one (chunked), documents_put_write stops at them. */
	cl = MHD_lookup_connection_value(rq->c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && (r = documents_usage(rq->st, &pid, &used)) != VAULT_OK)
		return api_vault_error(rq, r);
	if (api_upload_limits(cl, rq->st->opt.max_document_size, used,
	    rq->st->opt.quota_bytes, &bad) != 0)
		return api_refuse(rq, &bad);
	if (api_upload_slot_take(rq->srv) != 0)
		return api_error(rq, 429, "too_many_uploads",
		    "Too many papers are being sent at once. Try again in a moment.");
	rq->upload_slot = 1;
	r = documents_put_begin(rq->st, &pid, &rq->sess.account, &m,
	    BLOB_COMPRESS_AUTO, rq->origin, &rq->put);
	if (r == VAULT_ERR_NOTFOUND)
		return api_error(rq, 404, "not_found", "There is no such person.");
	if (r != VAULT_OK)
		return api_vault_error(rq, r);
	return MHD_YES;
}

static enum MHD_Result
h_deposit(struct api_request *rq)
{
	struct document_info info;
	struct document_put *p = rq->put;
	vault_err r;

	if (rq->upload_err == VAULT_ERR_LIMIT)
		return rq->bytes_in > rq->st->opt.max_document_size ?
		    api_error(rq, 413, "too_large",
		    "This paper is larger than the vault accepts. Nothing was stored.") :
		    api_error(rq, 507, "quota_exceeded",
		    "This vault is full: delete a paper, or ask to raise the limit.");
	if (rq->upload_err != VAULT_OK)
		return api_vault_error(rq, rq->upload_err);
	rq->put = NULL; /* commit frees it, whatever happens */
	if ((r = documents_put_commit(p, &info)) != VAULT_OK)
		return r == VAULT_ERR_LIMIT ? api_error(rq, 507, "quota_exceeded",
		    "This vault is full: delete a paper, or ask to raise the limit.") :
		    r == VAULT_ERR_AUTH ? api_error(rq, 403, "forbidden", "Your mandate "
		    "to deposit for this person ended during the upload. Nothing was "
		    "stored.") : api_vault_error(rq, r);
	/* an aidant's mandate.use is journaled with the deposit (documents.c) */
	return api_json(rq, 201, document_json(rq->st, &info));
}

struct list_ctx {
	struct store *st;
	json_t *docs;
	unsigned mask;
};

static vault_err
list_one(void *ctx, const struct document_info *d)
{
	struct list_ctx *lc = ctx;
	int cat = documents_category_index(d->category);

	if (cat >= 0 && (lc->mask & (1u << cat)))
		json_array_append_new(lc->docs, document_json(lc->st, d));
	return VAULT_OK;
}

static enum MHD_Result
h_documents_list(struct api_request *rq)
{
	struct list_ctx lc;
	struct doc_holder h;
	const char *cat = api_arg(rq, "category");
	vault_id pid;
	vault_err r;

	if (api_param_id(rq, 0, &pid) != 0 ||
	    reader_holder(rq, &pid, &h, &lc.mask, "document.list") != 0)
		return MHD_YES;
	if (cat != NULL && !documents_category_valid(cat))
		return api_error(rq, 400, "bad_category", "Unknown category.");
	lc.st = rq->st;
	lc.docs = json_array();
	if ((r = documents_list(rq->st, &pid, &h, cat, list_one, &lc)) != VAULT_OK) {
		json_decref(lc.docs);
		return api_vault_error(rq, r);
	}
	if ((r = journal_read(rq, &pid, "document.list", NULL, cat != NULL ?
	    documents_category_index(cat) : -1)) != VAULT_OK) {
		json_decref(lc.docs);
		return api_vault_error(rq, r);
	}
	return api_json(rq, 200, json_pack("{s:o}", "documents", lc.docs));
}

/* The document, if the holder may see it (its category in scope). */
static int
load_document(struct api_request *rq, vault_id *pid, vault_id *did,
    struct doc_holder *h, struct document_info *info, const char *action)
{
	unsigned mask;
	vault_err r;
	int cat;

	if (api_param_id(rq, 0, pid) != 0 || api_param_id(rq, 1, did) != 0 ||
	    reader_holder(rq, pid, h, &mask, action) != 0)
		return -1;
	r = documents_info(rq->st, pid, did, h, info);
	cat = r == VAULT_OK ? documents_category_index(info->category) : -1;
	if (r == VAULT_OK && (cat < 0 || !(mask & (1u << cat))))
		r = VAULT_ERR_NOTFOUND;
	if (r == VAULT_ERR_NOTFOUND) {
		api_error(rq, 404, "not_found", "There is no such paper.");
		return -1;
	}
	if (r != VAULT_OK) {
		api_vault_error(rq, r);
		return -1;
	}
	return 0;
}

static enum MHD_Result
h_document_get(struct api_request *rq)
{
	struct document_info info;
	struct doc_holder h;
	vault_id pid, did;

	vault_err r;

	if (load_document(rq, &pid, &did, &h, &info, "document.read") != 0)
		return MHD_YES;
	if ((r = journal_read(rq, &pid, "document.read", rq->params[1],
	    documents_category_index(info.category))) != VAULT_OK)
		return api_vault_error(rq, r);
	return api_json(rq, 200, document_json(rq->st, &info));
}

/* A download in progress. libmicrohttpd decrypts into a buffer of its own
 * (the response's, malloc'd, block-size bytes) and frees it without wiping:
 * the last 256 KiB of every paper downloaded stayed in the heap. The buffer
 * is wiped when the response is destroyed, which libmicrohttpd does after
 * calling content_free and before freeing it. */
struct download {
	struct document_read *rd;
	char *buf;      /* libmicrohttpd's buffer, as the reader was given it */
	size_t used;    /* the most bytes ever written into it */
};

static ssize_t
content_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct download *dl = cls;
	vault_err r = VAULT_OK;
	size_t n, k;

	if (dl->buf == NULL)
		dl->buf = buf;
	if (buf != dl->buf) {
		/* not the buffer we thought: wipe what we know, then follow */
		sodium_memzero(dl->buf, dl->used);
		dl->buf = buf;
		dl->used = 0;
	}
	if (max > dl->used)
		dl->used = max;
	/* fill what libmicrohttpd offers (several chunks): fewer, larger
	 * sends */
	for (n = 0; n < max; n += k) {
		if ((r = documents_read(dl->rd, buf + n, max - n, &k)) != VAULT_OK)
			break;
		if (k == 0)
			break;
	}
	if (r != VAULT_OK && n > 0)
		return (ssize_t)n; /* the error again at the next call, sticky */
	if (r != VAULT_OK) {
		/* the connection is cut: the client holds a short file, never
		 * a whole wrong one (blob_reader_read withholds the end) */
		fprintf(stderr, "vaultd: a download failed its integrity check"
		    " after %llu bytes: %s\n", (unsigned long long)pos,
		    vault_strerror(r));
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void
content_free(void *cls)
{
	struct download *dl = cls;

	if (dl->buf != NULL)
		sodium_memzero(dl->buf, dl->used);
	documents_close(dl->rd);
	free(dl);
}

/* Streams an opened document as the response. */
static enum MHD_Result
send_document(struct api_request *rq, struct document_read *rd,
    const struct document_info *info)
{
	struct MHD_Response *resp;
	struct download *dl;
	char disp[64 + DOC_TITLE_MAX * 3], *o;
	const char *t;

	if ((dl = calloc(1, sizeof *dl)) == NULL) {
		documents_close(rd);
		return api_vault_error(rq, VAULT_ERR_NOMEM);
	}
	dl->rd = rd;
	resp = MHD_create_response_from_callback(info->size, 256 * 1024,
	    content_reader, dl, content_free);
	if (resp == NULL) {
		documents_close(rd);
		free(dl);
		return MHD_NO;
	}
	rq->bytes_out += info->size;
	MHD_add_response_header(resp, "Content-Type", info->media_type);
	/* The title as the file's name (RFC 6266, percent-encoded UTF-8). */
	o = disp + snprintf(disp, sizeof disp,
	    "attachment; filename=\"document\"; filename*=UTF-8''");
	for (t = info->title; *t != '\0'; t++) {
		unsigned char c = (unsigned char)*t;
		if (isalnum(c) || strchr("-._~", c) != NULL)
			*o++ = (char)c;
		else
			o += sprintf(o, "%%%02X", c);
	}
	*o = '\0';
	MHD_add_response_header(resp, "Content-Disposition", disp);
	api_common_headers(resp);
	return api_queue(rq, 200, resp);
}

static enum MHD_Result
h_document_content(struct api_request *rq)
{
	struct document_info info;
	struct document_read *rd;
	struct doc_holder h;
	vault_id pid, did;
	vault_err r;

	if (load_document(rq, &pid, &did, &h, &info, "document.download") != 0)
		return MHD_YES;
	if ((r = documents_open(rq->st, &pid, &did, &h, &rd, &info)) != VAULT_OK)
		return api_vault_error(rq, r);
	if ((r = journal_read(rq, &pid, "document.download", rq->params[1],
	    documents_category_index(info.category))) != VAULT_OK) {
		documents_close(rd);
		return api_vault_error(rq, r);
	}
	return send_document(rq, rd, &info);
}

/* Sends buf (malloc'd; freed whatever happens) as the body. */
static enum MHD_Result
send_owned(struct api_request *rq, unsigned status, void *buf, size_t len,
    const char *ctype, const char *disposition)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(buf);
		return MHD_NO;
	}
	rq->bytes_out += len;
	MHD_add_response_header(resp, "Content-Type", ctype);
	if (disposition != NULL)
		MHD_add_response_header(resp, "Content-Disposition", disposition);
	api_common_headers(resp);
	return api_queue(rq, status, resp);
}

static enum MHD_Result
h_document_timestamp(struct api_request *rq)
{
	struct document_info info;
	struct doc_holder h;
	vault_id pid, did;
	uint8_t *der;
	size_t len;
	vault_err r;

	if (load_document(rq, &pid, &did, &h, &info, "document.timestamp") != 0)
		return MHD_YES;
	if (info.tsa_pending)
		return api_error(rq, 409, "timestamp_pending", "The time-stamping "
		    "authority has not answered yet; the time-stamp will be added "
		    "as soon as it does.");
	if ((r = documents_timestamp(rq->st, &pid, &did, &der, &len)) != VAULT_OK)
		return r == VAULT_ERR_NOTFOUND ? api_error(rq, 404, "no_timestamp",
		    "This paper has no time-stamp.") : api_vault_error(rq, r);
	return send_owned(rq, 200, der, len, "application/timestamp-reply",
	    "attachment; filename=\"horodatage.tsr\"");
}

/* Writes s into out with HTML's five special characters escaped. */
static void
html_escape(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	const char *rep;

	for (; *s != '\0' && o + 7 < cap; s++) {
		rep = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" :
		    *s == '"' ? "&quot;" : *s == '\'' ? "&#39;" : NULL;
		if (rep != NULL) {
			memcpy(out + o, rep, strlen(rep));
			o += strlen(rep);
		} else
			out[o++] = *s;
	}
	out[o] = '\0';
}

static const char *
jstr(json_t *o, const char *k1, const char *k2)
{
	json_t *v = json_object_get(o, k1);

	if (k2 != NULL)
		v = json_object_get(v, k2);
	return json_is_string(v) ? json_string_value(v) : "—";
}

/* The receipt as a printable page in plain French. */
static enum MHD_Result
receipt_html(struct api_request *rq, json_t *env)
{
	json_t *r = json_object_get(env, "receipt");
	char e[10][512], *page, *sig = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
	const char *src[10];
	int n, i;

	src[0] = jstr(r, "person", "display_name");
	src[1] = jstr(r, "deposited_by", "display_name");
	src[2] = jstr(r, "deposited_by", "structure_name");
	src[3] = jstr(r, "category", NULL);
	src[4] = jstr(r, "media_type", NULL);
	src[5] = jstr(r, "sha256", NULL);
	src[6] = jstr(r, "deposited_at", NULL);
	src[7] = jstr(r, "timestamp_serial", NULL);
	src[8] = jstr(r, "document_id", NULL);
	src[9] = sig != NULL ? sig : "";
	for (i = 0; i < 10; i++)
		html_escape(src[i], e[i], sizeof e[i]);
	if ((page = malloc(16384)) == NULL) {
		api_json_free(sig);
		return api_vault_error(rq, VAULT_ERR_NOMEM);
	}
	n = snprintf(page, 16384,
	    "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
	    "<title>Attestation de dépôt</title><style>body{font:16px/1.5 sans-serif;"
	    "max-width:42em;margin:2em auto}td{padding:.2em .8em;vertical-align:top}"
	    "code{word-break:break-all}</style></head><body>"
	    "<h1>Attestation de dépôt</h1>"
	    "<p>Le coffre-fort numérique atteste avoir reçu et conservé le document "
	    "décrit ci-dessous.</p><table>"
	    "<tr><td>Pour</td><td>%s</td></tr>"
	    "<tr><td>Déposé par</td><td>%s (%s)</td></tr>"
	    "<tr><td>Catégorie</td><td>%s</td></tr>"
	    "<tr><td>Type</td><td>%s, %lld octets</td></tr>"
	    "<tr><td>Empreinte SHA-256</td><td><code>%s</code></td></tr>"
	    "<tr><td>Date du dépôt (UTC)</td><td>%s</td></tr>"
	    "<tr><td>Horodatage n°</td><td><code>%s</code></td></tr>"
	    "<tr><td>Document n°</td><td><code>%s</code></td></tr>"
	    "</table><p>Signature de l'instance (à vérifier avec "
	    "<code>vaultctl receipt verify</code>) :</p><p><code>%s</code></p>"
	    "</body></html>\n", e[0], e[1], e[2], e[3], e[4],
	    (long long)json_integer_value(json_object_get(r, "size")), e[5], e[6], e[7],
	    e[8], e[9]);
	api_json_free(sig);
	return send_owned(rq, 200, page, (size_t)n, "text/html; charset=utf-8", NULL);
}

/* The person, or the aidant who deposited it (even without a read mandate:
 * the receipt names the paper by fingerprint, not by title). */
static enum MHD_Result
h_document_receipt(struct api_request *rq)
{
	const char *fmt = api_arg(rq, "format");
	vault_id pid, did, dep;
	json_t *env;
	vault_err r;

	if (api_param_id(rq, 0, &pid) != 0 || api_param_id(rq, 1, &did) != 0)
		return MHD_YES;
	if (!is_self(rq, &pid) && !is_aidant(rq))
		return refuse(rq, &pid, "document.receipt");
	if ((r = receipts_build(rq->st, &pid, &did, &env, &dep)) != VAULT_OK)
		return r == VAULT_ERR_NOTFOUND ? api_error(rq, 404, "not_found",
		    "There is no such paper.") : api_vault_error(rq, r);
	if (!is_self(rq, &pid) && memcmp(dep.b, rq->sess.account.b, VAULT_ID_LEN) != 0) {
		json_decref(env);
		return refuse(rq, &pid, "document.receipt");
	}
	if (fmt != NULL && strcmp(fmt, "html") == 0) {
		enum MHD_Result ret = receipt_html(rq, env);
		json_decref(env);
		return ret;
	}
	return api_json(rq, 200, env);
}

static enum MHD_Result
h_tsa_certificates(struct api_request *rq)
{
	char *pem;
	vault_err r;

	if ((r = tsa_chain_pem(rq->st->tsa, &pem)) != VAULT_OK)
		return api_vault_error(rq, r);
	return send_owned(rq, 200, pem, strlen(pem), "application/pem-certificate-chain",
	    NULL);
}

static enum MHD_Result
h_document_delete(struct api_request *rq)
{
	vault_id pid, did;
	vault_err r;

	if (api_param_id(rq, 0, &pid) != 0 || api_param_id(rq, 1, &did) != 0)
		return MHD_YES;
	if (!is_self(rq, &pid))
		return refuse(rq, &pid, "document.delete");
	r = documents_delete(rq->st, &pid, &did, &rq->sess.account, rq->origin);
	if (r == VAULT_ERR_NOTFOUND)
		return api_error(rq, 404, "not_found", "There is no such paper.");
	if (r != VAULT_OK)
		return api_vault_error(rq, r);
	return api_no_content(rq);
}

static enum MHD_Result
h_export(struct api_request *rq)
{
	vault_id pid;

	if (api_param_id(rq, 0, &pid) != 0)
		return MHD_YES;
	if (!is_self(rq, &pid) || rq->sess.sk == NULL)
		return refuse(rq, &pid, "export");
	return api_export(rq, &pid);
}

/* ---- mandates -------------------------------------------------------------- */

static enum MHD_Result
h_mandates_grant(struct api_request *rq)
{
	struct mandate_info m;
	struct account_unlocked u;
	struct api_mandate_body b;
	struct api_bad bad;
	vault_id pid;
	json_t *o;
	vault_err r;
	int ok;

	if (api_param_id(rq, 0, &pid) != 0)
		return MHD_YES;
	/* Only in the person's own session: granting needs her key. */
	if (!is_self(rq, &pid) || rq->sess.sk == NULL)
		return forbidden(rq);
	if ((o = api_body_json(rq)) == NULL)
		return MHD_YES;
	ok = api_body_mandate(o, &b, &bad) == 0;
	json_decref(o); /* b holds no pointer into it */
	if (!ok)
		return api_refuse(rq, &bad);
	u = session_account(rq);
	r = mandates_grant(rq->st, &u, &b.aidant, b.scopes, b.categories, b.days,
	    rq->origin, &m);
	if (r == VAULT_ERR_NOTFOUND)
		return api_error(rq, 404, "unknown_aidant", "There is no such aidant.");
	if (r != VAULT_OK)
		return api_vault_error(rq, r);
	return api_json(rq, 201, json_pack("{s:o, s:o}", "mandate_id", id_json(&m.id),
	    "expires_at", time_json(m.expires_at)));
}

struct mandate_list {
	struct store *st;
	json_t *a;
	int for_aidant;
};

static vault_err
mandate_one(void *ctx, const struct mandate_info *m)
{
	struct mandate_list *ml = ctx;

	json_array_append_new(ml->a, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s}",
	    "mandate_id", id_json(&m->id),
	    "person", actor_json(ml->st, &m->person),
	    "aidant", actor_json(ml->st, &m->aidant),
	    "scopes", scopes_json(m->scopes),
	    "categories", categories_json(m->categories),
	    "created_at", time_json(m->created_at),
	    "expires_at", time_json(m->expires_at),
	    "revoked_at", time_json(m->revoked_at),
	    "status", m->status));
	return VAULT_OK;
}

static enum MHD_Result
h_mandates_list(struct api_request *rq)
{
	struct mandate_list ml;
	vault_id pid;
	vault_err r;

	if (api_param_id(rq, 0, &pid) != 0)
		return MHD_YES;
	if (!is_self(rq, &pid))
		return forbidden(rq);
	ml.st = rq->st;
	ml.a = json_array();
	ml.for_aidant = 0;
	if ((r = mandates_list_person(rq->st, &pid, mandate_one, &ml)) != VAULT_OK) {
		json_decref(ml.a);
		return api_vault_error(rq, r);
	}
	return api_json(rq, 200, json_pack("{s:o}", "mandates", ml.a));
}

static enum MHD_Result
h_mandate_revoke(struct api_request *rq)
{
	vault_id pid, mid;
	vault_err r;

	if (api_param_id(rq, 0, &pid) != 0 || api_param_id(rq, 1, &mid) != 0)
		return MHD_YES;
	if (!is_self(rq, &pid))
		return forbidden(rq);
	r = mandates_revoke(rq->st, &pid, &mid, rq->origin);
	if (r == VAULT_ERR_NOTFOUND)
		return api_error(rq, 404, "not_found", "There is no such mandate.");
	if (r != VAULT_OK)
		return api_vault_error(rq, r);
	return api_no_content(rq);
}

static enum MHD_Result
h_aidant_mandates(struct api_request *rq)
{
	struct mandate_list ml;
	vault_err r;

	if (!is_aidant(rq))
		return forbidden(rq);
	ml.st = rq->st;
	ml.a = json_array();
	ml.for_aidant = 1;
	if ((r = mandates_list_aidant(rq->st, &rq->sess.account, mandate_one,
	    &ml)) != VAULT_OK) {
		json_decref(ml.a);
		return api_vault_error(rq, r);
	}
	return api_json(rq, 200, json_pack("{s:o}", "mandates", ml.a));
}

/* ---- shares ------------------------------------------------------------------ */

static enum MHD_Result
h_share_create(struct api_request *rq)
{
	char token[SHARE_TOKEN_TEXT_LEN + 1], url[512];
	struct share_info si;
	struct account_unlocked u;
	struct api_share_body b;
	struct api_bad bad;
	json_t *o;
	vault_id pid, did;
	enum MHD_Result ret;
	vault_err r;
	int ok;

	if (api_param_id(rq, 0, &pid) != 0 || api_param_id(rq, 1, &did) != 0)
		return MHD_YES;
	if (!is_self(rq, &pid) || rq->sess.sk == NULL)
		return forbidden(rq);
	if ((o = api_body_json(rq)) == NULL)
		return MHD_YES;
	ok = api_body_share(o, &b, &bad) == 0;
	json_decref(o); /* b holds no pointer into it */
	if (!ok)
		return api_refuse(rq, &bad);
	u = session_account(rq);
	r = shares_create(rq->st, &u, &did, b.hours, b.max_downloads, rq->origin,
	    &si, token);
	if (r == VAULT_ERR_NOTFOUND)
		return api_error(rq, 404, "not_found", "There is no such paper.");
	if (r != VAULT_OK)
		return api_vault_error(rq, r);
	snprintf(url, sizeof url, "%s/v1/shares/%s", rq->srv->opt.public_url, token);
	ret = api_json(rq, 201, json_pack("{s:o, s:s, s:o}", "share_id",
	    id_json(&si.id), "url", url, "expires_at", time_json(si.expires_at)));
	sodium_memzero(token, sizeof token);
	sodium_memzero(url, sizeof url);
	return ret;
}

static enum MHD_Result
h_share_get(struct api_request *rq)
{
	struct document_info info;
	struct document_read *rd;
	vault_err r;

	r = shares_open(rq->st, rq->params[0], rq->origin, &rd, &info);
	if (r == VAULT_ERR_NOTFOUND)
		return api_error(rq, 404, "link_invalid", "This link has expired, has "
		    "been used up or was withdrawn. Ask the person for a new one.");
	if (r != VAULT_OK)
		return api_vault_error(rq, r);
	return send_document(rq, rd, &info);
}

static enum MHD_Result
h_share_revoke(struct api_request *rq)
{
	vault_id pid, sid;
	vault_err r;

	if (api_param_id(rq, 0, &pid) != 0 || api_param_id(rq, 1, &sid) != 0)
		return MHD_YES;
	if (!is_self(rq, &pid))
		return forbidden(rq);
	r = shares_revoke(rq->st, &pid, &sid, rq->origin);
	if (r == VAULT_ERR_NOTFOUND)
		return api_error(rq, 404, "not_found", "There is no such link.");
	if (r != VAULT_OK)
		return api_vault_error(rq, r);
	return api_no_content(rq);
}

/* ---- the journal -------------------------------------------------------------- */

struct journal_ctx {
	struct store *st;
	json_t *events;
	int with_origin;
};

static vault_err
event_one(void *ctx, const struct journal_row *row)
{
	struct journal_ctx *jc = ctx;
	vault_id actor;
	json_t *e;

	e = json_pack("{s:I, s:o, s:o, s:o, s:s, s:o, s:s}",
	    "index", (json_int_t)row->index, "at", time_json(row->at),
	    "actor", row->actor[0] != '\0' &&
	    vault_id_from_text(row->actor, &actor) == VAULT_OK ?
	    actor_json(jc->st, &actor) : json_null(),
	    "person_id", row->person[0] ? json_string(row->person) : json_null(),
	    "action", row->action,
	    "object_id", row->object[0] ? json_string(row->object) : json_null(),
	    "outcome", row->outcome);
	if (jc->with_origin)
		json_object_set_new(e, "origin", row->origin[0] ?
		    json_string(row->origin) : json_null());
	json_array_append_new(jc->events, e);
	return VAULT_OK;
}

static int
parse_paging(struct api_request *rq, struct journal_filter *f)
{
	struct api_bad bad;

	if (api_parse_paging(api_arg(rq, "after"), api_arg(rq, "limit"), f,
	    &bad) != 0) {
		api_refuse(rq, &bad);
		return -1;
	}
	return 0;
}

static enum MHD_Result
run_journal(struct api_request *rq, const struct journal_filter *f, int with_origin)
{
	struct journal_ctx jc = { rq->st, json_array(), with_origin };
	vault_err r;

	if ((r = journal_query(rq->st, f, event_one, &jc)) != VAULT_OK) {
		json_decref(jc.events);
		return api_vault_error(rq, r);
	}
	return api_json(rq, 200, json_pack("{s:o}", "events", jc.events));
}

static enum MHD_Result
h_person_journal(struct api_request *rq)
{
	struct journal_filter f;
	vault_id pid;

	if (api_param_id(rq, 0, &pid) != 0)
		return MHD_YES;
	if (!is_self(rq, &pid))
		return forbidden(rq);
	memset(&f, 0, sizeof f);
	if (parse_paging(rq, &f) != 0)
		return MHD_YES;
	f.person = rq->params[0];
	return run_journal(rq, &f, 0);
}

static enum MHD_Result
h_journal_search(struct api_request *rq)
{
	struct journal_filter f;
	struct api_bad bad;

	if (!role_is(rq, "instance_admin") && !role_is(rq, "auditor"))
		return forbidden(rq);
	memset(&f, 0, sizeof f);
	if (parse_paging(rq, &f) != 0)
		return MHD_YES;
	if (api_parse_journal_search(api_arg(rq, "person"), api_arg(rq, "actor"),
	    api_arg(rq, "action"), api_arg(rq, "since"), &f, &bad) != 0)
		return api_refuse(rq, &bad);
	return run_journal(rq, &f, 1);
}

/* ---- the journal's tree: entries, proofs, checkpoints, keys --------------------- */

static int
is_auditor(const struct api_request *rq)
{
	return role_is(rq, "instance_admin") || role_is(rq, "auditor");
}

/* A non-negative integer query argument; -1 after answering 400. */
static int
arg_u64(struct api_request *rq, const char *name, uint64_t *v)
{
	char msg[96];

	if (api_parse_u64(api_arg(rq, name), v) != 0) {
		snprintf(msg, sizeof msg, "%s is a whole number.", name);
		api_error(rq, 400, "bad_request", msg);
		return -1;
	}
	return 0;
}

static json_t *
hashes_json(uint8_t path[64][32], unsigned count)
{
	json_t *a = json_array();
	char b64[64];
	unsigned i;

	for (i = 0; i < count; i++) {
		sodium_bin2base64(b64, sizeof b64, path[i], 32,
		    sodium_base64_VARIANT_ORIGINAL);
		json_array_append_new(a, json_string(b64));
	}
	return a;
}

static enum MHD_Result
h_journal_entry(struct api_request *rq)
{
	char entry[JOURNAL_ENTRY_MAX], *copy;
	uint64_t index;
	size_t len;
	vault_err r;

	if (!is_auditor(rq))
		return forbidden(rq);
	if (api_parse_u64(rq->params[0], &index) != 0)
		return api_error(rq, 400, "bad_request", "The index is a whole number.");
	if ((r = journal_entry(rq->st, index, entry, &len)) != VAULT_OK)
		return r == VAULT_ERR_NOTFOUND ? api_error(rq, 404, "not_found",
		    "The journal has no entry at this index.") : api_vault_error(rq, r);
	if ((copy = malloc(len)) == NULL)
		return api_vault_error(rq, VAULT_ERR_NOMEM);
	memcpy(copy, entry, len);
	return send_owned(rq, 200, copy, len, "application/octet-stream", NULL);
}

static enum MHD_Result
h_proof_inclusion(struct api_request *rq)
{
	uint8_t path[64][32];
	struct journal_row row;
	uint64_t index, size;
	unsigned count;
	vault_err r;

	if (arg_u64(rq, "index", &index) != 0 || arg_u64(rq, "tree_size", &size) != 0)
		return MHD_YES;
	/* an auditor, or the person for an entry about her */
	if (!is_auditor(rq)) {
		char me[VAULT_ID_TEXT_LEN + 1];
		if (!role_is(rq, "person"))
			return forbidden(rq);
		vault_id_to_text(&rq->sess.account, me);
		r = journal_row_at(rq->st, index, &row);
		if (r != VAULT_OK && r != VAULT_ERR_NOTFOUND)
			return api_vault_error(rq, r);
		if (r == VAULT_ERR_NOTFOUND || strcmp(row.person, me) != 0)
			return api_error(rq, 403, "forbidden",
			    "You may have proofs only for the entries about you.");
	}
	r = journal_inclusion(rq->st, index, size, path, &count);
	if (r == VAULT_ERR_FORMAT)
		return api_error(rq, 400, "bad_request", "index must be below tree_size, "
		    "and tree_size at most the journal's size.");
	if (r != VAULT_OK)
		return api_vault_error(rq, r);
	return api_json(rq, 200, json_pack("{s:I, s:I, s:o}", "leaf_index",
	    (json_int_t)index, "tree_size", (json_int_t)size, "hashes",
	    hashes_json(path, count)));
}

static enum MHD_Result
h_proof_consistency(struct api_request *rq)
{
	uint8_t path[64][32];
	uint64_t first, second;
	unsigned count;
	vault_err r;

	if (!is_auditor(rq))
		return forbidden(rq);
	if (arg_u64(rq, "first", &first) != 0 || arg_u64(rq, "second", &second) != 0)
		return MHD_YES;
	r = journal_consistency(rq->st, first, second, path, &count);
	if (r == VAULT_ERR_FORMAT)
		return api_error(rq, 400, "bad_request", "0 < first <= second <= the "
		    "journal's size.");
	if (r != VAULT_OK)
		return api_vault_error(rq, r);
	return api_json(rq, 200, json_pack("{s:I, s:I, s:o}", "first",
	    (json_int_t)first, "second", (json_int_t)second, "hashes",
	    hashes_json(path, count)));
}

static enum MHD_Result
send_note(struct api_request *rq, unsigned status, char *note)
{
	return send_owned(rq, status, note, strlen(note), "text/plain; charset=utf-8",
	    NULL);
}

static enum MHD_Result
h_checkpoint_get(struct api_request *rq)
{
	char *note;
	vault_err r;

	if (!is_auditor(rq))
		return forbidden(rq);
	r = journal_checkpoint_latest(rq->st, &note, NULL, NULL);
	if (r == VAULT_ERR_NOTFOUND)
		r = journal_checkpoint(rq->st, &note); /* the first one, now */
	if (r != VAULT_OK)
		return api_vault_error(rq, r);
	return send_note(rq, 200, note);
}

static enum MHD_Result
h_checkpoint_post(struct api_request *rq)
{
	char *note;
	vault_err r;

	if (!role_is(rq, "instance_admin"))
		return forbidden(rq);
	if ((r = journal_checkpoint(rq->st, &note)) != VAULT_OK)
		return api_vault_error(rq, r);
	return send_note(rq, 201, note);
}

/* A checkpoint of a given size, kept since it was made. */
static int
checkpoint_at(struct api_request *rq, char **note, uint8_t **der, size_t *len)
{
	uint64_t size;
	vault_err r;

	if (!is_auditor(rq)) {
		(void)forbidden(rq);
		return -1;
	}
	if (api_parse_u64(rq->params[0], &size) != 0) {
		(void)api_error(rq, 400, "bad_request", "The tree size is a whole number.");
		return -1;
	}
	if ((r = timestamps_checkpoint_get(rq->st, size, note, der, len)) != VAULT_OK) {
		if (r == VAULT_ERR_NOTFOUND)
			(void)api_error(rq, 404, "not_found", "No checkpoint was made at this size.");
		else
			(void)api_vault_error(rq, r);
		return -1;
	}
	return 0;
}

static enum MHD_Result
h_checkpoint_at(struct api_request *rq)
{
	uint8_t *der;
	size_t len;
	char *note;

	if (checkpoint_at(rq, &note, &der, &len) != 0)
		return MHD_YES;
	free(der);
	return send_note(rq, 200, note);
}

/* The RFC 3161 token over the checkpoint's exact text: proof of when the
 * journal had that root. */
static enum MHD_Result
h_checkpoint_timestamp(struct api_request *rq)
{
	uint8_t *der;
	size_t len;
	char *note;

	if (checkpoint_at(rq, &note, &der, &len) != 0)
		return MHD_YES;
	free(note);
	if (der == NULL)
		return api_error(rq, 409, "timestamp_pending", "The time-stamping "
		    "authority has not answered for this checkpoint yet; ask again later.");
	return send_owned(rq, 200, der, len, "application/timestamp-reply",
	    "attachment; filename=\"checkpoint.tsr\"");
}

static enum MHD_Result
h_instance_keys(struct api_request *rq)
{
	char verifier[256], pk[64];

	if (note_verifier_key(rq->st->origin, rq->st->instance_pk, verifier,
	    sizeof verifier) != VAULT_OK)
		return api_vault_error(rq, VAULT_ERR_INTERNAL);
	sodium_bin2base64(pk, sizeof pk, rq->st->instance_pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	return api_json(rq, 200, json_pack("{s:s, s:s, s:s}", "origin",
	    rq->st->origin, "checkpoint_verifier_key", verifier,
	    "receipt_public_key", pk));
}

/* ---- health ---------------------------------------------------------------------- */

static enum MHD_Result
h_health(struct api_request *rq)
{
	if (store_writable(rq->st) != VAULT_OK)
		return api_json(rq, 503, json_pack("{s:s}", "status", "read-only"));
	return api_json(rq, 200, json_pack("{s:s}", "status", "ok"));
}


/* ---- the route table ----------------------------------------------------------- */

const struct api_route api_routes[] = {
	{ "GET", "/v1/health", h_health, API_BODY_NONE, API_ANON },
	{ "POST", "/v1/sessions", h_login, API_BODY_JSON, API_ANON },
	{ "DELETE", "/v1/sessions/current", h_logout, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/me", h_me, API_BODY_NONE, API_SESSION },
	{ "POST", "/v1/persons", h_persons_create, API_BODY_JSON, API_SESSION_OPTIONAL },
	{ "POST", "/v1/activate", h_activate, API_BODY_JSON, API_ANON },
	{ "POST", "/v1/recover", h_recover, API_BODY_JSON, API_ANON },
	{ "POST", "/v1/structures", h_structures_create, API_BODY_JSON, API_SESSION },
	{ "GET", "/v1/structures", h_structures_list, API_BODY_NONE, API_SESSION },
	{ "POST", "/v1/structures/{}/aidants", h_aidants_create, API_BODY_JSON, API_SESSION },
	{ "GET", "/v1/structures/{}/aidants", h_aidants_list, API_BODY_NONE, API_SESSION },
	{ "DELETE", "/v1/structures/{}/aidants/{}", h_aidants_remove, API_BODY_NONE, API_SESSION },
	{ "POST", "/v1/auditors", h_auditors_create, API_BODY_JSON, API_SESSION },
	{ "POST", "/v1/persons/{}/documents", h_deposit, API_BODY_UPLOAD, API_SESSION },
	{ "GET", "/v1/persons/{}/documents", h_documents_list, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/persons/{}/documents/{}", h_document_get, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/persons/{}/documents/{}/content", h_document_content, API_BODY_NONE, API_SESSION },
	{ "DELETE", "/v1/persons/{}/documents/{}", h_document_delete, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/persons/{}/documents/{}/timestamp", h_document_timestamp, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/persons/{}/documents/{}/receipt", h_document_receipt, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/persons/{}/export", h_export, API_BODY_NONE, API_SESSION },
	{ "POST", "/v1/persons/{}/mandates", h_mandates_grant, API_BODY_JSON, API_SESSION },
	{ "GET", "/v1/persons/{}/mandates", h_mandates_list, API_BODY_NONE, API_SESSION },
	{ "DELETE", "/v1/persons/{}/mandates/{}", h_mandate_revoke, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/aidants/me/mandates", h_aidant_mandates, API_BODY_NONE, API_SESSION },
	{ "POST", "/v1/persons/{}/documents/{}/shares", h_share_create, API_BODY_JSON, API_SESSION },
	{ "GET", "/v1/shares/{}", h_share_get, API_BODY_NONE, API_ANON },
	{ "DELETE", "/v1/persons/{}/shares/{}", h_share_revoke, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/persons/{}/journal", h_person_journal, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/journal", h_journal_search, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/journal/checkpoint", h_checkpoint_get, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/journal/checkpoints/{}", h_checkpoint_at, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/journal/checkpoints/{}/timestamp", h_checkpoint_timestamp, API_BODY_NONE, API_SESSION },
	{ "POST", "/v1/journal/checkpoint", h_checkpoint_post, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/journal/entries/{}", h_journal_entry, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/journal/proof/inclusion", h_proof_inclusion, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/journal/proof/consistency", h_proof_consistency, API_BODY_NONE, API_SESSION },
	{ "GET", "/v1/tsa/certificates", h_tsa_certificates, API_BODY_NONE, API_ANON },
	{ "GET", "/v1/instance/keys", h_instance_keys, API_BODY_NONE, API_ANON },
};

const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
