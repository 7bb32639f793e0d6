//! Accounts and guest linking over real HTTP, against `RedisStore` (`REDIS_URL`), each case
//! under its own key prefix.

#![cfg(feature = "redis")]

mod support;

account_suite!(support::redis_server::shared_dyn_store("accounts"));
identity_suite!(support::redis_server::shared_dyn_store("identities"));
email_code_suite!(support::redis_server::shared_dyn_store("email-codes"));
