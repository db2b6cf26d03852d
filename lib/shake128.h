/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* SHAKE128 (FIPS 202 extendable-output function) on Keccak-f[1600]. */

#include <stddef.h>
#include <stdint.h>

typedef struct Shake128 {
        uint64_t state[25];
        size_t pos;             /* byte position inside the rate block */
        int squeezing;
} Shake128;

void shake128_init(Shake128 *s);
void shake128_absorb(Shake128 *s, const void *data, size_t len);
/* Squeeze len more bytes; the first call finalizes (pads) the input, and absorbing after that is
 * ignored (re-init to start a new stream). */
void shake128_squeeze(Shake128 *s, void *out, size_t len);
