/*
 * note.h: C2SP signed notes with Ed25519 keys, and tlog checkpoints.
 *
 *   note      = body "\n" signature-line+
 *   body      = origin "\n" tree-size "\n" base64(root) "\n"   (checkpoint)
 *   signature = "— " name " " base64(key hash (4) ‖ Ed25519 signature (64)) "\n"
 *   key hash  = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[0..4)
 *   verifier  = name "+" hex(key hash) "+" base64(0x01 ‖ public key)
 *
 * The Ed25519 signature covers the body's bytes exactly.
 */
#ifndef NOTE_H
#define NOTE_H

#include <stdint.h>

#include "vault.h"

#define NOTE_NAME_MAX 128

/* name: 1..128 printable ASCII bytes without space or '+'. */
int note_name_valid(const char *name);
void note_key_hash(const char *name, const uint8_t pk[32], uint8_t out[4]);
/* Writes the verifier key string; VAULT_ERR_LIMIT if cap is too small. */
vault_err note_verifier_key(const char *name, const uint8_t pk[32], char *out,
    size_t cap);
/* body must end with "\n". *notep: malloc'd note text. */
vault_err note_sign(const char *body, const char *name, const uint8_t *sk,
    const uint8_t pk[32], char **notep);
/* VAULT_OK if note carries a valid signature by (name, pk) over its body;
 * VAULT_ERR_AUTH if not; VAULT_ERR_FORMAT if it is not a note. */
vault_err note_verify(const char *note, const char *name, const uint8_t pk[32]);
/* "origin\nsize\nbase64(root)\n": malloc'd. */
char *note_checkpoint_body(const char *origin, uint64_t size, const uint8_t root[32]);
/* Parses a checkpoint note's body (origin, size, root); VAULT_ERR_FORMAT. */
vault_err note_checkpoint_parse(const char *note, char origin[NOTE_NAME_MAX + 1],
    uint64_t *size, uint8_t root[32]);

#endif
