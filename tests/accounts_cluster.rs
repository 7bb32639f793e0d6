//! Accounts and guest linking over real HTTP, against `RedisStore` on the 3-master Redis
//! Cluster the harness starts, each case under its own key prefix.

#![cfg(feature = "redis")]

mod support;

account_suite!(support::redis_server::cluster_dyn_store("accounts-cluster"));
identity_suite!(support::redis_server::cluster_dyn_store(
    "identities-cluster"
));
email_code_suite!(support::redis_server::cluster_dyn_store(
    "email-codes-cluster"
));
