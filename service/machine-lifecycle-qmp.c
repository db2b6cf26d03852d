/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The QMP half of a guest's life: the client connection (retried while QEMU comes up), QMP events
 * turned into state, and the operations QEMU does itself: ACPI shutdown (with its deadline),
 * reset, pause, resume. */

#include <time.h>

#include "bus-util.h"
#include "log.h"
#include "machine-bus.h"
#include "machine-lifecycle-internal.h"
#include "manager.h"
#include "qemu-argv.h"
#include "qmp.h"
#include "systemd-glue.h"

#define QMP_RETRY_USEC (20ULL * 1000ULL)

static uint64_t now_monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

/* ---- QMP ---- */

static void on_qmp_event(QmpClient *c, const char *event, JsonObject *data, uint64_t ts, void *userdata);
static void on_qmp_disconnect(QmpClient *c, int error, void *userdata);
static void on_qmp_ready(QmpClient *c, void *userdata);

void machine_qmp_drop(Machine *machine) {
        if (!machine->qmp)
                return;
        machine->qmp = qmp_client_unref(machine->qmp);
}

static int on_qmp_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Machine *machine = userdata;
        int r;

        r = machine_qmp_connect(machine);
        if (r >= 0)
                return 0;
        if (now_monotonic_usec() < machine->op_deadline) {
                (void) sd_event_source_set_time_relative(s, QMP_RETRY_USEC);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                return 0;
        }
        log_warning_errno(r, "Giving up connecting to QMP of %s: %m", machine->name);
        if (machine->op == MACHINE_OP_START)
                machine_op_reply(machine, BUS_ERROR_QMP_UNAVAILABLE,
                         "QEMU of %s did not answer on its QMP socket: %s", machine->name,
                         strerror(-r));
        return 0;
}

int machine_qmp_connect(Machine *machine) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (!machine->runtime_dir)
                return -ENOENT;
        if (asprintf(&path, "%s/" RUNTIME_QMP_SOCKET, machine->runtime_dir) < 0)
                return -ENOMEM;
        r = qmp_client_connect(machine->manager->event, path, &machine->qmp);
        if (r < 0)
                return r;
        qmp_client_set_ready_handler(machine->qmp, on_qmp_ready, machine);
        qmp_client_set_event_handler(machine->qmp, on_qmp_event, machine);
        qmp_client_set_disconnect_handler(machine->qmp, on_qmp_disconnect, machine);
        return 0;
}

/* QEMU creates its socket a few ms after exec: retry until the deadline. */
int machine_qmp_connect_with_retry(Machine *machine) {
        int r;

        machine->op_deadline = now_monotonic_usec() + MACHINE_QMP_CONNECT_TIMEOUT_USEC;
        if (machine_qmp_connect(machine) >= 0)
                return 0;
        machine->op_timer = sd_event_source_disable_unref(machine->op_timer);
        r = sd_event_add_time_relative(machine->manager->event, &machine->op_timer, CLOCK_MONOTONIC,
                                       QMP_RETRY_USEC, 1000, on_qmp_retry, machine);
        return r;
}

static void on_query_status(QmpClient *c, int error, JsonNode *result, const QmpError *qerr,
                            void *userdata) {
        Machine *machine = userdata;
        const char *status = NULL;

        if (error < 0) {
                if (machine->op == MACHINE_OP_START)
                        machine_op_reply(machine, BUS_ERROR_QMP_UNAVAILABLE, "query-status of %s failed: %s",
                                 machine->name, qerr ? qerr->desc : strerror(-error));
                return;
        }
        if (result && JSON_NODE_HOLDS_OBJECT(result))
                status = json_object_get_string_member_with_default(json_node_get_object(result),
                                                                    "status", NULL);
        if (machine->restarting) {
                /* Back after Restart=: keep saying why it restarted. */
                machine->restarting = false;
                machine->op_timer = sd_event_source_disable_unref(machine->op_timer);
                log_info("Machine %s is back after Restart=.", machine->name);
        }
        if (status && (streq(status, "paused") || streq(status, "prelaunch")))
                machine_set_state(machine, MACHINE_PAUSED, machine->reason);
        else if (machine->state == MACHINE_STARTING && machine->op != MACHINE_OP_START)
                machine_set_state(machine, MACHINE_RUNNING, machine->reason);
        else if (machine->state != MACHINE_RUNNING)
                machine_set_state(machine, MACHINE_RUNNING,
                                  machine->reason == MACHINE_REASON_ADOPTED ? MACHINE_REASON_ADOPTED
                                                                            : MACHINE_REASON_USER);
        if (machine->op == MACHINE_OP_START)
                machine_op_reply(machine, NULL, NULL);
}

static void on_qmp_ready(QmpClient *c, void *userdata) {
        Machine *machine = userdata;
        int r;

        r = qmp_client_execute(c, "query-status", NULL, on_query_status, machine);
        if (r < 0 && machine->op == MACHINE_OP_START)
                machine_op_reply(machine, BUS_ERROR_QMP_UNAVAILABLE, "query-status of %s failed: %s",
                         machine->name, strerror(-r));
}

static void on_qmp_event(QmpClient *c, const char *event, JsonObject *data, uint64_t ts,
                         void *userdata) {
        Machine *machine = userdata;
        _cleanup_free_ char *json = NULL;
        int r;

        if (streq(event, "SHUTDOWN")) {
                bool guest = data && json_object_get_boolean_member_with_default(data, "guest", false);
                const char *reason = data ? json_object_get_string_member_with_default(data, "reason", "") : "";

                if (machine->exit_reason == MACHINE_REASON_NONE)
                        machine->exit_reason = guest ? MACHINE_REASON_GUEST_SHUTDOWN : MACHINE_REASON_HOST;
                log_info("Machine %s: QEMU shutting down (%s).", machine->name, reason);
                /* Our Shutdown of a Restart= guest: a stop through systemd keeps it down. */
                if (machine->op == MACHINE_OP_SHUTDOWN && machine->resolved->autostart == AUTOSTART_ALWAYS) {
                        machine->op_slot = sd_bus_slot_unref(machine->op_slot);
                        r = systemd_stop_unit(machine->manager, machine->unit, machine_on_systemd_call_reply,
                                              machine, &machine->op_slot);
                        if (r < 0)
                                log_warning_errno(r, "Failed to stop %s after its shutdown: %m", machine->name);
                }
        } else if (streq(event, "STOP") && machine->state == MACHINE_RUNNING)
                machine_set_state(machine, MACHINE_PAUSED, MACHINE_REASON_USER);
        else if (streq(event, "RESUME") && machine->state == MACHINE_PAUSED)
                machine_set_state(machine, MACHINE_RUNNING, MACHINE_REASON_USER);
        else if (streq(event, "RESET")) {
                bool guest = data && json_object_get_boolean_member_with_default(data, "guest", false);

                if (guest && machine->state == MACHINE_RUNNING) {
                        machine->reason = MACHINE_REASON_GUEST_RESET;
                        machine->generation++;
                        machine_bus_emit_changed(machine, "StateReason");
                }
        }

        if (data) {
                g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);

                json_node_set_object(node, data);
                json = json_to_string(node, false);
        }
        r = machine_bus_emit_event(machine, event, json ?: "{}");
        if (r < 0)
                log_warning_errno(r, "Failed to relay %s event of %s: %m", event, machine->name);
}

static void on_qmp_disconnect(QmpClient *c, int error, void *userdata) {
        Machine *machine = userdata;

        log_debug("QMP connection of %s closed: %s", machine->name, error < 0 ? strerror(-error) : "EOF");
        /* The unit's own signals say what happened to QEMU; the QMP client is done. */
        machine_qmp_drop(machine);
}

static void on_powerdown_reply(QmpClient *c, int error, JsonNode *result, const QmpError *qerr,
                               void *userdata) {
        Machine *machine = userdata;

        if (error < 0)
                log_debug("system_powerdown of %s: %s", machine->name, qerr ? qerr->desc : strerror(-error));
}

static int send_powerdown(Machine *machine) {
        if (!machine->qmp || !qmp_client_is_ready(machine->qmp))
                return -ENOTCONN;
        return qmp_client_execute(machine->qmp, "system_powerdown", NULL, on_powerdown_reply, machine);
}

static int on_powerdown_repeat(sd_event_source *s, uint64_t usec, void *userdata) {
        Machine *machine = userdata;

        (void) send_powerdown(machine);
        (void) sd_event_source_set_time_relative(s, MACHINE_POWERDOWN_REPEAT_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int on_shutdown_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Machine *machine = userdata;
        int r;

        machine->repeat_timer = sd_event_source_disable_unref(machine->repeat_timer);
        if (machine->shutdown_flags & MACHINE_SHUTDOWN_FORCE) {
                /* Hard stop: QEMU quits on SIGTERM without asking the guest. */
                machine->exit_reason = MACHINE_REASON_TIMEOUT_FORCED;
                machine->op_slot = sd_bus_slot_unref(machine->op_slot);
                r = systemd_kill_unit(machine->manager, machine->unit, "all", SIGKILL,
                                      machine_on_systemd_call_reply, machine, &machine->op_slot);
                if (r < 0)
                        machine_op_reply(machine, BUS_ERROR_JOB_FAILED, "Failed to kill %s: %s",
                                 machine->name, strerror(-r));
                return 0;
        }
        machine_set_state(machine, MACHINE_RUNNING, MACHINE_REASON_USER);
        machine_op_reply(machine, BUS_ERROR_TIMEOUT, "Machine %s did not shut down in time.", machine->name);
        return 0;
}

int machine_shutdown(Machine *machine, uint64_t timeout_usec, uint64_t flags,
                     sd_bus_message *message, sd_bus_error *error) {
        int r;

        if (flags & ~MACHINE_SHUTDOWN_FORCE)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown flags 0x%" PRIx64 ".",
                                         flags & ~MACHINE_SHUTDOWN_FORCE);
        r = machine_require_active(machine, error);
        if (r < 0)
                return r;
        if (machine->state == MACHINE_PAUSED)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                         "Machine %s is paused and cannot react to ACPI; resume or stop it.",
                                         machine->name);
        r = machine_op_begin(machine, MACHINE_OP_SHUTDOWN, message, error);
        if (r < 0)
                return r;
        r = send_powerdown(machine);
        if (r < 0) {
                machine_op_clear(machine);
                return sd_bus_error_setf(error, BUS_ERROR_QMP_UNAVAILABLE,
                                         "QMP of %s is not connected.", machine->name);
        }
        machine->shutdown_flags = flags;
        if (timeout_usec == 0)
                timeout_usec = machine_def_stop_timeout_usec(machine->resolved);
        r = sd_event_add_time_relative(machine->manager->event, &machine->op_timer, CLOCK_MONOTONIC,
                                       timeout_usec, 1000, on_shutdown_timeout, machine);
        if (r >= 0)
                r = sd_event_add_time_relative(machine->manager->event, &machine->repeat_timer,
                                               CLOCK_MONOTONIC, MACHINE_POWERDOWN_REPEAT_USEC, 1000,
                                               on_powerdown_repeat, machine);
        if (r < 0) {
                machine_op_clear(machine);
                return r;
        }
        machine_set_state(machine, MACHINE_STOPPING, MACHINE_REASON_USER);
        return 0;
}

/* ---- reboot, pause, resume: one QMP command each ---- */

static void on_simple_qmp_reply(QmpClient *c, int error, JsonNode *result, const QmpError *qerr,
                                void *userdata) {
        Machine *machine = userdata;
        MachineOperation op = machine->op;

        if (error < 0) {
                machine_op_reply(machine, BUS_ERROR_QMP_UNAVAILABLE, "%s of %s failed: %s",
                         machine_operation_to_string(op), machine->name,
                         qerr ? qerr->desc : strerror(-error));
                return;
        }
        /* The STOP/RESUME events usually arrived already; the reply is authoritative too. */
        if (op == MACHINE_OP_PAUSE && machine->state == MACHINE_RUNNING)
                machine_set_state(machine, MACHINE_PAUSED, MACHINE_REASON_USER);
        else if (op == MACHINE_OP_RESUME && machine->state == MACHINE_PAUSED)
                machine_set_state(machine, MACHINE_RUNNING, MACHINE_REASON_USER);
        machine_op_reply(machine, NULL, NULL);
}

static int qmp_operation(Machine *machine, MachineOperation op, const char *command,
                         sd_bus_message *message, sd_bus_error *error) {
        int r;

        r = machine_require_active(machine, error);
        if (r < 0)
                return r;
        if (!machine->qmp || !qmp_client_is_ready(machine->qmp))
                return sd_bus_error_setf(error, BUS_ERROR_QMP_UNAVAILABLE,
                                         "QMP of %s is not connected.", machine->name);
        r = machine_op_begin(machine, op, message, error);
        if (r < 0)
                return r;
        r = qmp_client_execute(machine->qmp, command, NULL, on_simple_qmp_reply, machine);
        if (r < 0) {
                machine_op_clear(machine);
                if (r == -ENOBUFS)
                        return sd_bus_error_setf(error, BUS_ERROR_LIMITS_EXCEEDED,
                                                 "QMP queue of %s is full (limit %u).", machine->name,
                                                 QMP_PENDING_MAX);
                return r;
        }
        return 0;
}

int machine_reboot(Machine *machine, sd_bus_message *message, sd_bus_error *error) {
        return qmp_operation(machine, MACHINE_OP_REBOOT, "system_reset", message, error);
}

int machine_pause(Machine *machine, sd_bus_message *message, sd_bus_error *error) {
        return qmp_operation(machine, MACHINE_OP_PAUSE, "stop", message, error);
}

int machine_resume(Machine *machine, sd_bus_message *message, sd_bus_error *error) {
        return qmp_operation(machine, MACHINE_OP_RESUME, "cont", message, error);
}
