/*
 * fuzz_upload: a deposit, from what the client sends to what is stored:
 * the query (title, category, issued, expires), Content-Type,
 * Content-Length, then the body, through the checks of api_upload_begin
 * (api/parse.c) and the store's put, written in pieces as libmicrohttpd
 * hands them over, against a real store made at start-up in $TMPDIR with
 * small limits (MAX_DOC bytes per document, QUOTA per person).
 *
 * Input: query NUL content-type NUL content-length NUL piece-size byte,
 * then the body (an empty content-length field: none was sent, chunked).
 * Whatever comes: a body over the limits stores nothing (LIMIT, usage
 * unchanged); one within them is stored, its recorded size and SHA-256
 * are those of the body, and it reads back byte for byte; a declared
 * length over the limits is refused before the store is touched.
 */
#include <openssl/sha.h>
#include <sodium.h>

#include "fuzz.h"

#include "accounts.h"
#include "documents.h"
#include "parse.h"
#include "testutil.h"

#define MAX_DOC 4096
#define QUOTA 10000

static struct store *st;
static char *dir;
static struct account_unlocked person;

static void
cleanup(void)
{
	account_unlocked_wipe(&person);
	store_close(st);
	tu_rmrf(dir);
	free(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct store_options o;
	struct unlock_report rep;
	vault_id id;
	char *code = NULL;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0 || (dir = tu_tempdir("fuzz-upload")) == NULL)
		abort();
	store_options_default(&o);
	o.pw = test_pw_fast;
	o.max_document_size = MAX_DOC;
	o.quota_bytes = QUOTA;
	if (store_create(dir, &o, 0) != VAULT_OK || store_open(dir, &o, &st, NULL) != VAULT_OK ||
	    accounts_create(st, "karim", "Karim", "person", NULL, NULL, "soleil", 6, &id,
	    &code) != VAULT_OK ||
	    accounts_unlock(st, "karim", "soleil", 6, "127.0.0.1", &person, &rep) != VAULT_OK)
		abort();
	sodium_free(code);
	atexit(cleanup);
	return 0;
}

static void
read_back(const struct document_info *info, const uint8_t *body, size_t len)
{
	struct doc_holder h = { person.id, person.pk, person.sk, 1 };
	struct document_read *rd;
	struct document_info again;
	uint8_t buf[MAX_DOC + 16];
	size_t got = 0, n;

	FUZZ_CHECK(documents_open(st, &person.id, &info->id, &h, &rd, &again) == VAULT_OK);
	FUZZ_CHECK(again.size == len && memcmp(again.sha256, info->sha256, 32) == 0);
	for (;;) {
		FUZZ_CHECK(documents_read(rd, buf + got, sizeof buf - got, &n) == VAULT_OK);
		if (n == 0)
			break;
		got += n;
		FUZZ_CHECK(got <= len);
	}
	FUZZ_CHECK(got == len && memcmp(buf, body, len) == 0);
	documents_close(rd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_arg a[FUZZ_NARGS];
	char *buf, *f[3], media[DOC_MEDIA_TYPE_MAX + 1];
	const uint8_t *body;
	struct document_meta m;
	struct document_put *put;
	struct document_info info;
	struct api_bad bad;
	uint64_t used, used_after, declared = 0, room;
	uint8_t md[32];
	size_t len, off, piece, head;
	vault_err r = VAULT_OK;
	int n;

	fuzz_fields(data, size, &buf, f, 3);
	if (f[2] == NULL) {
		free(buf);
		return 0;
	}
	head = (size_t)(f[2] - buf) + strlen(f[2]) + 1;
	if (head >= size) {
		free(buf);
		return 0;
	}
	piece = data[head] % 64 + 1;
	piece = piece == 64 ? 65536 : piece * 61;
	body = data + head + 1;
	len = size - head - 1;
	n = fuzz_query_split(f[0], a);
	m.title = fuzz_arg_get(a, n, "title");
	m.category = fuzz_arg_get(a, n, "category");
	m.issued = fuzz_arg_get(a, n, "issued");
	m.expires = fuzz_arg_get(a, n, "expires");
	api_media_type(f[1], media);
	m.media_type = media;
	if (api_upload_meta(&m, &bad) < 0)
		goto out;
	FUZZ_CHECK(documents_usage(st, &person.id, &used) == VAULT_OK);
	if (api_upload_limits(f[2][0] != '\0' ? f[2] : NULL, MAX_DOC, used, QUOTA,
	    &bad) != 0) {
		FUZZ_CHECK(bad.status == 400 || bad.status == 413 || bad.status == 507);
		goto out;
	}
	if (f[2][0] != '\0') {
		/* libmicrohttpd delivers exactly the declared length */
		FUZZ_CHECK(api_content_length(f[2], &declared) == 0);
		FUZZ_CHECK(declared <= MAX_DOC && used + declared <= QUOTA);
		if (declared > len)
			goto out;
		len = (size_t)declared;
	}
	r = documents_put_begin(st, &person.id, &person.id, &m, BLOB_COMPRESS_AUTO,
	    "127.0.0.1", &put);
	if (r != VAULT_OK) {
		/* the store's own checks: control characters in a title, a
		 * media type that is not type/subtype */
		FUZZ_CHECK(r == VAULT_ERR_FORMAT);
		goto out;
	}
	room = QUOTA - used < MAX_DOC ? QUOTA - used : MAX_DOC;
	for (off = 0; off < len && r == VAULT_OK; off += piece)
		r = documents_put_write(put, body + off, len - off < piece ? len - off : piece);
	if (r != VAULT_OK) {
		FUZZ_CHECK(r == VAULT_ERR_LIMIT && len > room);
		documents_put_abort(put);
	} else if ((r = documents_put_commit(put, &info)) != VAULT_OK)
		FUZZ_CHECK(r == VAULT_ERR_LIMIT && len > room);
	FUZZ_CHECK(documents_usage(st, &person.id, &used_after) == VAULT_OK);
	if (r != VAULT_OK) {
		FUZZ_CHECK(used_after == used); /* nothing stored */
		goto out;
	}
	FUZZ_CHECK(len <= room);
	FUZZ_CHECK(used_after == used + len);
	SHA256(body, len, md);
	FUZZ_CHECK(info.size == len && memcmp(info.sha256, md, 32) == 0);
	FUZZ_CHECK(strcmp(info.title, m.title) == 0 &&
	    strcmp(info.category, m.category) == 0 &&
	    strcmp(info.media_type, media) == 0);
	read_back(&info, body, len);
	/* keep the vault from filling: every other one stays a while */
	if (used_after > QUOTA / 2)
		FUZZ_CHECK(documents_delete(st, &person.id, &info.id, &person.id,
		    "127.0.0.1") == VAULT_OK);
out:
	free(buf);
	return 0;
}
