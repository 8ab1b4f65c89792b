/* sha256.h - SHA-256 (FIPS 180-4) for checking pinned model files.
 *
 * A dumu_sha256_ctx context lives in caller storage: dumu_sha256_init, any number of
 * dumu_sha256_update calls, then dumu_sha256_final. No allocation, no global state; one
 * context per thread. On an x86-64 CPU with the SHA extensions (checked at run time) the
 * compression function uses them, otherwise a plain C loop. */
#ifndef DUMU_SHA256_H
#define DUMU_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DUMU_SHA256_DIGEST_SIZE 32
#define DUMU_SHA256_HEX_SIZE    65 /* 64 hex digits + NUL */

typedef struct dumu_sha256_ctx {
    uint32_t h[8];    /* chaining state */
    uint64_t n_bytes; /* message bytes consumed so far */
    uint8_t buf[64];  /* partial block */
    size_t n_buf;     /* bytes in buf, < 64 */
} dumu_sha256_ctx;

void dumu_sha256_init(dumu_sha256_ctx *ctx);
void dumu_sha256_update(dumu_sha256_ctx *ctx, const void *data, size_t size);
/* Writes the 32-byte digest. The context must be re-initialised before reuse. */
void dumu_sha256_final(dumu_sha256_ctx *ctx, uint8_t digest[DUMU_SHA256_DIGEST_SIZE]);

/* One-shot digest of `size` bytes at `data`. */
void dumu_sha256(const void *data, size_t size, uint8_t digest[DUMU_SHA256_DIGEST_SIZE]);

/* Lowercase hex of a digest, NUL-terminated. */
void dumu_sha256_hex(const uint8_t digest[DUMU_SHA256_DIGEST_SIZE], char hex[DUMU_SHA256_HEX_SIZE]);

/* The compression function on `n_blocks` whole 64-byte blocks: the fastest available version
 * and the plain reference loop (its spec). They give identical results; exposed for tests. */
void dumu_sha256_blocks(uint32_t h[8], const uint8_t *blocks, size_t n_blocks);
void dumu_sha256_blocks_ref(uint32_t h[8], const uint8_t *blocks, size_t n_blocks);

/* True when dumu_sha256_blocks uses the x86 SHA extensions (CPUID, checked once). */
bool dumu_sha256_accelerated(void);

#endif /* DUMU_SHA256_H */
