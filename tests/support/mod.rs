//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod account_app;
pub mod account_cases;
pub mod apps;
pub mod client;
pub mod flaky_store;
pub mod http_client;
pub mod store_cases;
