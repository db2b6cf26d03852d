/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Verbs that read the definitions directly and need no daemon: cat, args, unit, gen-id, gen-mac.
 * They go through the same library calls as machinad (config_load_all, machine_def_resolve with
 * the load-order index, qemu_argv_build, unit_properties_build), so what they print is what the
 * daemon would run. */

#include <inttypes.h>
#include <uuid/uuid.h>

#include "accel.h"
#include "config.h"
#include "identifiers.h"
#include "log.h"
#include "machinactl.h"
#include "qemu-argv.h"
#include "unit-properties.h"

typedef struct Loaded {
        char *confdir;
        HostConfig *host;
        MachineDef **defs;
        size_t n;
        Diagnostics diag;
} Loaded;

static void loaded_done(Loaded *l) {
        free(l->confdir);
        host_config_free(l->host);
        machine_defs_free(l->defs, l->n);
        diagnostics_done(&l->diag);
}

static void print_diagnostics(const Diagnostics *d) {
        for (size_t i = 0; i < d->n_entries; i++) {
                _cleanup_free_ char *s = diagnostic_format(d->entries + i);

                fprintf(stderr, "%s\n", strna(s));
        }
}

static int dir_for(const char *explicit, bool user, const char *xdg_env, const char *system_dir,
                   char **ret) {
        const char *x;

        if (explicit)
                *ret = strdup(explicit);
        else if (!user)
                *ret = strdup(system_dir);
        else if ((x = getenv(xdg_env)) && *x == '/') {
                if (asprintf(ret, "%s/machina", x) < 0)
                        *ret = NULL;
        } else if (streq(xdg_env, "XDG_CONFIG_HOME") && (x = getenv("HOME")) && *x == '/') {
                if (asprintf(ret, "%s/.config/machina", x) < 0)
                        *ret = NULL;
        } else
                return log_error_errno(ENXIO, "$%s is not set, cannot find the user directory.", xdg_env);
        return *ret ? 0 : log_oom();
}

static int load(const CtlOptions *o, Loaded *l) {
        int r;

        r = dir_for(o->config_dir, o->user, "XDG_CONFIG_HOME", "/etc/machina", &l->confdir);
        if (r < 0)
                return r;
        r = config_load_all(l->confdir, &l->host, &l->defs, &l->n, &l->diag);
        print_diagnostics(&l->diag);
        if (r < 0)
                return log_error_errno(r, "Failed to load definitions from %s: %m", l->confdir);
        return 0;
}

/* Exit code for a name that did not load: 1 if its own file is broken, else 4 (unknown). */
static int missing(const Loaded *l, const char *name) {
        _cleanup_free_ char *file = NULL;

        if (asprintf(&file, "/%s%s", name, MACHINE_CONF_SUFFIX) < 0)
                return EXIT_FAILURE;
        for (size_t i = 0; i < l->diag.n_entries; i++) {
                const char *f = l->diag.entries[i].file;
                size_t a = strlen(f), b = strlen(file);

                if (l->diag.entries[i].level == DIAGNOSTIC_ERROR && a >= b && streq(f + a - b, file))
                        return EXIT_FAILURE;
        }
        log_error("No machine '%s'.", name);
        return EXIT_NO_SUCH_MACHINE;
}

/* Resolves the named definition. Returns 0 or an exit code; ret set only on 0. */
static int resolve_named(const Loaded *l, const char *name, MachineDef **ret) {
        for (size_t i = 0; i < l->n; i++) {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                int r;

                if (!streq(l->defs[i]->name, name))
                        continue;
                r = machine_def_resolve(l->defs[i], l->host, (unsigned) i, ret, &d);
                print_diagnostics(&d);
                if (r < 0) {
                        if (d.n_errors == 0)
                                log_error_errno(r, "Failed to resolve %s: %m", name);
                        return EXIT_FAILURE;
                }
                return 0;
        }
        return missing(l, name);
}

static void print_summary(const MachineDef *m) {
        char uuid[UUID_STR_LEN];

        uuid_unparse_lower(m->id, uuid);
        printf("%s (%s)\n", m->name, uuid);
        if (m->description)
                printf("  Description: %s\n", m->description);
        if (m->source)
                printf("       Source: %s\n", m->source);
        if (m->tags) {
                printf("         Tags:");
                for (char **t = m->tags; *t; t++)
                        printf(" %s", *t);
                printf("\n");
        }
        for (size_t i = 0; i < m->n_vars; i++)
                printf("%s %s=%s\n", i == 0 ? "         Vars:" : "              ", m->vars[i].name, m->vars[i].value);
        printf("         CPUs: %u%s%s\n", m->attrs.cpus ?: 1, m->attrs.cpu_model ? ", model " : "",
               strempty(m->attrs.cpu_model));
        printf("       Memory: %" PRIu64 " MiB\n", m->attrs.memory_mib ?: 512);
        printf("        Accel: %s\n", accel_to_string(m->attrs.accel));
        printf("    Autostart: %s\n", strna(autostart_to_string(m->autostart)));
        printf(" Stop timeout: %" PRIu64 " s\n", machine_def_stop_timeout_usec(m) / 1000000);
        if (m->attrs.kernel)
                printf("       Kernel: %s%s%s%s%s\n", m->attrs.kernel,
                       m->attrs.initrd ? ", initrd " : "", strempty(m->attrs.initrd),
                       m->attrs.cmdline ? ", cmdline " : "", strempty(m->attrs.cmdline));
        for (size_t i = 0; i < m->n_volumes; i++) {
                const Volume *v = m->volumes + i;

                printf("%s %s: %s (%s, %s%s)%s%s%s%s\n", i == 0 ? "      Volumes:" : "              ",
                       v->name, strna(v->path), strna(volume_format_to_string(v->format)),
                       v->bus != DISK_BUS_UNSET ? disk_bus_to_string(v->bus) :
                       v->format == VOLUME_FORMAT_ISO ? "sata" : "scsi", v->readonly > 0 ? ", read-only" : "",
                       v->wwn ? " WWN " : "", strempty(v->wwn),
                       v->serial ? " serial " : "", strempty(v->serial));
        }
        for (size_t i = 0; i < m->n_connections; i++) {
                const Connection *c = m->connections + i;

                printf("%s %s: network %s (%s%s%s) MAC %s\n", i == 0 ? "  Connections:" : "              ",
                       c->name, strna(c->network), strna(network_kind_to_string(c->kind)),
                       c->bridge ? ", bridge " : "", strempty(c->bridge), strna(c->mac));
        }
        for (size_t i = 0; i < m->n_devices; i++) {
                const Device *d = m->devices + i;

                printf("%s %s: class %s UUID %s\n", i == 0 ? "      Devices:" : "              ",
                       d->name, strna(d->class), strna(d->id));
        }
}

static int for_each_resolved(const CtlOptions *o, char **names,
                             int (*f)(const CtlOptions *o, const Loaded *l, const MachineDef *m, bool many)) {
        _cleanup_(loaded_done) Loaded l = {};
        int r, ret = 0;

        if (!names || !names[0])
                return log_error("At least one machine name expected."), EXIT_FAILURE;
        r = load(o, &l);
        if (r < 0)
                return EXIT_FAILURE;

        for (char **n = names; *n; n++) {
                _cleanup_(machine_def_freep) MachineDef *m = NULL;

                r = resolve_named(&l, *n, &m);
                if (r == 0)
                        r = f(o, &l, m, names[1] != NULL);
                if (r != 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

static int cat_one(const CtlOptions *o, const Loaded *l, const MachineDef *m, bool many) {
        _cleanup_free_ char *json = NULL;
        int r;

        if (!o->json) {
                print_summary(m);
                return 0;
        }
        r = machine_def_to_json(m, o->json_pretty, &json);
        if (r < 0)
                return log_error_errno(r, "Failed to serialize %s: %m", m->name), EXIT_FAILURE;
        printf("%s\n", json);
        return 0;
}

int verb_cat(const CtlOptions *o, char **names) {
        return for_each_resolved(o, names, cat_one);
}

/* The argv exactly as machinad would build it. */
static int build_argv(const CtlOptions *o, const Loaded *l, const MachineDef *m, bool need_absolute,
                      char **ret_rtdir, Accel *ret_accel, char ***ret_argv) {
        _cleanup_free_ char *base = NULL, *rtdir = NULL, *emulator = NULL;
        const char *name = o->emulator ?: (l->host && l->host->emulator ? l->host->emulator : "qemu-system-x86_64");
        Accel accel;
        int r;

        r = dir_for(o->runtime_dir, o->user, "XDG_RUNTIME_DIR", "/run/machina", &base);
        if (r < 0)
                return r;
        if (asprintf(&rtdir, "%s/%s", base, m->name) < 0)
                return log_oom();

        r = qemu_find_binary(name, &emulator);
        if (r == -ENOENT && !need_absolute)
                emulator = strdup(name);
        else if (r < 0)
                return log_error_errno(r, "Cannot find emulator %s: %m", name);
        if (!emulator)
                return log_oom();

        accel = accel_choose(l->host ? l->host->accel : ACCEL_AUTO, m->attrs.accel,
                             o->user || !l->host ? NULL : l->host->qemu_user, NULL, NULL);
        r = qemu_argv_build(m, l->host, emulator, accel, &(RuntimePaths) { .dir = rtdir }, ret_argv);
        if (r < 0)
                return log_error_errno(r, "Cannot build the QEMU command line of %s: %m", m->name);
        *ret_rtdir = TAKE_PTR(rtdir);
        *ret_accel = accel;
        return 0;
}

static int args_one(const CtlOptions *o, const Loaded *l, const MachineDef *m, bool many) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *rtdir = NULL, *text = NULL;
        Accel accel;

        if (build_argv(o, l, m, false, &rtdir, &accel, &argv) < 0)
                return EXIT_FAILURE;
        text = qemu_argv_format(argv);
        if (!text)
                return log_oom(), EXIT_FAILURE;
        if (many)
                printf("# %s\n", m->name);
        fputs(text, stdout);
        return 0;
}

int verb_args(const CtlOptions *o, char **names) {
        return for_each_resolved(o, names, args_one);
}

static int unit_one(const CtlOptions *o, const Loaded *l, const MachineDef *m, bool many) {
        _cleanup_(unit_properties_done) UnitProperties p = {};
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *rtdir = NULL, *text = NULL, *unit = NULL;
        const char *user = NULL, *group = NULL;
        Accel accel;
        int r;

        if (build_argv(o, l, m, true, &rtdir, &accel, &argv) < 0)
                return EXIT_FAILURE;
        if (!o->user) {
                user = l->host && l->host->qemu_user ? l->host->qemu_user : "machina-qemu";
                group = l->host && l->host->qemu_group ? l->host->qemu_group : user;
        }
        r = unit_properties_build(m, argv, &(UnitContext) {
                        .qmp_stop_helper = o->qmp_stop_helper ?: LIBEXECDIR "/machina-qmp-stop",
                        .runtime_dir = rtdir,
                        .user = user,
                        .group = group,
                        .user_mode = o->user,
                        .accel = accel,
                }, &p);
        if (r >= 0)
                r = unit_properties_render(&p, &text);
        if (r < 0)
                return log_error_errno(r, "Cannot build the unit of %s: %m", m->name), EXIT_FAILURE;
        unit = unit_name_for_machine(m->name);
        if (many)
                printf("# %s\n", strna(unit));
        fputs(text, stdout);
        return 0;
}

int verb_unit(const CtlOptions *o, char **names) {
        return for_each_resolved(o, names, unit_one);
}

int verb_gen_id(const CtlOptions *o, char **args) {
        char s[UUID_STR_LEN];
        uuid_t u;

        if (args && args[0])
                return log_error("gen-id takes no arguments."), EXIT_FAILURE;
        uuid_generate_random(u);
        uuid_unparse_lower(u, s);
        printf("%s\n", s);
        return 0;
}

int verb_gen_mac(const CtlOptions *o, char **args) {
        _cleanup_(loaded_done) Loaded l = {};
        _cleanup_free_ char *mac = NULL;
        uuid_t id = {};
        int r;

        if (strv_length(args) != 2)
                return log_error("gen-mac expects a machine name and a connection name."), EXIT_FAILURE;
        if (o->id) {
                if (uuid_parse(o->id, id) < 0)
                        return log_error("Invalid UUID: %s", o->id), EXIT_FAILURE;
        } else {
                const MachineDef *def = NULL;

                /* The MAC derives from the machine's UUID: take it from its definition. */
                if (load(o, &l) < 0)
                        return EXIT_FAILURE;
                for (size_t i = 0; i < l.n && !def; i++)
                        if (streq(l.defs[i]->name, args[0]))
                                def = l.defs[i];
                if (!def)
                        return missing(&l, args[0]);
                if (def->id_set)
                        memcpy(id, def->id, sizeof(uuid_t));
        }

        r = identifier_mac(id, args[0], args[1], &mac);
        if (r < 0)
                return log_error_errno(r, "Failed to derive the MAC: %m"), EXIT_FAILURE;
        printf("%s\n", mac);
        return 0;
}
