/*
 * The C test harness of libseqcore: runs every test listed in tests.h, prints each failed check
 * with file:line, then "N passed, N failed" alone on a line. Exits 1 if any test failed.
 * Usage: capi-harness [substring]   runs only the tests whose name contains the substring.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "tests.h"

struct test_case {
    const char *name;
    void (*run)(void);
};

#define SEQ_TEST_ENTRY(name) {#name, test_##name},
static const struct test_case tests[] = {SEQ_TESTS(SEQ_TEST_ENTRY)};

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;
    size_t i;
    for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (filter != NULL && strstr(tests[i].name, filter) == NULL) continue;
        check_failures = 0;
        tests[i].run();
        if (check_failures == 0) {
            passed++;
        } else {
            failed++;
            fprintf(stderr, "test %s: FAILED (%d failed checks)\n", tests[i].name, check_failures);
        }
    }
    fflush(stderr);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
