/* Implementation of the assertions declared in check.h. */
#include "check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int check_failures = 0;

void check_fail(const char *file, int line, const char *expression, const char *format, ...) {
    va_list args;
    check_failures++;
    fprintf(stderr, "%s:%d: FAILED %s: ", file, line, expression);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
}

void check_int_eq(const char *file, int line, const char *expression, long long actual, long long expected) {
    if (actual != expected) check_fail(file, line, expression, "got %lld, expected %lld", actual, expected);
}

void check_str_eq(const char *file, int line, const char *expression, const char *actual, const char *expected) {
    if (actual == NULL || expected == NULL) {
        if (actual != expected)
            check_fail(file, line, expression, "got %s%s%s, expected %s%s%s",
                       actual ? "\"" : "", actual ? actual : "NULL", actual ? "\"" : "",
                       expected ? "\"" : "", expected ? expected : "NULL", expected ? "\"" : "");
        return;
    }
    if (strcmp(actual, expected) != 0)
        check_fail(file, line, expression, "got \"%s\", expected \"%s\"", actual, expected);
}

void check_str_contains(const char *file, int line, const char *expression, const char *actual,
                        const char *needle) {
    if (actual == NULL || strstr(actual, needle) == NULL)
        check_fail(file, line, expression, "got \"%s\", which does not contain \"%s\"",
                   actual ? actual : "(NULL)", needle);
}

void check_status(const char *file, int line, const char *expression, seq_status actual, seq_status expected,
                  const char *needle) {
    if (actual != expected) {
        check_fail(file, line, expression, "returned %d (%s), expected %d (%s); seq_last_error: \"%s\"",
                   (int)actual, seq_status_string(actual), (int)expected, seq_status_string(expected),
                   seq_last_error());
        return;
    }
    if (needle != NULL && strstr(seq_last_error(), needle) == NULL)
        check_fail(file, line, expression, "returned %s as expected, but seq_last_error() is \"%s\", "
                   "which does not contain \"%s\"", seq_status_string(actual), seq_last_error(), needle);
}

void check_close(const char *file, int line, const char *expression, double actual, double expected,
                 double rtol, double atol) {
    double diff = fabs(actual - expected);
    if (!(diff <= atol + rtol * fabs(expected)))
        check_fail(file, line, expression, "got %.9g, expected %.9g (difference %.3g, rtol %g, atol %g)",
                   actual, expected, diff, rtol, atol);
}

void check_floats_close(const char *file, int line, const char *expression, const float *actual,
                        const float *expected, int64_t count, double rtol, double atol) {
    int64_t i, worst = -1, bad = 0;
    double worst_excess = 0;
    for (i = 0; i < count; i++) {
        double diff = fabs((double)actual[i] - (double)expected[i]);
        double allowed = atol + rtol * fabs((double)expected[i]);
        /* NaN fails the comparison and counts as the worst. */
        if (!(diff <= allowed)) {
            double excess = isnan(diff) ? INFINITY : diff - allowed;
            bad++;
            if (worst < 0 || excess > worst_excess) { worst = i; worst_excess = excess; }
        }
    }
    if (bad > 0)
        check_fail(file, line, expression,
                   "%lld of %lld elements differ; largest at index %lld: got %.9g, expected %.9g "
                   "(difference %.3g, rtol %g, atol %g)",
                   (long long)bad, (long long)count, (long long)worst, (double)actual[worst],
                   (double)expected[worst], fabs((double)actual[worst] - (double)expected[worst]), rtol, atol);
}
