/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* start, stop, shutdown, reboot, pause, resume, kill: one Machine method per named guest, all
 * in flight at once (GetMachine, then the method, each step asynchronous). */

#include <signal.h>

#include "ctl-bus.h"
#include "log.h"

/* Start and Shutdown answer when the guest is up or off; interactive polkit waits for a human. */
#define LIFECYCLE_CALL_TIMEOUT_USEC (10ULL * 60 * 1000000)

typedef struct Action {
        const char *name;       /* the command */
        const char *verb;       /* for "Failed to VERB NAME" */
        const char *method;
        const char *done;       /* progress line on a terminal */
} Action;

typedef struct Op {
        const CtlOptions *o;
        const Action *action;
        const char *name;
        sd_bus_slot *slot;
        int exit_code;
        bool finished;
        bool progress;
} Op;

static void op_finish(Op *op, int exit_code) {
        op->exit_code = exit_code;
        op->finished = true;
        op->slot = sd_bus_slot_unref(op->slot);
        if (exit_code == 0 && op->progress)
                fprintf(stderr, "%s %s.\n", op->action->done, op->name);
}

static int op_fail(Op *op, const sd_bus_error *error, int r) {
        _cleanup_free_ char *what = NULL;

        if (sd_bus_error_has_name(error, "org.machina.Error.NoSuchMachine")) {
                log_error("No machine '%s'.", op->name);
                op_finish(op, EXIT_NO_SUCH_MACHINE);
                return 0;
        }
        if (asprintf(&what, "Failed to %s %s", op->action->verb, op->name) < 0)
                what = NULL;
        op_finish(op, ctl_log_error(error, r, what ?: op->name));
        return 0;
}

static int on_method_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Op *op = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e)
                return op_fail(op, e, -sd_bus_message_get_errno(reply));
        op_finish(op, 0);
        return 0;
}

static int append_args(Op *op, sd_bus_message *m) {
        const CtlOptions *o = op->o;

        if (streq(op->action->method, "Shutdown"))
                return sd_bus_message_append(m, "tt", o->timeout_usec, (uint64_t) (o->force ? 1 : 0));
        if (streq(op->action->method, "Kill"))
                return sd_bus_message_append(m, "si", o->kill_whom ?: "all", o->signal ?: SIGTERM);
        return 0;
}

static int on_get_machine(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_bus_message_ sd_bus_message *m = NULL;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        sd_bus *bus = sd_bus_message_get_bus(reply);
        Op *op = userdata;
        const char *path;
        uint64_t timeout = LIFECYCLE_CALL_TIMEOUT_USEC;
        int r;

        op->slot = sd_bus_slot_unref(op->slot);
        if (e)
                return op_fail(op, e, -sd_bus_message_get_errno(reply));
        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = sd_bus_message_new_method_call(bus, &m, MACHINA_SERVICE, path, MACHINA_MACHINE_IFACE,
                                                   op->action->method);
        if (r >= 0)
                r = append_args(op, m);
        if (r < 0)
                return op_fail(op, NULL, r);
        if (op->o->timeout_usec > 0 && op->o->timeout_usec + 60000000ULL > timeout)
                timeout = op->o->timeout_usec + 60000000ULL;
        r = sd_bus_call_async(bus, &op->slot, m, on_method_reply, op, timeout);
        if (r < 0)
                return op_fail(op, NULL, r);
        return 0;
}

static int run_action(const CtlOptions *o, const Action *action, char **names) {
        _cleanup_bus_ sd_bus *bus = NULL;
        _cleanup_free_ Op *ops = NULL;
        size_t n = strv_length(names);
        bool progress;
        int r, ret = 0;

        r = ctl_check_names(action->name, names);
        if (r != 0)
                return r;
        r = ctl_bus_open(o, true, &bus);
        if (r != 0)
                return r;
        ops = calloc(n, sizeof *ops);
        if (!ops)
                return log_oom(), EXIT_FAILURE;
        progress = n > 1 && !o->quiet && isatty(STDERR_FILENO);

        for (size_t i = 0; i < n; i++) {
                ops[i] = (Op) { .o = o, .action = action, .name = names[i], .progress = progress };
                r = sd_bus_call_method_async(bus, &ops[i].slot, MACHINA_SERVICE, MACHINA_PATH,
                                             MACHINA_MANAGER_IFACE, "GetMachine", on_get_machine,
                                             ops + i, "s", names[i]);
                if (r < 0)
                        op_fail(ops + i, NULL, r);
        }

        for (;;) {
                bool pending = false;

                for (size_t i = 0; i < n; i++)
                        pending = pending || !ops[i].finished;
                if (!pending)
                        break;
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0) {
                        for (size_t i = 0; i < n; i++)
                                if (!ops[i].finished)
                                        op_fail(ops + i, NULL, r);
                        break;
                }
        }

        /* 4 only if every failure was an unknown machine, as systemctl. */
        for (size_t i = 0; i < n; i++)
                if (ops[i].exit_code != 0 && ret != EXIT_FAILURE)
                        ret = ops[i].exit_code;
        for (size_t i = 0; i < n; i++)
                sd_bus_slot_unref(ops[i].slot);
        return ret;
}

#define ACTION_VERB(fn, verb, method, done)                                     \
        int verb_##fn(const CtlOptions *o, char **names) {                      \
                static const Action a = { #fn, verb, method, done };            \
                return run_action(o, &a, names);                                \
        }

ACTION_VERB(start,    "start",    "Start",    "Started")
ACTION_VERB(stop,     "stop",     "Stop",     "Stopped")
ACTION_VERB(shutdown, "shut down", "Shutdown", "Shut down")
ACTION_VERB(reboot,   "reboot",   "Reboot",   "Rebooted")
ACTION_VERB(pause,    "pause",    "Pause",    "Paused")
ACTION_VERB(resume,   "resume",   "Resume",   "Resumed")
ACTION_VERB(kill,     "kill",     "Kill",     "Signalled")
