/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* monitor: one line per state change, QMP event, new and removed machine, as the signals
 * arrive, until SIGINT or SIGTERM. Only signals: nothing is polled. */

#include <inttypes.h>
#include <signal.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "bus-label.h"
#include "ctl-bus.h"
#include "log.h"

#define MACHINE_PATH_PREFIX "/org/machina/machine/"

typedef struct Monitor {
        char **names;           /* only these machines; NULL: all */
} Monitor;

static void print_prefix(const char *name) {
        struct timespec ts;
        struct tm tm;
        char buf[32];

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        if (!localtime_r(&ts.tv_sec, &tm) || strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                buf[0] = 0;
        printf("%s.%03ld %s", buf, ts.tv_nsec / 1000000L, name);
}

/* The machine a signal is about, or NULL when it is filtered out. */
static char *machine_of(const Monitor *mon, const char *path) {
        _cleanup_free_ char *name = NULL;
        const char *label;

        if (!path || strncmp(path, MACHINE_PATH_PREFIX, strlen(MACHINE_PATH_PREFIX)) != 0)
                return NULL;
        label = path + strlen(MACHINE_PATH_PREFIX);
        if (isempty(label) || strchr(label, '/'))
                return NULL;
        name = bus_label_unescape(label);
        if (!name || (mon->names && !strv_contains(mon->names, name)))
                return NULL;
        return TAKE_PTR(name);
}

/* Prints " KEY=VALUE" for the basic types of org.machina.Machine properties; the message is at
 * the variant. Returns 0 or -errno. */
static int print_property(sd_bus_message *m, const char *key) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;
        printf(" %s=", key);
        switch (contents[0]) {
        case 's': {
                const char *s;

                r = sd_bus_message_read_basic(m, 's', &s);
                if (r >= 0)
                        fputs(s, stdout);
                break;
        }
        case 'b': {
                int b;

                r = sd_bus_message_read_basic(m, 'b', &b);
                if (r >= 0)
                        fputs(b ? "yes" : "no", stdout);
                break;
        }
        case 'u': {
                uint32_t u;

                r = sd_bus_message_read_basic(m, 'u', &u);
                if (r >= 0)
                        printf("%" PRIu32, u);
                break;
        }
        case 't': {
                uint64_t t;

                r = sd_bus_message_read_basic(m, 't', &t);
                if (r >= 0)
                        printf("%" PRIu64, t);
                break;
        }
        case 'a': {
                _cleanup_strv_free_ char **l = NULL;

                r = sd_bus_message_read_strv(m, &l);
                for (size_t i = 0; r >= 0 && l && l[i]; i++)
                        printf("%s%s", i > 0 ? "," : "", l[i]);
                break;
        }
        default:
                fputs("?", stdout);
                r = sd_bus_message_skip(m, contents);
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_free_ char *name = machine_of(userdata, sd_bus_message_get_path(m));
        const char *iface, *state = NULL, *reason = NULL;
        bool others = false, has_pid = false;
        uint32_t pid = 0;
        int r;

        if (!name)
                return 0;
        r = sd_bus_message_read(m, "s", &iface);
        if (r < 0 || !streq(iface, MACHINA_MACHINE_IFACE))
                return 0;

        /* First pass: the state line. */
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return 0;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;

                if (sd_bus_message_read(m, "s", &key) < 0)
                        return 0;
                if (streq(key, "State"))
                        r = sd_bus_message_read(m, "v", "s", &state);
                else if (streq(key, "StateReason"))
                        r = sd_bus_message_read(m, "v", "s", &reason);
                else if (streq(key, "MainPID")) {
                        r = sd_bus_message_read(m, "v", "u", &pid);
                        has_pid = true;
                } else {
                        others = others || (!streq(key, "Generation") && !streq(key, "StateChangeTimestamp"));
                        r = sd_bus_message_skip(m, "v");
                }
                if (r < 0 || sd_bus_message_exit_container(m) < 0)
                        return 0;
        }
        if (r < 0)
                return 0;
        /* The PID comes with the state it belongs to; alone it is a change of its own. */
        if (state) {
                print_prefix(name);
                printf(" state %s", state);
                if (!isempty(reason))
                        printf(" (%s)", reason);
                if (pid > 0)
                        printf(" pid %" PRIu32, pid);
                putchar('\n');
        } else
                others = others || has_pid;

        /* Second pass: anything else that changed, on one line. */
        if (others && sd_bus_message_rewind(m, true) >= 0 && sd_bus_message_skip(m, "s") >= 0 &&
            sd_bus_message_enter_container(m, 'a', "{sv}") >= 0) {
                print_prefix(name);
                fputs(" changed", stdout);
                while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                        const char *key;

                        if (sd_bus_message_read(m, "s", &key) < 0)
                                break;
                        if (streq(key, "State") || streq(key, "StateReason") || streq(key, "Generation") ||
                            streq(key, "StateChangeTimestamp") || (state && streq(key, "MainPID")))
                                r = sd_bus_message_skip(m, "v");
                        else
                                r = print_property(m, key);
                        if (r < 0 || sd_bus_message_exit_container(m) < 0)
                                break;
                }
                putchar('\n');
        }
        fflush(stdout);
        return 0;
}

static int on_event(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_free_ char *name = machine_of(userdata, sd_bus_message_get_path(m));
        const char *event, *json;

        if (!name || sd_bus_message_read(m, "ss", &event, &json) < 0)
                return 0;
        print_prefix(name);
        printf(" event %s %s\n", event, json);
        fflush(stdout);
        return 0;
}

static int on_manager_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const Monitor *mon = userdata;
        const char *member = sd_bus_message_get_member(m), *name, *path;

        if (!member || !(streq(member, "MachineNew") || streq(member, "MachineRemoved")) ||
            sd_bus_message_read(m, "so", &name, &path) < 0)
                return 0;
        if (mon->names && !strv_contains(mon->names, name))
                return 0;
        print_prefix(name);
        printf(" %s\n", streq(member, "MachineNew") ? "new" : "removed");
        fflush(stdout);
        return 0;
}

int verb_monitor(const CtlOptions *o, char **names) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_bus_ sd_bus *bus = NULL;
        _cleanup_free_ char *version = NULL;
        Monitor mon = { .names = names[0] ? names : NULL };
        sigset_t mask;
        int r;

        for (size_t i = 0; names[i]; i++)
                if (isempty(names[i])) {
                        log_error("monitor: empty machine name.");
                        return EXIT_FAILURE;
                }
        r = ctl_bus_open(o, false, &bus);
        if (r != 0)
                return r;

        /* Matches first, so nothing after the greeting line is missed. No sender filter: only
         * machinad emits these interfaces, and the name's owner changes when it is re-activated. */
        r = sd_bus_match_signal(bus, NULL, NULL, NULL, "org.freedesktop.DBus.Properties",
                                "PropertiesChanged", on_properties_changed, &mon);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, NULL, NULL, MACHINA_MACHINE_IFACE, "Event", on_event, &mon);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, NULL, MACHINA_PATH, MACHINA_MANAGER_IFACE, NULL,
                                        on_manager_signal, &mon);
        if (r < 0)
                return ctl_log_error(NULL, r, "Failed to subscribe to machinad's signals");

        /* Reaches (and activates) machinad: a clear error now rather than silence. */
        r = sd_bus_get_property_string(bus, MACHINA_SERVICE, MACHINA_PATH, MACHINA_MANAGER_IFACE,
                                       "Version", &error, &version);
        if (r < 0)
                return ctl_log_error(&error, r, "Failed to monitor");

        r = sd_event_default(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to get an event loop: %m"), EXIT_FAILURE;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m"), EXIT_FAILURE;
        /* No handler: the loop exits with 0. */
        r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_set_exit_on_disconnect(bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m"), EXIT_FAILURE;

        if (!o->quiet) {
                if (mon.names) {
                        fputs("Monitoring", stdout);
                        for (size_t i = 0; names[i]; i++)
                                printf(" %s", names[i]);
                        puts("; press ^C to stop.");
                } else
                        puts("Monitoring all machines; press ^C to stop.");
                fflush(stdout);
        }
        r = sd_event_loop(event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), EXIT_FAILURE;
        if (r != 0)
                log_error("Lost the connection to %s.", o->host ? "the remote bus" : "the bus");
        (void) sd_bus_detach_event(bus);
        return r == 0 ? 0 : EXIT_FAILURE;
}
