/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the fuzz targets and the corpus replay main. */

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A target may define this to say it cannot run in this build (returns why, or NULL if it can);
 * the replay main then reports the test as skipped. */
const char *fuzz_target_unavailable(void) __attribute__((weak));
