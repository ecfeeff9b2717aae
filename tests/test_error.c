/* test_error.c - src/core/error.c: bv_err_set, the one formatter of "-1 with err filled" messages. */
#include <string.h>

#include "../src/core/error.h"
#include "test.h"

BV_TEST(error_err_set_formats_cuts_and_allows_null) {
    char err[16];
    BV_CHECK(bv_err_set(err, sizeof err, "%s:%d: %s", "a.yml", 3, "bad") == -1 && !strcmp(err, "a.yml:3: bad"),
             "formatted: '%s'", err);
    BV_CHECK(bv_err_set(err, sizeof err, "%s", "a message longer than the buffer") == -1 &&
                 strlen(err) == sizeof err - 1 && !strncmp(err, "a message longe", sizeof err - 1),
             "cut: '%s'", err);
    BV_CHECK(bv_err_set(NULL, 0, "%s", "nowhere") == -1, "NULL err");
    err[0] = 'x';
    BV_CHECK(bv_err_set(err, 0, "%s", "nowhere") == -1 && err[0] == 'x', "errcap 0 writes nothing");
}
