/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* org.machina.Machine: the bus face of Machine. */

#include <systemd/sd-bus.h>

#include "machine.h"

extern const sd_bus_vtable machine_vtable[];

int machine_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                        void **found, sd_bus_error *error);
int machine_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                            sd_bus_error *error);

/* PropertiesChanged for the mutable properties (property names NULL-terminated after first;
 * NULL = all of them). Always includes Generation. */
void machine_bus_emit_changed(Machine *machine, const char *first, ...);
void machine_bus_emit_added(Machine *machine);
void machine_bus_emit_removed(Machine *machine);
