//! The shared store conformance suite against `MemoryStore`.

mod support;

use std::sync::Arc;
use tower_anonymous_auth::MemoryStore;

store_suite!(async { Arc::new(MemoryStore::new()) });
