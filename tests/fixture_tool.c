/*
 * fixture_tool: makes inputs for the tests that check our code against
 * something written without it.
 *
 *   fixture_tool vault DIR PLAINDIR
 *       a data directory with one person (login "amina", secret printed)
 *       and documents at the sizes that matter, compressed and not; the
 *       original bytes go to PLAINDIR/<document id> and a manifest line per
 *       document to stdout: "doc ID SIZE COMPRESSED TITLE"
 *   fixture_tool kat OUTDIR
 *       (re)generates the known-answer blobs of tests/kat/: fixed key and
 *       ids, so that a later build must decrypt exactly these bytes. Run it
 *       only when the format version changes, and keep the old files.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "blob.h"
#include "documents.h"
#include "testutil.h"

static const size_t sizes[] = { 0, 1, BLOB_CHUNK - 1, BLOB_CHUNK, BLOB_CHUNK + 1,
    3u << 20 };

static int
make_vault(const char *dir, const char *plain)
{
	static const char secret[] = "mot de passe d'Amina";
	struct store_options o;
	struct account_unlocked u;
	struct document_info info;
	struct document_put *p;
	struct store *s;
	char *code = NULL, path[1024], idt[33], title[64];
	vault_id id;
	uint8_t *data = malloc(3u << 20);
	size_t i;
	int text;

	store_options_default(&o);
	o.pw = test_pw_fast;
	if (store_create(dir, &o, 0) != VAULT_OK || store_open(dir, &o, &s, NULL) != VAULT_OK ||
	    accounts_create(s, "amina", "Amina", "person", NULL, NULL, secret, strlen(secret), &id, &code) != VAULT_OK ||
	    accounts_unlock(s, "amina", secret, strlen(secret), NULL, &u, NULL) != VAULT_OK)
		return 1;
	printf("secret %s\nrecovery %s\n", secret, code);
	for (text = 0; text < 2; text++)
		for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			struct document_meta m = { title, "identity", "image/jpeg", NULL, NULL };
			size_t n = sizes[i];
			snprintf(title, sizeof title, "Carte d'identité %zu %s", n, text ? "texte" : "photo");
			if (text) tu_fill_text(data, n, (uint32_t)i); else tu_fill_random(data, n, (uint32_t)i);
			if (documents_put_begin(s, &u.id, &u.id, &m, BLOB_COMPRESS_AUTO, NULL, &p) != VAULT_OK ||
			    documents_put_write(p, data, n) != VAULT_OK ||
			    documents_put_commit(p, &info) != VAULT_OK)
				return 1;
			vault_id_to_text(&info.id, idt);
			snprintf(path, sizeof path, "%s/%s", plain, idt);
			if (tu_write_file(path, data, n) != 0)
				return 1;
			printf("doc %s %zu %d %s\n", idt, n, info.compressed, title);
		}
	sodium_free(code);
	account_unlocked_wipe(&u);
	store_close(s);
	free(data);
	return 0;
}

static vault_err
file_write(void *ctx, const void *p, size_t n)
{
	return fwrite(p, 1, n, ctx) == n ? VAULT_OK : VAULT_ERR_IO;
}

static int
make_kat(const char *out)
{
	uint8_t dk[32], *data = malloc(200000);
	vault_id doc, owner;
	struct blob_writer *w;
	struct blob_result res;
	char path[1024], hex[65];
	size_t i, n;
	int k;
	FILE *f, *man;

	for (i = 0; i < 32; i++) dk[i] = (uint8_t)i;
	for (i = 0; i < VAULT_ID_LEN; i++) { doc.b[i] = (uint8_t)(0xd0 + i); owner.b[i] = (uint8_t)(0x0a + i); }
	snprintf(path, sizeof path, "%s/kat.txt", out);
	if ((man = fopen(path, "w")) == NULL)
		return 1;
	fprintf(man, "# name key document_id owner_id size sha256 compressed\n");
	for (k = 0; k < 7; k++) {
		size_t ns[] = { 0, 1, BLOB_CHUNK - 1, BLOB_CHUNK, BLOB_CHUNK + 1, 150000, 150000 };
		struct blob_sink sink;
		char name[32], key[65], d[33], o[33];
		n = ns[k];
		if (k == 6) tu_fill_text(data, n, 6); else tu_fill_random(data, n, (uint32_t)k);
		snprintf(name, sizeof name, "blob_v1_%d.bin", k);
		snprintf(path, sizeof path, "%s/%s", out, name);
		if ((f = fopen(path, "wb")) == NULL)
			return 1;
		sink.write = file_write;
		sink.ctx = f;
		if (blob_writer_new(dk, &doc, &owner, k == 6 ? BLOB_COMPRESS_ALWAYS : BLOB_COMPRESS_NEVER, &sink, &w) != VAULT_OK ||
		    blob_writer_write(w, data, n) != VAULT_OK || blob_writer_finish(w, &res) != VAULT_OK)
			return 1;
		blob_writer_free(w);
		fclose(f);
		sodium_bin2hex(hex, sizeof hex, res.sha256, 32);
		sodium_bin2hex(key, sizeof key, dk, 32);
		vault_id_to_text(&doc, d);
		vault_id_to_text(&owner, o);
		fprintf(man, "%s %s %s %s %zu %s %d\n", name, key, d, o, n, hex, res.compressed);
	}
	fclose(man);
	free(data);
	return 0;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 2;
	if (argc == 4 && strcmp(argv[1], "vault") == 0)
		return make_vault(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "kat") == 0)
		return make_kat(argv[2]);
	fprintf(stderr, "usage: fixture_tool vault DIR PLAINDIR | kat OUTDIR\n");
	return 2;
}
