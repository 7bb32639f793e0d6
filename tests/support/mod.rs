//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod account_app;
pub mod account_cases;
pub mod apps;
#[cfg(feature = "redis")]
pub mod cleanup;
pub mod client;
pub mod email_code_cases;
pub mod flaky_store;
pub mod http_client;
pub mod identity_cases;
pub mod logs;
pub mod ownership;
#[cfg(feature = "postgres")]
pub mod postgres_server;
#[cfg(feature = "redis")]
pub mod redis_server;
pub mod two_instances;
pub mod visitors;
