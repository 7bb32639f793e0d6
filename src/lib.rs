//! # tower-anonymous-auth
//!
//! A Tower middleware that gives every visitor an identity before they sign up, and keeps
//! everything that visitor made when they later register or sign in.
//!
//! [`AnonymousAuthLayer`] wraps any Tower service (an axum `Router`, a hyper service, a plain
//! `tower::Service`). A visitor without a valid credential gets an anonymous user and a signed
//! JWT in an `HttpOnly`, `SameSite=Lax`, `Secure` cookie (API clients may send
//! `Authorization: Bearer <token>` instead). Every request carries its resolved [`Auth`] and an
//! [`AuthHandle`] in its extensions; the handle signs in and out and records what the user owns
//! (`claim("cart:42")`), so it can follow the user to a real account.
//!
//! ## Quick start (axum)
//!
//! ```
//! use axum::{routing::{get, post}, Router};
//! use tower_anonymous_auth::{
//!     AnonymousAuthConfig, AnonymousAuthLayer, Auth, AuthError, AuthHandle, MemoryStore,
//!     RegisteredUser,
//! };
//!
//! async fn home(auth: Auth) -> String {
//!     if auth.is_anonymous {
//!         format!("browsing as guest {}", auth.user.name)
//!     } else {
//!         format!("signed in as {}", auth.user.email)
//!     }
//! }
//!
//! async fn add_to_cart(handle: AuthHandle) -> Result<&'static str, AuthError> {
//!     handle.claim("cart:42").await?;
//!     Ok("added")
//! }
//!
//! async fn orders(RegisteredUser(auth): RegisteredUser) -> String {
//!     format!("orders of {}", auth.user.email)
//! }
//!
//! let config = AnonymousAuthConfig::builder()
//!     .key("2026-11", b"a secret of at least thirty-two bytes!!")
//!     .build()
//!     .expect("valid config");
//! let app: Router = Router::new()
//!     .route("/", get(home))
//!     .route("/cart", post(add_to_cart))
//!     .route("/orders", get(orders))
//!     .layer(AnonymousAuthLayer::new(MemoryStore::new(), config));
//! # let _ = app;
//! ```
//!
//! ## Features
//! - `axum` (default): extractors [`Auth`], `Option<Auth>`, [`OptionalAuth`], [`RegisteredUser`],
//!   [`AuthHandle`], and `IntoResponse` for [`AuthError`].
//! - `redis` (default): `RedisStore` for Redis and Redis Cluster.

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod accounts;
mod auth;
#[cfg(feature = "axum")]
mod axum;
mod clock;
mod config;
mod email;
mod engine;
mod error;
mod handle;
mod layer;
mod link;
mod names;
mod password;
mod rate_limit;
mod session_cache;
mod single_flight;
mod skip;
pub mod store;
pub mod token;

pub use accounts::Registration;
pub use auth::Auth;
#[cfg(feature = "axum")]
pub use axum::{OptionalAuth, RegisteredUser};
pub use config::{
    AnonymousAuthConfig, AnonymousAuthConfigBuilder, MintPolicy, SameSite, StoreFailureMode,
};
pub use error::{AuthError, ConfigError};
pub use handle::{AnonymousSignIn, AuthHandle};
pub use layer::{AnonymousAuth, AnonymousAuthLayer};
pub use link::{LinkEvent, LinkKind};
pub use rate_limit::{MintRateLimit, PeerAddr, RateDecision};
pub use skip::{default_skip_mint, MintRequest};
pub use store::{MemoryStore, Store, StoreError, User};

/// Future types of the services in this crate.
pub mod future {
    pub use crate::layer::ResponseFuture;
}
