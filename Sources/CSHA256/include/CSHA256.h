// SHA-256 (FIPS 180-4) for Signoff's ledger: the x86-64 SHA extensions when the processor has them, portable C
// otherwise. Every hash of the ledger (leaves, chain, Merkle nodes) and of statements goes through it; libsodium's
// SHA-256 is portable C only and was a third of the CPU time of a durable append. Tested against libsodium and the
// NIST vectors (Tests/SignoffCryptoTests/SHA256Tests.swift), each way on every machine.
#ifndef SIGNOFF_CSHA256_H
#define SIGNOFF_CSHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t length;       // bytes hashed so far
    uint8_t buffer[64];    // a partial block
    uint32_t buffered;     // bytes in buffer
    uint32_t portable;     // 1: this hash uses the portable compression function even where the hardware one exists
} signoff_sha256_ctx;

/// Whether this processor has the SHA extensions (and SSSE3, SSE4.1) that the hardware compression function uses.
int signoff_sha256_has_hardware(void);

void signoff_sha256_init(signoff_sha256_ctx *ctx);
/// The same, always with the portable compression function (tests compare the two).
void signoff_sha256_init_portable(signoff_sha256_ctx *ctx);
void signoff_sha256_update(signoff_sha256_ctx *ctx, const uint8_t *data, size_t length);
void signoff_sha256_final(signoff_sha256_ctx *ctx, uint8_t out[32]);
/// One message at once.
void signoff_sha256(uint8_t out[32], const uint8_t *data, size_t length);

#endif
