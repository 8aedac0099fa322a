/*
 * keys.c: account key pairs, their wrappings, recovery codes, the pepper and
 * document keys. The construction is specified in docs/FORMAT.md; a test
 * re-implements it from that text alone (tests/independent_decrypt.py).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>

#include "keys.h"
#include "secmem.h"
#include "vault_os.h"

/* 3 passes over 64 MiB: about 0.1 s on one core here. Raised in a later
 * release, accounts are re-wrapped at their next log-in. */
const struct keys_pwparams keys_pwparams_default = {
	.opslimit = 3, .memlimit = 64u << 20,
};

static const char kek_secret_label[] = "vault/kek/secret/v1";
static const char kek_recovery_label[] = "vault/kek/recovery/v1";
static const uint8_t sk_ad_magic[4] = { 'V', 'S', 'K', '1' };
static const uint8_t dk_magic[4] = { 'V', 'D', 'K', '1' };

#define SK_AD_LEN (4 + VAULT_ID_LEN + KEYS_PK_LEN)

int
keys_pwparams_weaker(const struct keys_pwparams *a, const struct keys_pwparams *b)
{
	return a->opslimit < b->opslimit || a->memlimit < b->memlimit;
}

vault_err
keys_pwparams_check(const struct keys_pwparams *p)
{
	if (p->opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
	    p->opslimit > 64 ||
	    p->memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
	    p->memlimit > ((uint64_t)4 << 30))
		return VAULT_ERR_FORMAT;
	return VAULT_OK;
}

/* ---- pepper ---------------------------------------------------------- */

vault_err
keys_file_create(const char *path)
{
	uint8_t *pepper;
	vault_err r = VAULT_ERR_IO;
	int fd;

	if ((pepper = sodium_malloc(KEYS_PEPPER_LEN)) == NULL)
		return VAULT_ERR_NOMEM;
	fd = vault_os.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0) {
		sodium_free(pepper);
		return errno == EEXIST ? VAULT_ERR_EXISTS : VAULT_ERR_IO;
	}
	randombytes_buf(pepper, KEYS_PEPPER_LEN);
	if (vault_os_write_all(fd, pepper, KEYS_PEPPER_LEN) != 0 ||
	    vault_os.fsync(fd) != 0) {
		r = errno == ENOSPC ? VAULT_ERR_NOSPACE : VAULT_ERR_IO;
		vault_os.close(fd);
		vault_os.unlink(path);
		goto out;
	}
	if (vault_os.close(fd) != 0 || vault_os_fsync_parent(path) != 0)
		goto out;
	r = VAULT_OK;
out:
	sodium_free(pepper);
	return r;
}

vault_err
keys_pepper_load(const char *path, uint8_t **pepperp)
{
	uint8_t *pepper = NULL;
	struct stat st;
	vault_err r = VAULT_ERR_IO;
	ssize_t n;
	int fd;

	*pepperp = NULL;
	fd = vault_os.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return errno == ENOENT ? VAULT_ERR_NOTFOUND : VAULT_ERR_IO;
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode) || st.st_size != KEYS_PEPPER_LEN) {
		r = VAULT_ERR_FORMAT;
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		r = VAULT_ERR_AUTH;
		goto out;
	}
	if ((pepper = sodium_malloc(KEYS_PEPPER_LEN)) == NULL) {
		r = VAULT_ERR_NOMEM;
		goto out;
	}
	n = vault_os.read(fd, pepper, KEYS_PEPPER_LEN);
	if (n != KEYS_PEPPER_LEN) {
		r = n < 0 ? VAULT_ERR_IO : VAULT_ERR_FORMAT;
		goto out;
	}
	sodium_mprotect_readonly(pepper);
	*pepperp = pepper;
	pepper = NULL;
	r = VAULT_OK;
out:
	sodium_free(pepper);
	vault_os.close(fd);
	return r;
}

void
keys_pepper_free(uint8_t *pepper)
{
	if (pepper != NULL) {
		sodium_mprotect_readwrite(pepper);
		sodium_free(pepper);
	}
}

/* ---- KEKs and wrapping ----------------------------------------------- */

/* KEK = BLAKE2b-256(key = pepper, label ‖ salt? ‖ material). */
static vault_err
kek_from(const char *label, const uint8_t *salt, const uint8_t *material,
    size_t material_len, const uint8_t *pepper, uint8_t kek[32])
{
	crypto_generichash_state st;

	if (crypto_generichash_init(&st, pepper, KEYS_PEPPER_LEN, 32) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)label,
	    strlen(label)) != 0 ||
	    (salt != NULL && crypto_generichash_update(&st, salt,
	    KEYS_SALT_LEN) != 0) ||
	    crypto_generichash_update(&st, material, material_len) != 0 ||
	    crypto_generichash_final(&st, kek, 32) != 0) {
		sodium_memzero(&st, sizeof st);
		return VAULT_ERR_INTERNAL;
	}
	sodium_memzero(&st, sizeof st);
	return VAULT_OK;
}

/* kek = BLAKE2b(pepper, label ‖ Argon2id(secret, salt, params)); guarded. */
static vault_err
kek_secret(const char *secret, size_t secret_len, const uint8_t *salt,
    const struct keys_pwparams *params, const uint8_t *pepper, uint8_t **kekp)
{
	uint8_t *s = NULL, *kek = NULL;
	vault_err r;

	*kekp = NULL;
	if (secret_len > KEYS_SECRET_MAX_LEN)
		return VAULT_ERR_LIMIT;
	if ((r = keys_pwparams_check(params)) != VAULT_OK)
		return r;
	if ((s = sodium_malloc(32)) == NULL || (kek = sodium_malloc(32)) == NULL) {
		r = VAULT_ERR_NOMEM;
		goto out;
	}
	if (crypto_pwhash(s, 32, secret, secret_len, salt,
	    params->opslimit, (size_t)params->memlimit,
	    crypto_pwhash_ALG_ARGON2ID13) != 0) {
		r = VAULT_ERR_NOMEM; /* Argon2id fails only when it cannot allocate */
		goto out;
	}
	if ((r = kek_from(kek_secret_label, NULL, s, 32, pepper, kek)) != VAULT_OK)
		goto out;
	*kekp = kek;
	kek = NULL;
out:
	sodium_free(s);
	sodium_free(kek);
	return r;
}

static vault_err
kek_recovery(const char *code, const uint8_t *salt, const uint8_t *pepper,
    uint8_t **kekp)
{
	char *norm = NULL;
	uint8_t *kek = NULL;
	vault_err r;

	*kekp = NULL;
	if ((norm = sodium_malloc(KEYS_RECOVERY_SYMBOLS + 1)) == NULL ||
	    (kek = sodium_malloc(32)) == NULL) {
		r = VAULT_ERR_NOMEM;
		goto out;
	}
	if ((r = keys_recovery_normalise(code, norm)) != VAULT_OK)
		goto out;
	if ((r = kek_from(kek_recovery_label, salt, (const uint8_t *)norm,
	    KEYS_RECOVERY_SYMBOLS, pepper, kek)) != VAULT_OK)
		goto out;
	*kekp = kek;
	kek = NULL;
out:
	sodium_free(norm);
	sodium_free(kek);
	return r;
}

static void
sk_ad(const struct keys_record *rec, uint8_t ad[SK_AD_LEN])
{
	memcpy(ad, sk_ad_magic, 4);
	memcpy(ad + 4, rec->account_id.b, VAULT_ID_LEN);
	memcpy(ad + 4 + VAULT_ID_LEN, rec->pk, KEYS_PK_LEN);
}

static void
wrap_sk(const struct keys_record *rec, const uint8_t *sk, const uint8_t *kek,
    uint8_t nonce[KEYS_NONCE_LEN], uint8_t wrapped[KEYS_WRAPPED_SK_LEN])
{
	uint8_t ad[SK_AD_LEN];

	sk_ad(rec, ad);
	randombytes_buf(nonce, KEYS_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped, NULL, sk,
	    KEYS_SK_LEN, ad, sizeof ad, NULL, nonce, kek);
}

/* Opens a wrapping into fresh guarded memory; VAULT_ERR_AUTH if the tag
 * does not verify (wrong KEK, or a wrapping moved to another account). */
static vault_err
unwrap_sk(const struct keys_record *rec, const uint8_t *kek,
    const uint8_t *nonce, const uint8_t *wrapped, uint8_t **skp)
{
	uint8_t ad[SK_AD_LEN], pk[KEYS_PK_LEN];
	uint8_t *sk;

	*skp = NULL;
	if ((sk = sodium_malloc(KEYS_SK_LEN)) == NULL)
		return VAULT_ERR_NOMEM;
	sk_ad(rec, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(sk, NULL, NULL, wrapped,
	    KEYS_WRAPPED_SK_LEN, ad, sizeof ad, nonce, kek) != 0) {
		sodium_free(sk);
		return VAULT_ERR_AUTH;
	}
	/* The public key in the record must be the one of this secret key:
	 * otherwise documents would be sealed to a key nobody holds. */
	if (crypto_scalarmult_base(pk, sk) != 0 ||
	    sodium_memcmp(pk, rec->pk, KEYS_PK_LEN) != 0) {
		sodium_free(sk);
		return VAULT_ERR_CORRUPT;
	}
	*skp = sk;
	return VAULT_OK;
}

/* ---- recovery codes -------------------------------------------------- */

static vault_err
recovery_generate(char **codep)
{
	static const char alphabet[] = KEYS_RECOVERY_ALPHABET;
	char *code;
	size_t i, o = 0;

	*codep = NULL;
	if ((code = sodium_malloc(KEYS_RECOVERY_TEXT_LEN + 1)) == NULL)
		return VAULT_ERR_NOMEM;
	for (i = 0; i < KEYS_RECOVERY_SYMBOLS; i++) {
		if (i > 0 && i % 4 == 0)
			code[o++] = '-';
		code[o++] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
	}
	code[o] = '\0';
	*codep = code;
	return VAULT_OK;
}

vault_err
keys_recovery_normalise(const char *code, char *out)
{
	size_t n = 0;
	const char *p;

	for (p = code; *p != '\0'; p++) {
		char c = *p;
		if (c == '-' || c == ' ' || c == '\t')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (strchr(KEYS_RECOVERY_ALPHABET, c) == NULL || n == KEYS_RECOVERY_SYMBOLS) {
			sodium_memzero(out, KEYS_RECOVERY_SYMBOLS + 1);
			return VAULT_ERR_FORMAT;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	if (n != KEYS_RECOVERY_SYMBOLS) {
		sodium_memzero(out, KEYS_RECOVERY_SYMBOLS + 1);
		return VAULT_ERR_FORMAT;
	}
	return VAULT_OK;
}

/* ---- accounts -------------------------------------------------------- */

vault_err
keys_set_secret(struct keys_record *rec, const uint8_t *sk, const char *secret,
    size_t secret_len, const uint8_t *pepper, const struct keys_pwparams *params)
{
	uint8_t salt[KEYS_SALT_LEN], nonce[KEYS_NONCE_LEN];
	uint8_t wrapped[KEYS_WRAPPED_SK_LEN];
	uint8_t *kek = NULL;
	vault_err r;

	randombytes_buf(salt, sizeof salt);
	if ((r = kek_secret(secret, secret_len, salt, params, pepper, &kek)) != VAULT_OK)
		return r;
	wrap_sk(rec, sk, kek, nonce, wrapped);
	sodium_free(kek);
	memcpy(rec->pw_salt, salt, sizeof salt);
	memcpy(rec->pw_nonce, nonce, sizeof nonce);
	memcpy(rec->pw_wrapped_sk, wrapped, sizeof wrapped);
	rec->pw = *params;
	return VAULT_OK;
}

vault_err
keys_set_recovery(struct keys_record *rec, const uint8_t *sk,
    const uint8_t *pepper, char **recovery_codep)
{
	uint8_t salt[KEYS_SALT_LEN];
	uint8_t *kek = NULL;
	char *code = NULL;
	vault_err r;

	*recovery_codep = NULL;
	randombytes_buf(salt, sizeof salt);
	if ((r = recovery_generate(&code)) != VAULT_OK ||
	    (r = kek_recovery(code, salt, pepper, &kek)) != VAULT_OK) {
		sodium_free(code);
		return r;
	}
	memcpy(rec->rec_salt, salt, sizeof salt);
	wrap_sk(rec, sk, kek, rec->rec_nonce, rec->rec_wrapped_sk);
	sodium_free(kek);
	*recovery_codep = code;
	return VAULT_OK;
}

vault_err
keys_account_create(const vault_id *account_id, const char *secret,
    size_t secret_len, const uint8_t *pepper,
    const struct keys_pwparams *params, struct keys_record *rec,
    char **recovery_codep, uint8_t **skp)
{
	struct keys_record tmp;
	uint8_t *sk = NULL;
	char *code = NULL;
	vault_err r;

	*recovery_codep = NULL;
	if (skp != NULL)
		*skp = NULL;
	memset(&tmp, 0, sizeof tmp);
	tmp.account_id = *account_id;
	if ((sk = sodium_malloc(KEYS_SK_LEN)) == NULL)
		return VAULT_ERR_NOMEM;
	crypto_box_keypair(tmp.pk, sk);
	if ((r = keys_set_secret(&tmp, sk, secret, secret_len, pepper,
	    params)) != VAULT_OK ||
	    (r = keys_set_recovery(&tmp, sk, pepper, &code)) != VAULT_OK)
		goto out;
	*rec = tmp;
	*recovery_codep = code;
	code = NULL;
	if (skp != NULL) {
		*skp = sk;
		sk = NULL;
	}
out:
	sodium_free(sk);
	sodium_free(code);
	return r;
}

vault_err
keys_unlock_secret(const struct keys_record *rec, const char *secret,
    size_t secret_len, const uint8_t *pepper, uint8_t **skp)
{
	uint8_t *kek = NULL;
	vault_err r;

	*skp = NULL;
	if ((r = kek_secret(secret, secret_len, rec->pw_salt, &rec->pw, pepper,
	    &kek)) != VAULT_OK)
		return r;
	r = unwrap_sk(rec, kek, rec->pw_nonce, rec->pw_wrapped_sk, skp);
	sodium_free(kek);
	return r;
}

vault_err
keys_unlock_recovery(const struct keys_record *rec, const char *code,
    const uint8_t *pepper, uint8_t **skp)
{
	uint8_t *kek = NULL;
	vault_err r;

	*skp = NULL;
	if ((r = kek_recovery(code, rec->rec_salt, pepper, &kek)) != VAULT_OK)
		return r;
	r = unwrap_sk(rec, kek, rec->rec_nonce, rec->rec_wrapped_sk, skp);
	sodium_free(kek);
	return r;
}

/* ---- document keys --------------------------------------------------- */

vault_err
keys_dockey_new(uint8_t **dkp)
{
	uint8_t *dk;

	*dkp = NULL;
	if ((dk = secmem_alloc(KEYS_DOCKEY_LEN)) == NULL)
		return VAULT_ERR_NOMEM;
	crypto_secretstream_xchacha20poly1305_keygen(dk);
	*dkp = dk;
	return VAULT_OK;
}

vault_err
keys_dockey_seal(const uint8_t *dk, const vault_id *document_id,
    const uint8_t holder_pk[KEYS_PK_LEN], uint8_t sealed[KEYS_SEALED_DOCKEY_LEN])
{
	uint8_t *payload;
	vault_err r = VAULT_OK;

	if ((payload = secmem_alloc(KEYS_DOCKEY_PAYLOAD_LEN)) == NULL)
		return VAULT_ERR_NOMEM;
	memcpy(payload, dk_magic, 4);
	memcpy(payload + 4, document_id->b, VAULT_ID_LEN);
	memcpy(payload + 4 + VAULT_ID_LEN, dk, KEYS_DOCKEY_LEN);
	if (crypto_box_seal(sealed, payload, KEYS_DOCKEY_PAYLOAD_LEN,
	    holder_pk) != 0)
		r = VAULT_ERR_INTERNAL;
	secmem_free(payload);
	return r;
}

vault_err
keys_dockey_open(const uint8_t *sealed, size_t sealed_len,
    const vault_id *document_id, const uint8_t holder_pk[KEYS_PK_LEN],
    const uint8_t *holder_sk, uint8_t **dkp)
{
	uint8_t *payload = NULL, *dk = NULL;
	vault_err r;

	*dkp = NULL;
	if (sealed_len != KEYS_SEALED_DOCKEY_LEN)
		return VAULT_ERR_CORRUPT;
	if ((payload = secmem_alloc(KEYS_DOCKEY_PAYLOAD_LEN)) == NULL ||
	    (dk = secmem_alloc(KEYS_DOCKEY_LEN)) == NULL) {
		r = VAULT_ERR_NOMEM;
		goto out;
	}
	if (crypto_box_seal_open(payload, sealed, sealed_len, holder_pk,
	    holder_sk) != 0 ||
	    memcmp(payload, dk_magic, 4) != 0 ||
	    memcmp(payload + 4, document_id->b, VAULT_ID_LEN) != 0) {
		r = VAULT_ERR_CORRUPT;
		goto out;
	}
	memcpy(dk, payload + 4 + VAULT_ID_LEN, KEYS_DOCKEY_LEN);
	*dkp = dk;
	dk = NULL;
	r = VAULT_OK;
out:
	secmem_free(payload);
	secmem_free(dk);
	return r;
}

void
keys_dockey_free(uint8_t *dk)
{
	secmem_free(dk);
}
