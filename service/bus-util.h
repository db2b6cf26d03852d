/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* sd-bus glue shared by machinad's bus faces: error names, cleanup helpers. */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "macro.h"

#define BUS_ERROR_NO_SUCH_MACHINE    "org.machina.Error.NoSuchMachine"
#define BUS_ERROR_MACHINE_EXISTS     "org.machina.Error.MachineExists"
#define BUS_ERROR_INVALID_CONFIG     "org.machina.Error.InvalidConfig"
#define BUS_ERROR_ALREADY_RUNNING    "org.machina.Error.AlreadyRunning"
#define BUS_ERROR_NOT_RUNNING        "org.machina.Error.NotRunning"
#define BUS_ERROR_BUSY               "org.machina.Error.Busy"
#define BUS_ERROR_TIMEOUT            "org.machina.Error.Timeout"
#define BUS_ERROR_QMP_UNAVAILABLE    "org.machina.Error.QMPUnavailable"
#define BUS_ERROR_JOB_FAILED         "org.machina.Error.JobFailed"
#define BUS_ERROR_LIMITS_EXCEEDED    "org.machina.Error.LimitsExceeded"

/* Registered with sd_bus_error_add_map() so that clients' sd_bus_error_get_errno() and our own
 * handlers agree on the errno of each error. */
extern const sd_bus_error_map machina_bus_errors[];

static inline void sd_bus_unrefp_(sd_bus **b) {
        sd_bus_flush_close_unref(*b);
}
static inline void sd_bus_message_unrefp_(sd_bus_message **m) {
        sd_bus_message_unref(*m);
}
static inline void sd_bus_slot_unrefp_(sd_bus_slot **s) {
        sd_bus_slot_unref(*s);
}
static inline void sd_event_unrefp_(sd_event **e) {
        sd_event_unref(*e);
}
static inline void sd_event_source_unrefp_(sd_event_source **s) {
        sd_event_source_unref(*s);
}
static inline void sd_bus_creds_unrefp_(sd_bus_creds **c) {
        sd_bus_creds_unref(*c);
}
#define _cleanup_bus_ _cleanup_(sd_bus_unrefp_)
#define _cleanup_bus_message_ _cleanup_(sd_bus_message_unrefp_)
#define _cleanup_bus_slot_ _cleanup_(sd_bus_slot_unrefp_)
#define _cleanup_event_ _cleanup_(sd_event_unrefp_)
#define _cleanup_event_source_ _cleanup_(sd_event_source_unrefp_)
#define _cleanup_bus_creds_ _cleanup_(sd_bus_creds_unrefp_)

/* The caller's effective uid, from the bus (never from message contents). */
int bus_message_get_sender_uid(sd_bus_message *m, uid_t *ret);
