/*
 * Every test of the C harness, one line each: X(name) runs `void test_name(void)`, defined in one of
 * the test_*.c files. To add a test, write the function and add its line here.
 */
#ifndef SEQ_TESTS_H
#define SEQ_TESTS_H

#define SEQ_TESTS(X)                                  \
    /* test_basics.c */                               \
    X(last_error_is_empty_on_a_new_thread)            \
    X(version_matches_header)                         \
    X(status_strings)                                 \
    X(last_error_names_function_and_argument)         \
    X(last_error_survives_successful_calls)           \
    X(last_error_is_per_thread)                       \
    /* test_config.c */                               \
    X(config_create_and_free)                         \
    X(config_defaults)                                \
    X(config_set_and_get)                             \
    X(config_get_string_buffer_sizes)                 \
    X(config_null_pointers)                           \
    X(config_invalid_handles)                         \
    X(config_unknown_key)                             \
    X(config_wrong_value_type)                        \
    X(config_values_out_of_range)                     \
    X(config_required_keys_without_default)           \
    X(config_failed_set_leaves_value)                 \
    X(config_concurrent_use)

#define SEQ_DECLARE_TEST(name) void test_##name(void);
SEQ_TESTS(SEQ_DECLARE_TEST)

#endif /* SEQ_TESTS_H */
