/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "accel.h"
#include "bus-util.h"
#include "log.h"
#include "machine-bus.h"
#include "machine-lifecycle-internal.h"
#include "machined-glue.h"
#include "manager.h"
#include "qemu-argv.h"
#include "systemd-glue.h"
#include "unit-properties.h"

void machine_op_clear(Machine *machine) {
        machine->op = MACHINE_OP_NONE;
        machine->op_message = sd_bus_message_unref(machine->op_message);
        machine->op_slot = sd_bus_slot_unref(machine->op_slot);
        machine->op_timer = sd_event_source_disable_unref(machine->op_timer);
        machine->repeat_timer = sd_event_source_disable_unref(machine->repeat_timer);
        machine->shutdown_flags = 0;
        machine->op_returns_path = false;
}

/* Answer the call in flight: success when error_name is NULL. */
void machine_op_reply(Machine *machine, const char *error_name, const char *format, ...) {
        sd_bus_message *message = machine->op_message;
        int r = 0;

        if (message) {
                if (error_name) {
                        _cleanup_free_ char *text = NULL;
                        va_list ap;

                        va_start(ap, format);
                        if (vasprintf(&text, format, ap) < 0)
                                text = NULL;
                        va_end(ap);
                        r = sd_bus_reply_method_errorf(message, error_name, "%s", strna(text));
                } else if (machine->op_returns_path)
                        r = sd_bus_reply_method_return(message, "o", machine->path);
                else
                        r = sd_bus_reply_method_return(message, NULL);
                if (r < 0)
                        log_warning_errno(r, "Failed to reply to %s of %s: %m",
                                          machine_operation_to_string(machine->op), machine->name);
        }
        machine_op_clear(machine);
}

int machine_op_begin(Machine *machine, MachineOperation op, sd_bus_message *message,
                    sd_bus_error *error) {
        if (machine->op != MACHINE_OP_NONE)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                         "Machine %s is busy with %s.", machine->name,
                                         machine_operation_to_string(machine->op));
        machine->op = op;
        machine->op_message = sd_bus_message_ref(message);
        return 0;
}

/* ---- runtime directory ---- */

static const char * const runtime_files[] = {
        RUNTIME_QMP_SOCKET, RUNTIME_QMP_STOP_SOCKET, RUNTIME_CONSOLE_SOCKET, RUNTIME_GA_SOCKET,
};

static void runtime_dir_remove(Machine *machine) {
        _cleanup_close_ int fd = -EBADF;

        if (!machine->runtime_dir)
                return;
        fd = open(machine->runtime_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0)
                for (size_t i = 0; i < ELEMENTSOF(runtime_files); i++)
                        (void) unlinkat(fd, runtime_files[i], 0);
        (void) rmdir(machine->runtime_dir);
        machine->runtime_dir = mfree(machine->runtime_dir);
}

static int runtime_dir_path(Machine *machine, char **ret) {
        if (asprintf(ret, "%s/%s", machine->manager->runtime_dir, machine->name) < 0)
                return -ENOMEM;
        return 0;
}

static int runtime_dir_create(Machine *machine, gid_t gid) {
        Manager *m = machine->manager;
        _cleanup_free_ char *path = NULL;
        int r;

        r = runtime_dir_path(machine, &path);
        if (r < 0)
                return r;
        r = manager_make_runtime_dir(m);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", m->runtime_dir);
        if (mkdir(path, 0750) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s: %m", path);
        /* QEMU runs as the QEMU user: it creates its sockets here, machinad (root) connects through
         * the QEMU group. machinad.service makes that group machinad's own (Group=), so the new
         * directory has it already; chown() only for another one (and then machinad must be a
         * member: it has no CAP_CHOWN, nor chown() past its SystemCallFilter=, see
         * docs/security.md). */
        if (gid != (gid_t) -1) {
                struct stat st;

                if (stat(path, &st) < 0 ||
                    (st.st_gid != gid && chown(path, 0, gid) < 0) ||
                    chmod(path, 0770) < 0)
                        return log_error_errno(errno, "Failed to hand %s to the QEMU group: %m", path);
        }
        free(machine->runtime_dir);
        machine->runtime_dir = TAKE_PTR(path);
        /* Stale sockets of an earlier run would make QEMU fail to bind. */
        for (size_t i = 0; i < ELEMENTSOF(runtime_files); i++) {
                _cleanup_free_ char *f = NULL;

                if (asprintf(&f, "%s/%s", machine->runtime_dir, runtime_files[i]) < 0)
                        return -ENOMEM;
                (void) unlink(f);
        }
        return 0;
}

/* ---- start ---- */

static int find_executable(const char *name, char **ret) {
        const char *path = getenv("PATH") ?: "/usr/local/bin:/usr/bin:/bin";
        _cleanup_free_ char *copy = NULL;
        char *saveptr = NULL;

        if (strchr(name, '/'))
                return free_and_strdup(ret, name) < 0 ? -ENOMEM : (access(name, X_OK) < 0 ? -errno : 0);
        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (char *dir = strtok_r(copy, ":", &saveptr); dir; dir = strtok_r(NULL, ":", &saveptr)) {
                _cleanup_free_ char *p = NULL;

                if (asprintf(&p, "%s/%s", dir, name) < 0)
                        return -ENOMEM;
                if (p[0] == '/' && access(p, X_OK) == 0) {
                        *ret = TAKE_PTR(p);
                        return 0;
                }
        }
        return -ENOENT;
}

static void start_failed(Machine *machine, const char *error_name, const char *text) {
        machine_qmp_drop(machine);
        runtime_dir_remove(machine);
        machine_set_state(machine, MACHINE_STOPPED, MACHINE_REASON_USER);
        machine_op_reply(machine, error_name, "%s", text);
}

static int on_start_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Machine *machine = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *job;
        int r;

        machine->op_slot = sd_bus_slot_unref(machine->op_slot);
        if (e) {
                _cleanup_free_ char *text = NULL;

                if (asprintf(&text, "systemd refused to start %s: %s", machine->unit, e->message) < 0)
                        text = NULL;
                start_failed(machine, BUS_ERROR_JOB_FAILED, strna(text));
                return 0;
        }
        r = sd_bus_message_read(reply, "o", &job);
        if (r >= 0)
                r = free_and_strdup(&machine->job, job);
        if (r < 0)
                start_failed(machine, BUS_ERROR_JOB_FAILED, "Malformed reply from systemd.");
        return 0;
}

int machine_start(Machine *machine, sd_bus_message *message, sd_bus_error *error) {
        _cleanup_(unit_properties_done) UnitProperties props = {};
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *emulator = NULL, *helper = NULL;
        Manager *m = machine->manager;
        const HostConfig *host = m->host;
        const char *qemu_user = NULL, *qemu_group = NULL;
        gid_t gid = (gid_t) -1;
        Accel accel;
        int r;

        if (machine_is_active(machine))
                return sd_bus_error_setf(error, BUS_ERROR_ALREADY_RUNNING,
                                         "Machine %s is already running.", machine->name);
        r = machine_op_begin(machine, MACHINE_OP_START, message, error);
        if (r < 0)
                return r;

        if (!m->user_mode) {
                struct group *gr;

                qemu_user = host && host->qemu_user ? host->qemu_user : "machina-qemu";
                qemu_group = host && host->qemu_group ? host->qemu_group : qemu_user;
                gr = getgrnam(qemu_group);
                if (!gr || !getpwnam(qemu_user)) {
                        machine_op_clear(machine);
                        return sd_bus_error_setf(error, BUS_ERROR_INVALID_CONFIG,
                                                 "QEMU user %s or group %s does not exist (see machina.sysusers).",
                                                 qemu_user, qemu_group);
                }
                gid = gr->gr_gid;
        }

        r = find_executable(host && host->emulator ? host->emulator : "qemu-system-x86_64", &emulator);
        if (r < 0) {
                machine_op_clear(machine);
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_CONFIG,
                                         "Emulator %s not found: %s",
                                         host && host->emulator ? host->emulator : "qemu-system-x86_64",
                                         strerror(-r));
        }
        helper = strdup(getenv("MACHINA_QMP_STOP_PATH") ?: LIBEXECDIR "/machina-qmp-stop");
        if (!helper) {
                machine_op_clear(machine);
                return -ENOMEM;
        }

        r = runtime_dir_create(machine, gid);
        if (r < 0) {
                machine_op_clear(machine);
                return sd_bus_error_set_errnof(error, r, "Failed to prepare runtime directory of %s: %s",
                                               machine->name, strerror(-r));
        }

        accel = accel_choose(host ? host->accel : ACCEL_AUTO, machine->resolved->attrs.accel,
                             qemu_user, NULL, NULL);
        r = qemu_argv_build(machine->resolved, host, emulator, accel,
                            &(RuntimePaths) { .dir = machine->runtime_dir }, &argv);
        if (r >= 0)
                r = unit_properties_build(machine->resolved, argv, &(UnitContext) {
                                .qmp_stop_helper = helper,
                                .runtime_dir = machine->runtime_dir,
                                .user = qemu_user,
                                .group = qemu_group,
                                .user_mode = m->user_mode,
                                .accel = accel,
                        }, &props);
        if (r >= 0)
                r = systemd_start_transient_unit(m, machine->unit, &props, on_start_reply, machine,
                                                 &machine->op_slot);
        if (r < 0) {
                runtime_dir_remove(machine);
                machine_op_clear(machine);
                return sd_bus_error_set_errnof(error, r, "Failed to start %s: %s", machine->name,
                                               strerror(-r));
        }

        machine->exit_reason = MACHINE_REASON_NONE;
        machine->unit_result = mfree(machine->unit_result);
        machine->unit_started = false;
        machine->pending_changes = false;
        machine_set_state(machine, MACHINE_STARTING, MACHINE_REASON_USER);
        log_info("Starting machine %s (%s).", machine->name, accel_to_string(accel));
        return 0;
}

void machine_on_job_removed(Machine *machine, const char *job, const char *result) {
        if (!machine->job || !streq(machine->job, job))
                return;
        machine->job = mfree(machine->job);

        if (machine->op == MACHINE_OP_START) {
                if (!streq(result, "done")) {
                        _cleanup_free_ char *text = NULL;

                        if (asprintf(&text, "Starting %s failed: job result '%s', unit result '%s'.",
                                     machine->unit, result, strempty(machine->unit_result)) < 0)
                                text = NULL;
                        start_failed(machine, BUS_ERROR_JOB_FAILED, strna(text));
                        return;
                }
                machine->unit_started = true;
                if (machine_qmp_connect_with_retry(machine) < 0)
                        start_failed(machine, BUS_ERROR_QMP_UNAVAILABLE, "Cannot connect to QMP.");
        }
}

/* After Restart=: connect to the new QEMU once it runs (retrying until its socket is there). */
static void restart_follow(Machine *machine) {
        if (!machine->restarting || machine->qmp || machine->op_timer)
                return;
        if (machine_qmp_connect_with_retry(machine) < 0)
                log_warning("Cannot reconnect QMP of %s after its restart.", machine->name);
}

void machine_on_main_pid(Machine *machine, uint32_t pid) {
        if (machine->main_pid == pid || !machine_is_active(machine))
                return;
        machine->main_pid = pid;
        machine->generation++;
        machine_bus_emit_changed(machine, "MainPID");
        if (pid > 0) {
                restart_follow(machine);
                machine_machined_register(machine);
        }
}

void machine_on_auto_restart(Machine *machine) {
        MachineStateReason reason = machine->exit_reason;

        /* A stop of ours is in flight: it ends the unit, no restart to follow. */
        if (!machine_is_active(machine) || machine->restarting ||
            IN_SET(machine->op, MACHINE_OP_START, MACHINE_OP_STOP, MACHINE_OP_SHUTDOWN))
                return;
        if (reason == MACHINE_REASON_NONE)
                reason = MACHINE_REASON_GUEST_SHUTDOWN;
        log_info("Machine %s: QEMU exited (%s); its unit restarts it.", machine->name,
                 machine_state_reason_to_string(reason));
        machine_qmp_drop(machine);
        machine->op_timer = sd_event_source_disable_unref(machine->op_timer);
        machine->restarting = true;
        machine->exit_reason = MACHINE_REASON_NONE;
        machine->main_pid = 0;
        machine_set_state(machine, MACHINE_STARTING, reason);
}

void machine_on_unit_active(Machine *machine) {
        restart_follow(machine);
}

void machine_on_unit_result(Machine *machine, const char *result) {
        (void) free_and_strdup(&machine->unit_result, result);
}

static void unit_gone(Machine *machine);
static void restart_follow(Machine *machine);

static int on_unit_state(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Machine *machine = userdata;
        const char *active = NULL, *sub = NULL;

        machine->state_slot = sd_bus_slot_unref(machine->state_slot);
        if (sd_bus_message_is_method_error(reply, NULL) ||
            systemd_read_unit_state(reply, &active, &sub) < 0 ||
            streq(active, "inactive") || streq(active, "failed")) {
                unit_gone(machine);
                return 0;
        }
        /* Restart= is at work: follow it. */
        if (!machine->restarting)
                machine_on_auto_restart(machine);
        if (streq(active, "active"))
                restart_follow(machine);
        return 0;
}

void machine_on_unit_gone(Machine *machine, const char *active_state) {
        int r;

        if (!machine_is_active(machine))
                return;
        /* A fresh transient unit is announced inactive before its start job runs (often before
         * StartTransientUnit's reply): until the job is done only the job's result counts. */
        if (machine->op == MACHINE_OP_START && !machine->unit_started)
                return;

        /* With Restart= (autostart=always) systemd 252 announces inactive/dead on its way to
         * auto-restart, and again in the restart job's stop half: ask where the unit is now
         * before calling the guest stopped. UnitRemoved (active_state NULL) is final. */
        if (active_state && machine->resolved->autostart == AUTOSTART_ALWAYS &&
            machine->op == MACHINE_OP_NONE) {
                if (machine->state_slot)
                        return;
                r = systemd_get_unit_state(machine->manager, machine->unit, on_unit_state, machine,
                                           &machine->state_slot);
                if (r >= 0)
                        return;
                log_warning_errno(r, "Cannot ask systemd about %s: %m", machine->unit);
        }
        unit_gone(machine);
}

static void unit_gone(Machine *machine) {
        MachineStateReason reason;

        if (!machine_is_active(machine))
                return;
        machine->state_slot = sd_bus_slot_unref(machine->state_slot);

        reason = machine->exit_reason;
        if (reason == MACHINE_REASON_NONE)
                reason = MACHINE_REASON_CRASHED;
        machine->restarting = false;
        if (machine->op == MACHINE_OP_NONE)
                machine->op_timer = sd_event_source_disable_unref(machine->op_timer);
        machine_qmp_drop(machine);
        runtime_dir_remove(machine);
        machine->job = mfree(machine->job);
        log_info("Machine %s stopped (%s).", machine->name, machine_state_reason_to_string(reason));

        if (machine->op == MACHINE_OP_START) {
                machine_set_state(machine, MACHINE_STOPPED, reason);
                machine_op_reply(machine, BUS_ERROR_JOB_FAILED,
                         "QEMU of %s exited during start-up (unit result '%s'); see the unit's log.",
                         machine->name, strempty(machine->unit_result));
        } else {
                machine_set_state(machine, reason == MACHINE_REASON_CRASHED ? MACHINE_CRASHED : MACHINE_STOPPED,
                                  reason);
                if (IN_SET(machine->op, MACHINE_OP_STOP, MACHINE_OP_SHUTDOWN))
                        machine_op_reply(machine, NULL, NULL);
                else if (machine->op != MACHINE_OP_NONE && machine->op != MACHINE_OP_KILL)
                        machine_op_reply(machine, BUS_ERROR_NOT_RUNNING, "Machine %s stopped.", machine->name);
        }
        machine->exit_reason = MACHINE_REASON_NONE;
}

/* ---- stop, shutdown, kill ---- */

int machine_on_systemd_call_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Machine *machine = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        machine->op_slot = sd_bus_slot_unref(machine->op_slot);
        if (e) {
                /* The unit may have gone between our check and systemd's: that is a success. */
                if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit")) {
                        machine_on_unit_gone(machine, NULL);
                        if (machine->op == MACHINE_OP_KILL)
                                machine_op_reply(machine, NULL, NULL);
                        return 0;
                }
                machine_op_reply(machine, BUS_ERROR_JOB_FAILED, "systemd: %s", e->message);
                return 0;
        }
        /* Stop and Shutdown complete when the unit is gone; Kill when the signal was sent. */
        if (machine->op == MACHINE_OP_KILL)
                machine_op_reply(machine, NULL, NULL);
        return 0;
}

int machine_require_active(Machine *machine, sd_bus_error *error) {
        if (!machine_is_active(machine))
                return sd_bus_error_setf(error, BUS_ERROR_NOT_RUNNING,
                                         "Machine %s is not running.", machine->name);
        return 0;
}

static int stop_unit(Machine *machine, MachineStateReason reason) {
        int r;

        machine->exit_reason = reason;
        machine->op_slot = sd_bus_slot_unref(machine->op_slot);
        r = systemd_stop_unit(machine->manager, machine->unit, machine_on_systemd_call_reply, machine,
                              &machine->op_slot);
        if (r < 0)
                return r;
        if (machine->state != MACHINE_STOPPING)
                machine_set_state(machine, MACHINE_STOPPING, reason);
        return 0;
}

int machine_stop(Machine *machine, sd_bus_message *message, sd_bus_error *error) {
        int r;

        r = machine_require_active(machine, error);
        if (r < 0)
                return r;
        r = machine_op_begin(machine, MACHINE_OP_STOP, message, error);
        if (r < 0)
                return r;
        /* The unit's ExecStop helper does ACPI first, then systemd kills after the stop timeout;
         * a paused guest is quit at once by the helper. */
        r = stop_unit(machine, MACHINE_REASON_USER);
        if (r < 0) {
                machine_op_clear(machine);
                return r;
        }
        return 0;
}

int machine_kill(Machine *machine, const char *whom, int signo, sd_bus_message *message,
                 sd_bus_error *error) {
        int r;

        if (!streq(whom, "main") && !streq(whom, "all"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Invalid whom '%s': expected 'main' or 'all'.", whom);
        if (signo <= 0 || signo >= _NSIG)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid signal %d.", signo);
        r = machine_require_active(machine, error);
        if (r < 0)
                return r;
        r = machine_op_begin(machine, MACHINE_OP_KILL, message, error);
        if (r < 0)
                return r;
        machine->exit_reason = MACHINE_REASON_KILLED;
        r = systemd_kill_unit(machine->manager, machine->unit, whom, signo, machine_on_systemd_call_reply,
                              machine, &machine->op_slot);
        if (r < 0) {
                machine_op_clear(machine);
                return r;
        }
        return 0;
}

/* ---- adoption, teardown ---- */

int machine_adopt(Machine *machine, uint32_t main_pid) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = runtime_dir_path(machine, &path);
        if (r < 0)
                return r;
        free(machine->runtime_dir);
        machine->runtime_dir = TAKE_PTR(path);
        machine->main_pid = main_pid;
        machine->unit_started = true;
        machine_set_state(machine, MACHINE_RUNNING, MACHINE_REASON_ADOPTED);
        r = machine_qmp_connect(machine);
        if (r < 0)
                log_warning_errno(r, "Adopted machine %s, but its QMP socket does not answer: %m",
                                  machine->name);
        return 0;
}

void machine_lifecycle_done(Machine *machine) {
        if (machine->op != MACHINE_OP_NONE)
                machine_op_reply(machine, BUS_ERROR_NO_SUCH_MACHINE, "Machine %s went away.", machine->name);
        machine_op_clear(machine);
        machine_qmp_drop(machine);
        sd_bus_slot_unref(machine->state_slot);
        free(machine->runtime_dir);
        free(machine->job);
        free(machine->unit_result);
}
