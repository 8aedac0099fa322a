/* secmem.c: guarded memory with a cache of wiped blocks (see secmem.h). */
#include <pthread.h>
#include <stdint.h>

#include <sodium.h>

#include "secmem.h"

/* The block's size sits just before what the caller gets, inside the
 * guarded allocation; 16 bytes keep the caller's pointer 16-aligned,
 * provided the allocation is a multiple of 16 too: sodium_malloc puts a
 * block's end against its guard page, so a block of another size starts
 * misaligned (a misaligned size_t store, which UBSan stopped vaultd on at
 * the first deposit, and misaligned memory handed to zlib for its state). */
#define SECMEM_HDR 16
#define SECMEM_ROUND(n) (((n) + 15) & ~(size_t)15)
#define SECMEM_SLOTS 64

struct slot {
	void *block;    /* sodium_malloc'd, wiped; NULL if the slot is free */
	size_t len;     /* what the caller asked for */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot cache[SECMEM_SLOTS];
static size_t cached_bytes;

void *
secmem_alloc(size_t len)
{
	uint8_t *b = NULL;
	unsigned i;

	if (len > SIZE_MAX - SECMEM_HDR - 15)
		return NULL;
	pthread_mutex_lock(&mu);
	for (i = 0; i < SECMEM_SLOTS; i++)
		if (cache[i].block != NULL && cache[i].len == len) {
			b = cache[i].block;
			cache[i].block = NULL;
			cached_bytes -= len;
			break;
		}
	pthread_mutex_unlock(&mu);
	if (b == NULL && (b = sodium_malloc(SECMEM_ROUND(len) + SECMEM_HDR)) == NULL)
		return NULL;
	*(size_t *)(void *)b = len;
	return b + SECMEM_HDR;
}

void
secmem_free(void *p)
{
	uint8_t *b;
	size_t len;
	unsigned i;

	if (p == NULL)
		return;
	b = (uint8_t *)p - SECMEM_HDR;
	len = *(size_t *)(void *)b;
	sodium_memzero(p, len);
	pthread_mutex_lock(&mu);
	if (cached_bytes + len <= SECMEM_CACHE_BYTES)
		for (i = 0; i < SECMEM_SLOTS; i++)
			if (cache[i].block == NULL) {
				cache[i].block = b;
				cache[i].len = len;
				cached_bytes += len;
				b = NULL;
				break;
			}
	pthread_mutex_unlock(&mu);
	if (b != NULL)
		sodium_free(b);
}

void
secmem_drain(void)
{
	unsigned i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < SECMEM_SLOTS; i++)
		if (cache[i].block != NULL) {
			sodium_free(cache[i].block);
			cache[i].block = NULL;
		}
	cached_bytes = 0;
	pthread_mutex_unlock(&mu);
}
