/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What machine-lifecycle.c (systemd side: start, stop, kill, follow the unit) and
 * machine-lifecycle-qmp.c (QMP side: connect, events, shutdown, reboot, pause, resume) share.
 * Not for other files: they use machine-lifecycle.h. */

#include "machine-lifecycle.h"

/* The operation in flight: begin (Busy if one is), answer its call (success when error_name is
 * NULL) and forget it, or forget it without answering (the caller answers itself). */
int machine_op_begin(Machine *machine, MachineOperation op, sd_bus_message *message,
                     sd_bus_error *error);
_printf_(3, 4)
void machine_op_reply(Machine *machine, const char *error_name, const char *format, ...);
void machine_op_clear(Machine *machine);

int machine_require_active(Machine *machine, sd_bus_error *error);

/* Reply handler of our StopUnit/KillUnit calls: completes Kill, fails the op on errors. */
int machine_on_systemd_call_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error);

/* QMP client of the guest: connect once, or retry until MACHINE_QMP_CONNECT_TIMEOUT_USEC (QEMU
 * creates its socket a few ms after exec); drop it. */
int machine_qmp_connect(Machine *machine);
int machine_qmp_connect_with_retry(Machine *machine);
void machine_qmp_drop(Machine *machine);
