/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "autostart.h"
#include "log.h"
#include "machine-lifecycle.h"

static int state_path(Manager *m, char **ret) {
        if (asprintf(ret, "%s/" AUTOSTART_STATE_FILE, m->runtime_dir) < 0)
                return -ENOMEM;
        return 0;
}

/* The names handled this boot; -ENOENT when this boot was not handled yet. */
static int state_read(Manager *m, char ***ret) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        ssize_t n;
        int r;

        r = state_path(m, &path);
        if (r < 0)
                return r;
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while ((n = getline(&line, &size, f)) > 0) {
                if (line[n - 1] == '\n')
                        line[n - 1] = 0;
                if (!machine_name_is_valid(line))
                        continue;
                r = strv_extend(&names, line);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(names);
        return 0;
}

static int state_write(Manager *m, char **names) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        int r;

        r = state_path(m, &path);
        if (r < 0)
                return r;
        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        r = manager_make_runtime_dir(m);
        if (r < 0)
                return r;
        f = fopen(tmp, "we");
        if (!f)
                return -errno;
        for (char **n = names; n && *n; n++)
                fprintf(f, "%s\n", *n);
        if (fflush(f) != 0 || ferror(f)) {
                r = errno > 0 ? -errno : -EIO;
                (void) unlink(tmp);
                return r;
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

static void autostart_now(Machine *machine) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (machine_is_active(machine) || machine->op != MACHINE_OP_NONE) {
                log_info("Autostart of %s: already running or busy, nothing to do.", machine->name);
                return;
        }
        log_info("Autostarting machine %s.", machine->name);
        /* The same Start as a caller's, with nobody to answer. */
        r = machine_start(machine, NULL, &error);
        if (r < 0)
                log_warning("Autostart of %s failed: %s", machine->name,
                            error.message ?: strerror(-r));
}

static int on_autostart_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Machine *machine = userdata;

        machine->autostart_timer = sd_event_source_disable_unref(machine->autostart_timer);
        autostart_now(machine);
        return 0;
}

static int schedule(Machine *machine) {
        uint64_t delay = machine->resolved->boot_delay_usec;
        int r;

        if (delay == 0) {
                autostart_now(machine);
                return 0;
        }
        if (machine->autostart_timer)
                return 0;
        r = sd_event_add_time_relative(machine->manager->event, &machine->autostart_timer,
                                       CLOCK_MONOTONIC, delay, 10000, on_autostart_timer, machine);
        if (r < 0)
                return r;
        log_info("Autostarting machine %s in %" PRIu64 " ms (boot-delay).", machine->name, delay / 1000);
        return 0;
}

void manager_autostart(Manager *m, bool at_startup) {
        _cleanup_strv_free_ char **handled = NULL;
        bool first_of_boot = false, changed = false;
        GHashTableIter it;
        gpointer value;
        int r;

        r = state_read(m, &handled);
        if (r == -ENOENT)
                first_of_boot = at_startup;
        else if (r < 0) {
                log_warning_errno(r, "Failed to read autostart state, not autostarting: %m");
                return;
        }
        if (r == -ENOENT && !at_startup)
                return;         /* nothing handled yet this boot: the startup pass will */

        g_hash_table_iter_init(&it, m->machines);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                Machine *machine = value;
                Autostart a = machine->resolved->autostart;

                if (!machine->persistent || strv_contains(handled, machine->name))
                        continue;
                if (a == AUTOSTART_NO || (a == AUTOSTART_ONESHOT && !first_of_boot))
                        continue;
                r = strv_extend(&handled, machine->name);
                if (r < 0) {
                        log_oom();
                        return;
                }
                changed = true;
                r = schedule(machine);
                if (r < 0)
                        log_warning_errno(r, "Failed to schedule autostart of %s: %m", machine->name);
        }

        /* Remember the boot as handled even when no guest wanted to start. */
        if (changed || first_of_boot) {
                r = state_write(m, handled);
                if (r < 0)
                        log_warning_errno(r, "Failed to record autostart state: %m");
        }
}

bool manager_autostart_pending(Manager *m) {
        GHashTableIter it;
        gpointer value;

        g_hash_table_iter_init(&it, m->machines);
        while (g_hash_table_iter_next(&it, NULL, &value))
                if (((Machine *) value)->autostart_timer)
                        return true;
        return false;
}
