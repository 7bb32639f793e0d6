//! Helpers shared by the integration tests.
#![allow(dead_code)]

#[cfg(feature = "redis")]
pub mod cleanup;
pub mod ownership;
#[cfg(feature = "redis")]
pub mod redis_server;
pub mod store_cases;
