/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "log.h"
#include "polkit-agent.h"

#define PKTTYAGENT "/usr/bin/pkttyagent"
/* pkttyagent closes its notify fd once registered; don't hang if it never does. */
#define AGENT_READY_TIMEOUT_MS 10000

static pid_t agent_pid;

void polkit_agent_open_if_enabled(void) {
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
        int fds[2];
        pid_t pid;

        if (agent_pid > 0 || geteuid() == 0 || !isatty(STDIN_FILENO))
                return;
        if (access(PKTTYAGENT, X_OK) < 0)
                return (void) log_debug_errno(errno, "No polkit agent %s: %m", PKTTYAGENT);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return (void) log_debug_errno(errno, "Failed to create a pipe: %m");
        rfd = fds[0];
        wfd = fds[1];

        pid = fork();
        if (pid < 0)
                return (void) log_debug_errno(errno, "Failed to fork the polkit agent: %m");
        if (pid == 0) {
                char notify[16];
                int fd;

                /* The agent must inherit the write end: move it past the CLOEXEC flag. */
                fd = fcntl(wfd, F_DUPFD, 3);
                if (fd < 0)
                        _exit(EXIT_FAILURE);
                snprintf(notify, sizeof notify, "%d", fd);
                execl(PKTTYAGENT, PKTTYAGENT, "--notify-fd", notify, "--fallback", (char *) NULL);
                _exit(EXIT_FAILURE);
        }
        agent_pid = pid;
        wfd = safe_close(wfd);

        /* Wait until it registered (EOF or data on the pipe), so our call finds it. */
        struct pollfd p = { .fd = rfd, .events = POLLIN };
        if (poll(&p, 1, AGENT_READY_TIMEOUT_MS) <= 0)
                log_debug("The polkit agent did not signal readiness; going on.");
}

void polkit_agent_close(void) {
        if (agent_pid <= 0)
                return;
        (void) kill(agent_pid, SIGTERM);
        (void) waitpid(agent_pid, NULL, 0);
        agent_pid = 0;
}
