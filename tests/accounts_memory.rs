//! Accounts and guest linking over real HTTP, against `MemoryStore`.

mod support;

use std::sync::Arc;
use tower_anonymous_auth::MemoryStore;

account_suite!(async { Arc::new(MemoryStore::new()) });
identity_suite!(async { Arc::new(MemoryStore::new()) });
email_code_suite!(async { Arc::new(MemoryStore::new()) });

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_identity_sign_ins_wait_for_a_slow_upgrade() {
    support::identity_cases::concurrent_first_sign_ins_wait_for_a_slow_upgrade().await;
}
