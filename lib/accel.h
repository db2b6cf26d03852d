/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Accelerator choice. QEMU's own "kvm:tcg" is not enough: on nested hosts root can open /dev/kvm
 * but guests crash or crawl under it, so AUTO picks KVM only when the CPU advertises vmx/svm and
 * /dev/kvm is usable by the QEMU user. */

#include <sys/types.h>

#include "machine-def.h"

/* Precedence: $MACHINA_ACCEL, then the definition's attrs.accel, then the host "accel", then
 * AUTO. Never returns ACCEL_AUTO. cpuinfo_path and kvm_path are for tests (NULL = real ones). */
Accel accel_choose(Accel host, Accel def, const char *qemu_user,
                   const char *cpuinfo_path, const char *kvm_path);
bool accel_cpu_has_virt(const char *cpuinfo_path);
/* Whether uid/gid (the QEMU user) may open path read-write according to its mode bits. */
bool accel_kvm_usable(const char *kvm_path, uid_t uid, gid_t gid);
