//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod apps;
pub mod client;
pub mod store_cases;
