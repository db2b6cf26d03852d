/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include "accel.h"
#include "log.h"

#define CPUINFO_PATH "/proc/cpuinfo"
#define KVM_PATH     "/dev/kvm"
#define GROUPS_MAX   256

bool accel_cpu_has_virt(const char *cpuinfo_path) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;

        f = fopen(cpuinfo_path ?: CPUINFO_PATH, "re");
        if (!f)
                return false;

        /* A nested guest can expose /dev/kvm without vmx/svm; that KVM cannot run guest code
         * at a useful speed, so only the CPU flags count. */
        while (getline(&line, &size, f) >= 0) {
                char *save = NULL, *word;

                if (strncmp(line, "flags", 5) != 0)
                        continue;
                for (word = strtok_r(line, " \t\n:", &save); word; word = strtok_r(NULL, " \t\n:", &save))
                        if (streq(word, "vmx") || streq(word, "svm"))
                                return true;
        }
        return false;
}

static bool user_in_group(uid_t uid, gid_t gid, gid_t wanted) {
        struct passwd *pw;
        gid_t groups[GROUPS_MAX];
        int n = GROUPS_MAX;

        if (gid == wanted)
                return true;
        pw = getpwuid(uid);
        if (!pw)
                return false;
        if (getgrouplist(pw->pw_name, gid, groups, &n) < 0)
                return false;
        for (int i = 0; i < n; i++)
                if (groups[i] == wanted)
                        return true;
        return false;
}

bool accel_kvm_usable(const char *kvm_path, uid_t uid, gid_t gid) {
        struct stat st;
        mode_t want;

        if (stat(kvm_path ?: KVM_PATH, &st) < 0)
                return false;
        if (!S_ISCHR(st.st_mode) && !S_ISREG(st.st_mode))       /* regular files: tests */
                return false;
        if (uid == 0)
                return true;

        if (st.st_uid == uid)
                want = S_IRUSR | S_IWUSR;
        else if (user_in_group(uid, gid, st.st_gid))
                want = S_IRGRP | S_IWGRP;
        else
                want = S_IROTH | S_IWOTH;
        return (st.st_mode & want) == want;
}

static bool qemu_user_kvm_usable(const char *qemu_user, const char *kvm_path) {
        struct passwd *pw;

        if (!qemu_user)
                return accel_kvm_usable(kvm_path, geteuid(), getegid());
        pw = getpwnam(qemu_user);
        if (!pw)
                return false;
        return accel_kvm_usable(kvm_path, pw->pw_uid, pw->pw_gid);
}

Accel accel_choose(Accel host, Accel def, const char *qemu_user,
                   const char *cpuinfo_path, const char *kvm_path) {
        const char *e = getenv("MACHINA_ACCEL");

        if (!isempty(e)) {
                Accel a = accel_from_string(e);

                if (IN_SET(a, ACCEL_KVM, ACCEL_TCG))
                        return a;
                if (a != ACCEL_AUTO)
                        log_warning("Ignoring invalid MACHINA_ACCEL=%s.", e);
        }

        if (IN_SET(def, ACCEL_KVM, ACCEL_TCG))
                return def;
        if (IN_SET(host, ACCEL_KVM, ACCEL_TCG))
                return host;

        if (accel_cpu_has_virt(cpuinfo_path) && qemu_user_kvm_usable(qemu_user, kvm_path))
                return ACCEL_KVM;
        return ACCEL_TCG;
}
