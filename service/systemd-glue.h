/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* machinad's side of systemd's D-Bus API: transient units for guests, jobs, unit signals. */

#include <systemd/sd-bus.h>

#include "unit-properties.h"

typedef struct Manager Manager;

#define SYSTEMD_SERVICE "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER_INTERFACE "org.freedesktop.systemd1.Manager"

/* sd_bus_call_async() on machinad's bus, but bounded: at most 64 such calls in flight, the rest
 * queued in order (the system bus allows 128 pending replies per connection). The slot is a
 * handle: unref cancels the call, queued or in flight. For systemd and systemd-machined. */
int bus_call_bounded(Manager *m, sd_bus_message *msg, sd_bus_message_handler_t callback,
                     void *userdata, sd_bus_slot **ret_slot);

/* Subscribe() and the matches for JobRemoved, UnitRemoved and unit PropertiesChanged; the
 * signals are routed to the Machine that owns the unit or the job. */
int systemd_subscribe(Manager *m);

/* StartTransientUnit(name, "fail", props, []); callback gets the method reply (job path). */
int systemd_start_transient_unit(Manager *m, const char *unit, const UnitProperties *props,
                                 sd_bus_message_handler_t callback, void *userdata,
                                 sd_bus_slot **ret_slot);
int systemd_stop_unit(Manager *m, const char *unit, sd_bus_message_handler_t callback,
                      void *userdata, sd_bus_slot **ret_slot);
int systemd_kill_unit(Manager *m, const char *unit, const char *whom, int signo,
                      sd_bus_message_handler_t callback, void *userdata, sd_bus_slot **ret_slot);

/* Append the properties as a(sv) to a message. */
int bus_append_unit_properties(sd_bus_message *m, const UnitProperties *props);

/* The object path systemd uses for a unit name (its bus_label_escape encoding). */
char *systemd_unit_path(const char *unit);

/* Re-adoption: the machina-*.service units that are active, activating or deactivating.
 * Synchronous, called once at start-up before we serve requests. Returns a strv of unit names. */
int systemd_list_guest_units(Manager *m, char ***ret);
/* MainPID of a unit, 0 if none (synchronous, at start-up only). */
int systemd_get_unit_main_pid(Manager *m, const char *unit, uint32_t *ret);

/* GetAll of the unit's org.freedesktop.systemd1.Unit properties (async), and reading ActiveState
 * and SubState from the reply (strings valid as long as the reply). */
int systemd_get_unit_state(Manager *m, const char *unit, sd_bus_message_handler_t callback,
                           void *userdata, sd_bus_slot **ret_slot);
int systemd_read_unit_state(sd_bus_message *reply, const char **ret_active, const char **ret_sub);
