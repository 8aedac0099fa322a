/*
 * secmem.h: guarded memory for plaintext, with a small cache of freed
 * blocks.
 *
 * Every block comes from libsodium's sodium_malloc (guard pages around it,
 * locked in RAM, not dumped, a canary before it). Getting one costs half a
 * dozen system calls and fresh zeroed pages, which a small deposit paid
 * about ten times (the blob's buffers, zlib's windows): a fifth of its
 * CPU. A freed block is wiped (sodium_memzero) at once and kept, still
 * locked and guarded, for the next request that asks for the same size;
 * beyond SECMEM_CACHE_BYTES it goes back with sodium_free. Whatever was
 * in a block is gone when secmem_free returns, exactly as with
 * sodium_free.
 */
#ifndef SECMEM_H
#define SECMEM_H

#include <stddef.h>

#define SECMEM_CACHE_BYTES (8u << 20)   /* kept at most, all sizes together */

/* A guarded block of len bytes (contents unspecified), or NULL. */
void *secmem_alloc(size_t len);
/* Wipes and releases p (NULL-safe); p must come from secmem_alloc. */
void secmem_free(void *p);
/* Returns every cached block to the system (at exit, for leak checkers). */
void secmem_drain(void);

#endif
