/* select.h - a branch-free float select for the CPU kernels' vectorised loops. */
#ifndef BV_OPS_CPU_SELECT_H
#define BV_OPS_CPU_SELECT_H

#include <stdint.h>
#include <string.h>

/* c ? a : b as a bitwise blend of two values both computed. Written as a plain ?: GCC sinks a
 * multiply into the arm that needs it (x * slope only when x <= 0, since under -ftrapping-math it
 * may not evaluate it otherwise), which is a branch, and the loop stays scalar: leaky_relu ran at
 * a tenth of memory speed. Same values bit for bit. */
static inline float select_f(int c, float a, float b) {
    uint32_t ua, ub;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    const uint32_t m = -(uint32_t)(c != 0), r = (ua & m) | (ub & ~m);
    float f;
    memcpy(&f, &r, sizeof f);
    return f;
}

#endif
