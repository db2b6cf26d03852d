/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <getopt.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "autostart.h"
#include "bus-util.h"
#include "log.h"
#include "manager-bus.h"
#include "manager.h"
#include "systemd-glue.h"

static bool arg_user;
static char *arg_config_dir;
static char *arg_runtime_dir;
static uint64_t arg_idle_timeout_usec = MANAGER_IDLE_TIMEOUT_DEFAULT_USEC;

static void free_args(void) {
        free(arg_config_dir);
        free(arg_runtime_dir);
}

static int help(void) {
        printf("machinad [OPTIONS...]\n\n"
               "The machina virtual machine manager service (org.machina).\n\n"
               "  -h --help              Show this help\n"
               "     --version           Show package version\n"
               "     --user              Serve the session bus and the user's service manager\n"
               "     --config-dir=DIR    Definitions (default /etc/machina or $XDG_CONFIG_HOME/machina)\n"
               "     --runtime-dir=DIR   Sockets (default /run/machina or $XDG_RUNTIME_DIR/machina)\n"
               "     --idle-timeout=SEC  Exit after SEC idle seconds, 0 = never (default 30)\n");
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_USER,
                ARG_CONFIG_DIR,
                ARG_RUNTIME_DIR,
                ARG_IDLE_TIMEOUT,
        };
        static const struct option options[] = {
                { "help",         no_argument,       NULL, 'h'              },
                { "version",      no_argument,       NULL, ARG_VERSION      },
                { "user",         no_argument,       NULL, ARG_USER         },
                { "config-dir",   required_argument, NULL, ARG_CONFIG_DIR   },
                { "runtime-dir",  required_argument, NULL, ARG_RUNTIME_DIR  },
                { "idle-timeout", required_argument, NULL, ARG_IDLE_TIMEOUT },
                {}
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("machina %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_USER:
                        arg_user = true;
                        break;
                case ARG_CONFIG_DIR:
                        r = free_and_strdup(&arg_config_dir, optarg);
                        if (r < 0)
                                return log_oom();
                        break;
                case ARG_RUNTIME_DIR:
                        r = free_and_strdup(&arg_runtime_dir, optarg);
                        if (r < 0)
                                return log_oom();
                        break;
                case ARG_IDLE_TIMEOUT: {
                        char *end;
                        unsigned long long sec;

                        errno = 0;
                        sec = strtoull(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end || sec > UINT64_MAX / 1000000ULL)
                                return log_error_errno(EINVAL, "Invalid --idle-timeout=%s.", optarg);
                        arg_idle_timeout_usec = sec * 1000000ULL;
                        break;
                }
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "This program takes no arguments.");
        return 1;
}

static int default_dir(const char *env, const char *fallback_env, const char *fallback_sub,
                       const char *system_dir, char **ret) {
        const char *base;

        if (*ret)
                return 0;
        if (!arg_user)
                return free_and_strdup(ret, system_dir);
        base = getenv(env);
        if (!isempty(base)) {
                if (asprintf(ret, "%s/machina", base) < 0)
                        return -ENOMEM;
                return 0;
        }
        base = getenv(fallback_env);
        if (isempty(base))
                return log_error_errno(ENXIO, "$%s and $%s are not set.", env, fallback_env);
        if (asprintf(ret, "%s/%s/machina", base, fallback_sub) < 0)
                return -ENOMEM;
        return 0;
}

static int connect_bus(sd_bus **ret) {
        const char *starter = getenv("DBUS_STARTER_ADDRESS");
        _cleanup_bus_ sd_bus *bus = NULL;
        int r;

        /* Bus-activated: use the bus that started us (the test bed's private system bus, too). */
        if (!isempty(starter)) {
                r = sd_bus_new(&bus);
                if (r < 0)
                        return r;
                r = sd_bus_set_address(bus, starter);
                if (r < 0)
                        return r;
                r = sd_bus_set_bus_client(bus, true);
                if (r < 0)
                        return r;
                r = sd_bus_set_trusted(bus, false);
                if (r < 0)
                        return r;
                r = sd_bus_negotiate_creds(bus, true, SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID |
                                           SD_BUS_CREDS_PID | SD_BUS_CREDS_UNIQUE_NAME);
                if (r < 0)
                        return r;
                r = sd_bus_start(bus);
        } else
                r = arg_user ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        int r;

        log_info("Reloading definitions (SIGHUP).");
        r = manager_reload(userdata, NULL);
        if (r >= 0)
                manager_autostart(userdata, false);
        if (r < 0)
                log_warning_errno(r, "Reload failed: %m");
        else if (r > 0)
                log_warning("Reload skipped %d broken definition(s), see above; their previous versions stay.", r);
        return 0;
}

/* systemd's bus_event_loop_with_idle(): exit after a quiet period with nothing running. */
static int run_event_loop(Manager *m) {
        bool exiting = false;
        int r, code;

        for (;;) {
                r = sd_event_get_state(m->event);
                if (r < 0)
                        return r;
                if (r == SD_EVENT_FINISHED)
                        break;

                r = sd_event_run(m->event, exiting || m->idle_timeout_usec == 0 ?
                                 UINT64_MAX : m->idle_timeout_usec);
                if (r < 0)
                        return r;
                if (r == 0 && !exiting && manager_is_idle(m)) {
                        log_info("Idle for %" PRIu64 " s, exiting.", m->idle_timeout_usec / 1000000);
                        /* Release the name first so new calls queue for a new instance. */
                        r = sd_bus_release_name(m->bus, "org.machina");
                        if (r < 0)
                                return r;
                        exiting = true;
                        (void) sd_event_exit(m->event, 0);
                }
        }
        r = sd_event_get_exit_code(m->event, &code);
        return r < 0 ? r : code;
}

static int run(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        log_set_prefix("machinad");
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        r = default_dir("XDG_CONFIG_HOME", "HOME", ".config", SYSCONFDIR "/machina", &arg_config_dir);
        if (r < 0)
                return r;
        r = default_dir("XDG_RUNTIME_DIR", "XDG_RUNTIME_DIR", ".", "/run/machina", &arg_runtime_dir);
        if (r < 0)
                return r;

        r = manager_new(arg_user, arg_config_dir, arg_runtime_dir, &m);
        if (r < 0)
                return log_oom();
        m->idle_timeout_usec = arg_idle_timeout_usec;

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m");
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        r = sd_event_add_signal(m->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
        if (r < 0)
                return log_error_errno(r, "Failed to install signal handlers: %m");

        r = sd_bus_error_add_map(machina_bus_errors);
        if (r < 0)
                return log_error_errno(r, "Failed to register error map: %m");
        r = connect_bus(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the %s bus: %m",
                                       arg_user ? "session" : "system");

        r = manager_load(m);
        if (r < 0)
                return r;
        r = manager_bus_register(m);
        if (r < 0)
                return r;
        r = systemd_subscribe(m);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach bus to event loop: %m");
        /* Take over running guests before serving, so nobody sees them as stopped. */
        (void) manager_adopt_running(m);
        /* Autostart (once per boot) after adoption, so running guests are not started twice. */
        manager_autostart(m, true);
        r = sd_bus_request_name(m->bus, "org.machina", 0);
        if (r < 0)
                return log_error_errno(r, "Failed to acquire name org.machina: %m");

        (void) sd_notify(false, "READY=1\nSTATUS=Processing requests...");
        r = run_event_loop(m);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down...");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return 0;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        free_args();
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
