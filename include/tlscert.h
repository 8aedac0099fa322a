/*
 * tlscert.h: the development TLS material of vaultd: a fresh ECDSA P-256
 * key and a self-signed certificate for "localhost", so that the daemon can
 * serve HTTPS on a developer's machine without a CA.
 *
 *   certificate: X.509 v3, random 128-bit serial, valid from now for 825
 *                days, subject = issuer = CN=localhost, O=vault development
 *                certificate, signed ECDSA with SHA-256. Extensions:
 *                basicConstraints critical CA:FALSE, keyUsage critical
 *                digitalSignature, extendedKeyUsage serverAuth,
 *                subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1,
 *                subjectKeyIdentifier.
 *   key:         PKCS#8 PEM ("BEGIN PRIVATE KEY"), not encrypted, mode 0600.
 *
 * Not for production: nobody's browser trusts it, and it is not meant to be.
 * Files go through vault_os like the other key files (keys.h), so that
 * tests can make a write or an fsync fail. Nothing here logs.
 */
#ifndef TLSCERT_H
#define TLSCERT_H

#include "vault.h"

/*
 * Creates a new key and its certificate: the key as PEM in key_path, the
 * certificate as PEM in cert_path, both 0600, created with O_EXCL and
 * O_NOFOLLOW, written, fsynced and closed, then their directories fsynced.
 * Returns VAULT_OK; VAULT_ERR_EXISTS if either path already exists (neither
 * file is touched); VAULT_ERR_IO or VAULT_ERR_NOSPACE if the system fails;
 * VAULT_ERR_NOMEM or VAULT_ERR_INTERNAL if libcrypto does. On any error no
 * file that this call created is left behind.
 */
vault_err tlscert_create(const char *cert_path, const char *key_path);

/*
 * Loads a PEM certificate and a PEM private key and checks that the key is
 * the certificate's. Returns VAULT_OK if it is; VAULT_ERR_AUTH if it is not;
 * VAULT_ERR_FORMAT if either file does not parse (an encrypted key counts:
 * there is never a passphrase prompt) or is not a regular file;
 * VAULT_ERR_NOTFOUND if either file is missing; VAULT_ERR_IO if one cannot be
 * opened for another reason (a symbolic link is refused: O_NOFOLLOW).
 * Validity dates are not checked.
 */
vault_err tlscert_check(const char *cert_path, const char *key_path);

#endif
