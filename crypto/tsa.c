/* tsa.c: the built-in time-stamping authority (see tsa.h). */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tsa.h"
#include "vault_os.h"

#define TSA_DAYS (20 * 365)     /* tokens must verify for as long as papers are kept */

struct tsa {
	X509 *cert;
	EVP_PKEY *key;
	ASN1_OBJECT *policy;
};

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

static int
random_serial(ASN1_INTEGER *serial)
{
	BIGNUM *bn = BN_new();
	int ok;

	ok = bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, serial) != NULL;
	BN_free(bn);
	return ok;
}

/* A certificate for key, named cn, signed by issuer/ikey (itself if NULL). */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey, int ca)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	time_t now = (time_t)(vault_os.now_ms() / 1000);
	int ok;

	ok = x != NULL && name != NULL && X509_set_version(x, 2) == 1 &&
	    random_serial(X509_get_serialNumber(x)) &&
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"vault time-stamping", -1, -1, 0) == 1 &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) == 1 &&
	    X509_set_subject_name(x, name) == 1 &&
	    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) == 1 &&
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) != NULL &&
	    X509_time_adj_ex(X509_getm_notAfter(x), TSA_DAYS, 0, &now) != NULL &&
	    X509_set_pubkey(x, key) == 1;
	if (ok && ca)
		ok = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") &&
		    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
		    add_ext(x, x, NID_subject_key_identifier, "hash");
	else if (ok)
		ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
		    add_ext(x, issuer, NID_key_usage, "critical,digitalSignature,nonRepudiation") &&
		    add_ext(x, issuer, NID_ext_key_usage, "critical,timeStamping") &&
		    add_ext(x, issuer, NID_subject_key_identifier, "hash") &&
		    add_ext(x, issuer, NID_authority_key_identifier, "keyid");
	if (ok)
		ok = X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) > 0;
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Writes a PEM object to a new file (O_EXCL), fsynced. */
static int
write_pem(const char *path, mode_t mode, X509 *cert, EVP_PKEY *key)
{
	int fd, ok;
	FILE *f;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode)) < 0)
		return 0;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(path);
		return 0;
	}
	ok = cert != NULL ? PEM_write_X509(f, cert) == 1 :
	    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	ok = ok && fflush(f) == 0 && vault_os.fsync(fileno(f)) == 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok)
		unlink(path);
	return ok;
}

static void
paths(const char *dir, char root[PATH_MAX], char crt[PATH_MAX], char key[PATH_MAX])
{
	snprintf(root, PATH_MAX, "%s/tsa-root.crt", dir);
	snprintf(crt, PATH_MAX, "%s/tsa.crt", dir);
	snprintf(key, PATH_MAX, "%s/tsa.key", dir);
}

vault_err
tsa_create_files(const char *dir)
{
	char root[PATH_MAX], crt[PATH_MAX], keyp[PATH_MAX];
	EVP_PKEY *rkey = NULL, *key = NULL;
	X509 *rc = NULL, *c = NULL;
	vault_err r = VAULT_ERR_INTERNAL;

	paths(dir, root, crt, keyp);
	if (access(keyp, F_OK) == 0)
		return VAULT_OK;
	/* the root's key signs once and is forgotten: nobody can issue
	 * another TSA certificate under this root later */
	if ((rkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (rc = make_cert(rkey, "vault time-stamping root", NULL, NULL, 1)) == NULL ||
	    (c = make_cert(key, "vault time-stamping authority", rc, rkey, 0)) == NULL)
		goto out;
	unlink(root);
	unlink(crt);
	if (!write_pem(keyp, 0600, NULL, key) || !write_pem(crt, 0644, c, NULL) ||
	    !write_pem(root, 0644, rc, NULL) || vault_os_fsync_dir(dir) != 0) {
		unlink(keyp);
		unlink(crt);
		unlink(root);
		r = VAULT_ERR_IO;
		goto out;
	}
	r = VAULT_OK;
out:
	EVP_PKEY_free(rkey);
	EVP_PKEY_free(key);
	X509_free(rc);
	X509_free(c);
	return r;
}

vault_err
tsa_open(const char *dir, struct tsa **tp)
{
	char root[PATH_MAX], crt[PATH_MAX], keyp[PATH_MAX];
	struct tsa *t;
	FILE *f;

	*tp = NULL;
	paths(dir, root, crt, keyp);
	if ((t = calloc(1, sizeof *t)) == NULL)
		return VAULT_ERR_NOMEM;
	if ((f = fopen(crt, "r")) != NULL) {
		t->cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if ((f = fopen(keyp, "r")) != NULL) {
		t->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	t->policy = OBJ_txt2obj(TSA_POLICY_OID, 1);
	if (t->cert == NULL || t->key == NULL || t->policy == NULL ||
	    X509_check_private_key(t->cert, t->key) != 1) {
		tsa_free(t);
		return VAULT_ERR_FORMAT;
	}
	*tp = t;
	return VAULT_OK;
}

void
tsa_free(struct tsa *t)
{
	if (t == NULL)
		return;
	X509_free(t->cert);
	EVP_PKEY_free(t->key);
	ASN1_OBJECT_free(t->policy);
	free(t);
}

static ASN1_INTEGER *
serial_cb(TS_RESP_CTX *ctx, void *data)
{
	ASN1_INTEGER *s = ASN1_INTEGER_new();

	(void)data;
	if (s == NULL || !random_serial(s)) {
		ASN1_INTEGER_free(s);
		TS_RESP_CTX_set_status_info(ctx, TS_STATUS_REJECTION, "no serial");
		return NULL;
	}
	return s;
}

vault_err
tsa_stamp(struct tsa *t, const uint8_t sha256[32], uint8_t **der, size_t *len,
    char serial_hex[65])
{
	TS_RESP_CTX *ctx = NULL;
	TS_REQ *req = NULL;
	TS_MSG_IMPRINT *mi = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_INTEGER *nonce = NULL;
	TS_RESP *resp = NULL;
	BIO *bio = NULL;
	const ASN1_INTEGER *serial;
	BIGNUM *bn = NULL;
	unsigned char *p = NULL;
	char *hex = NULL;
	vault_err r = VAULT_ERR_INTERNAL;
	int n;

	*der = NULL;
	*len = 0;
	serial_hex[0] = '\0';
	/* the request, as a client would send it */
	if ((req = TS_REQ_new()) == NULL || TS_REQ_set_version(req, 1) != 1 ||
	    (mi = TS_MSG_IMPRINT_new()) == NULL || (alg = X509_ALGOR_new()) == NULL ||
	    X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) != 1 ||
	    TS_MSG_IMPRINT_set_algo(mi, alg) != 1 ||
	    TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)(uintptr_t)sha256, 32) != 1 ||
	    TS_REQ_set_msg_imprint(req, mi) != 1 ||
	    (nonce = ASN1_INTEGER_new()) == NULL || !random_serial(nonce) ||
	    TS_REQ_set_nonce(req, nonce) != 1 || TS_REQ_set_cert_req(req, 1) != 1 ||
	    (bio = BIO_new(BIO_s_mem())) == NULL || i2d_TS_REQ_bio(bio, req) != 1)
		goto out;
	/* the authority's answer */
	if ((ctx = TS_RESP_CTX_new()) == NULL ||
	    TS_RESP_CTX_set_signer_cert(ctx, t->cert) != 1 ||
	    TS_RESP_CTX_set_signer_key(ctx, t->key) != 1 ||
	    TS_RESP_CTX_set_signer_digest(ctx, EVP_sha256()) != 1 ||
	    TS_RESP_CTX_set_ess_cert_id_digest(ctx, EVP_sha256()) != 1 ||
	    TS_RESP_CTX_set_def_policy(ctx, t->policy) != 1 ||
	    TS_RESP_CTX_add_md(ctx, EVP_sha256()) != 1 ||
	    TS_RESP_CTX_set_accuracy(ctx, 1, 0, 0) != 1)
		goto out;
	TS_RESP_CTX_set_serial_cb(ctx, serial_cb, NULL);
	if ((resp = TS_RESP_create_response(ctx, bio)) == NULL ||
	    ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp))) !=
	    TS_STATUS_GRANTED)
		goto out;
	serial = TS_TST_INFO_get_serial(TS_RESP_get_tst_info(resp));
	if ((bn = ASN1_INTEGER_to_BN(serial, NULL)) == NULL || (hex = BN_bn2hex(bn)) == NULL)
		goto out;
	for (n = 0; hex[n] != '\0' && n < 64; n++)
		serial_hex[n] = (char)(hex[n] >= 'A' && hex[n] <= 'F' ? hex[n] - 'A' + 'a' : hex[n]);
	serial_hex[n] = '\0';
	if ((n = i2d_TS_RESP(resp, &p)) <= 0)
		goto out;
	*der = p;
	*len = (size_t)n;
	p = NULL;
	r = VAULT_OK;
out:
	OPENSSL_free(p);
	OPENSSL_free(hex);
	BN_free(bn);
	TS_RESP_free(resp);
	TS_RESP_CTX_free(ctx);
	BIO_free(bio);
	ASN1_INTEGER_free(nonce);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(req);
	return r;
}

vault_err
tsa_chain_pem(const char *dir, char **pem)
{
	char root[PATH_MAX], crt[PATH_MAX], keyp[PATH_MAX];
	size_t n1, n2;
	char *buf;
	FILE *f;

	*pem = NULL;
	paths(dir, root, crt, keyp);
	if ((buf = malloc(65536)) == NULL)
		return VAULT_ERR_NOMEM;
	if ((f = fopen(crt, "r")) == NULL)
		goto fail;
	n1 = fread(buf, 1, 32767, f);
	fclose(f);
	if ((f = fopen(root, "r")) == NULL)
		goto fail;
	n2 = fread(buf + n1, 1, 32767, f);
	fclose(f);
	buf[n1 + n2] = '\0';
	*pem = buf;
	return VAULT_OK;
fail:
	free(buf);
	return VAULT_ERR_NOTFOUND;
}
