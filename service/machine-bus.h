/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.machina.Machine: the bus face of Machine. */

#include <systemd/sd-bus.h>

#include "machine.h"

extern const sd_bus_vtable machine_vtable[];

int machine_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                        void **found, sd_bus_error *error);
/* The org.machina.Machine properties as a{sv}, through machine_vtable's own getters: exactly
 * what Properties.GetAll returns. */
int machine_bus_append_properties(sd_bus_message *reply, Machine *machine, sd_bus_error *error);
int machine_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                            sd_bus_error *error);

/* PropertiesChanged for one property (with "State": also StateReason, StateChangeTimestamp,
 * MainPID), or all mutable ones for NULL. Always includes Generation. */
void machine_bus_emit_changed(Machine *machine, const char *property);
void machine_bus_emit_added(Machine *machine);
/* Signal Event(s event, s json): a QMP event relayed. */
int machine_bus_emit_event(Machine *machine, const char *event, const char *json);

/* The method bodies, shared with the Manager's StartMachine(s) & co. (one code path). Arguments
 * are already read. */
int machine_bus_start(sd_bus_message *message, Machine *machine, sd_bus_error *error);
int machine_bus_stop(sd_bus_message *message, Machine *machine, sd_bus_error *error);
int machine_bus_shutdown(sd_bus_message *message, Machine *machine, uint64_t timeout_usec,
                         uint64_t flags, sd_bus_error *error);
int machine_bus_kill(sd_bus_message *message, Machine *machine, const char *whom, int signo,
                     sd_bus_error *error);
void machine_bus_emit_removed(Machine *machine);
