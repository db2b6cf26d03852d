/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* machine_def_resolve(): tag merge, defaults, patterns, references and identifiers, with errors
 * reported at the file and JSON path where the offending value was written. */

#include "config-test.h"
#include "identifiers.h"

#define F "m.conf.json"
#define H "host.json"

static const char host_json[] =
        "{\"storage\": [{\"name\": \"pool\", \"type\": \"qcow2\", \"pattern\": \"/srv/${machine-name}/${volume}.qcow2\"},"
        "   {\"name\": \"broken\", \"pattern\": \"/srv/${nope}\"},"
        "   {\"name\": \"rel\", \"pattern\": \"$volume\"},"
        "   {\"name\": \"byvar\", \"pattern\": \"/srv/vm/${dir}/${volume}.img\"}],"
        " \"network\": [{\"name\": \"lan\", \"type\": \"bridge\", \"bridge\": \"br-${site}\"},"
        "   {\"name\": \"badbr\", \"type\": \"bridge\", \"bridge\": \"${machine-name}-too-long-bridge\"}],"
        " \"tag\": [{\"name\": \"t1\", \"vars\": {\"site\": \"tag1\", \"only1\": \"one\"},"
        "     \"attrs\": {\"cpu\": {\"count\": 4}, \"ram\": {\"size\": \"1G\"}, \"hyperv\": true, \"accel\": \"kvm\","
        "       \"vnc\": {\"port-pattern\": \"$((5900 + ${machine-index}))\"}},"
        "     \"volumes\": [{\"name\": \"root\", \"path\": \"/tag/root.img\"}, {\"name\": \"scratch\", \"storage\": \"pool\"}],"
        "     \"connections\": [{\"name\": \"eth0\", \"network\": \"lan\"}]},"
        "   {\"name\": \"t2\", \"vars\": {\"site\": \"tag2\"}, \"attrs\": {\"cpu\": {\"count\": 8}, \"guest-agent\": false,"
        "       \"console\": \"none\"},"
        "     \"volumes\": [{\"name\": \"scratch\", \"path\": \"/tag2/scratch\"}]},"
        "   {\"name\": \"t3\", \"volumes\": [{\"name\": \"bad\", \"storage\": \"missing\"}]},"
        "   {\"name\": \"t4\", \"vars\": {\"dir\": \"..\"}, \"volumes\": [{\"name\": \"up\", \"storage\": \"byvar\"}]}],"
        " \"processor\": {\"count\": 3, \"model\": \"max\"},"
        " \"mediated-device\": [{\"class\": \"gpu\", \"parent\": \"0000:00:02.0\", \"type\": \"i915-GVTg_V5_4\"}]}";

static HostConfig *host(void) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        HostConfig *h = NULL;

        ASSERT_OK(host_config_parse(host_json, strlen(host_json), H, &h, &d));
        ASSERT_NO_DIAGNOSTICS(&d);
        return h;
}

static MachineDef *parse(const char *json) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        MachineDef *m = NULL;

        if (machine_def_parse(json, strlen(json), F, &m, &d) < 0) {
                dump_diagnostics(&d);
                abort();
        }
        return m;
}

static MachineDef *resolve_ok(const char *json, unsigned index) {
        _cleanup_(host_config_freep) HostConfig *h = host();
        _cleanup_(machine_def_freep) MachineDef *m = parse(json);
        _cleanup_(diagnostics_done) Diagnostics d = {};
        MachineDef *r = NULL;

        if (machine_def_resolve(m, h, index, &r, &d) < 0) {
                dump_diagnostics(&d);
                abort();
        }
        ASSERT_NO_DIAGNOSTICS(&d);
        return r;
}

static void expect_error(const char *json, const char *file, const char *path, const char *substr) {
        _cleanup_(host_config_freep) HostConfig *h = host();
        _cleanup_(machine_def_freep) MachineDef *m = parse(json);
        _cleanup_(diagnostics_done) Diagnostics d = {};
        MachineDef *r = NULL;

        ASSERT_ERROR(machine_def_resolve(m, h, 0, &r, &d), EINVAL);
        ASSERT_TRUE(!r);
        ASSERT_DIAG(&d, DIAGNOSTIC_ERROR, file, path, substr);
}

TEST(defaults) {
        _cleanup_(machine_def_freep) MachineDef *m = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_def_freep) MachineDef *def = parse("{\"name\": \"a\"}");

        /* No host file at all: built-in defaults only. */
        ASSERT_OK(machine_def_resolve(def, NULL, 0, &m, &d));
        ASSERT_EQ(m->attrs.cpus, 1);
        ASSERT_EQ(m->attrs.memory_mib, 512);
        ASSERT_STREQ(m->attrs.machine_type, "q35");
        ASSERT_EQ(m->attrs.firmware, FIRMWARE_SEABIOS);
        ASSERT_EQ(m->attrs.console, CONSOLE_SERIAL);
        ASSERT_EQ(m->attrs.accel, ACCEL_AUTO);

        /* Host processor is the last default for CPU count and model. */
        machine_def_free(m);
        m = resolve_ok("{\"name\": \"a\"}", 0);
        ASSERT_EQ(m->attrs.cpus, 3);
        ASSERT_STREQ(m->attrs.cpu_model, "max");
}

TEST(tag_merge) {
        _cleanup_(machine_def_freep) MachineDef *m =
                resolve_ok("{\"name\": \"a\", \"tags\": [\"t1\", \"t2\"], \"vars\": {\"own\": \"${site}-${only1}\"},"
                           " \"attrs\": {\"ram\": {\"size\": 256}, \"guest-agent\": true},"
                           " \"volumes\": [{\"name\": \"root\", \"path\": \"/own/root.img\"}]}", 7);

        /* vars: own first, then t1 (site=tag1 wins over t2's), then only1. */
        ASSERT_EQ(m->n_vars, 3);
        ASSERT_STREQ(machine_def_get_var(m, "own")->value, "tag1-one");
        ASSERT_STREQ(machine_def_get_var(m, "site")->value, "tag1");
        /* attrs: own ram; t1's cpu count over t2's; own guest-agent over t2's false. */
        ASSERT_EQ(m->attrs.memory_mib, 256);
        ASSERT_EQ(m->attrs.cpus, 4);
        ASSERT_EQ(m->attrs.hyperv, 1);
        ASSERT_EQ(m->attrs.guest_agent, 1);
        ASSERT_EQ(m->attrs.console, CONSOLE_NONE);
        ASSERT_EQ(m->attrs.accel, ACCEL_KVM);
        ASSERT_STREQ(m->attrs.cpu_model, "max");
        /* the port pattern from t1 expanded with machine-index */
        ASSERT_EQ(m->attrs.vnc_port, 5907);
        ASSERT_TRUE(!m->attrs.vnc_port_pattern);
        /* lists: own root (t1's dropped), t1's scratch (pool), t2's scratch dropped. */
        ASSERT_EQ(m->n_volumes, 2);
        ASSERT_STREQ(m->volumes[0].path, "/own/root.img");
        ASSERT_STREQ(m->volumes[1].name, "scratch");
        ASSERT_STREQ(m->volumes[1].path, "/srv/a/scratch.qcow2");
        ASSERT_EQ(m->volumes[1].format, VOLUME_FORMAT_QCOW2);
        ASSERT_EQ(m->n_connections, 1);
        ASSERT_EQ(m->connections[0].kind, NETWORK_KIND_BRIDGE);
        ASSERT_STREQ(m->connections[0].bridge, "br-tag1");
        ASSERT_EQ(m->index, 7);
        ASSERT_EQ(strv_length(m->tags), 2);
}

TEST(tag_errors_point_at_host_file) {
        /* t3's volume "bad" names a pool that does not exist: reported in the host file. */
        expect_error("{\"name\": \"a\", \"tags\": [\"t3\"]}", H, "$.tag[2].volumes[0].storage", "unknown storage 'missing'");
        expect_error("{\"name\": \"a\", \"tags\": [\"nope\"]}", F, "$.tags[0]", "unknown tag 'nope'");
}

TEST(references) {
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"storage\": \"nope\"}]}", F,
                     "$.volumes[0].storage", "unknown storage 'nope'");
        expect_error("{\"name\": \"a\", \"connections\": [{\"name\": \"c\", \"network\": \"nope\"}]}", F,
                     "$.connections[0].network", "unknown network 'nope'");
        expect_error("{\"name\": \"a\", \"devices\": [{\"name\": \"d\", \"class\": \"fpga\"}]}", F,
                     "$.devices[0].class", "unknown device class 'fpga'");

        _cleanup_(machine_def_freep) MachineDef *m =
                resolve_ok("{\"name\": \"a\", \"connections\": [{\"name\": \"c\"}], \"devices\": [{\"name\": \"d\", \"class\": \"gpu\"}]}", 0);
        ASSERT_STREQ(m->connections[0].network, "default");
        ASSERT_EQ(m->connections[0].kind, NETWORK_KIND_USER);
        ASSERT_STREQ(m->devices[0].sysfs_parent, "0000:00:02.0");
        ASSERT_STREQ(m->devices[0].mdev_type, "i915-GVTg_V5_4");
}

TEST(patterns) {
        _cleanup_(machine_def_freep) MachineDef *m =
                resolve_ok("{\"name\": \"pat\", \"id\": \"0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40\", \"description\": \"D\","
                           " \"vars\": {\"a\": \"${b}/x\", \"b\": \"/base/${machine-name}\", \"c\": \"$$literal\"},"
                           " \"attrs\": {\"kernel\": {\"path\": \"${a}/vmlinuz\", \"initrd\": \"${b}/initrd\","
                           "   \"cmdline\": \"id=${machine-id} d=${machine-description} i=${machine-index}\"},"
                           "   \"firmware\": {\"type\": \"ovmf\", \"code\": \"${b}/code.fd\", \"vars\": \"${b}/vars.fd\"},"
                           "   \"spice\": {\"port-pattern\": \"$((0x1000 + ${machine-index}))\"}},"
                           " \"volumes\": [{\"name\": \"v\", \"path\": \"${b}/${machine-name}.img\"}]}", 2);

        ASSERT_STREQ(machine_def_get_var(m, "a")->value, "/base/pat/x");
        ASSERT_STREQ(machine_def_get_var(m, "c")->value, "$literal");
        ASSERT_STREQ(m->attrs.kernel, "/base/pat/x/vmlinuz");
        ASSERT_STREQ(m->attrs.initrd, "/base/pat/initrd");
        ASSERT_STREQ(m->attrs.cmdline, "id=0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40 d=D i=2");
        ASSERT_STREQ(m->attrs.firmware_code, "/base/pat/code.fd");
        ASSERT_STREQ(m->attrs.firmware_vars, "/base/pat/vars.fd");
        ASSERT_EQ(m->attrs.spice_port, 4098);
        ASSERT_STREQ(m->volumes[0].path, "/base/pat/pat.img");

        expect_error("{\"name\": \"a\", \"vars\": {\"x\": \"${y}\"}}", F, "$.vars.x", "unknown");
        expect_error("{\"name\": \"a\", \"vars\": {\"x\": \"${y}\", \"y\": \"${x}\"}}", F, "$.vars.x", "cycle");
        expect_error("{\"name\": \"a\", \"vars\": {\"x\": \"${x}\"}}", F, "$.vars.x", "cycle");
        expect_error("{\"name\": \"a\", \"attrs\": {\"kernel\": {\"path\": \"${nope}\"}}}", F, "$.attrs.kernel.path",
                     "pattern '${nope}'");
        expect_error("{\"name\": \"a\", \"vars\": {\"r\": \"rel\"}, \"attrs\": {\"kernel\": {\"path\": \"${r}/k\"}}}", F,
                     "$.attrs.kernel.path", "is not absolute");
        expect_error("{\"name\": \"a\", \"attrs\": {\"vnc\": {\"port-pattern\": \"${machine-name}\"}}}", F,
                     "$.attrs.vnc.port-pattern", "not a port number 5900..65535");
        expect_error("{\"name\": \"a\", \"attrs\": {\"vnc\": {\"port-pattern\": \"$((100 + 1))\"}}}", F,
                     "$.attrs.vnc.port-pattern", "gives '101'");
        expect_error("{\"name\": \"a\", \"attrs\": {\"spice\": {\"port-pattern\": \"$((1 / 0))\"}}}", F,
                     "$.attrs.spice.port-pattern", "pattern '$((1 / 0))'");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"storage\": \"broken\"}]}", H,
                     "$.storage[1].pattern", "pattern '/srv/${nope}'");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"storage\": \"rel\"}]}", H,
                     "$.storage[2].pattern", "not an absolute path");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"$((1+))\"}]}", F,
                     "$.volumes[0].path", "pattern");
        expect_error("{\"name\": \"a\", \"connections\": [{\"name\": \"c\", \"network\": \"lan\"}]}", H,
                     "$.network[0].bridge", "pattern 'br-${site}'");
        expect_error("{\"name\": \"a\", \"connections\": [{\"name\": \"c\", \"network\": \"badbr\"}]}", H,
                     "$.network[1].bridge", "not a valid bridge name");
}

/* A value reaching a pool's pattern must not lead the volume out of the pool directory
 * (/srv/vm for "/srv/vm/${dir}/${volume}.img"), whoever defines it: root too. */
TEST(pool_confinement) {
        static const char *const inside[] = { "a", "a/b", "", "/", "a..b", "...", ".hidden" };
        static const char *const outside[] = { "..", "../../etc", "a/../..", "a/../b", ".", "./a", "a/.." };

        for (size_t i = 0; i < ELEMENTSOF(inside); i++) {
                _cleanup_free_ char *json = NULL;
                _cleanup_(machine_def_freep) MachineDef *m = NULL;

                ASSERT_TRUE(asprintf(&json, "{\"name\": \"a\", \"vars\": {\"dir\": \"%s\"},"
                                     " \"volumes\": [{\"name\": \"v\", \"storage\": \"byvar\"}]}", inside[i]) >= 0);
                m = resolve_ok(json, 0);
                ASSERT_TRUE(strncmp(m->volumes[0].path, "/srv/vm/", 8) == 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(outside); i++) {
                _cleanup_free_ char *json = NULL;

                ASSERT_TRUE(asprintf(&json, "{\"name\": \"a\", \"vars\": {\"dir\": \"%s\"},"
                                     " \"volumes\": [{\"name\": \"v\", \"storage\": \"byvar\"}]}", outside[i]) >= 0);
                expect_error(json, F, "$.volumes[0].storage", "leaves the pool directory '/srv/vm'");
        }
        /* Through a built-in the definer writes freely, nested in a variable. */
        expect_error("{\"name\": \"a\", \"description\": \"../../etc\", \"vars\": {\"dir\": \"${machine-description}\"},"
                     " \"volumes\": [{\"name\": \"v\", \"storage\": \"byvar\"}]}",
                     F, "$.volumes[0].storage", "gives '/srv/vm/../../etc/v.img'");
        /* A volume brought in by a tag is reported where the tag writes it. */
        expect_error("{\"name\": \"a\", \"tags\": [\"t4\"]}", H, "$.tag[3].volumes[0].storage",
                     "storage 'byvar' gives '/srv/vm/../up.img'");
        /* The machine's own value wins over the tag's (first definition wins), so it is inside. */
        _cleanup_(machine_def_freep) MachineDef *m =
                resolve_ok("{\"name\": \"a\", \"tags\": [\"t4\"], \"vars\": {\"dir\": \"x\"}}", 0);
        ASSERT_STREQ(m->volumes[0].path, "/srv/vm/x/up.img");
        /* An explicit path names what it names: only the definer reference check (not root's)
         * limits it (lib/references.c). */
        _cleanup_(machine_def_freep) MachineDef *e =
                resolve_ok("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/srv/vm/../../etc/x\"}]}", 0);
        ASSERT_STREQ(e->volumes[0].path, "/srv/vm/../../etc/x");
}

TEST(identifiers) {
        _cleanup_(machine_def_freep) MachineDef *m =
                resolve_ok("{\"name\": \"alpha\", \"id\": \"0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40\","
                           " \"volumes\": [{\"name\": \"root\", \"path\": \"/r\"}, {\"name\": \"x\", \"path\": \"/x\","
                           "   \"wwn\": \"0x5000000000000001\", \"serial\": \"MY-DISK_1\"}],"
                           " \"connections\": [{\"name\": \"eth0\"}, {\"name\": \"1\"}, {\"name\": \"e\", \"mac\": \"52:54:00:AB:CD:EF\"}],"
                           " \"devices\": [{\"name\": \"g0\", \"class\": \"gpu\"}]}", 0);

        /* IDENTIFIERS.md test vectors. */
        ASSERT_STREQ(m->connections[0].mac, "52:54:00:48:8e:c2");
        ASSERT_STREQ(m->connections[1].mac, "52:54:00:e9:6d:ac");
        ASSERT_STREQ(m->connections[2].mac, "52:54:00:ab:cd:ef");
        ASSERT_STREQ(m->volumes[0].wwn, "0x55254001636F4B77");
        ASSERT_STREQ(m->volumes[0].serial, "66QBJ72V0G8I8QVM8LJ8TOT4P8");
        ASSERT_STREQ(m->volumes[1].wwn, "0x5000000000000001");
        ASSERT_STREQ(m->volumes[1].serial, "MY-DISK_1");
        ASSERT_STREQ(m->devices[0].id, "b2087904-54d4-4e50-b8de-62920f504ba1");

        expect_error("{\"name\": \"a\", \"connections\": [{\"name\": \"c\", \"mac\": \"01:00:5e:00:00:01\"}]}", F,
                     "$.connections[0].mac", "invalid MAC address '01:00:5e:00:00:01'");
        expect_error("{\"name\": \"a\", \"connections\": [{\"name\": \"c\", \"mac\": \"52:54:00\"}]}", F,
                     "$.connections[0].mac", "invalid MAC");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/v\", \"wwn\": \"0x12\"}]}", F,
                     "$.volumes[0].wwn", "invalid WWN '0x12'");
        expect_error("{\"name\": \"a\", \"volumes\": [{\"name\": \"v\", \"path\": \"/v\", \"serial\": \"a b\"}]}", F,
                     "$.volumes[0].serial", "invalid serial 'a b'");
}

TEST(no_id_uses_zero_uuid) {
        _cleanup_(machine_def_freep) MachineDef *m =
                resolve_ok("{\"name\": \"alpha\", \"connections\": [{\"name\": \"eth0\"}]}", 0);
        _cleanup_free_ char *mac = NULL, *json = NULL;
        uuid_t zero = {};

        ASSERT_TRUE(!m->id_set);
        ASSERT_OK(identifier_mac(zero, "alpha", "eth0", &mac));
        ASSERT_STREQ(m->connections[0].mac, mac);
        ASSERT_TRUE(strcmp(mac, "52:54:00:48:8e:c2") != 0);
        ASSERT_OK(machine_def_to_json(m, false, &json));
        ASSERT_TRUE(!strstr(json, "\"id\":\"0000"));
}

TEST(input_untouched_and_resolved_round_trip) {
        _cleanup_(host_config_freep) HostConfig *h = host();
        _cleanup_(machine_def_freep) MachineDef *def =
                parse("{\"name\": \"a\", \"id\": \"0f6b2e8a-5d0c-4c1e-9a57-3f2d8b1c7e40\", \"tags\": [\"t1\"],"
                      " \"volumes\": [{\"name\": \"data\", \"storage\": \"pool\"}], \"connections\": [{\"name\": \"n\"}]}");
        _cleanup_(machine_def_freep) MachineDef *r = NULL, *again = NULL, *r2 = NULL;
        _cleanup_free_ char *before = NULL, *after = NULL, *json = NULL, *json2 = NULL, *json3 = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};

        ASSERT_OK(machine_def_to_json(def, false, &before));
        ASSERT_OK(machine_def_resolve(def, h, 1, &r, &d));
        ASSERT_OK(machine_def_to_json(def, false, &after));
        ASSERT_STREQ(before, after);

        ASSERT_OK(machine_def_to_json(r, true, &json));
        ASSERT_TRUE(strstr(json, "\"mac\" : \"52:54:00:"));
        ASSERT_TRUE(strstr(json, "\"wwn\" : \"0x552540"));
        ASSERT_TRUE(strstr(json, "\"path\" : \"/srv/a/data.qcow2\""));
        ASSERT_TRUE(strstr(json, "\"port\" : 5901"));

        /* The resolved JSON parses, serializes identically, and resolves to itself. */
        ASSERT_OK(machine_def_parse(json, strlen(json), "<resolved>", &again, &d));
        ASSERT_OK(machine_def_to_json(again, true, &json2));
        ASSERT_STREQ(json, json2);
        ASSERT_OK(machine_def_resolve(again, h, 1, &r2, &d));
        ASSERT_OK(machine_def_to_json(r2, true, &json3));
        ASSERT_STREQ(json, json3);
        ASSERT_NO_DIAGNOSTICS(&d);
}

int main(void) {
        RUN(defaults);
        RUN(tag_merge);
        RUN(tag_errors_point_at_host_file);
        RUN(references);
        RUN(patterns);
        RUN(pool_confinement);
        RUN(identifiers);
        RUN(no_id_uses_zero_uuid);
        RUN(input_untouched_and_resolved_round_trip);
        return 0;
}
