/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* machinactl: option parsing and verb dispatch. The offline verbs live in offline.c. */

#include <getopt.h>

#include "log.h"
#include "machinactl.h"

typedef struct Verb {
        const char *name;
        int (*run)(const CtlOptions *o, char **args);
} Verb;

static const Verb verbs[] = {
        { "cat",     verb_cat     },
        { "args",    verb_args    },
        { "unit",    verb_unit    },
        { "gen-id",  verb_gen_id  },
        { "gen-mac", verb_gen_mac },
};

static int help(void) {
        printf("machinactl [OPTIONS...] COMMAND ...\n\n"
               "Control machina guests.\n\n"
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
               "     --user                Use the user's definitions and runtime directory\n"
               "     --config-dir=DIR      Definitions directory (default /etc/machina,\n"
               "                           or $XDG_CONFIG_HOME/machina with --user)\n"
               "     --runtime-dir=DIR     Base of the per-guest runtime directories\n"
               "                           (default /run/machina or $XDG_RUNTIME_DIR/machina)\n"
               "     --emulator=PATH       QEMU binary for args/unit (default: the host file's)\n"
               "     --qmp-stop-helper=PATH  ExecStop helper for unit\n"
               "     --json[=pretty|short] cat: print JSON\n"
               "     --id=UUID             gen-mac: derive from this UUID, not the definition\n\n"
               "Exit status: 0 ok, 1 failure, 4 no such machine.\n");
        return 0;
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
                {}
        };
        CtlOptions o = {};
        int c;

        log_set_prefix("machinactl");
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
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
                default:
                        return EXIT_FAILURE;
                }

        if (optind >= argc) {
                log_error("A command is expected; see --help.");
                return EXIT_FAILURE;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[optind], verbs[i].name))
                        return verbs[i].run(&o, argv + optind + 1);

        log_error("Unknown command '%s'; see --help.", argv[optind]);
        return EXIT_FAILURE;
}
