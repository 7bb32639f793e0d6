//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod ownership;
#[cfg(feature = "redis")]
pub mod redis_server;
pub mod store_cases;
