/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* machinactl: option parsing and verb dispatch. The offline verbs live in offline.c, the ones
 * that talk to machinad in list.c, bus-verbs.c and define.c. */

#include <getopt.h>
#include <signal.h>

#include "log.h"
#include "machinactl.h"
#include "output.h"
#include "polkit-agent.h"

typedef struct Verb {
        const char *name;
        int (*run)(const CtlOptions *o, char **args);
} Verb;

static const Verb verbs[] = {
        { "list",     verb_list     },
        { "status",   verb_status   },
        { "show",     verb_show     },
        { "start",    verb_start    },
        { "stop",     verb_stop     },
        { "shutdown", verb_shutdown },
        { "reboot",   verb_reboot   },
        { "pause",    verb_pause    },
        { "resume",   verb_resume   },
        { "kill",     verb_kill     },
        { "console",  verb_console  },
        { "monitor",  verb_monitor  },
        { "define",   verb_define   },
        { "undefine", verb_undefine },
        { "create",   verb_create   },
        { "edit",     verb_edit     },
        { "reload",   verb_reload   },
        { "enable",   verb_enable   },
        { "disable",  verb_disable  },
        { "cat",     verb_cat     },
        { "args",    verb_args    },
        { "unit",    verb_unit    },
        { "gen-id",  verb_gen_id  },
        { "gen-mac", verb_gen_mac },
};

static int help(void) {
        printf("machinactl [OPTIONS...] COMMAND ...\n\n"
               "Control machina guests.\n\n"
               "Machine commands (through machinad):\n"
               "  list                     List running machines (--all: all defined ones)\n"
               "  status NAME...           Show the state of machines\n"
               "  show NAME...             Show properties (-p PROP, --value)\n"
               "  start NAME...            Start machines\n"
               "  stop NAME...             Stop machines (ACPI first, forced after the\n"
               "                           stop timeout)\n"
               "  shutdown NAME...         Press the power button and wait (--timeout=,\n"
               "                           --force)\n"
               "  reboot NAME...           Reset machines\n"
               "  pause NAME...            Pause machines\n"
               "  resume NAME...           Resume paused machines\n"
               "  kill NAME...             Send a signal to QEMU (-s SIG, --kill-whom=)\n"
               "  console NAME             Attach to the serial console (^]^]^] leaves)\n"
               "  monitor [NAME...]        Print state changes and events until ^C\n\n"
               "Definition commands (through machinad):\n"
               "  define FILE...|-         Define machines from JSON files (--force: replace)\n"
               "  undefine NAME...         Remove definitions (never disk images)\n"
               "  create FILE|-            Start a transient machine (never written to disk)\n"
               "  edit NAME                Edit a definition in $EDITOR, check it, define it\n"
               "  reload                   Re-read all definitions\n"
               "  enable NAME...           Start at boot (--now: also start)\n"
               "  disable NAME...          Do not start at boot (--now: also stop)\n\n"
               "Commands that need no daemon:\n"
               "  cat NAME...              Show the resolved definition (tags applied,\n"
               "                           identifiers derived)\n"
               "  args NAME...             Show the QEMU command line\n"
               "  unit NAME...             Show the transient service unit as a unit file\n"
               "  gen-id                   Print a new random machine UUID\n"
               "  gen-mac NAME CONNECTION  Print the MAC derived for a connection\n\n"
               "Options:\n"
               "  -h --help                Show this help\n"
               "     --version             Show package version\n"
               "     --user                Talk to machinad --user on the session bus; offline:\n"
               "                           use the user's definitions and runtime directory\n"
               "  -H --host=[USER@]HOST    Operate on a remote host (over ssh)\n"
               "  -a --all                 list: include stopped machines\n"
               "  -p --property=NAME       show: only this property (repeatable)\n"
               "     --value               show: only the values\n"
               "  -s --signal=SIGNAL       kill: signal to send (default SIGTERM)\n"
               "     --kill-whom=main|all  kill: QEMU only or every process (default all)\n"
               "     --timeout=SEC         shutdown: give up after this long (default: the\n"
               "                           definition's stop timeout)\n"
               "     --force               shutdown: force off after the timeout;\n"
               "                           define: replace an existing definition\n"
               "     --now                 enable/disable: also start/stop\n"
               "     --no-pager            Do not pipe output into a pager\n"
               "     --no-legend           Do not print the header and footer\n"
               "     --no-ask-password     Do not ask for authentication\n"
               "  -q --quiet               Suppress informational output\n"
               "     --config-dir=DIR      Definitions directory (default /etc/machina,\n"
               "                           or $XDG_CONFIG_HOME/machina with --user)\n"
               "     --runtime-dir=DIR     Base of the per-guest runtime directories\n"
               "                           (default /run/machina or $XDG_RUNTIME_DIR/machina)\n"
               "     --emulator=PATH       QEMU binary for args/unit (default: the host file's)\n"
               "     --qmp-stop-helper=PATH  ExecStop helper for unit\n"
               "     --json[=pretty|short] list, status, show, cat: print JSON\n"
               "     --id=UUID             gen-mac: derive from this UUID, not the definition\n\n"
               "Exit status: 0 ok, 1 failure, 4 no such machine.\n");
        return 0;
}

/* A name ("TERM", "SIGTERM") or a number; 0 when invalid. */
static int parse_signal(const char *s) {
        char *end;
        long n;

        if (strncmp(s, "SIG", 3) == 0)
                s += 3;
        errno = 0;
        n = strtol(s, &end, 10);
        if (!isempty(s) && *end == 0 && errno == 0)
                return n > 0 && n < NSIG ? (int) n : 0;
        for (int i = 1; i < NSIG; i++) {
                const char *a = sigabbrev_np(i);

                if (a && streq(a, s))
                        return i;
        }
        return 0;
}

static int run(const Verb *v, const CtlOptions *o, char **args) {
        int r;

        r = v->run(o, args);
        pager_close();
        polkit_agent_close();
        return r;
}

int main(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_USER,
                ARG_CONFIG_DIR,
                ARG_RUNTIME_DIR,
                ARG_EMULATOR,
                ARG_QMP_STOP_HELPER,
                ARG_JSON,
                ARG_ID,
                ARG_VALUE,
                ARG_KILL_WHOM,
                ARG_TIMEOUT,
                ARG_FORCE,
                ARG_NOW,
                ARG_NO_PAGER,
                ARG_NO_LEGEND,
                ARG_NO_ASK_PASSWORD,
        };
        static const struct option options[] = {
                { "help",            no_argument,       NULL, 'h'                 },
                { "version",         no_argument,       NULL, ARG_VERSION         },
                { "user",            no_argument,       NULL, ARG_USER            },
                { "config-dir",      required_argument, NULL, ARG_CONFIG_DIR      },
                { "runtime-dir",     required_argument, NULL, ARG_RUNTIME_DIR     },
                { "emulator",        required_argument, NULL, ARG_EMULATOR        },
                { "qmp-stop-helper", required_argument, NULL, ARG_QMP_STOP_HELPER },
                { "json",            optional_argument, NULL, ARG_JSON            },
                { "id",              required_argument, NULL, ARG_ID              },
                { "host",            required_argument, NULL, 'H'                 },
                { "all",             no_argument,       NULL, 'a'                 },
                { "property",        required_argument, NULL, 'p'                 },
                { "value",           no_argument,       NULL, ARG_VALUE           },
                { "signal",          required_argument, NULL, 's'                 },
                { "kill-whom",       required_argument, NULL, ARG_KILL_WHOM       },
                { "timeout",         required_argument, NULL, ARG_TIMEOUT         },
                { "force",           no_argument,       NULL, ARG_FORCE           },
                { "now",             no_argument,       NULL, ARG_NOW             },
                { "no-pager",        no_argument,       NULL, ARG_NO_PAGER        },
                { "no-legend",       no_argument,       NULL, ARG_NO_LEGEND       },
                { "no-ask-password", no_argument,       NULL, ARG_NO_ASK_PASSWORD },
                { "quiet",           no_argument,       NULL, 'q'                 },
                {}
        };
        _cleanup_strv_free_ char **properties = NULL;
        CtlOptions o = {};
        int c, r;

        log_set_prefix("machinactl");
        while ((c = getopt_long(argc, argv, "hH:ap:s:q", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help();
                case ARG_VERSION:
                        printf("machina %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_USER:
                        o.user = true;
                        break;
                case ARG_CONFIG_DIR:
                        o.config_dir = optarg;
                        break;
                case ARG_RUNTIME_DIR:
                        o.runtime_dir = optarg;
                        break;
                case ARG_EMULATOR:
                        o.emulator = optarg;
                        break;
                case ARG_QMP_STOP_HELPER:
                        o.qmp_stop_helper = optarg;
                        break;
                case ARG_JSON:
                        o.json = true;
                        if (!optarg || streq(optarg, "pretty"))
                                o.json_pretty = true;
                        else if (!streq(optarg, "short")) {
                                log_error("Unknown JSON mode: %s", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case ARG_ID:
                        o.id = optarg;
                        break;
                case 'H':
                        o.host = optarg;
                        break;
                case 'a':
                        o.all = true;
                        break;
                case 'p':
                        /* Also "-p A,B" as systemctl. */
                        for (char *s = optarg, *e; s; s = e) {
                                e = strchr(s, ',');
                                if (e)
                                        *e++ = 0;
                                if (!isempty(s) && strv_extend(&properties, s) < 0)
                                        return log_oom(), EXIT_FAILURE;
                        }
                        o.properties = properties;
                        break;
                case ARG_VALUE:
                        o.value = true;
                        break;
                case 's':
                        o.signal = parse_signal(optarg);
                        if (o.signal <= 0) {
                                log_error("Unknown signal '%s'.", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case ARG_KILL_WHOM:
                        if (!streq(optarg, "main") && !streq(optarg, "all")) {
                                log_error("--kill-whom= takes main or all, not '%s'.", optarg);
                                return EXIT_FAILURE;
                        }
                        o.kill_whom = optarg;
                        break;
                case ARG_TIMEOUT:
                        r = parse_timespan(optarg, &o.timeout_usec);
                        if (r < 0 || o.timeout_usec == 0) {
                                log_error("Invalid --timeout= '%s' (seconds, or with a unit: ms, s, min, h).", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case ARG_FORCE:
                        o.force = true;
                        break;
                case ARG_NOW:
                        o.now = true;
                        break;
                case ARG_NO_PAGER:
                        o.no_pager = true;
                        break;
                case ARG_NO_LEGEND:
                        o.no_legend = true;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        o.no_ask_password = true;
                        break;
                case 'q':
                        o.quiet = true;
                        break;
                default:
                        return EXIT_FAILURE;
                }

        if (o.host && o.user) {
                log_error("--host= and --user cannot be combined.");
                return EXIT_FAILURE;
        }
        /* As systemctl: no command means list. */
        if (optind >= argc)
                return run(&verbs[0], &o, argv + optind);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[optind], verbs[i].name))
                        return run(&verbs[i], &o, argv + optind + 1);

        log_error("Unknown command '%s'; see --help.", argv[optind]);
        return EXIT_FAILURE;
}
