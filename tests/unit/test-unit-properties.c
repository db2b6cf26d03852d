/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "qemu-argv.h"
#include "test-defs.h"
#include "unit-properties.h"

#define QEMU "/usr/bin/qemu-system-x86_64"
#define RTDIR "/run/machina/alpha"

static const UnitProperty *find(const UnitProperties *p, const char *name, size_t nth) {
        for (size_t i = 0; i < p->n_props; i++)
                if (streq(p->props[i].name, name) && nth-- == 0)
                        return p->props + i;
        return NULL;
}

static void build(const MachineDef *m, bool user_mode, UnitProperties *ret, char **ret_text) {
        _cleanup_strv_free_ char **argv = NULL;
        RuntimePaths rt = { .dir = RTDIR };

        ASSERT_OK(qemu_argv_build(m, NULL, QEMU, ACCEL_TCG, &rt, &argv));
        ASSERT_OK(unit_properties_build(m, argv, &(UnitContext) {
                        .qmp_stop_helper = "/usr/libexec/machina/machina-qmp-stop",
                        .runtime_dir = RTDIR,
                        .user = user_mode ? NULL : "machina-qemu",
                        .user_mode = user_mode,
                }, ret));
        ASSERT_OK(unit_properties_render(ret, ret_text));
}

TEST(names) {
        _cleanup_free_ char *a = unit_name_for_machine("alpha");

        ASSERT_STREQ(a, "machina-alpha.service");
        ASSERT_TRUE(!unit_name_for_machine("../x"));
        ASSERT_STREQ(unit_property_type_signature(UNIT_PROPERTY_EXEC), "a(sasb)");
        ASSERT_STREQ(unit_property_type_signature(UNIT_PROPERTY_BOOL_STRV), "(bas)");
        ASSERT_TRUE(!unit_property_type_signature(_UNIT_PROPERTY_TYPE_MAX));
}

TEST(system_unit) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("alpha");
        _cleanup_(unit_properties_done) UnitProperties p = {};
        _cleanup_free_ char *text = NULL;
        const UnitProperty *u;
        Volume *v;

        test_def_add_volume(m, "root", "/var/lib/machina/alpha/root 1%.qcow2", VOLUME_FORMAT_QCOW2, DISK_BUS_UNSET);
        test_def_add_volume(m, "cd", "/srv/iso/debian.iso", VOLUME_FORMAT_ISO, DISK_BUS_UNSET);
        v = test_def_add_volume(m, "lun", "/dev/sdz", VOLUME_FORMAT_BLOCK, DISK_BUS_UNSET);
        v->readonly = 1;
        test_def_add_connection(m, "lan", NETWORK_KIND_BRIDGE, "52:54:00:00:00:01");
        m->autostart = AUTOSTART_ALWAYS;
        m->stop_timeout_usec = 30 * 1000000ULL;
        build(m, false, &p, &text);

        ASSERT_STREQ(find(&p, "Description", 0)->s, "machina guest alpha");
        ASSERT_STREQ(find(&p, "Slice", 0)->s, "machine.slice");
        ASSERT_STREQ(find(&p, "Type", 0)->s, "exec");
        ASSERT_STREQ(find(&p, "KillMode", 0)->s, "mixed");
        ASSERT_STREQ(find(&p, "Restart", 0)->s, "on-success");
        ASSERT_STREQ(find(&p, "User", 0)->s, "machina-qemu");
        ASSERT_STREQ(find(&p, "Group", 0)->s, "machina-qemu");
        ASSERT_EQ(find(&p, "TimeoutStopUSec", 0)->t, 35 * 1000000ULL);
        u = find(&p, "ExecStop", 0);
        ASSERT_TRUE(u->b);      /* ignore failure: QEMU's exit status decides Restart= */
        ASSERT_STREQ(u->strv[0], "/usr/libexec/machina/machina-qmp-stop");
        ASSERT_STREQ(u->strv[1], RTDIR "/qmp-stop.sock");
        ASSERT_STREQ(u->strv[2], "30");
        ASSERT_STREQ(find(&p, "ExecStart", 0)->strv[0], QEMU);

        /* Writable image yes, ISO and block device no; devices: tun and the disk, no kvm (TCG). */
        u = find(&p, "ReadWritePaths", 0);
        ASSERT_EQ(strv_length(u->strv), 2);
        ASSERT_STREQ(u->strv[0], RTDIR);
        ASSERT_STREQ(u->strv[1], "-/var/lib/machina/alpha/root 1%.qcow2");
        u = find(&p, "DeviceAllow", 0);
        ASSERT_EQ(strv_length(u->strv), 4);
        ASSERT_STREQ(u->strv[0], "/dev/net/tun");
        ASSERT_STREQ(u->strv[2], "/dev/sdz");
        ASSERT_STREQ(u->strv[3], "r");
        ASSERT_STREQ(find(&p, "DevicePolicy", 0)->s, "closed");

        /* Bridged only: no IP sockets needed, but the tap lives in the host's netns. */
        ASSERT_TRUE(!find(&p, "PrivateNetwork", 0));
        u = find(&p, "RestrictAddressFamilies", 0);
        ASSERT_TRUE(u->b);
        ASSERT_EQ(strv_length(u->strv), 1);
        ASSERT_TRUE(find(&p, "SystemCallFilter", 0)->b);
        ASSERT_TRUE(!find(&p, "SystemCallFilter", 1)->b);
        ASSERT_EQ(find(&p, "CapabilityBoundingSet", 0)->t, 0);
        ASSERT_TRUE(!find(&p, "MemoryDenyWriteExecute", 0)->b);

        ASSERT_TRUE(strstr(text, "[Unit]\nDescription=machina guest alpha\nCollectMode=inactive-or-failed\n\n[Service]\n"));
        ASSERT_TRUE(strstr(text, "\nTimeoutStopSec=35s\n"));
        ASSERT_TRUE(strstr(text, "\nReadWritePaths=" RTDIR " \"-/var/lib/machina/alpha/root 1%%.qcow2\"\n"));
        ASSERT_TRUE(strstr(text, "\nDeviceAllow=/dev/net/tun rw\nDeviceAllow=/dev/sdz r\n"));
        ASSERT_TRUE(strstr(text, "\nCapabilityBoundingSet=\n"));
        ASSERT_TRUE(strstr(text, "\nRestrictNamespaces=yes\n"));
        ASSERT_TRUE(strstr(text, "\nUMask=0007\n"));      /* machinad reaches the sockets by group */
        ASSERT_TRUE(strstr(text, "\nSystemCallFilter=@system-service\nSystemCallFilter=~@privileged "));
        ASSERT_TRUE(strstr(text, "\nSystemCallErrorNumber=EPERM\n"));
        ASSERT_TRUE(strstr(text, "\nExecStart=" QEMU " -name guest=alpha,debug-threads=on "));
        ASSERT_TRUE(strstr(text, " -blockdev \"driver=file,filename=/var/lib/machina/alpha/root 1%%.qcow2,node-name=vol0-file\" "));
}

TEST(user_mode_and_kvm) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("alpha");
        _cleanup_(unit_properties_done) UnitProperties p = {}, k = {};
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *text = NULL;

        build(m, true, &p, &text);
        ASSERT_TRUE(!find(&p, "User", 0));
        ASSERT_TRUE(!find(&p, "DeviceAllow", 0));
        ASSERT_TRUE(!find(&p, "DevicePolicy", 0));
        ASSERT_STREQ(find(&p, "Restart", 0)->s, "no");
        ASSERT_EQ(find(&p, "UMask", 0)->t, 0077u);         /* the caller's own files: private */
        ASSERT_TRUE(find(&p, "PrivateNetwork", 0)->b);      /* no NIC, no display */
        ASSERT_EQ(find(&p, "TimeoutStopUSec", 0)->t, 65 * 1000000ULL);

        /* A KVM argv gets /dev/kvm, whether the context says so or the argv does. */
        ASSERT_OK(qemu_argv_build(m, NULL, QEMU, ACCEL_KVM, &(RuntimePaths) { .dir = RTDIR }, &argv));
        ASSERT_OK(unit_properties_build(m, argv, &(UnitContext) {
                        .qmp_stop_helper = "/x/qmp-stop", .runtime_dir = RTDIR, .user = "q",
                }, &k));
        ASSERT_STREQ(find(&k, "DeviceAllow", 0)->strv[0], "/dev/kvm");

        ASSERT_ERROR(unit_properties_build(m, (char *[]) { (char *) "qemu", NULL },
                                           &(UnitContext) { .qmp_stop_helper = "/x", .runtime_dir = "/r" },
                                           &k), EINVAL);
}

TEST(taps) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("alpha");
        _cleanup_(unit_properties_done) UnitProperties p = {}, u = {}, c = {};
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *text = NULL, *utext = NULL;
        const UnitProperty *x;

        /* NIC 0 user-mode, NICs 1 and 2 bridged: one add before QEMU and one del after it per tap,
         * the add privileged ("+"), the del also ignoring failure ("-"). */
        test_def_add_connection(m, "user", NETWORK_KIND_USER, NULL);
        test_def_add_connection(m, "lan", NETWORK_KIND_BRIDGE, NULL);
        test_def_add_connection(m, "lan2", NETWORK_KIND_BRIDGE, NULL);
        build(m, false, &p, &text);
        ASSERT_STREQ(unit_property_type_signature(UNIT_PROPERTY_EXEC_EX), "a(sasas)");

        x = find(&p, "ExecStartPreEx", 0);
        ASSERT_EQ(x->type, UNIT_PROPERTY_EXEC_EX);
        ASSERT_TRUE(x->privileged && !x->b);
        ASSERT_EQ(strv_length(x->strv), 5);
        ASSERT_STREQ(x->strv[0], "/usr/libexec/machina/machina-tap");
        ASSERT_STREQ(x->strv[1], "add");
        ASSERT_STREQ(x->strv[2], "mt-alpha-1");
        ASSERT_STREQ(x->strv[3], "br0");
        ASSERT_STREQ(x->strv[4], "machina-qemu");
        ASSERT_STREQ(find(&p, "ExecStartPreEx", 1)->strv[2], "mt-alpha-2");
        ASSERT_TRUE(!find(&p, "ExecStartPreEx", 2));
        x = find(&p, "ExecStopPostEx", 1);
        ASSERT_TRUE(x->privileged && x->b);
        ASSERT_EQ(strv_length(x->strv), 3);
        ASSERT_STREQ(x->strv[1], "del");
        ASSERT_STREQ(x->strv[2], "mt-alpha-2");
        ASSERT_TRUE(strstr(text, "\nExecStartPre=+/usr/libexec/machina/machina-tap add mt-alpha-1 br0 machina-qemu\n"));
        ASSERT_TRUE(strstr(text, "\nExecStopPost=-+/usr/libexec/machina/machina-tap del mt-alpha-2\n"));
        ASSERT_TRUE(!find(&p, "PrivateNetwork", 0));
        ASSERT_STREQ(find(&p, "DeviceAllow", 0)->strv[0], "/dev/net/tun");

        /* The tap names of the argv are the helper's. */
        ASSERT_OK(qemu_argv_build(m, NULL, QEMU, ACCEL_TCG, &(RuntimePaths) { .dir = RTDIR }, &argv));
        for (size_t i = 0; argv[i]; i++)
                if (strstr(argv[i], "ifname="))
                        ASSERT_TRUE(strstr(argv[i], "ifname=mt-alpha-1,") || strstr(argv[i], "ifname=mt-alpha-2,"));

        /* An explicit helper path wins; QEMU as root gives the tap to root. */
        ASSERT_OK(unit_properties_build(m, argv, &(UnitContext) {
                        .qmp_stop_helper = "/x/qmp-stop", .tap_helper = "/y/tap", .runtime_dir = RTDIR,
                }, &c));
        ASSERT_STREQ(find(&c, "ExecStartPreEx", 0)->strv[0], "/y/tap");
        ASSERT_STREQ(find(&c, "ExecStartPreEx", 0)->strv[4], "root");

        /* A user manager cannot create taps: none of it in --user mode. */
        build(m, true, &u, &utext);
        ASSERT_TRUE(!find(&u, "ExecStartPreEx", 0));
        ASSERT_TRUE(!find(&u, "ExecStopPostEx", 0));
        ASSERT_TRUE(!strstr(utext, "machina-tap"));
}

int main(void) {
        RUN(names);
        RUN(system_unit);
        RUN(user_mode_and_kvm);
        RUN(taps);
        return 0;
}
