/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* machine_def_parse(), host_config_parse() and machine_def_to_json(): every validation rule with
 * a positive and a negative case, each error checked for file, JSON path and reason. */

#include "config-test.h"

#define F "t.conf.json"

static MachineDef *parse_ok(const char *json, Diagnostics *d) {
        MachineDef *m = NULL;
        int r = machine_def_parse(json, strlen(json), F, &m, d);

        if (r < 0) {
                fprintf(stderr, "parse failed for %s\n", json);
                dump_diagnostics(d);
                abort();
        }
        ASSERT_TRUE(m);
        return m;
}

static void expect_error(const char *json, const char *path, const char *substr) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        MachineDef *m = NULL;

        ASSERT_ERROR(machine_def_parse(json, strlen(json), F, &m, &d), EINVAL);
        ASSERT_TRUE(!m);
        ASSERT_DIAG(&d, DIAGNOSTIC_ERROR, F, path, substr);
}

static void expect_host_error(const char *json, const char *path, const char *substr) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        HostConfig *h = NULL;

        ASSERT_ERROR(host_config_parse(json, strlen(json), "h.json", &h, &d), EINVAL);
        ASSERT_TRUE(!h);
        ASSERT_DIAG(&d, DIAGNOSTIC_ERROR, "h.json", path, substr);
}

static const char full[] =
        "{\"name\": \"alpha\", \"id\": \"0F6B2E8A-5D0C-4C1E-9A57-3F2D8B1C7E40\", \"description\": \"d\","
        " \"tags\": [\"small\", \"big\"], \"vars\": {\"site\": \"lab\", \"a-b\": \"x\"},"
        " \"attrs\": {\"cpu\": {\"count\": 2, \"model\": \"max\"}, \"ram\": {\"size\": \"2G\"},"
        "   \"machine\": \"q35\", \"accel\": \"tcg\", \"console\": \"none\","
        "   \"firmware\": {\"type\": \"ovmf\", \"code\": \"/fw/code.fd\", \"vars\": \"${dir}/vars.fd\"},"
        "   \"kernel\": {\"path\": \"/boot/vmlinuz\", \"initrd\": \"/boot/initrd\", \"cmdline\": \"console=ttyS0\"},"
        "   \"vnc\": {\"port-pattern\": \"$((5900 + ${machine-index}))\"}, \"spice\": {\"port\": 5930},"
        "   \"hyperv\": true, \"guest-agent\": false, \"pvpanic\": true},"
        " \"volumes\": [{\"name\": \"root\", \"storage\": \"default\", \"bus\": \"virtio\", \"boot-index\": 1,"
        "   \"provision\": {\"size\": \"2G\", \"format\": \"qcow2\", \"thin\": true, \"backing\": \"/img/base.qcow2\"}},"
        "   {\"name\": \"cd\", \"path\": \"/srv/x.iso\", \"type\": \"iso\", \"readonly\": true, \"serial\": \"CD0\","
        "    \"wwn\": \"0x55254001636F4B77\"},"
        "   {\"name\": \"f\", \"path\": \"/srv/f.img\", \"format\": \"file\"}],"
        " \"connections\": [{\"name\": \"eth0\", \"network\": \"default\"},"
        "   {\"name\": \"eth1\", \"network\": \"br0\", \"mac\": \"52:54:00:12:34:56\", \"model\": \"e1000\"}],"
        " \"devices\": [{\"name\": \"g0\", \"class\": \"gpu\", \"id\": \"B2087904-54D4-4E50-B8DE-62920F504BA1\"}],"
        " \"autostart\": \"always\", \"boot-delay\": 5, \"stop-timeout\": 30, \"owner\": 1000}";

TEST(full) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_def_freep) MachineDef *m = parse_ok(full, &d);
        char u[UUID_STR_LEN];

        ASSERT_NO_DIAGNOSTICS(&d);
        ASSERT_STREQ(m->name, "alpha");
        ASSERT_TRUE(m->id_set);
        uuid_unparse_lower(m->id, u);
        ASSERT_STREQ(u, "0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40");
        ASSERT_STREQ(m->source, F);
        ASSERT_EQ(strv_length(m->tags), 2);
        ASSERT_EQ(m->n_vars, 2);
        ASSERT_STREQ(machine_def_get_var(m, "a-b")->value, "x");
        ASSERT_EQ(m->attrs.cpus, 2);
        ASSERT_STREQ(m->attrs.cpu_model, "max");
        ASSERT_EQ(m->attrs.memory_mib, 2048);
        ASSERT_EQ(m->attrs.accel, ACCEL_TCG);
        ASSERT_EQ(m->attrs.console, CONSOLE_NONE);
        ASSERT_EQ(m->attrs.firmware, FIRMWARE_OVMF);
        ASSERT_STREQ(m->attrs.firmware_vars, "${dir}/vars.fd");
        ASSERT_STREQ(m->attrs.kernel, "/boot/vmlinuz");
        ASSERT_STREQ(m->attrs.cmdline, "console=ttyS0");
        ASSERT_EQ(m->attrs.vnc_port, -1);
        ASSERT_STREQ(m->attrs.vnc_port_pattern, "$((5900 + ${machine-index}))");
        ASSERT_EQ(m->attrs.spice_port, 5930);
        ASSERT_EQ(m->attrs.hyperv, 1);
        ASSERT_EQ(m->attrs.guest_agent, 0);
        ASSERT_EQ(m->attrs.pvpanic, 1);
        ASSERT_EQ(m->n_volumes, 3);
        ASSERT_EQ(m->volumes[0].bus, DISK_BUS_VIRTIO_BLK);
        ASSERT_EQ(m->volumes[0].boot_index, 1);
        ASSERT_EQ(m->volumes[0].readonly, -1);
        ASSERT_TRUE(m->volumes[0].provision.set);
        ASSERT_EQ(m->volumes[0].provision.size, 2ULL << 30);
        ASSERT_EQ(m->volumes[0].provision.format, VOLUME_FORMAT_QCOW2);
        ASSERT_TRUE(m->volumes[0].provision.thin);
        ASSERT_EQ(m->volumes[1].format, VOLUME_FORMAT_ISO);
        ASSERT_EQ(m->volumes[1].readonly, 1);
        ASSERT_EQ(m->volumes[2].format, VOLUME_FORMAT_RAW);
        ASSERT_EQ(m->n_connections, 2);
        ASSERT_STREQ(m->connections[1].model, "e1000");
        ASSERT_STREQ(m->devices[0].id, "b2087904-54d4-4e50-b8de-62920f504ba1");
        ASSERT_EQ(m->autostart, AUTOSTART_ALWAYS);
        ASSERT_EQ(m->boot_delay_usec, 5000000);
        ASSERT_EQ(m->stop_timeout_usec, 30000000);
        ASSERT_TRUE(m->owner_set);
        ASSERT_EQ(m->owner, 1000);
}

TEST(minimal_defaults) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_def_freep) MachineDef *m = parse_ok("{\"name\": \"a\"}", &d);

        ASSERT_NO_DIAGNOSTICS(&d);
        ASSERT_TRUE(!m->id_set);
        ASSERT_EQ(m->attrs.cpus, 0);
        ASSERT_EQ(m->attrs.vnc_port, -1);
        ASSERT_EQ(m->attrs.hyperv, -1);
        ASSERT_EQ(m->autostart, AUTOSTART_NO);
        ASSERT_TRUE(!m->owner_set);
}

TEST(keys_case_insensitive_and_unknown) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_def_freep) MachineDef *m =
                parse_ok("{\"NAME\": \"a\", \"Attrs\": {\"CPU\": {\"Count\": 3, \"cuont\": 2}, \"zzzzzzzz\": 1},"
                         " \"vars\": {\"Site\": \"x\"}}", &d);

        ASSERT_EQ(m->attrs.cpus, 3);
        ASSERT_EQ(d.n_errors, 0);
        ASSERT_EQ(d.n_entries, 2);
        ASSERT_DIAG(&d, DIAGNOSTIC_WARNING, F, "$.attrs.cpu.cuont", "unknown key 'cuont' ignored, did you mean 'count'?");
        ASSERT_DIAG(&d, DIAGNOSTIC_WARNING, F, "$.attrs.zzzzzzzz", "unknown key 'zzzzzzzz' ignored");
        for (size_t i = 0; i < d.n_entries; i++)
                if (strstr(d.entries[i].message, "zzzzzzzz"))
                        ASSERT_TRUE(!strstr(d.entries[i].message, "did you mean"));
        /* Variable names are data, not keys: they keep their case. */
        ASSERT_TRUE(machine_def_get_var(m, "Site"));
}

TEST(unknown_key_quoted_path) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_def_freep) MachineDef *m = parse_ok("{\"name\": \"a\", \"we ird\\\"\": 1}", &d);

        ASSERT_DIAG(&d, DIAGNOSTIC_WARNING, F, "$[\"we ird\\\"\"]", "unknown key");
}

TEST(json_errors) {
        expect_error("{\n \"name\": \"a\",\n \"b\" x}", "$", "invalid JSON: 3:4");
        expect_error("", "$", "document is empty");
        expect_error("[1, 2]", "$", "expected a JSON object");
        expect_error("{\"name\": \"a\xff\"}", "$", "invalid JSON");
        expect_error("{\"name\": \"a\", \"NAME\": \"b\"}", "$.NAME", "given twice");
        expect_error("{\"description\": \"x\"}", "$", "missing 'name'");
        expect_error("{\"name\": 5}", "$.name", "expected a string, got a number");
        expect_error("{\"name\": \"a\", \"attrs\": []}", "$.attrs", "expected an object, got an array");
        expect_error("{\"name\": \"a\", \"tags\": {}}", "$.tags", "expected an array, got an object");
        expect_error("{\"name\": \"a\", \"attrs\": {\"hyperv\": \"yes\"}}", "$.attrs.hyperv", "expected a boolean, got a string");
        expect_error("{\"name\": \"a\", \"attrs\": {\"pvpanic\": null}}", "$.attrs.pvpanic", "expected a boolean, got null");
        expect_error("{\"name\": \"a\", \"description\": \"a\\u0001b\"}", "$.description", "control character");
}

TEST(names) {
        expect_error("{\"name\": \"../x\"}", "$.name", "invalid machine name '../x'");
        expect_error("{\"name\": \"\"}", "$.name", "invalid machine name");
        expect_error("{\"name\": \"-a\"}", "$.name", "invalid machine name");
        expect_error("{\"name\": \"a\", \"tags\": [\"x/y\"]}", "$.tags[0]", "invalid tag name");
        expect_error("{\"name\": \"a\", \"tags\": [\"x\", \"x\"]}", "$.tags[1]", "listed twice");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"a b\", \"path\": \"/x\"}]}",
                     "$.volumes[0].name", "invalid volume name");
        expect_error("{\"name\": \"a\", \"connections\": [{\"name\": \"\"}]}", "$.connections[0].name",
                     "invalid connection name");
        expect_error("{\"name\": \"a\", \"devices\": [{\"name\": \"d\", \"class\": \"g/1\"}]}",
                     "$.devices[0].class", "invalid device class name");
        expect_error("{\"name\": \"a\", \"vars\": {\"a b\": \"x\"}}", "$.vars[\"a b\"]", "invalid variable name");
        expect_error("{\"name\": \"a\", \"vars\": {\"x\": 1}}", "$.vars.x", "expected a string");
}

TEST(uuids) {
        expect_error("{\"name\": \"a\", \"id\": \"not-a-uuid\"}", "$.id", "invalid UUID 'not-a-uuid'");
        expect_error("{\"name\": \"a\", \"id\": \"0f6b2e8a5d0c4c1e9a573f2d8b1c7e40\"}", "$.id", "invalid UUID");
        expect_error("{\"name\": \"a\", \"devices\": [{\"name\": \"d\", \"class\": \"gpu\", \"id\": \"x\"}]}",
                     "$.devices[0].id", "invalid UUID 'x'");
}

TEST(ports) {
        expect_error("{\"name\": \"a\", \"attrs\": {\"spice\": {\"port\": 0}}}", "$.attrs.spice.port", "out of range 1..65535");
        expect_error("{\"name\": \"a\", \"attrs\": {\"spice\": {\"port\": 65536}}}", "$.attrs.spice.port", "out of range");
        expect_error("{\"name\": \"a\", \"attrs\": {\"vnc\": {\"port\": 5000}}}", "$.attrs.vnc.port", "at least 5900");
        expect_error("{\"name\": \"a\", \"attrs\": {\"vnc\": {\"port\": 5901, \"port-pattern\": \"5901\"}}}",
                     "$.attrs.vnc", "not both");
        expect_error("{\"name\": \"a\", \"attrs\": {\"vnc\": {}}}", "$.attrs.vnc", "needs 'port' or 'port-pattern'");

        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_def_freep) MachineDef *m =
                parse_ok("{\"name\": \"a\", \"attrs\": {\"vnc\": {\"port\": 65535}, \"spice\": {\"port\": 1}}}", &d);
        ASSERT_EQ(m->attrs.vnc_port, 65535);
        ASSERT_EQ(m->attrs.spice_port, 1);
}

static uint64_t ram_of(const char *size_json) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *json = NULL;
        MachineDef *m;
        uint64_t v;

        ASSERT_TRUE(asprintf(&json, "{\"name\": \"a\", \"attrs\": {\"ram\": {\"size\": %s}}}", size_json) > 0);
        m = parse_ok(json, &d);
        v = m->attrs.memory_mib;
        machine_def_free(m);
        return v;
}

TEST(sizes) {
        ASSERT_EQ(ram_of("512"), 512);
        ASSERT_EQ(ram_of("\"512M\""), 512);
        ASSERT_EQ(ram_of("\"512\""), 512);
        ASSERT_EQ(ram_of("\"2G\""), 2048);
        ASSERT_EQ(ram_of("\"2GiB\""), 2048);
        ASSERT_EQ(ram_of("\"1048576K\""), 1024);
        ASSERT_EQ(ram_of("\"1t\""), 1024 * 1024);
        expect_error("{\"name\": \"a\", \"attrs\": {\"ram\": {\"size\": \"2X\"}}}", "$.attrs.ram.size", "invalid size '2X'");
        expect_error("{\"name\": \"a\", \"attrs\": {\"ram\": {\"size\": \"1.5G\"}}}", "$.attrs.ram.size", "invalid size");
        expect_error("{\"name\": \"a\", \"attrs\": {\"ram\": {\"size\": \"99999999999999999999\"}}}", "$.attrs.ram.size", "too large");
        expect_error("{\"name\": \"a\", \"attrs\": {\"ram\": {\"size\": \"17179869184T\"}}}", "$.attrs.ram.size", "too large");
        expect_error("{\"name\": \"a\", \"attrs\": {\"ram\": {\"size\": 0}}}", "$.attrs.ram.size", "positive whole number of MiB");
        expect_error("{\"name\": \"a\", \"attrs\": {\"ram\": {\"size\": \"1536K\"}}}", "$.attrs.ram.size", "whole number of MiB");
        expect_error("{\"name\": \"a\", \"attrs\": {\"ram\": {\"size\": \"17T\"}}}", "$.attrs.ram.size", "exceeds the limit");
        expect_error("{\"name\": \"a\", \"attrs\": {\"ram\": {\"size\": -1}}}", "$.attrs.ram.size", "negative");
        expect_error("{\"name\": \"a\", \"attrs\": {\"ram\": {}}}", "$.attrs.ram", "missing 'size'");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/v\", \"provision\": {\"size\": 0}}]}",
                     "$.volumes[0].provision.size", "must be positive");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/v\", \"provision\": {}}]}",
                     "$.volumes[0].provision", "missing 'size'");
}

TEST(bounds_cpu_and_numbers) {
        expect_error("{\"name\": \"a\", \"attrs\": {\"cpu\": {\"count\": 0}}}", "$.attrs.cpu.count", "out of range 1..1024");
        expect_error("{\"name\": \"a\", \"attrs\": {\"cpu\": {\"count\": 1025}}}", "$.attrs.cpu.count", "out of range");
        expect_error("{\"name\": \"a\", \"attrs\": {\"cpu\": {\"count\": 2.5}}}", "$.attrs.cpu.count", "expected an integer, got 2.5");
        expect_error("{\"name\": \"a\", \"attrs\": {\"cpu\": {\"count\": \"2\"}}}", "$.attrs.cpu.count", "expected an integer, got a string");
        expect_error("{\"name\": \"a\", \"attrs\": {\"cpu\": {\"model\": \"a b\"}}}", "$.attrs.cpu.model", "invalid CPU model");
        expect_error("{\"name\": \"a\", \"boot-delay\": -1}", "$.boot-delay", "out of range");
        expect_error("{\"name\": \"a\", \"stop-timeout\": 86401}", "$.stop-timeout", "out of range");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/v\", \"boot-index\": -2}]}",
                     "$.volumes[0].boot-index", "out of range");
}

TEST(enums) {
        expect_error("{\"name\": \"a\", \"attrs\": {\"accel\": \"xen\"}}", "$.attrs.accel",
                     "unknown accelerator 'xen', expected one of: auto, kvm, tcg");
        expect_error("{\"name\": \"a\", \"attrs\": {\"console\": \"vga\"}}", "$.attrs.console",
                     "expected one of: serial, none");
        expect_error("{\"name\": \"a\", \"autostart\": \"maybe\"}", "$.autostart", "unknown autostart mode 'maybe'");
        expect_error("{\"name\": \"a\", \"attrs\": {\"firmware\": {\"type\": \"uboot\"}}}", "$.attrs.firmware.type",
                     "unknown firmware type");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/v\", \"format\": \"vmdk\"}]}",
                     "$.volumes[0].format", "unknown volume format 'vmdk', expected one of: raw, qcow2, block, iso");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/v\", \"bus\": \"ide\"}]}",
                     "$.volumes[0].bus", "unknown disk bus 'ide'");
        expect_error("{\"name\": \"a\", \"attrs\": {\"machine\": \"pc\"}}", "$.attrs.machine", "only q35 is supported");

        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_def_freep) MachineDef *m =
                parse_ok("{\"name\": \"a\", \"autostart\": \"ONESHOT\", \"attrs\": {\"accel\": \"KVM\", \"machine\": \"pc-q35-7.2\"}}", &d);
        ASSERT_EQ(m->autostart, AUTOSTART_ONESHOT);
        ASSERT_EQ(m->attrs.accel, ACCEL_KVM);
}

TEST(volumes_connections_devices) {
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/v\"}, {\"name\": \"v\", \"path\": \"/w\"}]}",
                     "$.volumes[1]", "duplicate name 'v' (also at index 0)");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/v\", \"storage\": \"s\"}]}",
                     "$.volumes[0]", "exactly one of 'storage' and 'path'");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\"}]}", "$.volumes[0]", "exactly one of");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"path\": \"/v\"}]}", "$.volumes[0]", "needs a 'name'");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"v.img\"}]}",
                     "$.volumes[0].path", "path 'v.img' is not absolute");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/v\", \"format\": \"raw\", \"type\": \"raw\"}]}",
                     "$.volumes[0]", "give one");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/v\", \"provision\": {\"size\": 1, \"format\": \"iso\"}}]}",
                     "$.volumes[0].provision.format", "only raw and qcow2");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/v\", \"provision\": {\"size\": 1, \"backing\": \"b\"}}]}",
                     "$.volumes[0].provision.backing", "not absolute");
        expect_error("{\"name\": \"a\", \"connections\": [{\"name\": \"c\"}, {\"name\": \"c\"}]}",
                     "$.connections[1]", "duplicate name 'c'");
        expect_error("{\"name\": \"a\", \"connections\": [{\"name\": \"c\", \"model\": \"e1000,x\"}]}",
                     "$.connections[0].model", "invalid NIC model");
        expect_error("{\"name\": \"a\", \"devices\": [{\"name\": \"d\"}]}", "$.devices[0]", "needs a 'class'");
        expect_error("{\"name\": \"a\", \"devices\": [{\"name\": \"d\", \"class\": \"c\"}, {\"name\": \"d\", \"class\": \"c\"}]}",
                     "$.devices[1]", "duplicate name 'd'");
        expect_error("{\"name\": \"a\", \"attrs\": {\"kernel\": {\"cmdline\": \"x\"}}}", "$.attrs.kernel", "missing 'path'");
        expect_error("{\"name\": \"a\", \"attrs\": {\"kernel\": {\"path\": \"vmlinuz\"}}}", "$.attrs.kernel.path", "not absolute");
        expect_error("{\"name\": \"a\", \"attrs\": {\"firmware\": {\"code\": \"/c.fd\"}}}", "$.attrs.firmware",
                     "need \"type\": \"ovmf\"");
}

TEST(owner) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_def_freep) MachineDef *m = parse_ok("{\"name\": \"a\", \"owner\": \"root\"}", &d);

        ASSERT_TRUE(m->owner_set);
        ASSERT_EQ(m->owner, 0);
        expect_error("{\"name\": \"a\", \"owner\": \"no-such-user-xyzzy\"}", "$.owner", "unknown user 'no-such-user-xyzzy'");
        expect_error("{\"name\": \"a\", \"owner\": -1}", "$.owner", "out of range");
        expect_error("{\"name\": \"a\", \"owner\": true}", "$.owner", "user name or a numeric uid");
}

static char *repeat(char c, size_t n) {
        char *s = malloc(n + 1);

        ASSERT_TRUE(s);
        memset(s, c, n);
        s[n] = 0;
        return s;
}

TEST(limits) {
        _cleanup_free_ char *big = repeat('x', 10 * 1024 * 1024), *json = NULL, *long_str = repeat('y', DEF_STRING_MAX + 1);
        _cleanup_free_ char *deep = NULL, *tags = NULL;
        size_t n = 10000;

        /* A 10 MB string value: refused by size before parsing. */
        ASSERT_TRUE(asprintf(&json, "{\"name\": \"a\", \"description\": \"%s\"}", big) > 0);
        expect_error(json, "$", "the limit is 1048576 bytes");
        free(json);
        json = NULL;

        ASSERT_TRUE(asprintf(&json, "{\"name\": \"a\", \"description\": \"%s\"}", long_str) > 0);
        expect_error(json, "$.description", "string is 4097 bytes long, the limit is 4096");
        free(json);
        json = NULL;

        /* 10000-deep nesting: refused by the pre-scan, json-glib never recurses into it. */
        deep = malloc(2 * n + 64);
        ASSERT_TRUE(deep);
        strcpy(deep, "{\"name\": \"a\", \"x\": ");
        memset(deep + strlen(deep), '[', n);
        deep[19 + n] = 0;
        memset(deep + strlen(deep), ']', n);
        deep[19 + 2 * n] = 0;
        strcat(deep, "}");
        expect_error(deep, "$", "nesting deeper than 32 levels");
        /* Brackets inside strings do not count. */
        ASSERT_TRUE(asprintf(&json, "{\"name\": \"a\", \"description\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\"}") > 0);
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                machine_def_free(parse_ok(json, &d));
        }
        free(json);
        json = NULL;

        tags = calloc(65 * 8 + 2, 1);
        ASSERT_TRUE(tags);
        for (int i = 0; i < 65; i++)
                sprintf(tags + strlen(tags), "%s\"t%d\"", i ? "," : "", i);
        ASSERT_TRUE(asprintf(&json, "{\"name\": \"a\", \"tags\": [%s]}", tags) > 0);
        expect_error(json, "$.tags", "list has 65 entries, the limit is 64");
        free(json);
        json = NULL;

        expect_error("{\"name\": \"a\", \"x\": \"\\u0000\"}", "$", "NUL");
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                MachineDef *m = NULL;
                ASSERT_ERROR(machine_def_parse("{\"name\": \"a\"}\0", 14, F, &m, &d), EINVAL);
                ASSERT_DIAG(&d, DIAGNOSTIC_ERROR, F, "$", "NUL byte");
        }
}

static void check_round_trip(const char *json) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_def_freep) MachineDef *m = parse_ok(json, &d), *again = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL, *pretty = NULL;

        ASSERT_OK(machine_def_to_json(m, false, &a));
        ASSERT_OK(machine_def_to_json(m, true, &pretty));
        again = parse_ok(pretty, &d);
        ASSERT_OK(machine_def_to_json(again, false, &b));
        ASSERT_STREQ(a, b);
        ASSERT_EQ(d.n_entries, 0);
}

TEST(round_trip) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_def_freep) MachineDef *m = parse_ok(full, &d);
        _cleanup_free_ char *json = NULL;

        check_round_trip(full);
        check_round_trip("{\"name\": \"a\"}");
        check_round_trip("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/v\", \"provision\": {\"size\": 1000}}]}");

        /* Stable key order and canonical values. */
        ASSERT_OK(machine_def_to_json(m, false, &json));
        ASSERT_TRUE(strstr(json, "{\"name\":\"alpha\",\"id\":\"0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40\",\"description\""));
        ASSERT_TRUE(strstr(json, "\"ram\":{\"size\":\"2G\"}"));
        ASSERT_TRUE(strstr(json, "\"provision\":{\"size\":\"2G\",\"format\":\"qcow2\",\"thin\":true"));
        ASSERT_TRUE(strstr(json, "\"autostart\":\"always\",\"boot-delay\":5,\"stop-timeout\":30,\"owner\":1000}"));
}

TEST(host) {
        static const char host[] =
                "{\"storage\": [{\"name\": \"default\", \"type\": \"file\", \"pattern\": \"/var/lib/${machine-name}/${volume}.img\"}],"
                " \"network\": [{\"name\": \"br\", \"type\": \"bridge\", \"bridge\": \"br0\"}],"
                " \"tag\": [{\"name\": \"small\", \"attrs\": {\"cpu\": {\"count\": 1}}, \"vars\": {\"x\": \"y\"},"
                "   \"volumes\": [{\"name\": \"scratch\", \"storage\": \"default\"}]}],"
                " \"processor\": {\"count\": 2, \"model\": \"max\"},"
                " \"mediated-device\": [{\"class\": \"gpu\", \"parent\": \"0000:00:02.0\", \"type\": \"i915-GVTg_V5_4\"}],"
                " \"emulator\": \"/usr/bin/qemu-system-x86_64\", \"accel\": \"tcg\", \"user\": \"qemu\", \"group\": \"kvm\"}";
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(host_config_freep) HostConfig *h = NULL, *e = NULL;

        ASSERT_OK(host_config_parse(host, strlen(host), "h.json", &h, &d));
        ASSERT_NO_DIAGNOSTICS(&d);
        ASSERT_EQ(h->storage[0].format, VOLUME_FORMAT_RAW);
        ASSERT_EQ(h->n_networks, 2);
        ASSERT_EQ(host_config_get_network(h, "default")->kind, NETWORK_KIND_USER);
        ASSERT_STREQ(host_config_get_network(h, "br")->bridge, "br0");
        ASSERT_EQ(host_config_get_tag(h, "small")->attrs.cpus, 1);
        ASSERT_EQ(host_config_get_tag(h, "small")->n_volumes, 1);
        ASSERT_EQ(h->processor.cpus, 2);
        ASSERT_STREQ(host_config_get_mdev(h, "gpu")->type, "i915-GVTg_V5_4");
        ASSERT_EQ(h->accel, ACCEL_TCG);
        ASSERT_STREQ(h->qemu_group, "kvm");

        /* A host file's own "default" network replaces the built-in one. */
        ASSERT_OK(host_config_parse("{\"network\": [{\"name\": \"default\", \"type\": \"bridge\", \"bridge\": \"br1\"}]}",
                                    strlen("{\"network\": [{\"name\": \"default\", \"type\": \"bridge\", \"bridge\": \"br1\"}]}"),
                                    "h.json", &e, &d));
        ASSERT_EQ(e->n_networks, 1);
        ASSERT_EQ(e->networks[0].kind, NETWORK_KIND_BRIDGE);

        expect_host_error("{\"storage\": [{\"name\": \"s\"}]}", "$.storage[0]", "needs a 'pattern'");
        expect_host_error("{\"storage\": [{\"name\": \"s\", \"pattern\": \"rel/${volume}\"}]}", "$.storage[0].pattern", "not absolute");
        expect_host_error("{\"storage\": [{\"name\": \"s\", \"pattern\": \"/a\"}, {\"name\": \"s\", \"pattern\": \"/b\"}]}",
                          "$.storage[1]", "duplicate name 's'");
        expect_host_error("{\"storage\": [{\"name\": \"s\", \"type\": \"nfs\", \"pattern\": \"/a\"}]}", "$.storage[0].type",
                          "unknown storage type 'nfs'");
        expect_host_error("{\"network\": [{\"name\": \"n\", \"type\": \"bridge\"}]}", "$.network[0]", "needs a 'bridge'");
        expect_host_error("{\"network\": [{\"name\": \"n\", \"type\": \"user\", \"bridge\": \"br0\"}]}", "$.network[0]",
                          "only valid for bridge");
        expect_host_error("{\"network\": [{\"name\": \"n\", \"type\": \"vde\"}]}", "$.network[0].type", "unknown network type 'vde'");
        expect_host_error("{\"tag\": [{\"name\": \"t\", \"id\": \"0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40\"}]}", "$.tag[0].id",
                          "not allowed in a tag");
        expect_host_error("{\"tag\": [{\"name\": \"t\"}, {\"name\": \"t\"}]}", "$.tag[1]", "duplicate name 't'");
        expect_host_error("{\"tag\": [{\"name\": \"t\", \"attrs\": {\"ram\": {\"size\": \"x\"}}}]}", "$.tag[0].attrs.ram.size",
                          "invalid size");
        expect_host_error("{\"processor\": {\"count\": 0}}", "$.processor.count", "out of range");
        expect_host_error("{\"mediated-device\": [{\"class\": \"gpu\", \"type\": \"t\"}]}", "$.mediated-device[0]",
                          "needs a 'parent'");
        expect_host_error("{\"mediated-device\": [{\"class\": \"gpu\", \"parent\": \"../../x\", \"type\": \"t\"}]}",
                          "$.mediated-device[0].parent", "invalid PCI address '../../x'");
        expect_host_error("{\"accel\": \"hvf\"}", "$.accel", "unknown accelerator");
        expect_host_error("{\"emulator\": \"\"}", "$.emulator", "must not be empty");
        {
                _cleanup_(diagnostics_done) Diagnostics w = {};
                _cleanup_(host_config_freep) HostConfig *x = NULL;

                ASSERT_OK(host_config_parse("{\"stroage\": []}", 15, "h.json", &x, &w));
                ASSERT_DIAG(&w, DIAGNOSTIC_WARNING, "h.json", "$.stroage", "did you mean 'storage'?");
        }
}

int main(void) {
        RUN(full);
        RUN(minimal_defaults);
        RUN(keys_case_insensitive_and_unknown);
        RUN(unknown_key_quoted_path);
        RUN(json_errors);
        RUN(names);
        RUN(uuids);
        RUN(ports);
        RUN(sizes);
        RUN(bounds_cpu_and_numbers);
        RUN(enums);
        RUN(volumes_connections_devices);
        RUN(owner);
        RUN(limits);
        RUN(round_trip);
        RUN(host);
        return 0;
}
