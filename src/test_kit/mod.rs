//! The conformance suite every store of this crate passes, for authors of their own stores
//! (feature `test-kit`).
//!
//! [`store_suite!`](crate::store_suite) turns each case into a `#[test]` of the crate that
//! calls it. Each case gets a fresh, empty store from the expression you give, runs on a
//! two-thread tokio runtime (cases race requests against each other), and panics with a
//! message naming the broken guarantee. An optional second argument cleans up after each
//! case, whether it passed or not (drop a test schema, delete a key prefix).
//!
//! ```
//! # // The macro expands to `#[test]` functions: here they are only compiled.
//! use tower_anonymous_auth::MemoryStore;
//!
//! tower_anonymous_auth::store_suite!(async { MemoryStore::new() });
//!
//! // With a clean-up step, given the store once the case is over.
//! mod with_cleanup {
//!     tower_anonymous_auth::store_suite!(
//!         async { tower_anonymous_auth::MemoryStore::new() },
//!         |store: std::sync::Arc<tower_anonymous_auth::MemoryStore>| async move {
//!             assert!(store.user_count() < 100);
//!         }
//!     );
//! }
//! # fn main() {}
//! ```
//!
//! The cases are also plain functions, grouped by trait, for a store that wants to run only
//! some of them: [`users`], [`identities`], [`email_codes`], [`ownership`] and
//! [`coordination`].

pub mod coordination;
pub mod email_codes;
pub mod identities;
pub mod ownership;
pub mod users;

use std::future::Future;

/// The time the cases run at (ms since the epoch): the stores are given times, never read a
/// clock, so a fixed one keeps the cases repeatable.
pub const NOW: u64 = 1_700_000_000_000;
/// One hour in ms.
pub const HOUR: u64 = 3_600_000;

/// Runs one case on a fresh two-thread runtime, then `cleanup`, even when the case panicked
/// (whose panic then goes on). What [`store_suite!`](crate::store_suite) expands to.
///
/// ```
/// use std::sync::Arc;
/// use tower_anonymous_auth::test_kit::{run_case, users};
/// use tower_anonymous_auth::MemoryStore;
///
/// run_case(
///     async { MemoryStore::new() },
///     |store| users::insert_and_get_user(store),
///     |_store: Arc<MemoryStore>| async {},
/// );
/// ```
pub fn run_case<S, Make, Case, CaseFut, Cleanup, CleanupFut>(
    make: Make,
    case: Case,
    cleanup: Cleanup,
) where
    S: crate::store::Store,
    Make: Future<Output = S>,
    Case: FnOnce(std::sync::Arc<dyn crate::store::Store>) -> CaseFut,
    CaseFut: Future<Output = ()>,
    Cleanup: FnOnce(std::sync::Arc<S>) -> CleanupFut,
    CleanupFut: Future<Output = ()>,
{
    use futures::FutureExt;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the store suite");
    runtime.block_on(async move {
        let store = std::sync::Arc::new(make.await);
        let outcome = std::panic::AssertUnwindSafe(case(store.clone()))
            .catch_unwind()
            .await;
        cleanup(store).await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    });
}

/// Generates one `#[test]` per conformance case for a store: `store_suite!(make)` or
/// `store_suite!(make, cleanup)`, where `make` is a future giving a fresh, empty store and
/// `cleanup` a closure given that store (in an `Arc`) after each case, returning a future.
/// See the [`test_kit`](crate::test_kit) module.
#[macro_export]
macro_rules! store_suite {
    ($make:expr) => {
        $crate::store_suite!($make, |_store| async {});
    };
    ($make:expr, $cleanup:expr) => {
        $crate::store_suite!(@cases $make, $cleanup;
            users::insert_and_get_user,
            users::email_is_unique_per_collection,
            users::placeholder_taken_as_a_real_email_blocks_only_while_its_holder_lives,
            users::expired_users_and_sessions_read_as_none,
            users::upgrade_keeps_id_and_removes_expiry,
            users::sessions_are_revocable,
            users::immediate_session_checks_agree_with_get_session,
            users::sessions_named_after_their_user_work_like_any_other,
            users::fresh_guests_are_stored_like_any_user,
            users::default_names_and_no_password_read_back,
            users::refresh_slides_guest_expiry_only,
            users::delete_user_removes_sessions_and_email,
            users::insert_refuses_an_id_in_use,
            users::upgrade_is_refused_for_a_registered_user,
            users::delete_session_reports_whether_it_removed_one,
            identities::identities_attach_find_and_detach,
            identities::identities_are_per_collection,
            identities::identities_of_gone_users_are_free,
            identities::concurrent_attaches_give_one_holder,
            email_codes::email_codes_are_single_use,
            email_codes::email_codes_die_after_five_wrong_tries_or_expiry,
            email_codes::concurrent_email_code_tries_are_counted_once,
            email_codes::mark_email_verified_is_conditional,
            ownership::claim_release_and_lookups,
            ownership::transfer_moves_everything_once,
            ownership::concurrent_transfers_move_each_resource_once,
            coordination::rate_limit_buckets_are_per_key,
            coordination::leases_have_one_holder_until_released,
        );
    };
    (@cases $make:expr, $cleanup:expr; $($group:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::test_kit::run_case(
                    $make,
                    $crate::test_kit::$group::$case,
                    $cleanup,
                );
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn cleanup_runs_after_a_failing_case_and_the_failure_goes_on() {
        let cleaned = Arc::new(AtomicBool::new(false));
        let flag = cleaned.clone();
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_case(
                async { MemoryStore::new() },
                |_store| async { panic!("the store broke the contract") },
                |_store: Arc<MemoryStore>| async move { flag.store(true, Ordering::SeqCst) },
            )
        }));
        assert!(failed.is_err(), "the case's panic reaches the test");
        assert!(cleaned.load(Ordering::SeqCst), "clean-up ran anyway");
    }
}
