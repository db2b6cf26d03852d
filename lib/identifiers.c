/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Stable identifiers: SHAKE128 over the machine UUID, the machine name and component strings,
 * each string prefixed by its 64-bit big-endian length (bit-compatible with machina). */

#include <stdarg.h>
#include <stdint.h>

#include "identifiers.h"
#include "macro.h"
#include "shake128.h"

static void absorb_string(Shake128 *s, const char *str) {
        uint64_t len = strlen(str);
        uint8_t be[8];

        for (unsigned i = 0; i < 8; i++)
                be[i] = (uint8_t) (len >> (56 - 8 * i));
        shake128_absorb(s, be, sizeof(be));
        shake128_absorb(s, str, len);
}

/* Two hex digits, no terminator: identifiers are derived for every resolve, printf is too slow. */
static void hex_byte(char *p, uint8_t v, bool upper) {
        const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

        p[0] = digits[v >> 4];
        p[1] = digits[v & 15];
}

/* Components are a NULL-terminated list of strings. */
static int derive(const uuid_t machine_id, const char *machine_name, uint8_t *out, size_t n, ...) {
        static const uuid_t null_id = {};
        const char *c;
        Shake128 s;
        va_list ap;

        if (!machine_name)
                return -EINVAL;

        shake128_init(&s);
        shake128_absorb(&s, machine_id ?: null_id, sizeof(uuid_t));
        absorb_string(&s, machine_name);

        va_start(ap, n);
        while ((c = va_arg(ap, const char *)))
                absorb_string(&s, c);
        va_end(ap);

        shake128_squeeze(&s, out, n);
        return 0;
}

int identifier_mac(const uuid_t machine_id, const char *machine_name, const char *connection,
                   char **ret) {
        uint8_t b[6];
        char *s;
        int r;

        if (!connection || !ret)
                return -EINVAL;

        r = derive(machine_id, machine_name, b, sizeof(b), "connection", "hardware-addr", connection, NULL);
        if (r < 0)
                return r;

        /* QEMU's locally administered OUI, as machina does. */
        b[0] = 0x52;
        b[1] = 0x54;
        b[2] = 0x00;

        s = malloc(6 * 3);
        if (!s)
                return -ENOMEM;
        for (unsigned i = 0; i < sizeof(b); i++) {
                hex_byte(s + 3 * i, b[i], false);
                s[3 * i + 2] = i + 1 < sizeof(b) ? ':' : 0;
        }
        *ret = s;
        return 0;
}

int identifier_wwn(const uuid_t machine_id, const char *machine_name, const char *volume,
                   char **ret) {
        uint8_t b[8];
        char *s;
        int r;

        if (!volume || !ret)
                return -EINVAL;

        r = derive(machine_id, machine_name, b, sizeof(b), "volume", "wwn", volume, NULL);
        if (r < 0)
                return r;

        /* NAA 5 with a fixed IEEE company id prefix; the low nibble of byte 3 stays random. */
        b[0] = 0x55;
        b[1] = 0x25;
        b[2] = 0x40;
        b[3] &= 0x0F;

        s = malloc(2 + 16 + 1);
        if (!s)
                return -ENOMEM;
        s[0] = '0';
        s[1] = 'x';
        for (unsigned i = 0; i < sizeof(b); i++)
                hex_byte(s + 2 + 2 * i, b[i], true);
        s[2 + 2 * sizeof(b)] = 0;
        *ret = s;
        return 0;
}

int identifier_serial(const uuid_t machine_id, const char *machine_name, const char *volume,
                      char **ret) {
        static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";  /* RFC 4648 base32hex */
        uint8_t b[16];
        unsigned acc = 0, bits = 0;
        size_t k = 0;
        char *s;
        int r;

        if (!volume || !ret)
                return -EINVAL;

        r = derive(machine_id, machine_name, b, sizeof(b), "volume", "serial-number", volume, NULL);
        if (r < 0)
                return r;

        /* 128 bits → 26 digits of 5 bits, the last one zero-filled; no padding. */
        s = malloc(26 + 1);
        if (!s)
                return -ENOMEM;
        for (unsigned i = 0; i < sizeof(b); i++) {
                acc = (acc << 8) | b[i];
                bits += 8;
                while (bits >= 5) {
                        bits -= 5;
                        s[k++] = alphabet[(acc >> bits) & 31];
                }
        }
        if (bits > 0)
                s[k++] = alphabet[(acc << (5 - bits)) & 31];
        s[k] = 0;

        *ret = s;
        return 0;
}

int identifier_device_uuid(const uuid_t machine_id, const char *machine_name, const char *class,
                           const char *device, char **ret) {
        uint8_t b[16];
        char *s;
        int r;

        if (!class || !device || !ret)
                return -EINVAL;

        r = derive(machine_id, machine_name, b, sizeof(b), "device", "id", class, device, NULL);
        if (r < 0)
                return r;

        /* A version 4, RFC 4122 variant UUID. */
        b[6] = (b[6] & 0x0F) | 0x40;
        b[8] = (b[8] & 0x3F) | 0x80;

        s = malloc(UUID_STR_LEN);
        if (!s)
                return -ENOMEM;
        uuid_unparse_lower(b, s);
        *ret = s;
        return 0;
}

static bool is_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return c - 'A' + 10;
}

bool mac_is_valid(const char *s) {
        if (!s || strlen(s) != 17)
                return false;

        for (unsigned i = 0; i < 17; i++)
                if (i % 3 == 2 ? s[i] != ':' : !is_hex(s[i]))
                        return false;

        /* The I/G bit of the first octet: multicast addresses cannot be a NIC address. */
        return !(hex_value(s[1]) & 1);
}

bool wwn_is_valid(const char *s) {
        if (!s || strlen(s) != 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
                return false;

        for (unsigned i = 2; i < 18; i++)
                if (!is_hex(s[i]))
                        return false;
        return true;
}

bool serial_is_valid(const char *s) {
        size_t n;

        if (!s)
                return false;

        n = strlen(s);
        if (n < 1 || n > 36)
                return false;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '.' || c == '-'))
                        return false;
        }
        return true;
}
