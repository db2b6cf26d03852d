/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* define, undefine, reload, enable, disable: definitions changed through machinad, which
 * validates and writes them (the client never writes the config dir itself). create and edit
 * (edit.c) post theirs with the helpers here. */

#include <json-glib/json-glib.h>

#include "bus-label.h"
#include "ctl-bus.h"
#include "log.h"

#define DEFINITION_MAX (1024 * 1024)
/* CreateMachine answers once the guest runs; interactive polkit waits for a human. */
#define DEFINE_CALL_TIMEOUT_USEC (10ULL * 60 * 1000000)

int ctl_read_definition(const char *file, char **ret) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;

        if (streq(file, "-"))
                f = fdopen(dup(STDIN_FILENO), "r");
        else
                f = fopen(file, "re");
        if (!f)
                return log_error_errno(errno, "Failed to open %s: %m", file), EXIT_FAILURE;
        buf = malloc(DEFINITION_MAX + 1);
        if (!buf)
                return log_oom(), EXIT_FAILURE;
        n = fread(buf, 1, DEFINITION_MAX + 1, f);
        if (ferror(f))
                return log_error_errno(EIO, "Failed to read %s: %m", file), EXIT_FAILURE;
        if (n > DEFINITION_MAX)
                return log_error("%s: larger than %d bytes.", file, DEFINITION_MAX), EXIT_FAILURE;
        if (memchr(buf, 0, n))
                return log_error("%s: contains a NUL byte.", file), EXIT_FAILURE;
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* The machine name in a /org/machina/machine/<label> path, for messages. */
static char *name_from_path(const char *path) {
        const char *slash = strrchr(path, '/');

        return slash ? bus_label_unescape(slash + 1) : NULL;
}

int ctl_post_definition(sd_bus *bus, const char *method, const char *json, uint64_t flags,
                        const char *file, const char *what, char **ret_name) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
        const char *path;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, MACHINA_SERVICE, MACHINA_PATH, MACHINA_MANAGER_IFACE,
                                           method);
        if (r >= 0)
                r = sd_bus_message_append(m, "st", json, flags);
        if (r >= 0)
                r = sd_bus_call(bus, m, DEFINE_CALL_TIMEOUT_USEC, &error, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0) {
                if (sd_bus_error_has_name(&error, "org.machina.Error.MachineExists")) {
                        log_error("%s: a machine of this name is already defined%s.", what,
                                  streq(method, "DefineMachine") ? " (use --force to replace it)" : "");
                        return EXIT_FAILURE;
                }
                /* machinad names the source "<bus>"; the user knows it as the file. */
                if (sd_bus_error_has_name(&error, "org.machina.Error.InvalidConfig") && error.message &&
                    strncmp(error.message, "<bus>: ", 7) == 0) {
                        log_error("%s: %s", file, error.message + 7);
                        return EXIT_FAILURE;
                }
                return ctl_log_error(&error, r, what);
        }
        if (ret_name)
                *ret_name = name_from_path(path);
        return 0;
}

int verb_define(const CtlOptions *o, char **files) {
        _cleanup_bus_ sd_bus *bus = NULL;
        int r, ret = 0;

        if (!files[0]) {
                log_error("define needs a definition file (or - for standard input).");
                return EXIT_FAILURE;
        }
        r = ctl_bus_open(o, true, &bus);
        if (r != 0)
                return r;
        for (size_t i = 0; files[i]; i++) {
                _cleanup_free_ char *json = NULL, *what = NULL, *name = NULL;

                r = ctl_read_definition(files[i], &json);
                if (r == 0) {
                        if (asprintf(&what, "Failed to define %s", files[i]) < 0)
                                return log_oom(), EXIT_FAILURE;
                        r = ctl_post_definition(bus, "DefineMachine", json, o->force ? DEFINE_REPLACE : 0,
                                                files[i], what, &name);
                }
                if (r != 0) {
                        ret = EXIT_FAILURE;
                        continue;
                }
                if (!o->quiet)
                        printf("Defined machine %s from %s.\n", strna(name), files[i]);
        }
        return ret;
}

/* A Manager method taking (s name, t flags) per name, or nothing. Returns an exit code. */
static int manager_call(sd_bus *bus, const char *method, const char *name, const char *verb) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *what = NULL;
        int r;

        if (name)
                r = sd_bus_call_method(bus, MACHINA_SERVICE, MACHINA_PATH, MACHINA_MANAGER_IFACE, method,
                                       &error, NULL, "st", name, (uint64_t) 0);
        else
                r = sd_bus_call_method(bus, MACHINA_SERVICE, MACHINA_PATH, MACHINA_MANAGER_IFACE, method,
                                       &error, NULL, NULL);
        if (r >= 0)
                return 0;
        if (sd_bus_error_has_name(&error, "org.machina.Error.NoSuchMachine")) {
                log_error("No machine '%s'.", strna(name));
                return EXIT_NO_SUCH_MACHINE;
        }
        if (asprintf(&what, "Failed to %s%s%s", verb, name ? " " : "", strempty(name)) < 0)
                what = NULL;
        return ctl_log_error(&error, r, what ?: verb);
}

int verb_undefine(const CtlOptions *o, char **names) {
        _cleanup_bus_ sd_bus *bus = NULL;
        int r, ret = 0;

        r = ctl_check_names("undefine", names);
        if (r != 0)
                return r;
        r = ctl_bus_open(o, true, &bus);
        if (r != 0)
                return r;
        for (size_t i = 0; names[i]; i++) {
                r = manager_call(bus, "UndefineMachine", names[i], "undefine");
                if (r != 0 && ret != EXIT_FAILURE)
                        ret = r;
                else if (r == 0 && !o->quiet)
                        printf("Undefined machine %s.\n", names[i]);
        }
        return ret;
}

int verb_reload(const CtlOptions *o, char **args) {
        _cleanup_bus_ sd_bus *bus = NULL;
        int r;

        if (args[0]) {
                log_error("reload takes no arguments.");
                return EXIT_FAILURE;
        }
        r = ctl_bus_open(o, true, &bus);
        if (r != 0)
                return r;
        return manager_call(bus, "Reload", NULL, "reload the definitions");
}

int ctl_get_definition(sd_bus *bus, const char *path, const char *what, char **ret) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        const char *json;
        int r;

        r = sd_bus_call_method(bus, MACHINA_SERVICE, path, MACHINA_MACHINE_IFACE, "GetDefinition",
                               &error, &reply, NULL);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &json);
        if (r < 0)
                return ctl_log_error(&error, r, what);
        *ret = strdup(json);
        if (!*ret)
                return log_oom(), EXIT_FAILURE;
        return 0;
}

/* The definition as defined (GetDefinition, not the resolved GetConfig: tags, patterns and
 * derived identifiers stay as written), "autostart" set, DefineMachine with REPLACE. Returns an
 * exit code. */
static int set_autostart(sd_bus *bus, const char *name, const char *value) {
        _cleanup_free_ char *path = NULL, *what = NULL, *config = NULL;
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(JsonGenerator) gen = json_generator_new();
        g_autoptr(GError) gerror = NULL;
        g_autofree char *json = NULL;
        JsonNode *root;
        int r;

        r = ctl_get_machine(bus, name, &path);
        if (r != 0)
                return r;
        if (asprintf(&what, "Failed to change autostart of %s", name) < 0)
                return log_oom(), EXIT_FAILURE;
        r = ctl_get_definition(bus, path, what, &config);
        if (r != 0)
                return r;
        if (!json_parser_load_from_data(parser, config, -1, &gerror) ||
            !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
                log_error("%s: machinad returned a definition that is not a JSON object: %s", what,
                          gerror ? gerror->message : "not an object");
                return EXIT_FAILURE;
        }
        root = json_parser_get_root(parser);
        json_object_set_string_member(json_node_get_object(root), "autostart", value);
        json_generator_set_root(gen, root);
        json_generator_set_pretty(gen, true);
        json = json_generator_to_data(gen, NULL);
        if (!json)
                return log_oom(), EXIT_FAILURE;
        return ctl_post_definition(bus, "DefineMachine", json, DEFINE_REPLACE, name, what, NULL);
}

static int autostart_verb(const CtlOptions *o, char **names, bool enable) {
        _cleanup_bus_ sd_bus *bus = NULL;
        int r, ret = 0;

        r = ctl_check_names(enable ? "enable" : "disable", names);
        if (r != 0)
                return r;
        r = ctl_bus_open(o, true, &bus);
        if (r != 0)
                return r;
        for (size_t i = 0; names[i]; i++) {
                r = set_autostart(bus, names[i], enable ? "yes" : "no");
                if (r != 0 && ret != EXIT_FAILURE)
                        ret = r;
        }
        if (ret != 0 || !o->now)
                return ret;
        bus = sd_bus_flush_close_unref(bus);
        return enable ? verb_start(o, names) : verb_stop(o, names);
}

int verb_enable(const CtlOptions *o, char **names) {
        return autostart_verb(o, names, true);
}

int verb_disable(const CtlOptions *o, char **names) {
        return autostart_verb(o, names, false);
}
