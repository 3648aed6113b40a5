#![doc = include_str!("../README.md")]

pub mod contract;
mod harness;
pub mod scenarios;

pub use harness::{
    Answer, COOKIE_NAME, Harness, SECOND_COOKIE_NAME, Spawn, SpawnFuture, TOKEN_RESPONSE_HEADER,
    TestServer, signed_id,
};

/// Expands to one `#[tokio::test]` per scenario, each calling `$spawn(manager, second).await`
/// for a server that serves the [`contract`] with `manager` and, when `second` is given,
/// that one too under the marker [`contract::Second`]. The calling crate needs `tokio`
/// with `macros` and `rt-multi-thread`.
#[macro_export]
macro_rules! behaviour_tests {
    ($spawn:path) => {
        fn __behaviour_spawn(
            manager: $crate::__private::SessionManager,
            second: ::std::option::Option<$crate::__private::SessionManager>,
        ) -> $crate::SpawnFuture {
            ::std::boxed::Box::pin($spawn(manager, second))
        }
        $crate::__behaviour_cases!(
            plain_route_never_calls_the_store,
            header_token_carries_the_session_without_cookies,
            header_tokens_rotate_and_are_dropped,
            bad_tokens_never_reach_the_store,
            either_transport_answers_the_way_the_session_came,
            custom_token_headers_carry_the_bare_token,
            untouched_new_session_gets_no_cookie_and_no_store_call,
            read_only_request_loads_once_and_writes_nothing,
            first_write_creates_one_record_and_a_browser_session_cookie,
            modifying_request_writes_exactly_once,
            data_round_trips_across_requests,
            save_uninitialized_opt_in_stores_an_empty_session,
            touch_is_throttled_by_touch_after,
            rolling_expiry_keeps_an_active_session_alive,
            idle_expired_cookie_starts_a_fresh_session,
            absolute_timeout_ends_even_an_active_session,
            regenerate_changes_the_id_and_keeps_the_data,
            login_sets_the_user_and_kills_the_pre_login_id,
            sign_in_rotates_the_id_by_itself,
            stale_sign_in_is_401_for_sensitive_actions,
            destroy_deletes_the_record_and_expires_the_cookie,
            writes_after_destroy_start_a_new_session,
            destroy_without_a_session_is_harmless,
            tampered_signature_is_rejected_without_a_store_call,
            foreign_key_cookie_is_rejected_without_a_store_call,
            unknown_id_is_never_adopted,
            malformed_cookies_never_reach_the_store,
            duplicate_cookie_headers_find_the_valid_session,
            same_named_cookies_in_one_header_find_the_valid_session,
            oversized_cookie_header_is_bounded_and_never_500,
            hundred_cookies_still_find_the_session,
            non_utf8_cookie_bytes_never_500,
            rotated_key_cookie_is_accepted_and_reissued,
            private_cookie_mode_round_trips_and_hides_the_id,
            server_error_changes_are_not_saved,
            save_on_server_error_opt_in_saves,
            set_cookie_comes_with_vary_and_no_cache,
            handler_cache_control_is_kept,
            public_cache_control_is_made_private_with_a_cookie,
            signed_in_responses_are_no_store,
            destroy_in_a_failing_handler_still_logs_out,
            unchanged_session_adds_no_headers,
            concurrent_writes_of_distinct_keys_all_survive,
            store_outage_is_503_on_session_routes_only,
            strict_mode_conflict_is_409,
            merge_mode_same_race_succeeds,
            oversized_data_is_413_and_changes_nothing,
            remember_me_gives_a_persistent_cookie,
            persistent_cookie_max_age_follows_the_touch,
            user_sessions_are_listed_and_others_revoked,
            session_list_without_user_is_a_server_error,
            default_cookie_attributes,
            cross_site_login_post_is_403_and_stores_nothing,
            cross_site_unsafe_methods_never_change_the_session,
            same_origin_headerless_safe_and_sessionless_requests_pass,
            allowed_origins_pass_and_the_guard_switches_off,
            two_managers_keep_their_data_and_cookies_apart,
            one_handler_uses_both_sessions,
            managers_sharing_a_cookie_name_are_refused,
            a_cookie_manager_and_a_header_manager_share_requests,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __behaviour_cases {
    ($($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::scenarios::$case(__behaviour_spawn).await;
            }
        )*
    };
}

#[doc(hidden)]
pub mod __private {
    pub use session_core::SessionManager;
}
