/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Asking polkit without blocking, as systemd's bus-polkit does: the first time a handler asks,
 * the call is parked and CheckAuthorization goes out; when polkit answers, the same message is
 * dispatched again and this time the answer is at hand. */

#include <systemd/sd-bus.h>

typedef struct Manager Manager;

#define POLKIT_ACTION_CONTROL "org.machina.machine.control"
#define POLKIT_ACTION_CONSOLE "org.machina.machine.console"
#define POLKIT_ACTION_DEFINE  "org.machina.machine.define"

/* Returns 1 when the caller may go on, 0 when the call was parked (return 0 from the handler:
 * it will run again), or a negative errno / error set (AccessDenied naming the action,
 * InteractiveAuthorizationRequired). Root and good_uid (the guest's owner; (uid_t) -1 for none)
 * need no polkit. In --user mode only our own uid may act and polkit is not asked.
 * machine may be NULL (Manager-level actions). */
int manager_verify_polkit_async(Manager *m, sd_bus_message *message, const char *action,
                                const char *machine, uid_t good_uid, sd_bus_error *error);

void manager_polkit_registry_free(Manager *m);
