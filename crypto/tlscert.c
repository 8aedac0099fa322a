/*
 * tlscert.c: the development key and self-signed certificate (tlscert.h).
 * Everything cryptographic is libcrypto's (OpenSSL 3); this file only
 * fills in the certificate and gets the two files safely onto the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlscert.h"
#include "vault_os.h"

#define TLSCERT_DAYS 825    /* the longest a browser accepted for a TLS server */
#define TLSCERT_SERIAL_BITS 128

/* ---- the certificate ------------------------------------------------- */

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/* Builds and signs the certificate of pkey; returns VAULT_OK and sets *xp,
 * or VAULT_ERR_INTERNAL / VAULT_ERR_NOMEM with *xp NULL. */
static vault_err
make_cert(EVP_PKEY *pkey, X509 **xp)
{
	X509 *x = NULL;
	X509_NAME *name = NULL;
	BIGNUM *serial = NULL;
	X509V3_CTX ctx;
	time_t now;
	vault_err r = VAULT_ERR_INTERNAL;

	*xp = NULL;
	if ((x = X509_new()) == NULL || (name = X509_NAME_new()) == NULL ||
	    (serial = BN_new()) == NULL) {
		r = VAULT_ERR_NOMEM;
		goto out;
	}
	if (X509_set_version(x, X509_VERSION_3) != 1)
		goto out;
	/* Top bit set: exactly 128 bits, so positive, never zero, and 17 DER
	 * octets at most (RFC 5280 allows 20); 127 of them random. */
	if (BN_rand(serial, TLSCERT_SERIAL_BITS, BN_RAND_TOP_ONE,
	    BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL)
		goto out;
	/* the clock of vault_os, so that tests can move it */
	now = (time_t)(vault_os.now_ms() / 1000);
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), TLSCERT_DAYS, 0, &now) == NULL)
		goto out;
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"vault development certificate", -1, -1, 0) != 1)
		goto out;
	if (X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_set_pubkey(x, pkey) != 1)
		goto out;
	/* issuer = subject = x; the key identifier hashes x's public key */
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") ||
	    !add_ext(x, &ctx, NID_subject_alt_name,
	    "DNS:localhost,IP:127.0.0.1,IP:::1") ||
	    !add_ext(x, &ctx, NID_subject_key_identifier, "hash"))
		goto out;
	if (X509_sign(x, pkey, EVP_sha256()) <= 0)
		goto out;
	*xp = x;
	x = NULL;
	r = VAULT_OK;
out:
	BN_free(serial);
	X509_NAME_free(name);
	X509_free(x);
	return r;
}

/* ---- files ----------------------------------------------------------- */

static vault_err
errno_err(void)
{
	return errno == ENOSPC ? VAULT_ERR_NOSPACE : VAULT_ERR_IO;
}

/* Creates path, 0600, refusing an existing name or a symbolic link. */
static vault_err
create_excl(const char *path, int *fdp)
{
	*fdp = vault_os.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (*fdp < 0)
		return errno == EEXIST ? VAULT_ERR_EXISTS : errno_err();
	return VAULT_OK;
}

/* Writes what the memory BIO holds to fd and fsyncs it. */
static vault_err
write_mem(int fd, BIO *mem)
{
	BUF_MEM *bm = NULL;

	if (BIO_get_mem_ptr(mem, &bm) <= 0 || bm == NULL)
		return VAULT_ERR_INTERNAL;
	if (vault_os_write_all(fd, bm->data, bm->length) != 0 ||
	    vault_os.fsync(fd) != 0)
		return errno_err();
	return VAULT_OK;
}

/* Wipes the whole allocation behind a memory BIO, then frees it. */
static void
mem_wipe_free(BIO *mem)
{
	BUF_MEM *bm = NULL;

	if (mem == NULL)
		return;
	if (BIO_get_mem_ptr(mem, &bm) > 0 && bm != NULL && bm->data != NULL)
		OPENSSL_cleanse(bm->data, bm->max);
	BIO_free(mem);
}

vault_err
tlscert_create(const char *cert_path, const char *key_path)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	BIO *cert_pem = NULL, *key_pem = NULL;
	int cert_fd = -1, key_fd = -1, cert_made = 0, key_made = 0;
	vault_err r = VAULT_ERR_INTERNAL;

	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		goto out;
	if ((r = make_cert(pkey, &x)) != VAULT_OK)
		goto out;
	/*
	 * The key's PEM goes through a memory BIO, not a BIO over the fd, so
	 * that both files are written by vault_os_write_all: the same path as
	 * every other key file, where a test can inject a short write, EIO or
	 * ENOSPC, and where partial writes are retried (an fd BIO does one
	 * write(2) and gives up). The price is a copy of the PEM text in our
	 * memory; mem_wipe_free cleanses it, on every path, before the BIO is
	 * freed. BIO_s_secmem puts it in the secure heap when the process has
	 * one (CRYPTO_secure_malloc_init), else behaves as BIO_s_mem; when the
	 * buffer grows, BUF_MEM_grow_clean wipes the old one.
	 * libcrypto's own temporaries while encoding are libcrypto's business.
	 */
	if ((cert_pem = BIO_new(BIO_s_mem())) == NULL ||
	    (key_pem = BIO_new(BIO_s_secmem())) == NULL) {
		r = VAULT_ERR_NOMEM;
		goto out;
	}
	r = VAULT_ERR_INTERNAL;
	/* PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY"); no
	 * cipher, so no passphrase */
	if (PEM_write_bio_X509(cert_pem, x) != 1 ||
	    PEM_write_bio_PrivateKey(key_pem, pkey, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	/* Both names are taken before anything is written, so that an
	 * existing key is never left beside a new certificate, or the other
	 * way round. */
	if ((r = create_excl(cert_path, &cert_fd)) != VAULT_OK)
		goto out;
	cert_made = 1;
	if ((r = create_excl(key_path, &key_fd)) != VAULT_OK)
		goto out;
	key_made = 1;
	if ((r = write_mem(key_fd, key_pem)) != VAULT_OK ||
	    (r = write_mem(cert_fd, cert_pem)) != VAULT_OK)
		goto out;
	r = VAULT_ERR_IO;
	if (vault_os.close(key_fd) != 0) {
		key_fd = -1;
		goto out;
	}
	key_fd = -1;
	if (vault_os.close(cert_fd) != 0) {
		cert_fd = -1;
		goto out;
	}
	cert_fd = -1;
	/* the names themselves: once per directory (usually the same one,
	 * and a second fsync of it is cheap) */
	if (vault_os_fsync_parent(key_path) != 0 || vault_os_fsync_parent(cert_path) != 0)
		goto out;
	r = VAULT_OK;
out:
	if (key_fd >= 0)
		vault_os.close(key_fd);
	if (cert_fd >= 0)
		vault_os.close(cert_fd);
	if (r != VAULT_OK) {
		if (key_made)
			vault_os.unlink(key_path);
		if (cert_made)
			vault_os.unlink(cert_path);
		/* leave no stale entries for the next caller of ERR_get_error */
		ERR_clear_error();
	}
	mem_wipe_free(key_pem);
	BIO_free(cert_pem);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return r;
}

/* ---- checking -------------------------------------------------------- */

/* Refuses to decrypt: an encrypted key is a format error here, and
 * libcrypto's default would prompt on the terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

/* Opens path for reading; VAULT_ERR_NOTFOUND if it does not exist and
 * VAULT_ERR_FORMAT if it is not a regular file. */
static vault_err
open_regular(const char *path, int *fdp)
{
	struct stat st;

	*fdp = vault_os.open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (*fdp < 0)
		return errno == ENOENT ? VAULT_ERR_NOTFOUND : VAULT_ERR_IO;
	if (fstat(*fdp, &st) != 0)
		return VAULT_ERR_IO;
	if (!S_ISREG(st.st_mode))
		return VAULT_ERR_FORMAT;
	return VAULT_OK;
}

vault_err
tlscert_check(const char *cert_path, const char *key_path)
{
	BIO *cert_bio = NULL, *key_bio = NULL;
	X509 *x = NULL;
	EVP_PKEY *pkey = NULL;
	int cert_fd = -1, key_fd = -1;
	vault_err r;

	/* both opened first: a missing file wins over an unparsable one */
	if ((r = open_regular(cert_path, &cert_fd)) != VAULT_OK ||
	    (r = open_regular(key_path, &key_fd)) != VAULT_OK)
		goto out;
	/* The key is read through a BIO over its fd (BIO_NOCLOSE: the fd is
	 * ours to close), so that we hold no copy of its text; the PEM
	 * reader keeps what it decodes of a private key in its secure heap. */
	if ((cert_bio = BIO_new_fd(cert_fd, BIO_NOCLOSE)) == NULL ||
	    (key_bio = BIO_new_fd(key_fd, BIO_NOCLOSE)) == NULL) {
		r = VAULT_ERR_NOMEM;
		goto out;
	}
	r = VAULT_ERR_FORMAT;
	if ((x = PEM_read_bio_X509(cert_bio, NULL, no_passphrase, NULL)) == NULL ||
	    (pkey = PEM_read_bio_PrivateKey(key_bio, NULL, no_passphrase,
	    NULL)) == NULL)
		goto out;
	r = X509_check_private_key(x, pkey) == 1 ? VAULT_OK : VAULT_ERR_AUTH;
out:
	/* a refusal is an answer, not an error to report later */
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	X509_free(x);
	BIO_free(key_bio);
	BIO_free(cert_bio);
	if (key_fd >= 0)
		vault_os.close(key_fd);
	if (cert_fd >= 0)
		vault_os.close(cert_fd);
	return r;
}
