/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <getopt.h>

#include "log.h"
#include "macro.h"

static int help(void) {
        printf("machinactl [OPTIONS...] COMMAND ...\n\n"
               "Control machina guests.\n\n"
               "  -h --help        Show this help\n"
               "     --version     Show package version\n");
        return 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "help",    no_argument, NULL, 'h'         },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        int c;

        log_set_prefix("machinactl");
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return help();
                case ARG_VERSION:
                        printf("machina %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        return 1;
                }
        return help();
}
