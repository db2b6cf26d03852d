/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* machina-qmp-stop SOCKET TIMEOUT_SEC: the ExecStop= of every guest unit. Stops QEMU gracefully
 * over its reserved QMP monitor, without machinad: a guest that cannot run code (paused,
 * prelaunch, inmigrate, …) is quit at once; a running one gets ACPI system_powerdown, repeated
 * every 5 s, until QEMU closes the socket (it exited) or TIMEOUT_SEC passed. Either way it exits
 * 0; after a timeout systemd kills QEMU as the unit's TimeoutStopSec= says. */

#include <inttypes.h>
#include <systemd/sd-event.h>

#include "log.h"
#include "qmp.h"

#ifndef USEC_PER_SEC
#define USEC_PER_SEC 1000000ULL
#endif
#define POWERDOWN_REPEAT_USEC (5ULL * USEC_PER_SEC)
#define TIMEOUT_SEC_MAX (7ULL * 24 * 3600)
/* sd-event's default accuracy (0) is 250 ms of slack; the deadline should be met closely. */
#define TIMER_ACCURACY_USEC 1000ULL

typedef struct Stopper {
        sd_event *event;
        QmpClient *qmp;
        sd_event_source *repeat_source, *deadline_source;
        uint64_t timeout_sec;
        unsigned n_powerdowns;
        bool quitting;
} Stopper;

static void stopper_done(Stopper *s) {
        qmp_client_unref(s->qmp);
        sd_event_source_disable_unref(s->repeat_source);
        sd_event_source_disable_unref(s->deadline_source);
        sd_event_unref(s->event);
}

static void on_command_reply(QmpClient *c, int error, JsonNode *result, const QmpError *qmp_error, void *userdata) {
        const char *command = userdata;

        /* -ECONNRESET: QEMU closed the socket before answering; the disconnect handler says so. */
        if (error < 0 && error != -ECONNRESET)
                log_warning_errno(error, "QMP %s failed: %s", command,
                                  qmp_error ? qmp_error->desc : "no reply");
}

static int send_powerdown(Stopper *s) {
        int r;

        r = qmp_client_execute(s->qmp, "system_powerdown", NULL, on_command_reply, (void *) "system_powerdown");
        if (r < 0)
                return log_error_errno(r, "Failed to send system_powerdown: %m");
        s->n_powerdowns++;
        return 0;
}

static int on_repeat(sd_event_source *source, uint64_t usec, void *userdata) {
        Stopper *s = userdata;
        int r;

        r = send_powerdown(s);
        if (r < 0)
                return sd_event_exit(s->event, EXIT_FAILURE);

        r = sd_event_source_set_time_relative(source, POWERDOWN_REPEAT_USEC);
        if (r >= 0)
                r = sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
        if (r < 0) {
                log_error_errno(r, "Failed to re-arm timer: %m");
                return sd_event_exit(s->event, EXIT_FAILURE);
        }
        return 0;
}

static int on_deadline(sd_event_source *source, uint64_t usec, void *userdata) {
        Stopper *s = userdata;

        if (!qmp_client_is_ready(s->qmp))
                /* E.g. another client holds the monitor: QEMU accepts one at a time. */
                log_warning("QMP monitor did not answer within %" PRIu64 " s; leaving QEMU to systemd.", s->timeout_sec);
        else if (s->quitting)
                log_warning("QEMU did not exit within %" PRIu64 " s after quit; leaving it to systemd.", s->timeout_sec);
        else
                log_warning("Guest did not power off within %" PRIu64 " s (%u ACPI power button presses); leaving it to systemd.",
                            s->timeout_sec, s->n_powerdowns);
        return sd_event_exit(s->event, EXIT_SUCCESS);
}

/* Only a running (or suspended, which ACPI wakes) guest can react to the power button. */
static bool status_can_power_down(JsonNode *result, const char **ret_status) {
        JsonObject *o = result && JSON_NODE_HOLDS_OBJECT(result) ? json_node_get_object(result) : NULL;
        const char *status = o ? json_object_get_string_member_with_default(o, "status", NULL) : NULL;
        bool running = o ? json_object_get_boolean_member_with_default(o, "running", false) : false;

        *ret_status = status ?: "unknown";
        return running || streq_ptr(status, "suspended");
}

static void on_status(QmpClient *c, int error, JsonNode *result, const QmpError *qmp_error, void *userdata) {
        Stopper *s = userdata;
        const char *status = "unknown";
        int r;

        if (error == -ECONNRESET)
                return;
        if (error < 0)
                /* Cannot tell: the power button is the gentle choice. */
                log_warning_errno(error, "query-status failed (%s), trying ACPI power-off.",
                                  qmp_error ? qmp_error->desc : "no reply");
        else if (!status_can_power_down(result, &status)) {
                log_info("Guest is %s, quitting QEMU.", status);
                s->quitting = true;
                r = qmp_client_execute(c, "quit", NULL, on_command_reply, (void *) "quit");
                if (r < 0) {
                        log_error_errno(r, "Failed to send quit: %m");
                        sd_event_exit(s->event, EXIT_FAILURE);
                }
                return;
        }

        log_info("Guest is %s, sending ACPI power-off (timeout %" PRIu64 " s).", status, s->timeout_sec);
        if (send_powerdown(s) < 0) {
                sd_event_exit(s->event, EXIT_FAILURE);
                return;
        }
        r = sd_event_add_time_relative(s->event, &s->repeat_source, CLOCK_MONOTONIC,
                                       POWERDOWN_REPEAT_USEC, TIMER_ACCURACY_USEC, on_repeat, s);
        if (r < 0) {
                log_error_errno(r, "Failed to add timer: %m");
                sd_event_exit(s->event, EXIT_FAILURE);
        }
}

static void on_ready(QmpClient *c, void *userdata) {
        Stopper *s = userdata;
        int r;

        r = qmp_client_execute(c, "query-status", NULL, on_status, s);
        if (r < 0) {
                log_error_errno(r, "Failed to send query-status: %m");
                sd_event_exit(s->event, EXIT_FAILURE);
        }
}

static void on_disconnect(QmpClient *c, int error, void *userdata) {
        Stopper *s = userdata;

        /* A plain EOF, or a reset because QEMU exited with our command unread: QEMU is gone. */
        if (error == 0 || error == -ECONNRESET) {
                if (s->quitting || s->n_powerdowns > 0)
                        log_info("QEMU exited.");
                sd_event_exit(s->event, EXIT_SUCCESS);
                return;
        }
        log_error_errno(error, "QMP connection broke: %m");
        sd_event_exit(s->event, EXIT_FAILURE);
}

static int parse_timeout(const char *s, uint64_t *ret) {
        char *end = NULL;
        unsigned long long v;

        if (isempty(s) || !strchr("0123456789", s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || !end || *end != '\0' || v > TIMEOUT_SEC_MAX)
                return -ERANGE;
        *ret = v;
        return 0;
}

static void help(FILE *f) {
        fprintf(f,
                "Usage: %s SOCKET TIMEOUT_SEC\n\n"
                "Stop a QEMU guest gracefully over QMP: quit a paused guest at once, else press\n"
                "the ACPI power button every 5 s until QEMU exits or TIMEOUT_SEC passed.\n",
                program_invocation_short_name);
}

int main(int argc, char *argv[]) {
        _cleanup_(stopper_done) Stopper s = {};
        int r;

        log_set_prefix("machina-qmp-stop");

        if (argc == 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                help(stdout);
                return EXIT_SUCCESS;
        }
        if (argc != 3 || isempty(argv[1]) || parse_timeout(argv[2], &s.timeout_sec) < 0) {
                help(stderr);
                return 2;
        }

        r = sd_event_default(&s.event);
        if (r < 0) {
                log_error_errno(r, "Failed to allocate event loop: %m");
                return EXIT_FAILURE;
        }

        r = qmp_client_connect(s.event, argv[1], &s.qmp);
        if (r == -ENOENT || r == -ECONNREFUSED || r == -ENOTDIR) {
                log_debug_errno(r, "%s: QEMU already gone: %m", argv[1]);
                return EXIT_SUCCESS;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to connect to %s: %m", argv[1]);
                return EXIT_FAILURE;
        }
        qmp_client_set_ready_handler(s.qmp, on_ready, &s);
        qmp_client_set_disconnect_handler(s.qmp, on_disconnect, &s);

        r = sd_event_add_time_relative(s.event, &s.deadline_source, CLOCK_MONOTONIC,
                                       s.timeout_sec * USEC_PER_SEC, TIMER_ACCURACY_USEC, on_deadline, &s);
        if (r < 0) {
                log_error_errno(r, "Failed to add timer: %m");
                return EXIT_FAILURE;
        }

        r = sd_event_loop(s.event);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                return EXIT_FAILURE;
        }
        return r;
}
