/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A guest's life through systemd and QMP: start as a transient unit, follow it, stop it.
 *
 * Each operation is asynchronous: it keeps the bus call it answers (op_message) and replies when
 * the outcome is known (unit active and QMP answering, unit gone, QMP reply). One operation per
 * guest at a time; another one gets Busy. Nothing here blocks. */

#include <systemd/sd-bus.h>

#include "machine.h"

#define MACHINE_SHUTDOWN_FORCE (UINT64_C(1) << 0)
#define MACHINE_POWERDOWN_REPEAT_USEC (5ULL * 1000000ULL)
#define MACHINE_QMP_CONNECT_TIMEOUT_USEC (30ULL * 1000000ULL)

/* Each returns 0 when the reply will come later (or was sent), or sets error / returns -errno. */
int machine_start(Machine *machine, sd_bus_message *message, sd_bus_error *error);
int machine_stop(Machine *machine, sd_bus_message *message, sd_bus_error *error);
int machine_shutdown(Machine *machine, uint64_t timeout_usec, uint64_t flags,
                     sd_bus_message *message, sd_bus_error *error);
int machine_reboot(Machine *machine, sd_bus_message *message, sd_bus_error *error);
int machine_pause(Machine *machine, sd_bus_message *message, sd_bus_error *error);
int machine_resume(Machine *machine, sd_bus_message *message, sd_bus_error *error);
int machine_kill(Machine *machine, const char *whom, int signo, sd_bus_message *message,
                 sd_bus_error *error);

/* A unit found running at start-up: take it over (state running/adopted, QMP reconnect). */
int machine_adopt(Machine *machine, uint32_t main_pid);

/* From systemd-glue.c. */
void machine_on_job_removed(Machine *machine, const char *job, const char *result);
void machine_on_unit_gone(Machine *machine, const char *active_state);
void machine_on_main_pid(Machine *machine, uint32_t pid);
void machine_on_unit_result(Machine *machine, const char *result);
/* The unit waits to restart QEMU (Restart=, autostart=always): ActiveState "activating",
 * SubState "auto-restart". The unit never went inactive. */
void machine_on_auto_restart(Machine *machine);
/* ActiveState "active". */
void machine_on_unit_active(Machine *machine);

/* Release everything the lifecycle holds (answers a pending call with an error). */
void machine_lifecycle_done(Machine *machine);
