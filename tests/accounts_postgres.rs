//! Accounts and guest linking over real HTTP, against `PostgresStore` (`DATABASE_URL`), each
//! case in a schema of its own.

#![cfg(feature = "postgres")]

mod support;

account_suite!(support::postgres_server::dyn_store("accounts"));
identity_suite!(support::postgres_server::dyn_store("identities"));
email_code_suite!(support::postgres_server::dyn_store("email_codes"));
