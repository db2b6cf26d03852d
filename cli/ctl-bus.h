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

/* Sets ALLOW_INTERACTIVE_AUTHORIZATION and starts the polkit agent on a terminal, unless
 * --no-ask-password (ctl_bus_open does this for mutating verbs). */
void ctl_bus_allow_interactive(const CtlOptions *o, sd_bus *bus);

/* define.c: definitions as text. */
#define DEFINE_REPLACE 1ULL

/* The whole file (or stdin for "-"), bounded. Logs; returns an exit code. */
int ctl_read_definition(const char *file, char **ret);

/* DefineMachine or CreateMachine with json. file names the source in InvalidConfig messages
 * (machinad calls it "<bus>"); what prefixes other errors. ret_name (optional): the machine's
 * name. Logs; returns an exit code. */
int ctl_post_definition(sd_bus *bus, const char *method, const char *json, uint64_t flags,
                        const char *file, const char *what, char **ret_name);

/* GetDefinition of the object at path: the definition as defined, not resolved. Logs; returns
 * an exit code. */
int ctl_get_definition(sd_bus *bus, const char *path, const char *what, char **ret);
