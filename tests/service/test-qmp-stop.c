/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* machina-qmp-stop against the real QEMU: a paused or never-started guest is quit at once; a
 * running QEMU without an OS (SeaBIOS ignores the ACPI power button) is left running after the
 * timeout. A guest that does power off is played by a STAND-IN peer in this test (closing the
 * socket after system_powerdown), because a real guest that reacts to ACPI needs the test guest
 * image, which the integration tests build. */

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "qemu-util.h"
#include "qmp.h"

static const char *helper;

/* Runs the helper to completion; its stderr is returned in *ret_stderr. */
static int run_helper(sd_event *e, const char *socket_path, const char *timeout, unsigned deadline_sec,
                      uint64_t *ret_usec, char **ret_stderr) {
        char *argv[] = { (char *) helper, (char *) socket_path, (char *) timeout, NULL };
        uint64_t t0 = now_usec();
        int memfd, pidfd, status;
        char buf[4096] = {};
        pid_t pid;

        memfd = memfd_create("stderr", MFD_CLOEXEC);
        ASSERT_TRUE(memfd >= 0);
        pidfd = spawn_process(argv, memfd, &pid);
        status = wait_process(e, pidfd, pid, deadline_sec);
        if (ret_usec)
                *ret_usec = now_usec() - t0;
        ASSERT_TRUE(pread(memfd, buf, sizeof(buf) - 1, 0) >= 0);
        safe_close(memfd);
        fprintf(stderr, "helper %s %s → %d: %s%s", socket_path, timeout, status, buf,
                isempty(buf) || buf[strlen(buf) - 1] != '\n' ? "\n" : "");
        if (ret_stderr)
                *ret_stderr = strdup(buf);
        return status;
}

static int run_helper_argv(sd_event *e, char *const *args) {
        char *argv[8] = { (char *) helper };
        int memfd, pidfd;
        pid_t pid;

        for (size_t i = 0; args[i]; i++) {
                ASSERT_TRUE(i + 2 < ELEMENTSOF(argv));
                argv[i + 1] = args[i];
        }
        memfd = memfd_create("stderr", MFD_CLOEXEC);
        ASSERT_TRUE(memfd >= 0);
        pidfd = spawn_process(argv, memfd, &pid);
        safe_close(memfd);
        return wait_process(e, pidfd, pid, 10);
}

TEST(bad_arguments) {
        sd_event *e = NULL;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_EQ(run_helper_argv(e, (char *[]) { NULL }), 2);
        ASSERT_EQ(run_helper_argv(e, (char *[]) { "/tmp/x.sock", NULL }), 2);
        ASSERT_EQ(run_helper_argv(e, (char *[]) { "/tmp/x.sock", "abc", NULL }), 2);
        ASSERT_EQ(run_helper_argv(e, (char *[]) { "/tmp/x.sock", "-1", NULL }), 2);
        ASSERT_EQ(run_helper_argv(e, (char *[]) { "/tmp/x.sock", "5s", NULL }), 2);
        ASSERT_EQ(run_helper_argv(e, (char *[]) { "/tmp/x.sock", "99999999999999999999", NULL }), 2);
        ASSERT_EQ(run_helper_argv(e, (char *[]) { "", "5", NULL }), 2);
        ASSERT_EQ(run_helper_argv(e, (char *[]) { "/tmp/x.sock", "5", "extra", NULL }), 2);
        ASSERT_EQ(run_helper_argv(e, (char *[]) { "--help", NULL }), 0);
        sd_event_unref(e);
}

TEST(qemu_already_gone) {
        _cleanup_free_ char *dir = make_temp_dir(), *path = NULL, *err = NULL, *err2 = NULL;
        _cleanup_close_ int bound = -EBADF;
        sd_event *e = NULL;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_TRUE(asprintf(&path, "%s/qmp-stop.sock", dir) > 0);
        /* No socket at all. */
        ASSERT_EQ(run_helper(e, path, "30", 10, NULL, &err), 0);
        ASSERT_STREQ(err, "");
        /* A stale socket file nobody listens on. */
        bound = listen_unix(path, -1);
        ASSERT_EQ(run_helper(e, path, "30", 10, NULL, &err2), 0);
        ASSERT_STREQ(err2, "");
        rm_rf_shallow(dir);
        sd_event_unref(e);
}

/* prelaunch (-S, never ran) and paused (ran, then stopped): quit at once, no waiting. */
static void quit_at_once(bool run_then_stop) {
        _cleanup_(recorder_done) Recorder rec = {};
        _cleanup_free_ char *err = NULL;
        _cleanup_(test_qemu_done) TestQemu q = {};
        sd_event *e = NULL;
        QmpClient *c = NULL;
        uint64_t usec;
        Reply r = {};
        int status;

        ASSERT_OK(test_qemu_start(&q, true));
        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(qmp_client_connect(e, q.qmp_path, &c));
        recorder_attach(c, &rec);
        RUN_UNTIL(e, rec.ready, 20);
        if (run_then_stop) {
                ASSERT_OK(qmp_client_execute(c, "cont", NULL, NULL, NULL));
                RUN_UNTIL(e, has_event(&rec, "RESUME"), 20);
                ASSERT_OK(qmp_client_execute(c, "stop", NULL, on_reply, &r));
                RUN_UNTIL(e, r.calls > 0 && has_event(&rec, "STOP"), 20);
                reply_done(&r);
        }

        /* The deadline is far: returning quickly shows it did not wait for ACPI. */
        ASSERT_EQ(run_helper(e, q.qmp_stop_path, "60", 30, &usec, &err), 0);
        ASSERT_TRUE(strstr(err, run_then_stop ? "Guest is paused, quitting QEMU." : "Guest is prelaunch, quitting QEMU."));
        ASSERT_TRUE(usec < 20 * USEC_PER_SEC);
        fprintf(stderr, "helper quit a %s guest in %" PRIu64 " us\n", run_then_stop ? "paused" : "prelaunch", usec);

        RUN_UNTIL(e, rec.n_disconnects > 0, 20);
        ASSERT_TRUE(has_event(&rec, "SHUTDOWN {\"guest\":false,\"reason\":\"host-qmp-quit\"}"));
        ASSERT_TRUE(!has_event(&rec, "POWERDOWN"));
        status = test_qemu_wait_exit(&q, 20);
        ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);

        qmp_client_unref(c);
        sd_event_unref(e);
}

TEST(quit_prelaunch) {
        quit_at_once(false);
}

TEST(quit_paused) {
        quit_at_once(true);
}

static unsigned count_events(Recorder *rec, const char *prefix) {
        unsigned n = 0;

        for (unsigned i = 0; i < rec->n_events; i++)
                n += strncmp(rec->events[i], prefix, strlen(prefix)) == 0;
        return n;
}

/* A running QEMU without an OS never powers off: the helper presses the button at once and
 * every 5 s, gives up at the timeout with exit 0, and leaves QEMU to systemd. Two QEMUs side by
 * side (timeouts 2 and 6) keep the test short. */
TEST(timeout_leaves_qemu_running) {
        _cleanup_(test_qemu_done) TestQemu q2 = {}, q6 = {};
        _cleanup_(recorder_done) Recorder rec2 = {}, rec6 = {};
        Reply r = {};
        sd_event *e = NULL;
        QmpClient *c2 = NULL, *c6 = NULL;
        int pidfd2, pidfd6, memfd2, memfd6;
        uint64_t t0, t2, t6;
        pid_t pid2, pid6;

        ASSERT_OK(test_qemu_start(&q2, false));
        ASSERT_OK(test_qemu_start(&q6, false));
        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(qmp_client_connect(e, q2.qmp_path, &c2));
        recorder_attach(c2, &rec2);
        ASSERT_OK(qmp_client_connect(e, q6.qmp_path, &c6));
        recorder_attach(c6, &rec6);
        RUN_UNTIL(e, rec2.ready && rec6.ready, 20);

        memfd2 = memfd_create("stderr", MFD_CLOEXEC);
        memfd6 = memfd_create("stderr", MFD_CLOEXEC);
        ASSERT_TRUE(memfd2 >= 0 && memfd6 >= 0);
        t0 = now_usec();
        pidfd2 = spawn_process((char *[]) { (char *) helper, q2.qmp_stop_path, "2", NULL }, memfd2, &pid2);
        pidfd6 = spawn_process((char *[]) { (char *) helper, q6.qmp_stop_path, "6", NULL }, memfd6, &pid6);
        ASSERT_EQ(wait_process(e, pidfd2, pid2, 30), 0);
        t2 = now_usec() - t0;
        ASSERT_EQ(wait_process(e, pidfd6, pid6, 30), 0);
        t6 = now_usec() - t0;
        run_pending(e);
        fprintf(stderr, "timeout 2 s returned after %" PRIu64 " ms, timeout 6 s after %" PRIu64 " ms\n",
                t2 / USEC_PER_MSEC, t6 / USEC_PER_MSEC);

        ASSERT_TRUE(t2 >= 2 * USEC_PER_SEC && t2 < 2 * USEC_PER_SEC + 5 * USEC_PER_SEC);
        ASSERT_TRUE(t6 >= 6 * USEC_PER_SEC && t6 < 6 * USEC_PER_SEC + 5 * USEC_PER_SEC);
        ASSERT_EQ(count_events(&rec2, "POWERDOWN"), 1);         /* at 0 s */
        ASSERT_EQ(count_events(&rec6, "POWERDOWN"), 2);         /* at 0 s and 5 s */
        {
                char buf[4096] = {};

                ASSERT_TRUE(pread(memfd6, buf, sizeof(buf) - 1, 0) > 0);
                fprintf(stderr, "helper (6 s): %s", buf);
                ASSERT_TRUE(strstr(buf, "Guest is running, sending ACPI power-off (timeout 6 s)."));
                ASSERT_TRUE(strstr(buf, "did not power off within 6 s (2 ACPI power button presses)"));
        }
        safe_close(memfd2);
        safe_close(memfd6);

        /* Still there and still running. */
        ASSERT_TRUE(test_qemu_alive(&q2) && test_qemu_alive(&q6));
        ASSERT_OK(qmp_client_execute(c2, "query-status", NULL, on_reply, &r));
        RUN_UNTIL(e, r.calls > 0, 20);
        ASSERT_STREQ(r.result, "{\"status\":\"running\",\"singlestep\":false,\"running\":true}");
        ASSERT_EQ(rec2.n_disconnects, 0);
        reply_done(&r);

        qmp_client_unref(c2);
        qmp_client_unref(c6);
        sd_event_unref(e);
}

/* STAND-IN for QEMU: answers query-status with the given status and checks what follows. */
static void stand_in(const char *status_json, const char *expected, bool close_after) {
        _cleanup_free_ char *dir = make_temp_dir(), *path = NULL, *cmd = NULL, *next = NULL;
        _cleanup_close_ int server = -EBADF, memfd = -EBADF;
        char buf[4096] = {};
        sd_event *e = NULL;
        Peer peer = {};
        int pidfd;
        int64_t id;
        pid_t pid;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_TRUE(asprintf(&path, "%s/qmp-stop.sock", dir) > 0);
        server = listen_unix(path, 4);
        memfd = memfd_create("stderr", MFD_CLOEXEC);
        ASSERT_TRUE(memfd >= 0);
        pidfd = spawn_process((char *[]) { (char *) helper, path, "30", NULL }, memfd, &pid);

        peer.fd = accept_with_deadline(e, server);
        peer_write(&peer, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"capabilities\": []}}\r\n");
        cmd = peer_read_command(e, &peer, &id);
        ASSERT_STREQ(cmd, "qmp_capabilities");
        peer_reply(&peer, id, "{}");
        free(cmd);
        cmd = peer_read_command(e, &peer, &id);
        ASSERT_STREQ(cmd, "query-status");
        peer_reply(&peer, id, status_json);
        next = peer_read_command(e, &peer, &id);
        ASSERT_STREQ(next, expected);
        peer_reply(&peer, id, "{}");
        if (close_after) {
                /* The guest powered off and QEMU exited. */
                peer_write(&peer, "{\"event\": \"POWERDOWN\"}\r\n");
                peer_close(&peer);
        } else
                peer_close(&peer);

        ASSERT_EQ(wait_process(e, pidfd, pid, 10), 0);
        ASSERT_TRUE(pread(memfd, buf, sizeof(buf) - 1, 0) > 0);
        ASSERT_TRUE(strstr(buf, "QEMU exited."));
        rm_rf_shallow(dir);
        sd_event_unref(e);
}

TEST(stand_in_guest_powers_off) {
        stand_in("{\"status\": \"running\", \"singlestep\": false, \"running\": true}", "system_powerdown", true);
        /* A suspended guest is woken by the power button, so it is pressed rather than quit. */
        stand_in("{\"status\": \"suspended\", \"singlestep\": false, \"running\": false}", "system_powerdown", true);
        stand_in("{\"status\": \"inmigrate\", \"singlestep\": false, \"running\": false}", "quit", false);
}

int main(void) {
        _cleanup_(test_qemu_done) TestQemu probe = {};
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        helper = getenv("MACHINA_QMP_STOP");
        if (!helper) {
                fprintf(stderr, "MACHINA_QMP_STOP is not set (run through meson test).\n");
                return EXIT_FAILURE;
        }

        RUN(bad_arguments);
        RUN(qemu_already_gone);
        RUN(stand_in_guest_powers_off);

        r = test_qemu_start(&probe, true);
        if (r == -ENOENT) {
                printf("# SKIP qemu-system-x86_64 not installed: real-QEMU cases skipped\n");
                return 0;
        }
        ASSERT_OK(r);
        test_qemu_done(&probe);

        RUN(quit_prelaunch);
        RUN(quit_paused);
        RUN(timeout_leaves_qemu_running);
        return 0;
}
