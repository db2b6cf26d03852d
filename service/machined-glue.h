/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Registration of running guests with systemd-machined (org.freedesktop.machine1), so
 * "machinectl list" shows them (class vm, leader = the QEMU process, service "machina").
 * Best effort and asynchronous: when machined is not on the bus the call is not auto-started and
 * its failure is only logged at debug level; other failures are warnings. Never blocks and never
 * fails a lifecycle operation. */

#include "machine.h"

/* Register once the guest runs and its QEMU pid is known (idempotent). */
void machine_machined_register(Machine *machine);
/* Forget the registration (the guest stopped); machined also notices the leader exiting. */
void machine_machined_unregister(Machine *machine);
