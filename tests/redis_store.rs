//! The shared store conformance suite against `RedisStore` on one node (`REDIS_URL`),
//! each case under its own key prefix.

#![cfg(feature = "redis")]

mod support;

store_suite!(support::redis_server::shared_dyn_store("suite"));
