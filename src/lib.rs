//! tmp
#![deny(missing_docs)]
mod clock;
pub mod store;
pub use store::{MemoryStore, Store, StoreError, User};
