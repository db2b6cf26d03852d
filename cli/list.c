/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* list (one GetManagedObjects call), status and show. */

#include <inttypes.h>

#include "ctl-bus.h"
#include "log.h"
#include "machine-info.h"
#include "output.h"

static int compare_info(const void *a, const void *b) {
        return strcmp(strempty(((const MachineInfo *) a)->name), strempty(((const MachineInfo *) b)->name));
}

/* Every machine with its properties from GetManagedObjects. Returns an exit code. */
static int get_all(sd_bus *bus, MachineInfo **ret, size_t *ret_n) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        MachineInfo *infos = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_call_method(bus, MACHINA_SERVICE, MACHINA_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", &error, &reply, NULL);
        if (r < 0)
                return ctl_log_error(&error, r, "Failed to list machines");

        r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
                const char *path;

                r = sd_bus_message_read_basic(reply, 'o', &path);
                if (r >= 0)
                        r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
                while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
                        const char *iface;

                        r = sd_bus_message_read_basic(reply, 's', &iface);
                        if (r < 0)
                                break;
                        if (streq(iface, MACHINA_MACHINE_IFACE)) {
                                MachineInfo *grown = reallocarray(infos, n + 1, sizeof *infos);

                                if (!grown) {
                                        r = -ENOMEM;
                                        break;
                                }
                                infos = grown;
                                infos[n] = (MachineInfo) {};
                                n++;
                                r = machine_info_read(reply, infos + n - 1);
                                if (r >= 0)
                                        r = free_and_strdup(&infos[n - 1].path, path);
                        } else
                                r = sd_bus_message_skip(reply, "a{sv}");
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        if (r < 0) {
                machine_infos_free(infos, n);
                log_error_errno(r, "Failed to parse the list of machines: %m");
                return EXIT_FAILURE;
        }
        if (n > 0)
                qsort(infos, n, sizeof *infos, compare_info);
        *ret = infos;
        *ret_n = n;
        return 0;
}

static int list_json(const CtlOptions *o, const MachineInfo *infos, size_t n) {
        g_autoptr(JsonNode) root = json_node_new(JSON_NODE_ARRAY);
        JsonArray *a = json_array_new();

        json_node_take_array(root, a);
        for (size_t i = 0; i < n; i++)
                if (o->all || machine_info_is_active(infos + i))
                        json_array_add_element(a, machine_info_to_json(infos + i, NULL));
        return json_print(root, o->json_pretty) < 0 ? EXIT_FAILURE : 0;
}

static int list_table(const CtlOptions *o, const MachineInfo *infos, size_t n) {
        static const char * const columns[] = {
                "MACHINE", "STATE", "REASON", "PID", "CPUS", "MEMORY", "AUTOSTART", NULL
        };
        _cleanup_table_ struct libscols_table *t = table_new(o, columns);
        size_t shown = 0;

        if (!t)
                return log_oom(), EXIT_FAILURE;
        for (size_t i = 0; i < n; i++) {
                const MachineInfo *m = infos + i;
                char pid[16], cpus[16], mem[32];
                struct libscols_line *line;
                int r;

                if (!o->all && !machine_info_is_active(m))
                        continue;
                line = scols_table_new_line(t, NULL);
                if (!line)
                        return log_oom(), EXIT_FAILURE;
                if (m->main_pid > 0)
                        snprintf(pid, sizeof pid, "%" PRIu32, m->main_pid);
                else
                        strcpy(pid, "-");
                snprintf(cpus, sizeof cpus, "%" PRIu32, m->cpus);
                r = table_set(line, 0, strempty(m->name), NULL);
                if (r >= 0)
                        r = table_set(line, 1, strempty(m->state), state_color(m->state));
                if (r >= 0)
                        r = table_set(line, 2, isempty(m->state_reason) ? "-" : m->state_reason, NULL);
                if (r >= 0)
                        r = table_set(line, 3, pid, NULL);
                if (r >= 0)
                        r = table_set(line, 4, cpus, NULL);
                if (r >= 0)
                        r = table_set(line, 5, format_mib(mem, sizeof mem, m->memory_mib), NULL);
                if (r >= 0)
                        r = table_set(line, 6, strempty(m->autostart), NULL);
                if (r < 0)
                        return log_error_errno(r, "Failed to fill the table: %m"), EXIT_FAILURE;
                shown++;
        }

        if (shown > 0)
                scols_print_table(t);
        if (!o->no_legend) {
                if (shown > 0)
                        printf("\n%zu machine%s listed.\n", shown, shown == 1 ? "" : "s");
                else
                        printf("No machines%s.\n", o->all ? "" : " running (use --all to include stopped ones)");
        }
        return 0;
}

int verb_list(const CtlOptions *o, char **args) {
        _cleanup_bus_ sd_bus *bus = NULL;
        MachineInfo *infos = NULL;
        size_t n = 0;
        int r;

        if (args[0]) {
                log_error("list takes no arguments.");
                return EXIT_FAILURE;
        }
        r = ctl_bus_open(o, false, &bus);
        if (r != 0)
                return r;
        r = get_all(bus, &infos, &n);
        if (r != 0)
                return r;
        pager_open(o);
        r = o->json ? list_json(o, infos, n) : list_table(o, infos, n);
        machine_infos_free(infos, n);
        return r;
}

/* Looks up and reads every named machine; the ones that failed are logged and left out. Returns
 * the worst exit code. */
static int get_named(sd_bus *bus, char **names, MachineInfo **ret, size_t *ret_n) {
        size_t k = strv_length(names), n = 0;
        MachineInfo *infos;
        int ret_code = 0;

        infos = calloc(k ?: 1, sizeof *infos);
        if (!infos)
                return log_oom(), EXIT_FAILURE;
        for (size_t i = 0; i < k; i++) {
                _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_free_ char *path = NULL, *what = NULL;
                int r;

                r = ctl_get_machine(bus, names[i], &path);
                if (r == 0) {
                        r = machine_info_get(bus, path, infos + n, &error);
                        if (r < 0) {
                                machine_info_done(infos + n);
                                if (asprintf(&what, "Failed to read the properties of '%s'", names[i]) < 0)
                                        what = NULL;
                                r = ctl_log_error(&error, r, what ?: names[i]);
                        } else
                                n++;
                }
                if (r != 0 && ret_code != EXIT_NO_SUCH_MACHINE)
                        ret_code = r;
        }
        *ret = infos;
        *ret_n = n;
        return ret_code;
}

static void print_status(const MachineInfo *m) {
        const char *color = ansi_color(state_color(m->state));
        char ts[64], ago[64], mem[32];

        printf("%s\u25cf%s %s%s%s\n", color, *color ? ANSI_NORMAL : "", strempty(m->name),
               isempty(m->description) ? "" : " - ", strempty(m->description));
        if (!isempty(m->uuid))          /* empty: the definition has no "id" */
                printf("       UUID: %s\n", m->uuid);
        printf("      State: %s%s%s", color, strempty(m->state), *color ? ANSI_NORMAL : "");
        if (!isempty(m->state_reason))
                printf(" (%s)", m->state_reason);
        if (m->state_change_timestamp > 0)
                printf(" since %s; %s", format_timestamp(ts, sizeof ts, m->state_change_timestamp),
                       format_ago(ago, sizeof ago, m->state_change_timestamp));
        putchar('\n');
        printf("       Unit: %s\n", strempty(m->unit));
        if (m->main_pid > 0)
                printf("        PID: %" PRIu32 "\n", m->main_pid);
        printf("       CPUs: %" PRIu32 "\n", m->cpus);
        printf("     Memory: %s\n", format_mib(mem, sizeof mem, m->memory_mib));
        printf("  Autostart: %s\n", strempty(m->autostart));
        if (!isempty(m->display))
                printf("    Display: %s\n", m->display);
        if (!isempty(m->console))
                printf("    Console: %s\n", m->console);
        if (m->tags && m->tags[0]) {
                printf("       Tags:");
                for (size_t i = 0; m->tags[i]; i++)
                        printf(" %s", m->tags[i]);
                putchar('\n');
        }
        if (!m->persistent)
                printf(" Persistent: no (transient, gone when it stops)\n");
        if (m->pending_changes)
                printf("    Changes: the definition changed; takes effect at the next start\n");
}

int verb_status(const CtlOptions *o, char **names) {
        _cleanup_bus_ sd_bus *bus = NULL;
        MachineInfo *infos = NULL;
        size_t n = 0;
        int r, ret;

        r = ctl_check_names("status", names);
        if (r != 0)
                return r;
        r = ctl_bus_open(o, false, &bus);
        if (r != 0)
                return r;
        ret = get_named(bus, names, &infos, &n);
        pager_open(o);
        if (o->json) {
                g_autoptr(JsonNode) root = json_node_new(JSON_NODE_ARRAY);
                JsonArray *a = json_array_new();

                json_node_take_array(root, a);
                for (size_t i = 0; i < n; i++)
                        json_array_add_element(a, machine_info_to_json(infos + i, NULL));
                if (json_print(root, o->json_pretty) < 0)
                        ret = EXIT_FAILURE;
        } else
                for (size_t i = 0; i < n; i++) {
                        if (i > 0)
                                putchar('\n');
                        print_status(infos + i);
                }
        machine_infos_free(infos, n);
        return ret;
}

int verb_show(const CtlOptions *o, char **names) {
        _cleanup_bus_ sd_bus *bus = NULL;
        MachineInfo *infos = NULL;
        size_t n = 0;
        int r, ret;

        r = ctl_check_names("show", names);
        if (r != 0)
                return r;
        for (size_t i = 0; o->properties && o->properties[i]; i++)
                if (!machine_property_exists(o->properties[i])) {
                        log_error("Unknown property '%s'.", o->properties[i]);
                        return EXIT_FAILURE;
                }
        r = ctl_bus_open(o, false, &bus);
        if (r != 0)
                return r;
        ret = get_named(bus, names, &infos, &n);
        pager_open(o);
        for (size_t i = 0; i < n; i++) {
                if (o->json) {
                        g_autoptr(JsonNode) node = machine_info_to_json(infos + i, o->properties);

                        if (json_print(node, o->json_pretty) < 0)
                                ret = EXIT_FAILURE;
                        continue;
                }
                if (i > 0 && !o->value)
                        putchar('\n');
                machine_info_show(infos + i, o->properties, o->value);
        }
        machine_infos_free(infos, n);
        return ret;
}
