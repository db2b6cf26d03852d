/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Create volumes that have a "provision" block and do not exist yet, with qemu-img. An existing
 * file is never touched. */

#include "machine-def.h"

/* qemu_img: path or name of qemu-img (NULL = "qemu-img" from PATH). Returns the number of volumes
 * created, or -errno; on failure no half-created image is left behind. */
int provision_volumes(const MachineDef *resolved, const char *qemu_img, Diagnostics *diag);
