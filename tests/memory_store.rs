//! The shared store conformance suite against `MemoryStore`.

use tower_anonymous_auth::MemoryStore;

tower_anonymous_auth::store_suite!(async { MemoryStore::new() });
