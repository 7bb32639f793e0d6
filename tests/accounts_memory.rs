//! Accounts and guest linking over real HTTP, against `MemoryStore`.

mod support;

use std::sync::Arc;
use tower_anonymous_auth::MemoryStore;

account_suite!(async { Arc::new(MemoryStore::new()) });
