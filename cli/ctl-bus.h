/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The connection to machinad and the translation of its errors into one line and an exit code. */

#include <systemd/sd-bus.h>

#include "machinactl.h"

#define MACHINA_SERVICE "org.machina"
#define MACHINA_PATH "/org/machina"
#define MACHINA_MANAGER_IFACE "org.machina.Manager"
#define MACHINA_MACHINE_IFACE "org.machina.Machine"

/* sd-bus.h provides the *p() cleanup helpers. */
#define _cleanup_bus_ _cleanup_(sd_bus_flush_close_unrefp)
#define _cleanup_bus_message_ _cleanup_(sd_bus_message_unrefp)
#define _cleanup_bus_error_ _cleanup_(sd_bus_error_free)

/* Opens the system bus, the session bus (--user) or the remote system bus (-H). With mutating,
 * interactive authorization is allowed unless --no-ask-password (and the polkit agent is
 * started on a terminal). Logs; returns an exit code, 0 on success. */
int ctl_bus_open(const CtlOptions *o, bool mutating, sd_bus **ret);

/* Logs "WHAT: MESSAGE" for a failed call (error set) or an errno, with a hint when machinad
 * cannot be reached; returns the exit code: 4 for NoSuchMachine, else 1. */
int ctl_log_error(const sd_bus_error *error, int r, const char *what);

/* GetMachine(name) → object path. Logs; returns an exit code. */
int ctl_get_machine(sd_bus *bus, const char *name, char **ret_path);

/* At least one name, none empty. Logs; returns an exit code. */
int ctl_check_names(const char *verb, char **names);
