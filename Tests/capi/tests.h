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
    X(config_concurrent_use)                          \
    X(config_unset)                                   \
    /* test_model.c */                                \
    X(model_create_each_architecture)                 \
    X(model_get_config)                               \
    X(model_parameter_names_and_shapes)               \
    X(model_embedding_and_seq2seq_names)              \
    X(model_set_and_get_parameters_and_gradients)     \
    X(model_seed_determines_initialisation)           \
    X(model_predict_shapes_and_activations)           \
    X(model_predict_layouts_agree)                    \
    X(model_padding_does_not_leak)                    \
    X(threads_setting)                                \
    X(model_concurrent_use)                           \
    /* test_stream.c */                               \
    X(stream_step_by_step_equals_whole_sequence)      \
    X(stream_chunks_and_layouts)                      \
    X(stream_classifier_and_language_model)           \
    X(stream_state_round_trip)                        \
    X(stream_outlives_model_handle)                   \
    X(stream_refused_feed_leaves_it_usable)           \
    X(stream_feed_hidden_is_the_top_layer_state)      \
    X(stream_feed_hidden_through_an_identity_head)    \
    X(stream_feed_hidden_layouts)                     \
    X(stream_feed_hidden_size_query_and_refusals)     \
    X(stream_feed_hidden_after_set_state_and_new_parameters) \
    /* test_golden.c */                               \
    X(golden_engine_fixtures)                         \
    X(golden_parameters_round_trip)                   \
    X(truncated_bptt_matches_torch)                   \
    X(truncated_bptt_whole_window_and_refusals)       \
    /* test_generate.c */                             \
    X(generate_is_seeded)                             \
    X(generate_greedy_top_k_and_stop)                 \
    X(decode_layouts_and_padding)                     \
    /* test_training.c */                             \
    X(learn_tagger_with_fit)                          \
    X(learn_classifier_with_train_step)               \
    X(learn_language_model_with_fit)                  \
    X(learn_seq2seq_reversal)                         \
    X(fit_progress_and_stop)                          \
    X(fit_callback_uses_the_model)                    \
    X(gradients_match_finite_differences)             \
    X(input_gradient_matches_finite_differences)      \
    X(input_gradient_of_tokens_sums_to_the_embedding_gradient) \
    X(fit_sizes_the_work_of_a_batch_not_the_dataset)  \
    X(fit_in_windows_stops_at_a_bad_window)           \
    X(train_step_is_compute_then_apply)               \
    X(numeric_failure_leaves_parameters)              \
    X(optimizer_options_follow_torch_rules)           \
    X(learning_rate_schedule)                         \
    X(optimizer_and_schedule_keys_are_checked_together) \
    /* test_forward.c */                              \
    X(forward_logits_match_predict)                   \
    X(backward_of_the_models_own_loss_equals_compute_gradients) \
    X(backward_matches_finite_differences_lstm_classifier) \
    X(backward_matches_finite_differences_taggers)    \
    X(backward_accumulates)                           \
    X(forward_carries_state)                          \
    X(final_state_at_each_length)                     \
    X(backward_pass_survives_other_calls)             \
    X(state_gradient_follows_the_last_gradient_call)  \
    X(backward_refusals_of_state)                     \
    X(backward_refusals_of_arguments)                 \
    X(refused_update_keeps_the_pass)                  \
    X(forward_refusals)                               \
    X(forward_training_uses_dropout)                  \
    X(bidirectional_state_order)                      \
    /* test_file.c */                                 \
    X(file_save_and_load)                             \
    X(file_load_errors)                               \
    X(file_checkpoint_resumes_training_exactly)       \
    /* test_errors.c */                               \
    X(errors_null_pointers)                           \
    X(errors_wrong_handle_kinds)                      \
    X(errors_sizes)                                   \
    X(errors_buffers_too_small)                       \
    X(errors_lengths_out_of_range)                    \
    X(errors_nan_and_infinity)                        \
    X(errors_unknown_names)                           \
    X(errors_token_ids_out_of_range)                  \
    X(errors_mismatched_inputs_and_targets)           \
    X(errors_wrong_architecture)                      \
    X(errors_model_configurations)                    \
    X(errors_datasets)                                \
    X(errors_onnx_import)             \
    X(gradient_norms)                          \
    X(errors_leave_the_model_unchanged)

#define SEQ_DECLARE_TEST(name) void test_##name(void);
SEQ_TESTS(SEQ_DECLARE_TEST)

#endif /* SEQ_TESTS_H */
