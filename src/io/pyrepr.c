/* pyrepr.c - Python's repr() of floats and of JSON documents (see pyrepr.h). */
#include "pyrepr.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"

char *bv_py_float_repr(char *buf, double v) {
    if (isnan(v)) return strcpy(buf, "nan");
    if (isinf(v)) return strcpy(buf, v > 0 ? "inf" : "-inf");
    if (v == 0) return strcpy(buf, signbit(v) ? "-0.0" : "0.0");
    /* shortest round-tripping significand, as Python's repr picks it */
    char e[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, v);
        if (strtod(e, NULL) == v) break;
    }
    /* e = "[-]d[.ddd]e[+-]XX": split into sign, digits, decimal exponent */
    const char *s = e;
    int neg = *s == '-';
    if (neg) s++;
    char digits[24];
    int nd = 0;
    for (; *s != 'e'; s++)
        if (*s != '.') digits[nd++] = *s;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    int exp10 = atoi(s + 1);
    char *o = buf;
    if (neg) *o++ = '-';
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            o += sprintf(o, "0.");
            for (int i = 0; i < -exp10 - 1; i++) *o++ = '0';
            o += sprintf(o, "%s", digits);
        } else {
            for (int i = 0; i <= exp10; i++) *o++ = i < nd ? digits[i] : '0';
            *o++ = '.';
            if (nd > exp10 + 1)
                o += sprintf(o, "%s", digits + exp10 + 1);
            else
                *o++ = '0';
        }
        *o = '\0';
    } else {
        *o++ = digits[0];
        if (nd > 1) o += sprintf(o, ".%s", digits + 1);
        sprintf(o, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
    return buf;
}

/* json.loads keeps 1 an int and 1.0 a float; cJSON does not, so the number tokens of the text are
 * scanned first (in document order, as cJSON's children are) for a '.', 'e' or 'E'. */
typedef struct repr_out {
    char *buf;
    size_t len, cap;
    const unsigned char *is_float; /* per number token, in document order */
    int n_numbers, next_number;
} repr_out;

static void put(repr_out *o, const char *s) {
    size_t n = strlen(s);
    if (o->len + n + 1 > o->cap) {
        o->cap = 2 * (o->len + n + 1);
        o->buf = bv_xrealloc(o->buf, o->cap);
    }
    memcpy(o->buf + o->len, s, n + 1);
    o->len += n;
}

static unsigned char *scan_number_kinds(const char *text, int *n) {
    size_t len = strlen(text);
    unsigned char *k = bv_xcalloc(len / 2 + 2, 1);
    *n = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '"') { /* skip a string */
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1]) p++;
            if (!*p) break;
        } else if (*p == '-' || isdigit((unsigned char)*p)) {
            int fl = 0;
            for (; *p && strchr("+-0123456789.eE", *p); p++) fl |= *p == '.' || *p == 'e' || *p == 'E';
            k[(*n)++] = (unsigned char)fl;
            p--;
        }
    }
    return k;
}

static void py_str(repr_out *o, const char *s) {
    char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    char one[8] = {q, 0};
    put(o, one);
    for (const char *p = s; *p; p++) {
        if (*p == '\\' || *p == q) snprintf(one, sizeof one, "\\%c", *p);
        else if (*p == '\n') snprintf(one, sizeof one, "\\n");
        else snprintf(one, sizeof one, "%c", *p);
        put(o, one);
    }
    one[0] = q;
    one[1] = 0;
    put(o, one);
}

static void py_repr(repr_out *o, const cJSON *v) {
    char num[64];
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        int obj = cJSON_IsObject(v), first = 1;
        put(o, obj ? "{" : "[");
        for (const cJSON *c = v->child; c; c = c->next, first = 0) {
            if (!first) put(o, ", ");
            if (obj) {
                py_str(o, c->string);
                put(o, ": ");
            }
            py_repr(o, c);
        }
        put(o, obj ? "}" : "]");
    } else if (cJSON_IsString(v)) {
        py_str(o, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        int fl = o->next_number < o->n_numbers ? o->is_float[o->next_number++] : 1;
        if (!fl && fabs(v->valuedouble) < 9e15) snprintf(num, sizeof num, "%lld", (long long)v->valuedouble);
        else bv_py_float_repr(num, v->valuedouble);
        put(o, num);
    } else {
        put(o, cJSON_IsTrue(v) ? "True" : cJSON_IsFalse(v) ? "False" : "None");
    }
}

char *bv_py_repr_json(const cJSON *v, const char *text) {
    repr_out o = {0};
    o.is_float = scan_number_kinds(text ? text : "", &o.n_numbers);
    put(&o, "");
    py_repr(&o, v);
    free((void *)o.is_float);
    return o.buf;
}
