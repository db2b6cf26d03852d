/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* machinactl: options shared by the verbs, and the offline verbs (no daemon needed). */

#include "macro.h"

/* Exit codes, as systemctl. */
#define EXIT_NO_SUCH_MACHINE 4

typedef struct CtlOptions {
        const char *config_dir;         /* NULL: /etc/machina or $XDG_CONFIG_HOME/machina */
        const char *runtime_dir;        /* base; NULL: /run/machina or $XDG_RUNTIME_DIR/machina */
        const char *emulator;           /* NULL: the host file's, searched in $PATH */
        const char *qmp_stop_helper;    /* NULL: LIBEXECDIR/machina-qmp-stop */
        const char *id;                 /* gen-mac --id= */
        bool user;
        bool json;
        bool json_pretty;
} CtlOptions;

/* Each returns an exit code. */
int verb_cat(const CtlOptions *o, char **names);
int verb_args(const CtlOptions *o, char **names);
int verb_unit(const CtlOptions *o, char **names);
int verb_gen_id(const CtlOptions *o, char **args);
int verb_gen_mac(const CtlOptions *o, char **args);
