/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* create: a transient guest from a file; edit: the definition as defined, in an editor on a
 * temporary copy, checked with the same loader as machinad before it is sent back. */

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "ctl-bus.h"
#include "log.h"

int verb_create(const CtlOptions *o, char **files) {
        _cleanup_bus_ sd_bus *bus = NULL;
        _cleanup_free_ char *json = NULL, *what = NULL, *name = NULL;
        int r;

        if (!files[0] || files[1]) {
                log_error("create needs exactly one definition file (or - for standard input).");
                return EXIT_FAILURE;
        }
        r = ctl_read_definition(files[0], &json);
        if (r != 0)
                return r;
        r = ctl_bus_open(o, true, &bus);
        if (r != 0)
                return r;
        if (asprintf(&what, "Failed to create a machine from %s", files[0]) < 0)
                return log_oom(), EXIT_FAILURE;
        r = ctl_post_definition(bus, "CreateMachine", json, 0, files[0], what, &name);
        if (r != 0)
                return r;
        if (!o->quiet)
                printf("Created machine %s from %s; it is gone when it stops.\n", strna(name), files[0]);
        return 0;
}

/* Runs the editor on path and waits: $SYSTEMD_EDITOR, $EDITOR or $VISUAL (split at whitespace),
 * else editor, nano, vim, vi, as systemctl edit. Logs; returns an exit code. */
static int run_editor(const char *path) {
        static const char * const fallback_editors[] = { "editor", "nano", "vim", "vi" };
        int status;
        pid_t pid;

        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork: %m"), EXIT_FAILURE;
        if (pid == 0) {
                const char *editor = getenv("SYSTEMD_EDITOR");
                char *argv[64];

                if (isempty(editor))
                        editor = getenv("EDITOR");
                if (isempty(editor))
                        editor = getenv("VISUAL");
                if (!isempty(editor)) {
                        char *copy = strdup(editor), *save = NULL;
                        size_t n = 0;

                        if (!copy)
                                _exit(EXIT_FAILURE);
                        for (char *w = strtok_r(copy, " \t\n", &save); w && n < ELEMENTSOF(argv) - 2;
                             w = strtok_r(NULL, " \t\n", &save))
                                argv[n++] = w;
                        if (n > 0) {
                                argv[n++] = (char *) path;
                                argv[n] = NULL;
                                execvp(argv[0], argv);
                                /* Not there: try the next ones, as systemctl does. */
                                if (errno != ENOENT) {
                                        log_error_errno(errno, "Failed to run editor '%s': %m", editor);
                                        _exit(EXIT_FAILURE);
                                }
                        }
                }
                for (size_t i = 0; i < ELEMENTSOF(fallback_editors); i++) {
                        const char *e = fallback_editors[i];

                        argv[0] = (char *) e;
                        argv[1] = (char *) path;
                        argv[2] = NULL;
                        execvp(e, argv);
                        if (errno != ENOENT) {
                                log_error_errno(errno, "Failed to run editor '%s': %m", e);
                                _exit(EXIT_FAILURE);
                        }
                }
                log_error("No editor found; set $SYSTEMD_EDITOR, $EDITOR or $VISUAL.");
                _exit(EXIT_FAILURE);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return log_error_errno(errno, "Failed to wait for the editor: %m"), EXIT_FAILURE;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                log_error("The editor failed (%s %d).", WIFEXITED(status) ? "exit status" : "signal",
                          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
                return EXIT_FAILURE;
        }
        return 0;
}

/* A temporary file with the definition: $TMPDIR or /var/tmp, private. Logs; returns an exit code. */
static int write_temp(const char *name, const char *text, char **ret_path) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *dir = getenv("TMPDIR");
        size_t n = strlen(text);

        if (isempty(dir))
                dir = "/var/tmp";
        if (asprintf(&path, "%s/machinactl-edit-%s-XXXXXX" MACHINE_CONF_SUFFIX, dir, name) < 0)
                return log_oom(), EXIT_FAILURE;
        fd = mkostemps(path, strlen(MACHINE_CONF_SUFFIX), O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create a temporary file in %s: %m", dir), EXIT_FAILURE;
        for (size_t done = 0; done < n;) {
                ssize_t k = write(fd, text + done, n - done);

                if (k < 0) {
                        log_error_errno(errno, "Failed to write %s: %m", path);
                        (void) unlink(path);
                        return EXIT_FAILURE;
                }
                done += k;
        }
        *ret_path = TAKE_PTR(path);
        return 0;
}

/* The edited file parses and validates as a definition of the same machine. Logs, naming the
 * file; returns an exit code. */
static int check_edited(const char *path, const char *name, const char *text) {
        _cleanup_(diagnostics_done) Diagnostics diag = {};
        _cleanup_(machine_def_freep) MachineDef *def = NULL;
        int r;

        r = machine_def_parse(text, strlen(text), path, &def, &diag);
        for (size_t i = 0; i < diag.n_entries; i++)
                if (diag.entries[i].level == DIAGNOSTIC_WARNING) {
                        _cleanup_free_ char *line = diagnostic_format(diag.entries + i);

                        log_warning("%s", strna(line));
                }
        if (r < 0 || diag.n_errors > 0) {
                _cleanup_free_ char *first = diagnostics_first_error(&diag);

                if (first)
                        log_error("%s", first);
                else
                        log_error_errno(r, "%s: %m", path);
                return EXIT_FAILURE;
        }
        if (!streq_ptr(def->name, name)) {
                log_error("%s: $.name: is '%s'; edit cannot rename machine %s (define the new name, then undefine the old one).",
                          path, strna(def->name), name);
                return EXIT_FAILURE;
        }
        return 0;
}

int verb_edit(const CtlOptions *o, char **names) {
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_bus_ sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL, *what = NULL, *before = NULL, *after = NULL, *tmp = NULL;
        int persistent = 1, pending = 0;
        const char *name;
        int r;

        r = ctl_check_names("edit", names);
        if (r != 0)
                return r;
        if (names[1]) {
                log_error("edit takes one machine name.");
                return EXIT_FAILURE;
        }
        name = names[0];
        r = ctl_bus_open(o, false, &bus);
        if (r != 0)
                return r;
        r = ctl_get_machine(bus, name, &path);
        if (r != 0)
                return r;
        if (asprintf(&what, "Failed to edit %s", name) < 0)
                return log_oom(), EXIT_FAILURE;
        r = sd_bus_get_property_trivial(bus, MACHINA_SERVICE, path, MACHINA_MACHINE_IFACE, "Persistent",
                                        &error, 'b', &persistent);
        if (r < 0)
                return ctl_log_error(&error, r, what);
        if (!persistent) {
                log_error("%s: it is a transient machine (create); it has no definition to edit.", what);
                return EXIT_FAILURE;
        }
        r = ctl_get_definition(bus, path, what, &before);
        if (r != 0)
                return r;
        r = write_temp(name, before, &tmp);
        if (r != 0)
                return r;

        r = run_editor(tmp);
        if (r == 0)
                r = ctl_read_definition(tmp, &after);
        if (r != 0) {
                (void) unlink(tmp);
                return r;
        }
        if (streq(before, after)) {
                (void) unlink(tmp);
                if (!o->quiet)
                        printf("No changes to %s.\n", name);
                return 0;
        }

        r = check_edited(tmp, name, after);
        if (r == 0) {
                ctl_bus_allow_interactive(o, bus);
                r = ctl_post_definition(bus, "DefineMachine", after, DEFINE_REPLACE, tmp, what, NULL);
        }
        if (r != 0) {
                /* Keep the user's work. */
                log_error("Nothing was changed; the edited definition is kept in %s.", tmp);
                return r;
        }
        (void) unlink(tmp);
        (void) sd_bus_get_property_trivial(bus, MACHINA_SERVICE, path, MACHINA_MACHINE_IFACE,
                                           "PendingChanges", NULL, 'b', &pending);
        if (!o->quiet)
                printf("Updated machine %s%s.\n", name,
                       pending ? " (it is running: the changes apply at its next start)" : "");
        return 0;
}
