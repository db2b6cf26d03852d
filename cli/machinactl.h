/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* machinactl: options shared by the verbs, and the verbs. The offline ones (offline.c) read the
 * definitions directly; the others talk to machinad over D-Bus. */

#include <stdint.h>

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

        /* Online verbs. */
        const char *host;               /* -H: [USER@]HOST, over ssh */
        char **properties;              /* show -p */
        const char *kill_whom;          /* "main" or "all"; NULL: all */
        int signal;                     /* kill -s; 0: SIGTERM */
        uint64_t timeout_usec;          /* shutdown --timeout; 0: the definition's stop timeout */
        bool value;                     /* show --value */
        bool all;                       /* list --all */
        bool force;                     /* shutdown --force, define --force (replace) */
        bool now;                       /* enable/disable --now */
        bool no_pager;
        bool no_legend;
        bool no_ask_password;
        bool quiet;
} CtlOptions;

/* Each returns an exit code. */
int verb_cat(const CtlOptions *o, char **names);
int verb_args(const CtlOptions *o, char **names);
int verb_unit(const CtlOptions *o, char **names);
int verb_gen_id(const CtlOptions *o, char **args);
int verb_gen_mac(const CtlOptions *o, char **args);

/* list.c */
int verb_list(const CtlOptions *o, char **args);
int verb_status(const CtlOptions *o, char **names);
int verb_show(const CtlOptions *o, char **names);

/* bus-verbs.c */
int verb_start(const CtlOptions *o, char **names);
int verb_stop(const CtlOptions *o, char **names);
int verb_shutdown(const CtlOptions *o, char **names);
int verb_reboot(const CtlOptions *o, char **names);
int verb_pause(const CtlOptions *o, char **names);
int verb_resume(const CtlOptions *o, char **names);
int verb_kill(const CtlOptions *o, char **names);

/* console.c */
int verb_console(const CtlOptions *o, char **names);

/* define.c */
int verb_define(const CtlOptions *o, char **files);
int verb_undefine(const CtlOptions *o, char **names);
int verb_reload(const CtlOptions *o, char **args);
int verb_enable(const CtlOptions *o, char **names);
int verb_disable(const CtlOptions *o, char **names);

/* edit.c */
int verb_create(const CtlOptions *o, char **files);
int verb_edit(const CtlOptions *o, char **names);

/* monitor.c */
int verb_monitor(const CtlOptions *o, char **names);
