/*
 * The assertions of the C test harness. Each failing check prints file:line, the expression and the
 * compared values, marks the running test as failed, and lets the test go on (so one run shows
 * every failure). test_main.c counts tests, prints "N passed, N failed" and exits non-zero on any
 * failure.
 */
#ifndef SEQ_CHECK_H
#define SEQ_CHECK_H

#include <stdint.h>

#include "seqcore.h"

/* Failed checks in the running test; test_main.c resets it before each test. */
extern int check_failures;

/* Prints one failure (printf-style detail) and counts it. */
void check_fail(const char *file, int line, const char *expression, const char *format, ...);

void check_int_eq(const char *file, int line, const char *expression, long long actual, long long expected);
void check_str_eq(const char *file, int line, const char *expression, const char *actual, const char *expected);
void check_str_contains(const char *file, int line, const char *expression, const char *actual,
                        const char *needle);
void check_status(const char *file, int line, const char *expression, seq_status actual, seq_status expected,
                  const char *needle);
void check_close(const char *file, int line, const char *expression, double actual, double expected,
                 double rtol, double atol);
void check_floats_close(const char *file, int line, const char *expression, const float *actual,
                        const float *expected, int64_t count, double rtol, double atol);

/* A condition that must hold. */
#define CHECK(cond) \
    do { if (!(cond)) check_fail(__FILE__, __LINE__, #cond, "condition is false"); } while (0)

/* Integers (any integer type), compared as long long. */
#define CHECK_INT_EQ(actual, expected) \
    check_int_eq(__FILE__, __LINE__, #actual " == " #expected, (long long)(actual), (long long)(expected))

/* NUL-terminated strings; NULL compares equal only to NULL. */
#define CHECK_STR_EQ(actual, expected) \
    check_str_eq(__FILE__, __LINE__, #actual " == " #expected, (actual), (expected))

#define CHECK_STR_CONTAINS(actual, needle) \
    check_str_contains(__FILE__, __LINE__, #actual " contains " #needle, (actual), (needle))

/* A call's status; on a mismatch the report includes seq_last_error(). */
#define CHECK_STATUS(call, expected) \
    check_status(__FILE__, __LINE__, #call, (call), (expected), NULL)

#define CHECK_OK(call) CHECK_STATUS(call, SEQ_OK)

/* A call that must fail with `expected` and leave a message containing `needle`. */
#define CHECK_ERROR(call, expected, needle) \
    check_status(__FILE__, __LINE__, #call, (call), (expected), (needle))

/* |actual - expected| <= atol + rtol * |expected|. */
#define CHECK_CLOSE(actual, expected, rtol, atol) \
    check_close(__FILE__, __LINE__, #actual " ~ " #expected, (actual), (expected), (rtol), (atol))

/* Element-wise CHECK_CLOSE over `count` floats; reports the largest difference and its index. */
#define CHECK_FLOATS_CLOSE(actual, expected, count, rtol, atol) \
    check_floats_close(__FILE__, __LINE__, #actual " ~ " #expected, (actual), (expected), (count), (rtol), (atol))

#endif /* SEQ_CHECK_H */
