/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The properties of an org.machina.Machine object, decoded once from an a{sv} (GetAll or
 * GetManagedObjects) and shown by list, status and show. */

#include <json-glib/json-glib.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "macro.h"

typedef struct MachineInfo {
        char *path;
        char *name, *uuid, *description, *state, *state_reason, *unit, *autostart;
        char *display, *console;
        char **tags;
        uint64_t state_change_timestamp, generation, memory_mib;
        uint32_t main_pid, cpus, owner;
        bool persistent, pending_changes;
} MachineInfo;

void machine_info_done(MachineInfo *m);
void machine_infos_free(MachineInfo *m, size_t n);

/* Reads an a{sv} of org.machina.Machine properties at the message's position; unknown
 * properties are skipped. Returns 0 or -errno. */
int machine_info_read(sd_bus_message *message, MachineInfo *m);

/* GetAll of the object at path. Returns 0 or -errno, error set for a failed call. */
int machine_info_get(sd_bus *bus, const char *path, MachineInfo *m, sd_bus_error *error);

/* Whether a property of that name exists. */
bool machine_property_exists(const char *name);

/* "Name=value" lines (value only with value_only), every property or those in filter. */
void machine_info_show(const MachineInfo *m, char * const *filter, bool value_only);

/* An object {property: value} with every property or those in filter (values typed). */
JsonNode *machine_info_to_json(const MachineInfo *m, char * const *filter);

/* Whether the guest counts as active (listed without --all). */
bool machine_info_is_active(const MachineInfo *m);
