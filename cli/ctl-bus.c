/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ctl-bus.h"
#include "log.h"
#include "polkit-agent.h"

/* -H: named in connection errors (ssh itself prints why on stderr). */
static const char *remote_host;

static const char *bus_kind(const CtlOptions *o) {
        return o->host ? "the remote system bus" : o->user ? "the session bus" : "the system bus";
}

int ctl_bus_open(const CtlOptions *o, bool mutating, sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        remote_host = o->host;
        if (o->host)
                r = sd_bus_open_system_remote(&bus, o->host);
        else if (o->user)
                r = sd_bus_open_user(&bus);
        else
                r = sd_bus_open_system(&bus);
        if (r < 0) {
                log_error_errno(r, "Failed to connect to %s%s%s: %m", bus_kind(o),
                                o->host ? " of " : "", o->host ?: "");
                return EXIT_FAILURE;
        }

        if (mutating)
                ctl_bus_allow_interactive(o, bus);
        *ret = bus;
        return 0;
}

void ctl_bus_allow_interactive(const CtlOptions *o, sd_bus *bus) {
        if (o->no_ask_password)
                return;
        /* Local only: an agent here cannot answer for a remote host's polkit. */
        if (!o->host)
                polkit_agent_open_if_enabled();
        (void) sd_bus_set_allow_interactive_authorization(bus, true);
}

int ctl_log_error(const sd_bus_error *error, int r, const char *what) {
        if (sd_bus_error_is_set(error))
                r = -sd_bus_error_get_errno(error);
        if (remote_host && (r == -ENOTCONN || r == -ECONNRESET)) {
                log_error_errno(r, "%s: no connection to the system bus of %s over ssh: %m", what, remote_host);
                return EXIT_FAILURE;
        }
        if (sd_bus_error_is_set(error)) {
                if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                           SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                        log_error("%s: machinad (%s) cannot be reached: %s", what, MACHINA_SERVICE,
                                  error->message ?: error->name);
                else
                        log_error("%s: %s", what, error->message ?: error->name);
                return sd_bus_error_has_name(error, "org.machina.Error.NoSuchMachine") ?
                        EXIT_NO_SUCH_MACHINE : EXIT_FAILURE;
        }
        if (r == -ECONNRESET || r == -ENOTCONN)
                log_error_errno(r, "%s: lost the connection to machinad: %m", what);
        else
                log_error_errno(r, "%s: %m", what);
        return EXIT_FAILURE;
}

int ctl_get_machine(sd_bus *bus, const char *name, char **ret_path) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_bus_message_ sd_bus_message *reply = NULL;
        _cleanup_free_ char *what = NULL;
        const char *path;
        int r;

        r = sd_bus_call_method(bus, MACHINA_SERVICE, MACHINA_PATH, MACHINA_MANAGER_IFACE,
                               "GetMachine", &error, &reply, "s", name);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0) {
                if (sd_bus_error_has_name(&error, "org.machina.Error.NoSuchMachine")) {
                        log_error("No machine '%s'.", name);
                        return EXIT_NO_SUCH_MACHINE;
                }
                if (asprintf(&what, "Failed to look up machine '%s'", name) < 0)
                        return log_oom(), EXIT_FAILURE;
                return ctl_log_error(&error, r, what);
        }
        *ret_path = strdup(path);
        if (!*ret_path)
                return log_oom(), EXIT_FAILURE;
        return 0;
}

int ctl_check_names(const char *verb, char **names) {
        if (!names[0]) {
                log_error("%s needs at least one machine name.", verb);
                return EXIT_FAILURE;
        }
        for (size_t i = 0; names[i]; i++)
                if (isempty(names[i])) {
                        log_error("%s: empty machine name.", verb);
                        return EXIT_FAILURE;
                }
        return 0;
}
