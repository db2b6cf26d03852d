/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sys/stat.h>

#include "autostart.h"
#include "config.h"
#include "log.h"
#include "machine-bus.h"
#include "manager-bus.h"
#include "manager.h"
#include "manager-transient.h"
#include "machine-lifecycle.h"
#include "polkit.h"
#include "references.h"
#include "systemd-glue.h"

static void machine_free_void(gpointer p) {
        machine_free(p);
}

/* A limit, lowered (never raised) by the environment. */
static unsigned env_limit(const char *name, unsigned def) {
        const char *v = getenv(name);
        unsigned long l;
        char *end;

        if (!v || !*v)
                return def;
        errno = 0;
        l = strtoul(v, &end, 10);
        if (errno != 0 || *end || l >= def)
                return def;
        return (unsigned) l;
}

bool manager_may_add_machine(Manager *m) {
        return g_hash_table_size(m->machines) < m->machines_max;
}

int manager_new(bool user_mode, const char *config_dir, const char *runtime_dir, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        m->user_mode = user_mode;
        m->idle_timeout_usec = MANAGER_IDLE_TIMEOUT_DEFAULT_USEC;
        m->config_dir = strdup(config_dir);
        m->runtime_dir = strdup(runtime_dir);
        if (!m->config_dir || !m->runtime_dir)
                return -ENOMEM;
        m->machines = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, machine_free_void);
        m->machines_max = env_limit("MACHINA_MACHINES_MAX", MANAGER_MACHINES_MAX);
        m->polkit_queries_max = env_limit("MACHINA_POLKIT_QUERIES_MAX", MANAGER_POLKIT_QUERIES_MAX);
        m->polkit_queries_per_machine_max = env_limit("MACHINA_POLKIT_QUERIES_PER_MACHINE_MAX",
                                                      MANAGER_POLKIT_QUERIES_PER_MACHINE_MAX);

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        if (m->machines)
                g_hash_table_destroy(m->machines);
        manager_polkit_registry_free(m);
        sd_event_source_disable_unref(m->gc_event);
        host_config_free(m->host);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        free(m->config_dir);
        free(m->runtime_dir);
        free(m);
        return NULL;
}

static void log_diagnostics(const Diagnostics *diag) {
        for (size_t i = 0; i < diag->n_entries; i++) {
                _cleanup_free_ char *s = diagnostic_format(diag->entries + i);

                if (diag->entries[i].level == DIAGNOSTIC_ERROR)
                        log_error("%s", strna(s));
                else
                        log_warning("%s", strna(s));
        }
}

/* Resolve def against the current host file; on failure the reasons are in diag. */
static int resolve(Manager *m, const MachineDef *def, unsigned index, MachineDef **ret,
                   Diagnostics *diag) {
        return machine_def_resolve(def, m->host, index, ret, diag);
}

/* What caller may reference (docs/security.md, lib/references.h), checked after resolving and
 * before anything is written or started. The rules guard what machinad does with more rights than
 * its caller: a caller with machinad's own uid (root, or the user of a --user daemon, which
 * serves no one else) gains nothing and is not checked. Reload() is not checked either: it reads
 * files that only root could write. */
static int check_references(const MachineDef *resolved, const HostConfig *host, uid_t caller,
                            Diagnostics *diag) {
        if (caller == geteuid())
                return 0;
        return definition_check_references(resolved, host, caller, diag);
}

static int add_machine(Manager *m, MachineDef *def, MachineDef *resolved, bool persistent,
                       Machine **ret) {
        Machine *machine;
        int r;

        if (!manager_may_add_machine(m)) {
                machine_def_free(def);
                machine_def_free(resolved);
                return -E2BIG;
        }
        r = machine_new(m, def, resolved, persistent, &machine);
        if (r < 0)
                return r;
        g_hash_table_insert(m->machines, machine->name, machine);
        machine_bus_emit_added(machine);
        if (ret)
                *ret = machine;
        return 0;
}

static void remove_machine(Manager *m, Machine *machine) {
        if (!machine->persistent)
                manager_transient_remove(m, machine->name);
        machine_bus_emit_removed(machine);
        g_hash_table_remove(m->machines, machine->name);
}

/* The guest a broken file was meant to define: its file name without the suffix. */
static char *broken_file_machine_name(const char *file) {
        const char *base = strrchr(file, '/');
        size_t n, sl = strlen(MACHINE_CONF_SUFFIX);

        base = base ? base + 1 : file;
        n = strlen(base);
        if (n <= sl || !streq(base + n - sl, MACHINE_CONF_SUFFIX))
                return NULL;
        return strndup(base, n - sl);
}

/* Collect every error as "file: path: reason", and the names whose files are broken. */
static int collect_broken(const Diagnostics *diag, char ***report, char ***names) {
        int r;

        for (size_t i = 0; i < diag->n_entries; i++) {
                const Diagnostic *e = diag->entries + i;
                char *name;

                if (e->level != DIAGNOSTIC_ERROR)
                        continue;
                r = strv_push(report, diagnostic_format(e));
                if (r < 0)
                        return r;
                name = broken_file_machine_name(e->file);
                if (name) {
                        r = strv_push(names, name);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int load_into(Manager *m, char ***ret_report) {
        _cleanup_(host_config_freep) HostConfig *host = NULL;
        _cleanup_(diagnostics_done) Diagnostics diag = {};
        _cleanup_strv_free_ char **report = NULL, **broken_names = NULL;
        MachineDef **defs = NULL;
        size_t n = 0;
        int r;

        r = config_load_all(m->config_dir, &host, &defs, &n, &diag);
        log_diagnostics(&diag);
        if (r < 0)
                return log_error_errno(r, "Failed to load definitions from %s: %m", m->config_dir);
        r = collect_broken(&diag, &report, &broken_names);
        if (r < 0) {
                machine_defs_free(defs, n);
                return log_oom();
        }

        host_config_free(m->host);
        m->host = TAKE_PTR(host);

        /* Forget guests whose file is gone, unless they are running (they stay until stopped) or
         * their file is there but broken (the previous good version stays). */
        GHashTableIter it;
        gpointer value;
        g_hash_table_iter_init(&it, m->machines);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                Machine *machine = value;
                bool found = false;

                if (!machine->persistent || machine_is_active(machine) ||
                    strv_contains(broken_names, machine->name))
                        continue;
                for (size_t i = 0; i < n && !found; i++)
                        found = streq(defs[i]->name, machine->name);
                if (!found) {
                        machine_bus_emit_removed(machine);
                        g_hash_table_iter_remove(&it);
                }
        }

        for (size_t i = 0; i < n; i++) {
                _cleanup_(diagnostics_done) Diagnostics rdiag = {};
                _cleanup_(machine_def_freep) MachineDef *def = TAKE_PTR(defs[i]);
                MachineDef *resolved = NULL;
                Machine *existing;

                existing = manager_get_machine(m, def->name);
                r = resolve(m, def, (unsigned) i, &resolved, &rdiag);
                log_diagnostics(&rdiag);
                if (r < 0) {
                        /* Resolves no more (a tag or pool went away): keep the previous version. */
                        if (collect_broken(&rdiag, &report, &broken_names) < 0) {
                                machine_defs_free(defs, n);
                                return log_oom();
                        }
                        continue;
                }

                if (existing && !existing->persistent) {
                        log_warning("Definition %s names the running transient machine; ignored until it stops.",
                                    def->name);
                        machine_def_free(resolved);
                        continue;
                }
                if (existing)
                        machine_replace_definition(existing, TAKE_PTR(def), resolved);
                else {
                        if (!manager_may_add_machine(m)) {
                                log_error("Too many machines (limit %u); %s is not loaded.",
                                          m->machines_max, def->name);
                                machine_def_free(resolved);
                                continue;
                        }
                        r = add_machine(m, TAKE_PTR(def), resolved, true, NULL);
                        if (r < 0) {
                                machine_defs_free(defs, n);
                                return log_oom();
                        }
                }
        }
        machine_defs_free(defs, n);
        m->next_index = (unsigned) n;
        /* Transient guests keep their machine-index: a new one must not reuse it. */
        g_hash_table_iter_init(&it, m->machines);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                Machine *machine = value;

                if (!machine->persistent && machine->resolved->index >= m->next_index)
                        m->next_index = machine->resolved->index + 1;
        }
        r = (int) strv_length(report);
        if (ret_report)
                *ret_report = TAKE_PTR(report);
        return r;
}

int manager_make_runtime_dir(Manager *m) {
        /* 0755 whatever machinad's UMask= (0077 in machinad.service): QEMU, running as the QEMU
         * user, must reach its guest's directory below. Only a directory we create is changed. */
        if (mkdir(m->runtime_dir, 0755) < 0)
                return errno == EEXIST ? 0 : -errno;
        if (chmod(m->runtime_dir, 0755) < 0)
                return -errno;
        return 0;
}

int manager_load(Manager *m) {
        _cleanup_free_ char *dir = NULL;
        int r;

        /* Left by a write that a crash interrupted; the old definition next to it is intact. */
        if (asprintf(&dir, "%s/" MACHINE_CONF_DIR, m->config_dir) < 0)
                return log_oom();
        r = config_remove_stale_temporaries(dir);
        if (r < 0)
                log_warning_errno(r, "Failed to clean up temporary files in %s: %m", dir);
        else if (r > 0)
                log_info("Removed %d temporary file(s) of interrupted writes in %s.", r, dir);

        r = load_into(m, NULL);
        if (r < 0)
                return r;
        log_info("Loaded %u machine(s) from %s%s.", g_hash_table_size(m->machines), m->config_dir,
                 r > 0 ? " (some definitions were skipped, see above)" : "");
        return 0;
}

int manager_reload(Manager *m, char ***ret_report) {
        return load_into(m, ret_report);
}

Machine *manager_get_machine(Manager *m, const char *name) {
        return g_hash_table_lookup(m->machines, name);
}

Machine *manager_get_machine_by_uuid(Manager *m, const char *uuid) {
        GHashTableIter it;
        gpointer value;
        uuid_t u;

        if (uuid_parse(uuid, u) < 0)
                return NULL;
        g_hash_table_iter_init(&it, m->machines);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                Machine *machine = value;

                /* A guest without "id" has no UUID: the all-zero one names none of them. */
                if (machine->resolved->id_set && uuid_compare(machine->resolved->id, u) == 0)
                        return machine;
        }
        return NULL;
}

Machine *manager_get_machine_by_unit(Manager *m, const char *unit) {
        _cleanup_free_ char *name = NULL;
        size_t n = strlen(unit);

        if (n <= strlen("machina-.service") || strncmp(unit, "machina-", 8) != 0 ||
            !streq(unit + n - 8, ".service"))
                return NULL;
        name = strndup(unit + 8, n - 16);
        if (!name)
                return NULL;
        return manager_get_machine(m, name);
}

/* Bring back the transient guests whose units still run; a record without its unit is stale. */
static void restore_transient(Manager *m, char **units) {
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = manager_transient_list(m, &names);
        if (r < 0) {
                log_warning_errno(r, "Failed to list transient machines: %m");
                return;
        }
        for (char **n = names; n && *n; n++) {
                _cleanup_(diagnostics_done) Diagnostics diag = {};
                _cleanup_(machine_def_freep) MachineDef *def = NULL;
                _cleanup_free_ char *unit = NULL;
                MachineDef *resolved = NULL;
                unsigned index;

                if (asprintf(&unit, "machina-%s.service", *n) < 0) {
                        log_oom();
                        return;
                }
                if (!strv_contains(units, unit)) {
                        log_info("Transient machine %s is gone; forgetting it.", *n);
                        manager_transient_remove(m, *n);
                        continue;
                }
                if (manager_get_machine(m, *n)) {
                        /* Defined meanwhile: the definition names the unit from now on. */
                        log_warning("Transient machine %s has a definition now; adopting it as that.", *n);
                        manager_transient_remove(m, *n);
                        continue;
                }
                r = manager_transient_read(m, *n, &def, &index);
                if (r >= 0)
                        r = resolve(m, def, index, &resolved, &diag);
                if (r >= 0)
                        r = add_machine(m, TAKE_PTR(def), resolved, false, NULL);
                if (r < 0) {
                        log_diagnostics(&diag);
                        log_warning_errno(r, "Cannot restore transient machine %s, leaving its unit alone: %m", *n);
                        continue;
                }
                if (index >= m->next_index)
                        m->next_index = index + 1;
        }
}

int manager_adopt_running(Manager *m) {
        _cleanup_strv_free_ char **units = NULL;
        int r;

        r = systemd_list_guest_units(m, &units);
        if (r < 0)
                return r;
        restore_transient(m, units);
        for (char **u = units; u && *u; u++) {
                Machine *machine = manager_get_machine_by_unit(m, *u);
                uint32_t pid = 0;

                if (!machine) {
                        log_warning("Unit %s runs, but no definition names it; leaving it alone.", *u);
                        continue;
                }
                (void) systemd_get_unit_main_pid(m, *u, &pid);
                r = machine_adopt(machine, pid);
                if (r < 0)
                        log_warning_errno(r, "Failed to adopt %s: %m", machine->name);
                else
                        log_info("Adopted running machine %s (PID %u).", machine->name, pid);
        }
        return 0;
}

int manager_define_machine(Manager *m, const char *json, uint64_t flags, uid_t caller,
                           Diagnostics *diag, Machine **ret) {
        _cleanup_(machine_def_freep) MachineDef *def = NULL, *resolved = NULL;
        _cleanup_free_ char *dir = NULL, *data = NULL;
        Machine *existing;
        size_t len = strlen(json);
        int r;

        if (len > DEF_FILE_SIZE_MAX)
                return diag_error(diag, "<bus>", "$", "definition is %zu bytes, limit is %u",
                                  len, DEF_FILE_SIZE_MAX);
        r = machine_def_parse(json, len, "<bus>", &def, diag);
        if (r < 0)
                return r;

        existing = manager_get_machine(m, def->name);
        if (existing && !(flags & MACHINA_DEFINE_REPLACE))
                return -EEXIST;
        if (existing && !existing->persistent)
                return -EBUSY;

        if (!existing && !manager_may_add_machine(m))
                return -E2BIG;

        r = resolve(m, def, existing ? existing->resolved->index : m->next_index, &resolved, diag);
        if (r < 0)
                return r;
        r = check_references(resolved, m->host, caller, diag);
        if (r < 0)
                return r;

        /* Store the definition as given, normalized, so the file reads like what was defined. */
        r = machine_def_to_json(def, true, &data);
        if (r < 0)
                return r;
        if (asprintf(&dir, "%s/" MACHINE_CONF_DIR, m->config_dir) < 0)
                return -ENOMEM;
        if (mkdir(m->config_dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        r = config_write_atomic(dir, def->name, data, strlen(data));
        if (r < 0)
                return log_error_errno(r, "Failed to write definition of %s: %m", def->name);

        if (existing)
                machine_replace_definition(existing, TAKE_PTR(def), TAKE_PTR(resolved));
        else {
                r = add_machine(m, TAKE_PTR(def), TAKE_PTR(resolved), true, &existing);
                if (r < 0)
                        return r;
                m->next_index++;
        }
        log_info("Defined machine %s.", existing->name);
        if (ret)
                *ret = existing;
        return 0;
}

int manager_undefine_machine(Manager *m, const char *name) {
        _cleanup_free_ char *path = NULL;
        Machine *machine;

        machine = manager_get_machine(m, name);
        if (!machine)
                return -ENXIO;
        if (machine_is_active(machine))
                return -EBUSY;
        if (machine->persistent) {
                if (asprintf(&path, "%s/" MACHINE_CONF_DIR "/%s" MACHINE_CONF_SUFFIX,
                             m->config_dir, name) < 0)
                        return -ENOMEM;
                if (unlink(path) < 0 && errno != ENOENT)
                        return log_error_errno(errno, "Failed to remove %s: %m", path);
        }
        log_info("Undefined machine %s.", name);
        remove_machine(m, machine);
        return 0;
}

bool manager_is_idle(Manager *m) {
        GHashTableIter it;
        gpointer value;

        if (m->polkit_registry && g_hash_table_size(m->polkit_registry) > 0)
                return false;
        if (manager_autostart_pending(m))
                return false;
        g_hash_table_iter_init(&it, m->machines);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                Machine *machine = value;

                if (machine_is_active(machine) || machine->op != MACHINE_OP_NONE)
                        return false;
        }
        return true;
}

int manager_create_machine(Manager *m, const char *json, uid_t caller, Diagnostics *diag,
                           Machine **ret) {
        _cleanup_(machine_def_freep) MachineDef *def = NULL, *resolved = NULL;
        _cleanup_free_ char *name = NULL;
        size_t len = strlen(json);
        int r;

        if (len > DEF_FILE_SIZE_MAX)
                return diag_error(diag, "<bus>", "$", "definition is %zu bytes, limit is %u",
                                  len, DEF_FILE_SIZE_MAX);
        r = machine_def_parse(json, len, "<bus>", &def, diag);
        if (r < 0)
                return r;
        if (manager_get_machine(m, def->name))
                return -EEXIST;
        if (!manager_may_add_machine(m))
                return -E2BIG;
        r = resolve(m, def, m->next_index, &resolved, diag);
        if (r < 0)
                return r;
        r = check_references(resolved, m->host, caller, diag);
        if (r < 0)
                return r;
        /* Recorded before its unit exists, so a machinad restart never loses a running guest. */
        r = manager_transient_save(m, def, m->next_index);
        if (r < 0)
                return log_error_errno(r, "Failed to record transient machine %s: %m", def->name);
        name = strdup(def->name);
        if (!name)
                return -ENOMEM;
        r = add_machine(m, TAKE_PTR(def), TAKE_PTR(resolved), false, ret);
        if (r < 0) {
                manager_transient_remove(m, name);
                return r;
        }
        m->next_index++;
        log_info("Created transient machine %s.", (*ret)->name);
        return 0;
}

static int on_gc(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        GHashTableIter it;
        gpointer value;

        g_hash_table_iter_init(&it, m->machines);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                Machine *machine = value;

                if (machine->persistent || machine_is_active(machine) || machine->op != MACHINE_OP_NONE)
                        continue;
                log_info("Transient machine %s stopped; removing it.", machine->name);
                manager_transient_remove(m, machine->name);
                machine_bus_emit_removed(machine);
                g_hash_table_iter_remove(&it);
        }
        return 0;
}

void manager_schedule_gc(Manager *m) {
        int r;

        if (!m->event)
                return;
        if (m->gc_event) {
                r = sd_event_source_set_enabled(m->gc_event, SD_EVENT_ONESHOT);
                if (r >= 0)
                        return;
                m->gc_event = sd_event_source_disable_unref(m->gc_event);
        }
        r = sd_event_add_defer(m->event, &m->gc_event, on_gc, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->gc_event, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r, "Failed to schedule removal of transient machines: %m");
}
