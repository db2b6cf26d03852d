/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "qemu-argv.h"
#include "qemu-live.h"
#include "test-defs.h"

#define RT "/run/machina/alpha"

static char **build(const MachineDef *m, Accel accel, const char *rtdir) {
        RuntimePaths rt = { .dir = rtdir };
        char **argv = NULL;

        ASSERT_OK(qemu_argv_build(m, NULL, "/usr/bin/qemu-system-x86_64", accel, &rt, &argv));
        ASSERT_TRUE(argv);
        return argv;
}

TEST(escape) {
        _cleanup_free_ char *a = qemu_opt_escape("a,b,,c"), *b = qemu_opt_escape("");

        ASSERT_STREQ(a, "a,,b,,,,c");
        ASSERT_STREQ(b, "");
        ASSERT_TRUE(!qemu_opt_escape(NULL));
}

TEST(shell_quote) {
        const char *cases[][2] = {
                { "plain-1.2/x:y,z=w", "plain-1.2/x:y,z=w" },
                { "", "''" },
                { "a b", "'a b'" },
                { "it's", "'it'\\''s'" },
                { "$HOME", "'$HOME'" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *q = shell_quote(cases[i][0]);
                ASSERT_STREQ(q, cases[i][1]);
        }
}

TEST(minimal_tcg) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("alpha");
        _cleanup_strv_free_ char **argv = build(m, ACCEL_TCG, RT);
        size_t ports = 0;

        ASSERT_STREQ(argv[0], "/usr/bin/qemu-system-x86_64");
        ASSERT_TRUE(argv_has_pair(argv, "-name", "guest=alpha,debug-threads=on"));
        ASSERT_TRUE(argv_has_pair(argv, "-uuid", "0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40"));
        ASSERT_TRUE(argv_has_pair(argv, "-machine", "q35,accel=tcg"));
        ASSERT_TRUE(argv_has_pair(argv, "-cpu", "max"));
        ASSERT_TRUE(argv_has_pair(argv, "-smp", "2"));
        ASSERT_TRUE(argv_has_pair(argv, "-m", "256"));
        ASSERT_TRUE(argv_has_pair(argv, "-display", "none"));
        ASSERT_TRUE(strv_contains(argv, "-nodefaults"));
        ASSERT_TRUE(strv_contains(argv, "-no-user-config"));
        ASSERT_TRUE(argv_has_pair(argv, "-chardev", "socket,id=qmp,path=" RT "/qmp.sock,server=on,wait=off"));
        ASSERT_TRUE(argv_has_pair(argv, "-mon", "chardev=qmp,mode=control"));
        ASSERT_TRUE(argv_has_pair(argv, "-chardev", "socket,id=qmp-stop,path=" RT "/qmp-stop.sock,server=on,wait=off"));
        ASSERT_TRUE(argv_has_pair(argv, "-mon", "chardev=qmp-stop,mode=control"));
        ASSERT_TRUE(argv_has_pair(argv, "-chardev", "socket,id=console,path=" RT "/console.sock,server=on,wait=off"));
        ASSERT_TRUE(argv_has_pair(argv, "-serial", "chardev:console"));
        ASSERT_TRUE(argv_has_pair(argv, "-device",
                                  "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,port=0x10,addr=0x2.0x0,multifunction=on"));
        ASSERT_TRUE(argv_has_pair(argv, "-device",
                                  "pcie-root-port,id=rp7,bus=pcie.0,chassis=8,port=0x17,addr=0x2.0x7"));
        for (size_t i = 0; argv[i]; i++)
                if (strncmp(argv[i], "pcie-root-port,", 15) == 0)
                        ports++;
        ASSERT_EQ(ports, 8);
        ASSERT_TRUE(!strv_contains(argv, "-kernel"));
        ASSERT_TRUE(!strv_contains(argv, "-vnc"));
}

TEST(accel_and_cpu) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("alpha");
        _cleanup_strv_free_ char **kvm = build(m, ACCEL_KVM, RT), **tcg = NULL, **model = NULL;
        RuntimePaths rt = { .dir = RT };
        char **bad = NULL;

        ASSERT_TRUE(argv_has_pair(kvm, "-machine", "q35,accel=kvm"));
        ASSERT_TRUE(argv_has_pair(kvm, "-cpu", "host"));

        /* "host" needs KVM: under TCG it becomes "max". */
        m->attrs.cpu_model = xstrdup("host");
        tcg = build(m, ACCEL_TCG, RT);
        ASSERT_TRUE(argv_has_pair(tcg, "-cpu", "max"));

        free(m->attrs.cpu_model);
        m->attrs.cpu_model = xstrdup("Skylake-Client,x");
        m->attrs.hyperv = 1;
        model = build(m, ACCEL_TCG, RT);
        ASSERT_TRUE(argv_has_pair(model, "-cpu",
                                  "Skylake-Client,,x,hv_relaxed,hv_vapic,hv_spinlocks=0x1fff,hv_time"));

        ASSERT_ERROR(qemu_argv_build(m, NULL, "qemu", ACCEL_AUTO, &rt, &bad), EINVAL);
        m->attrs.machine_type = xstrdup("pc-i440fx-7.2");
        ASSERT_ERROR(qemu_argv_build(m, NULL, "qemu", ACCEL_TCG, &rt, &bad), EOPNOTSUPP);
        ASSERT_TRUE(!bad);
}

TEST(comma_paths) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("alpha");
        _cleanup_strv_free_ char **argv = NULL;

        test_def_add_volume(m, "root", "/srv/a,b/root.qcow2", VOLUME_FORMAT_QCOW2, DISK_BUS_UNSET);
        argv = build(m, ACCEL_TCG, "/run/x,y");
        ASSERT_TRUE(argv_has_pair(argv, "-chardev", "socket,id=qmp,path=/run/x,,y/qmp.sock,server=on,wait=off"));
        ASSERT_TRUE(argv_has_pair(argv, "-blockdev", "driver=file,filename=/srv/a,,b/root.qcow2,node-name=vol0-file"));
        ASSERT_TRUE(argv_has_pair(argv, "-blockdev", "driver=qcow2,file=vol0-file,node-name=vol0"));
}

TEST(disks) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("alpha");
        _cleanup_strv_free_ char **argv = NULL;
        Volume *v;

        v = test_def_add_volume(m, "root", "/v/root.qcow2", VOLUME_FORMAT_QCOW2, DISK_BUS_UNSET);
        v->boot_index = 1;
        test_def_add_volume(m, "data", "/v/data.raw", VOLUME_FORMAT_RAW, DISK_BUS_VIRTIO_BLK);
        test_def_add_volume(m, "install", "/v/d.iso", VOLUME_FORMAT_ISO, DISK_BUS_UNSET);
        v = test_def_add_volume(m, "lun", "/dev/sdz", VOLUME_FORMAT_BLOCK, DISK_BUS_VIRTIO_SCSI);
        v->readonly = 1;
        test_def_add_volume(m, "legacy", "/v/l.raw", VOLUME_FORMAT_RAW, DISK_BUS_AHCI);
        test_def_add_connection(m, "eth0", NETWORK_KIND_USER, "52:54:00:48:8e:c2");

        argv = build(m, ACCEL_TCG, RT);
        /* NIC first (rp0), then the SCSI controller (rp1), then virtio-blk (rp2). */
        ASSERT_TRUE(argv_has_pair(argv, "-device",
                                  "virtio-net-pci,netdev=net-0,id=nic0,bus=rp0,addr=0x0,mac=52:54:00:48:8e:c2"));
        ASSERT_TRUE(argv_has_pair(argv, "-device", "virtio-scsi-pci,id=scsi0,bus=rp1,addr=0x0"));
        ASSERT_TRUE(argv_has_pair(argv, "-device",
                                  "scsi-hd,bus=scsi0.0,channel=0,scsi-id=0,lun=0,drive=vol0,id=disk0,"
                                  "wwn=0x55254001636F4B77,serial=66QBJ72V0G8I8QVM8LJ8TOT4P8,bootindex=1"));
        ASSERT_TRUE(argv_has_pair(argv, "-device",
                                  "virtio-blk-pci,bus=rp2,addr=0x0,drive=vol1,id=disk1,serial=66QBJ72V0G8I8QVM8LJ8TOT4P8"));
        ASSERT_TRUE(argv_has_pair(argv, "-blockdev", "driver=file,filename=/v/d.iso,node-name=vol2-file,read-only=on"));
        ASSERT_TRUE(argv_has_pair(argv, "-blockdev", "driver=raw,file=vol2-file,node-name=vol2,read-only=on"));
        ASSERT_TRUE(argv_has_pair(argv, "-device", "ide-cd,bus=ide.0,drive=vol2,id=disk2"));
        ASSERT_TRUE(argv_has_pair(argv, "-blockdev", "driver=host_device,filename=/dev/sdz,node-name=vol3-file,read-only=on"));
        ASSERT_TRUE(argv_has_pair(argv, "-device",
                                  "scsi-hd,bus=scsi0.0,channel=0,scsi-id=1,lun=0,drive=vol3,id=disk3,"
                                  "wwn=0x55254001636F4B77,serial=66QBJ72V0G8I8QVM8LJ8TOT4P8"));
        ASSERT_TRUE(argv_has_pair(argv, "-device",
                                  "ide-hd,bus=ide.1,drive=vol4,id=disk4,wwn=0x55254001636F4B77,serial=66QBJ72V0G8I8QVM8LJ8TOT4P8"));
        ASSERT_TRUE(argv_has_pair(argv, "-netdev", "user,id=net-0"));
}

TEST(ahci_limit) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("alpha");
        RuntimePaths rt = { .dir = RT };
        char **argv = NULL;

        for (unsigned i = 0; i < 7; i++)
                test_def_add_volume(m, "cd", "/v/d.iso", VOLUME_FORMAT_ISO, DISK_BUS_UNSET);
        ASSERT_ERROR(qemu_argv_build(m, NULL, "qemu", ACCEL_TCG, &rt, &argv), E2BIG);
        ASSERT_TRUE(!argv);
}

TEST(ahci_readonly_disk) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("alpha");
        RuntimePaths rt = { .dir = RT };
        char **argv = NULL;

        /* QEMU's ide-hd refuses read-only nodes: say so instead of generating a dead argv. */
        test_def_add_volume(m, "d", "/v/d.raw", VOLUME_FORMAT_RAW, DISK_BUS_AHCI)->readonly = 1;
        ASSERT_ERROR(qemu_argv_build(m, NULL, "qemu", ACCEL_TCG, &rt, &argv), EOPNOTSUPP);
}

TEST(tap_names) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

        ASSERT_OK(qemu_tap_name("web", 0, &a));
        ASSERT_STREQ(a, "mt-web-0");
        ASSERT_OK(qemu_tap_name("abcdefghi", 31, &b));
        ASSERT_STREQ(b, "mt-abcdefghi-31");        /* exactly 15: still readable */
        free(b);
        /* One byte more: hashed (FNV-1a of the name, checked with an independent script). */
        ASSERT_OK(qemu_tap_name("abcdefghij", 31, &b));
        ASSERT_STREQ(b, "mh-bce81ef2-31");
        ASSERT_OK(qemu_tap_name("a-very-long-machine-name", 3, &c));
        ASSERT_OK(qemu_tap_name("a-very-long-machine-name", 3, &d));
        ASSERT_STREQ(c, d);
        ASSERT_TRUE(strncmp(c, "mh-", 3) == 0);
        ASSERT_TRUE(strlen(c) <= 15);
        ASSERT_OK(qemu_tap_name("a-very-long-machine-namf", 3, &e));
        ASSERT_TRUE(!streq(c, e));
        ASSERT_ERROR(qemu_tap_name("x", 100, &e), EINVAL);
}

TEST(bridge_and_devices) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("web");
        _cleanup_strv_free_ char **argv = NULL;

        test_def_add_connection(m, "lan", NETWORK_KIND_BRIDGE, "52:54:00:00:00:01");
        test_def_add_device(m, "g0", "b2087904-54d4-4e50-b8de-62920f504ba1");
        m->attrs.guest_agent = 1;
        m->attrs.pvpanic = 1;
        m->attrs.console = CONSOLE_NONE;
        argv = build(m, ACCEL_KVM, "/run/machina/web");

        ASSERT_TRUE(argv_has_pair(argv, "-netdev", "tap,id=net-0,ifname=mt-web-0,script=no,downscript=no"));
        ASSERT_TRUE(argv_has_pair(argv, "-device",
                                  "vfio-pci,sysfsdev=/sys/bus/mdev/devices/b2087904-54d4-4e50-b8de-62920f504ba1,id=hostdev0,bus=rp1,addr=0x0"));
        ASSERT_TRUE(argv_has_pair(argv, "-device", "virtio-serial-pci,id=virtio-serial0,bus=rp2,addr=0x0"));
        ASSERT_TRUE(argv_has_pair(argv, "-chardev",
                                  "socket,id=guest-agent,path=/run/machina/web/guest-agent.sock,server=on,wait=off"));
        ASSERT_TRUE(argv_has_pair(argv, "-device",
                                  "virtserialport,bus=virtio-serial0.0,nr=1,chardev=guest-agent,id=guest-agent0,name=org.qemu.guest_agent.0"));
        ASSERT_TRUE(argv_has_pair(argv, "-device", "pvpanic-pci,id=pvpanic0,bus=rp3,addr=0x0"));
        ASSERT_TRUE(!strv_contains(argv, "-serial"));
        ASSERT_TRUE(!strv_contains(argv, "socket,id=console,path=/run/machina/web/console.sock,server=on,wait=off"));
}

TEST(firmware_kernel_graphics) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("alpha");
        _cleanup_strv_free_ char **argv = NULL;
        RuntimePaths rt = { .dir = RT };
        char **bad = NULL;

        m->attrs.firmware = FIRMWARE_OVMF;
        ASSERT_ERROR(qemu_argv_build(m, NULL, "qemu", ACCEL_TCG, &rt, &bad), EINVAL);

        m->attrs.firmware_code = xstrdup("/usr/share/OVMF/OVMF_CODE.fd");
        m->attrs.firmware_vars = xstrdup("/var/lib/machina/alpha/VARS,1.fd");
        m->attrs.kernel = xstrdup("/boot/vm,linuz");
        m->attrs.initrd = xstrdup("/boot/initrd");
        m->attrs.cmdline = xstrdup("console=ttyS0 root=/dev/sda,x");
        m->attrs.vnc_port = 5901;
        m->attrs.spice_port = 5930;
        argv = build(m, ACCEL_TCG, RT);

        ASSERT_TRUE(argv_has_pair(argv, "-machine", "q35,accel=tcg,smm=on,pflash0=fw-code,pflash1=fw-vars"));
        ASSERT_TRUE(argv_has_pair(argv, "-blockdev",
                                  "driver=file,filename=/usr/share/OVMF/OVMF_CODE.fd,node-name=fw-code-file,read-only=on"));
        ASSERT_TRUE(argv_has_pair(argv, "-blockdev",
                                  "driver=file,filename=/var/lib/machina/alpha/VARS,,1.fd,node-name=fw-vars-file"));
        ASSERT_TRUE(argv_has_pair(argv, "-blockdev", "driver=raw,file=fw-vars-file,node-name=fw-vars"));
        ASSERT_TRUE(argv_has_pair(argv, "-kernel", "/boot/vm,linuz"));
        ASSERT_TRUE(argv_has_pair(argv, "-initrd", "/boot/initrd"));
        ASSERT_TRUE(argv_has_pair(argv, "-append", "console=ttyS0 root=/dev/sda,x"));
        ASSERT_TRUE(argv_has_pair(argv, "-vnc", "127.0.0.1:1"));
        ASSERT_TRUE(argv_has_pair(argv, "-spice", "port=5930,addr=127.0.0.1,disable-ticketing=on"));
        ASSERT_TRUE(argv_has_pair(argv, "-device", "qxl-vga,id=video0,bus=pcie.0,addr=0x1"));
        ASSERT_TRUE(!strv_contains(argv, "-display"));

        m->attrs.vnc_port = 5899;
        ASSERT_ERROR(qemu_argv_build(m, NULL, "qemu", ACCEL_TCG, &rt, &bad), ERANGE);
}

TEST(deterministic_and_format) {
        _cleanup_(machine_def_freep) MachineDef *m = test_def_new("alpha");
        _cleanup_strv_free_ char **a = NULL, **b = NULL;
        _cleanup_free_ char *fa = NULL, *fb = NULL, *small = NULL;
        char *tiny[] = { (char *) "/usr/bin/qemu", (char *) "-nodefaults", (char *) "-name",
                         (char *) "guest=a b", (char *) "-S", NULL };

        test_def_add_volume(m, "root", "/v/root.qcow2", VOLUME_FORMAT_QCOW2, DISK_BUS_UNSET);
        test_def_add_connection(m, "eth0", NETWORK_KIND_USER, "52:54:00:48:8e:c2");
        a = build(m, ACCEL_TCG, RT);
        b = build(m, ACCEL_TCG, RT);
        fa = qemu_argv_format(a);
        fb = qemu_argv_format(b);
        ASSERT_STREQ(fa, fb);
        ASSERT_TRUE(strstr(fa, "-machine q35,accel=tcg \\\n"));

        small = qemu_argv_format(tiny);
        ASSERT_STREQ(small, "/usr/bin/qemu \\\n-nodefaults \\\n-name 'guest=a b' \\\n-S\n");
}

static int truncate_new(const char *path, off_t size) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        if (fd < 0 || ftruncate(fd, size) < 0)
                return -errno;
        return 0;
}

/* The proof that QEMU 7.2 accepts every option: start it paused with the generated argv, talk
 * QMP, quit. */
TEST(live_qemu) {
        _cleanup_free_ char *qemu = NULL;
        char tmpl[] = "/tmp/machina-argv-XXXXXX";
        _cleanup_free_ char *dir = NULL, *qcow = NULL, *raw = NULL, *ro = NULL, *iso = NULL, *rt = NULL;
        int vnc, spice;

        if (qemu_find_binary("qemu-system-x86_64", &qemu) < 0) {
                printf("# skipping live test: no qemu-system-x86_64\n");
                return;
        }
        ASSERT_TRUE(mkdtemp(tmpl));
        /* A directory with a comma in its name proves the escaping end to end. */
        ASSERT_TRUE(asprintf(&dir, "%s/img,dir", tmpl) > 0);
        ASSERT_TRUE(asprintf(&rt, "%s/run,time", tmpl) > 0);
        ASSERT_OK(mkdir(dir, 0755) < 0 ? -errno : 0);
        ASSERT_OK(mkdir(rt, 0700) < 0 ? -errno : 0);
        ASSERT_TRUE(asprintf(&qcow, "%s/root.qcow2", dir) > 0);
        ASSERT_TRUE(asprintf(&raw, "%s/data.raw", dir) > 0);
        ASSERT_TRUE(asprintf(&iso, "%s/cd.iso", dir) > 0);
        ASSERT_TRUE(asprintf(&ro, "%s/ro.raw", dir) > 0);
        ASSERT_OK(live_make_image(ro, "raw"));
        ASSERT_OK(live_make_image(qcow, "qcow2"));
        ASSERT_OK(live_make_image(raw, "raw"));
        ASSERT_OK(live_make_image(iso, "raw"));

        {       /* Everything that runs on a plain host: disks on all buses, user NIC, agent,
                 * pvpanic, hyperv flags, kernel options absent, serial console. */
                _cleanup_(machine_def_freep) MachineDef *m = test_def_new("live,one");
                _cleanup_strv_free_ char **argv = NULL;
                Volume *v;

                v = test_def_add_volume(m, "root", qcow, VOLUME_FORMAT_QCOW2, DISK_BUS_UNSET);
                v->boot_index = 1;
                test_def_add_volume(m, "data", iso, VOLUME_FORMAT_RAW, DISK_BUS_VIRTIO_BLK)->readonly = 1;
                v = test_def_add_volume(m, "ro", raw, VOLUME_FORMAT_RAW, DISK_BUS_VIRTIO_SCSI);
                v->readonly = 1;
                test_def_add_volume(m, "legacy", ro, VOLUME_FORMAT_RAW, DISK_BUS_AHCI);
                test_def_add_volume(m, "cd", iso, VOLUME_FORMAT_ISO, DISK_BUS_UNSET);
                test_def_add_volume(m, "scsicd", iso, VOLUME_FORMAT_ISO, DISK_BUS_VIRTIO_SCSI);
                test_def_add_connection(m, "eth0", NETWORK_KIND_USER, "52:54:00:48:8e:c2");
                test_def_add_connection(m, "eth1", NETWORK_KIND_USER, "52:54:00:e9:6d:ac");
                m->attrs.guest_agent = 1;
                m->attrs.pvpanic = 1;
                m->attrs.hyperv = 1;
                argv = build(m, ACCEL_TCG, rt);
                ASSERT_OK(live_run_paused(argv, rt));
        }

        ASSERT_OK(live_free_tcp_port(&vnc));
        ASSERT_OK(live_free_tcp_port(&spice));
        {       /* Graphics, no serial console, a named CPU model. */
                _cleanup_(machine_def_freep) MachineDef *m = test_def_new("live-two");
                _cleanup_strv_free_ char **argv = NULL;

                m->attrs.console = CONSOLE_NONE;
                m->attrs.vnc_port = vnc >= 5900 ? vnc : -1;
                m->attrs.spice_port = spice;
                m->attrs.cpu_model = xstrdup("qemu64");
                argv = build(m, ACCEL_TCG, rt);
                ASSERT_OK(live_run_paused(argv, rt));
        }

        {       /* OVMF as pflash (zero-filled stand-ins: the CPU never runs under -S). */
                _cleanup_(machine_def_freep) MachineDef *m = test_def_new("live-ovmf");
                _cleanup_strv_free_ char **argv = NULL;
                _cleanup_free_ char *code = NULL, *vars = NULL;

                ASSERT_TRUE(asprintf(&code, "%s/CODE,x.fd", dir) > 0);
                ASSERT_TRUE(asprintf(&vars, "%s/VARS,x.fd", dir) > 0);
                ASSERT_OK(truncate_new(code, 2 * 1024 * 1024));
                ASSERT_OK(truncate_new(vars, 128 * 1024));
                m->attrs.firmware = FIRMWARE_OVMF;
                m->attrs.firmware_code = TAKE_PTR(code);
                m->attrs.firmware_vars = TAKE_PTR(vars);
                argv = build(m, ACCEL_TCG, rt);
                ASSERT_OK(live_run_paused(argv, rt));
        }

        ASSERT_OK(live_rm_rf(tmpl));
}

int main(void) {
        RUN(escape);
        RUN(shell_quote);
        RUN(minimal_tcg);
        RUN(accel_and_cpu);
        RUN(comma_paths);
        RUN(disks);
        RUN(ahci_limit);
        RUN(ahci_readonly_disk);
        RUN(tap_names);
        RUN(bridge_and_devices);
        RUN(firmware_kernel_graphics);
        RUN(deterministic_and_format);
        RUN(live_qemu);
        return 0;
}
