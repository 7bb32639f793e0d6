//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod apps;
pub mod client;
pub mod flaky_store;
pub mod store_cases;
