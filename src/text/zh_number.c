/* zh_number.c - cn2an.an2cn and upstream's number replacement (see zh_number.h). */
#include "zh_number.h"

#include <stdio.h>
#include <string.h>

static const uint32_t k_digit[10] = {0x96F6, 0x4E00, 0x4E8C, 0x4E09, 0x56DB, 0x4E94, 0x516D, 0x4E03, 0x516B, 0x4E5D};
#define C_SHI 0x5341  /* 十 */
#define C_BAI 0x767E  /* 百 */
#define C_QIAN 0x5343 /* 千 */
#define C_WAN 0x4E07  /* 万 */
#define C_YI 0x4EBF   /* 亿 */
#define C_DIAN 0x70B9 /* 点 */
#define C_LING 0x96F6 /* 零 */
/* unit_low_order_an2cn: "", 十, 百, 千, 万, 十, 百, 千, 亿, 十, 百, 千, 万, 十, 百, 千 */
static const uint32_t k_unit[16] = {0, C_SHI, C_BAI, C_QIAN, C_WAN, C_SHI, C_BAI, C_QIAN,
                                    C_YI, C_SHI, C_BAI, C_QIAN, C_WAN, C_SHI, C_BAI, C_QIAN};

int bv_zh_is_decimal(uint32_t c) {
    static const uint32_t r[][2] = {
        {0x30, 0x39}, {0x660, 0x669}, {0x6f0, 0x6f9}, {0x7c0, 0x7c9}, {0x966, 0x96f}, {0x9e6, 0x9ef}, {0xa66, 0xa6f},
        {0xae6, 0xaef}, {0xb66, 0xb6f}, {0xbe6, 0xbef}, {0xc66, 0xc6f}, {0xce6, 0xcef}, {0xd66, 0xd6f}, {0xde6, 0xdef},
        {0xe50, 0xe59}, {0xed0, 0xed9}, {0xf20, 0xf29}, {0x1040, 0x1049}, {0x1090, 0x1099}, {0x17e0, 0x17e9},
        {0x1810, 0x1819}, {0x1946, 0x194f}, {0x19d0, 0x19d9}, {0x1a80, 0x1a89}, {0x1a90, 0x1a99}, {0x1b50, 0x1b59},
        {0x1bb0, 0x1bb9}, {0x1c40, 0x1c49}, {0x1c50, 0x1c59}, {0xa620, 0xa629}, {0xa8d0, 0xa8d9}, {0xa900, 0xa909},
        {0xa9d0, 0xa9d9}, {0xa9f0, 0xa9f9}, {0xaa50, 0xaa59}, {0xabf0, 0xabf9}, {0xff10, 0xff19}, {0x104a0, 0x104a9},
        {0x10d30, 0x10d39}, {0x11066, 0x1106f}, {0x110f0, 0x110f9}, {0x11136, 0x1113f}, {0x111d0, 0x111d9},
        {0x112f0, 0x112f9}, {0x11450, 0x11459}, {0x114d0, 0x114d9}, {0x11650, 0x11659}, {0x116c0, 0x116c9},
        {0x11730, 0x11739}, {0x118e0, 0x118e9}, {0x11950, 0x11959}, {0x11c50, 0x11c59}, {0x11d50, 0x11d59},
        {0x11da0, 0x11da9}, {0x16a60, 0x16a69}, {0x16ac0, 0x16ac9}, {0x16b50, 0x16b59}, {0x1d7ce, 0x1d7ff},
        {0x1e140, 0x1e149}, {0x1e2f0, 0x1e2f9}, {0x1e950, 0x1e959}, {0x1fbf0, 0x1fbf9}};
    for (size_t i = 0; i < sizeof r / sizeof *r; i++)
        if (c >= r[i][0] && c <= r[i][1]) return 1;
    return 0;
}

/* s = s.replace(a, b) for one- or two-code-point a and b ("" as b_n == 0) */
static int replace_all(uint32_t *s, int n, const uint32_t *a, int an, const uint32_t *b, int bn) {
    uint32_t tmp[128];
    int k = 0;
    for (int i = 0; i < n;) {
        if (i + an <= n && !memcmp(s + i, a, (size_t)an * sizeof *a)) {
            for (int j = 0; j < bn; j++) tmp[k++] = b[j];
            i += an;
        } else {
            tmp[k++] = s[i++];
        }
    }
    memcpy(s, tmp, (size_t)k * sizeof *s);
    return k;
}

/* An2Cn.__integer_convert(integer_data, "low") */
static int integer_convert(const char *digits, int n, uint32_t *out, char *err, int errcap) {
    while (n > 1 && digits[0] == '0') digits++, n--; /* str(int(integer_data)) */
    if (n > 16) return snprintf(err, (size_t)errcap, "cn2an: number too long (at most 16 integer digits)"), -1;
    uint32_t s[128];
    int k = 0;
    for (int i = 0; i < n; i++) {
        int dv = digits[i] - '0', u = n - i - 1;
        if (dv) {
            s[k++] = k_digit[dv];
            if (k_unit[u]) s[k++] = k_unit[u];
        } else {
            if (!(u % 4)) {
                s[k++] = k_digit[0];
                if (k_unit[u]) s[k++] = k_unit[u];
            }
            if (i > 0 && s[k - 1] != C_LING) s[k++] = k_digit[0];
        }
    }
    const uint32_t ll[2] = {C_LING, C_LING}, lw[2] = {C_LING, C_WAN}, ly[2] = {C_LING, C_YI}, yw[2] = {C_YI, C_WAN};
    const uint32_t l1[1] = {C_LING}, w1[1] = {C_WAN}, y1[1] = {C_YI};
    k = replace_all(s, k, ll, 2, l1, 1);
    k = replace_all(s, k, lw, 2, w1, 1);
    k = replace_all(s, k, ly, 2, y1, 1);
    k = replace_all(s, k, yw, 2, y1, 1);
    int a = 0, b = k; /* .strip("零") */
    while (a < b && s[a] == C_LING) a++;
    while (b > a && s[b - 1] == C_LING) b--;
    if (b - a >= 2 && s[a] == k_digit[1] && s[a + 1] == C_SHI) a++; /* "一十" -> "十" */
    if (a == b) return out[0] = C_LING, 1;
    memcpy(out, s + a, (size_t)(b - a) * sizeof *out);
    return b - a;
}

int bv_zh_an2cn(const uint32_t *digits, int n, uint32_t *out, int cap, char *err, int errcap) {
    /* preprocess: full-width to half-width; then every character must be 0-9 . - */
    char s[256];
    if (n <= 0 || n >= (int)sizeof s) return snprintf(err, (size_t)errcap, "cn2an: empty or over-long number"), -1;
    int dots = 0, dot_at = -1;
    for (int i = 0; i < n; i++) {
        uint32_t c = digits[i];
        if (c >= 0xFF01 && c <= 0xFF5E) c -= 0xFEE0;
        if (c == '.') dots++, dot_at = i;
        else if (c < '0' || c > '9') return snprintf(err, (size_t)errcap, "cn2an: cannot convert the digit U+%04X", digits[i]), -1;
        s[i] = (char)c;
    }
    if (dots > 1) return snprintf(err, (size_t)errcap, "cn2an: malformed number"), -1;
    int ilen = dots ? dot_at : n;
    uint32_t tmp[256];
    int k = integer_convert(s, ilen, tmp, err, errcap);
    if (k < 0) return -1;
    if (dots) {
        int dl = n - dot_at - 1;
        if (dl > 0) tmp[k++] = C_DIAN;
        if (dl > 16) dl = 16; /* cn2an keeps 16 decimals (and warns) */
        for (int i = 0; i < dl; i++) tmp[k++] = k_digit[s[dot_at + 1 + i] - '0'];
    }
    if (k > cap) return snprintf(err, (size_t)errcap, "number text too long"), -1;
    memcpy(out, tmp, (size_t)k * sizeof *out);
    return k;
}

int bv_zh_numbers_to_chinese(const uint32_t *t, int n, uint32_t *out, int cap, char *err, int errcap) {
    int k = 0;
    for (int i = 0; i < n;) {
        if (!bv_zh_is_decimal(t[i])) {
            if (k >= cap) return snprintf(err, (size_t)errcap, "text too long"), -1;
            out[k++] = t[i++];
            continue;
        }
        /* \d+(?:\.?\d+)? at i */
        int j = i;
        while (j < n && bv_zh_is_decimal(t[j])) j++;
        if (j + 1 < n && t[j] == '.' && bv_zh_is_decimal(t[j + 1])) {
            j++;
            while (j < n && bv_zh_is_decimal(t[j])) j++;
        }
        if (j - i > 200) return snprintf(err, (size_t)errcap, "a number of %d digits is too long for cn2an", j - i), -1;
        int c = bv_zh_an2cn(t + i, j - i, out + k, cap - k, err, errcap);
        if (c < 0) return -1;
        k += c;
        i = j;
    }
    return k;
}
