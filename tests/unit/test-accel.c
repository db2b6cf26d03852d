/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sys/stat.h>

#include "accel.h"
#include "tests.h"

static char dir[] = "/tmp/machina-accel-XXXXXX";
static char cpu_virt[128], cpu_plain[128], kvm[128];

static void write_file(const char *path, const char *content) {
        FILE *f = fopen(path, "we");

        ASSERT_TRUE(f);
        ASSERT_TRUE(fputs(content, f) >= 0);
        ASSERT_EQ(fclose(f), 0);
}

static void setup(void) {
        ASSERT_TRUE(mkdtemp(dir));
        snprintf(cpu_virt, sizeof(cpu_virt), "%s/cpuinfo-virt", dir);
        snprintf(cpu_plain, sizeof(cpu_plain), "%s/cpuinfo-plain", dir);
        snprintf(kvm, sizeof(kvm), "%s/kvm", dir);
        write_file(cpu_virt,
                   "processor\t: 0\nflags\t\t: fpu vme de pse msr pae vmx sse2\n\n"
                   "processor\t: 1\nflags\t\t: fpu vme de pse msr pae vmx sse2\n");
        /* Words that merely contain the letters must not count ("svm_lock", "xvmx"). */
        write_file(cpu_plain, "processor\t: 0\nflags\t\t: fpu svm_lock xvmx hypervisor\nbugs\t\t: vmx\n");
        write_file(kvm, "");
}

static void set_kvm(uid_t uid, gid_t gid, mode_t mode) {
        ASSERT_EQ(chown(kvm, uid, gid), 0);
        ASSERT_EQ(chmod(kvm, mode), 0);
}

TEST(cpu_flags) {
        ASSERT_TRUE(accel_cpu_has_virt(cpu_virt));
        ASSERT_TRUE(!accel_cpu_has_virt(cpu_plain));
        ASSERT_TRUE(!accel_cpu_has_virt("/nonexistent/cpuinfo"));
}

TEST(kvm_usable) {
        if (geteuid() != 0) {
                printf("# skipping ownership cases: not root\n");
                return;
        }
        /* uid/gid 54321 exist nowhere: only the file's owner/group/other bits decide. */
        set_kvm(54321, 0, 0600);
        ASSERT_TRUE(accel_kvm_usable(kvm, 54321, 54321));
        ASSERT_TRUE(!accel_kvm_usable(kvm, 54322, 54322));
        set_kvm(0, 54321, 0660);
        ASSERT_TRUE(accel_kvm_usable(kvm, 54322, 54321));
        ASSERT_TRUE(!accel_kvm_usable(kvm, 54322, 54322));
        set_kvm(0, 0, 0640);
        ASSERT_TRUE(!accel_kvm_usable(kvm, 54322, 0));        /* group may only read */
        set_kvm(0, 0, 0666);
        ASSERT_TRUE(accel_kvm_usable(kvm, 54322, 54322));
        set_kvm(54321, 0, 0066);
        ASSERT_TRUE(!accel_kvm_usable(kvm, 54321, 54321));    /* owner bits apply to the owner */
        set_kvm(0, 0, 0600);
        ASSERT_TRUE(accel_kvm_usable(kvm, 0, 0));             /* root bypasses the mode */
        ASSERT_TRUE(!accel_kvm_usable("/nonexistent/kvm", 0, 0));
        ASSERT_TRUE(!accel_kvm_usable(dir, 0, 0));            /* not a device */
}

TEST(choose) {
        ASSERT_EQ(unsetenv("MACHINA_ACCEL"), 0);
        ASSERT_EQ(chmod(kvm, 0666), 0);

        /* auto: needs the CPU flag and a usable device. NULL user = the current one. */
        ASSERT_EQ(accel_choose(ACCEL_AUTO, ACCEL_AUTO, NULL, cpu_virt, kvm), ACCEL_KVM);
        ASSERT_EQ(accel_choose(ACCEL_AUTO, ACCEL_AUTO, NULL, cpu_plain, kvm), ACCEL_TCG);
        ASSERT_EQ(accel_choose(ACCEL_AUTO, ACCEL_AUTO, NULL, cpu_virt, "/nonexistent"), ACCEL_TCG);
        ASSERT_EQ(accel_choose(ACCEL_AUTO, ACCEL_AUTO, "no-such-user-machina", cpu_virt, kvm), ACCEL_TCG);

        /* Definition beats host; explicit values are taken as they are. */
        ASSERT_EQ(accel_choose(ACCEL_KVM, ACCEL_AUTO, NULL, cpu_plain, kvm), ACCEL_KVM);
        ASSERT_EQ(accel_choose(ACCEL_KVM, ACCEL_TCG, NULL, cpu_virt, kvm), ACCEL_TCG);
        ASSERT_EQ(accel_choose(ACCEL_TCG, ACCEL_KVM, NULL, cpu_plain, kvm), ACCEL_KVM);

        /* The environment beats both; "auto" or garbage there changes nothing. */
        ASSERT_EQ(setenv("MACHINA_ACCEL", "tcg", 1), 0);
        ASSERT_EQ(accel_choose(ACCEL_KVM, ACCEL_KVM, NULL, cpu_virt, kvm), ACCEL_TCG);
        ASSERT_EQ(setenv("MACHINA_ACCEL", "kvm", 1), 0);
        ASSERT_EQ(accel_choose(ACCEL_TCG, ACCEL_TCG, NULL, cpu_plain, "/nonexistent"), ACCEL_KVM);
        ASSERT_EQ(setenv("MACHINA_ACCEL", "auto", 1), 0);
        ASSERT_EQ(accel_choose(ACCEL_AUTO, ACCEL_KVM, NULL, cpu_plain, kvm), ACCEL_KVM);
        ASSERT_EQ(accel_choose(ACCEL_AUTO, ACCEL_AUTO, NULL, cpu_plain, kvm), ACCEL_TCG);
        ASSERT_EQ(setenv("MACHINA_ACCEL", "warp", 1), 0);
        ASSERT_EQ(accel_choose(ACCEL_AUTO, ACCEL_AUTO, NULL, cpu_virt, kvm), ACCEL_KVM);
        ASSERT_EQ(unsetenv("MACHINA_ACCEL"), 0);
}

int main(void) {
        setup();
        RUN(cpu_flags);
        RUN(kvm_usable);
        RUN(choose);
        ASSERT_EQ(unlink(cpu_virt) | unlink(cpu_plain) | unlink(kvm) | rmdir(dir), 0);
        return 0;
}
