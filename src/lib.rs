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
//! Public pages take `Option<Auth>`: crawlers, link previews, `HEAD` requests and clients
//! without a user agent are never given a guest (see [`default_skip_mint`]), and an [`Auth`]
//! extractor would answer them 401.
//!
//! ```no_run
#![doc = include_str!("../examples/quick_start.rs")]
//! ```
//!
//! ## Accounts: register, sign in, link the guest
//!
//! [`AuthHandle::register_with_password`] upgrades the guest in place (same id, it keeps what
//! it owns), and so does [`AuthHandle::sign_in_with_identity`] for an OpenID Connect, OAuth or
//! passkey identity nobody has yet. [`AuthHandle::sign_in_with_password`],
//! [`AuthHandle::sign_in_with_token`], [`AuthHandle::sign_in_with_identity`] (an identity an
//! account holds) and [`AuthHandle::sign_in_as`] (a user of the app's own login) link a guest
//! to an existing account, in this order:
//!
//! 1. one request at a time per guest (in this process); a request whose guest session is
//!    already gone (a double submit that lost the race) just signs in to the account;
//! 2. `on_link_account(LinkEvent { anonymous, account, kind })` runs while nothing has changed
//!    yet, so it can still tell the guest's cart from the account's. If it fails the guest is
//!    left exactly as it was (data, session, cookie) and the call returns
//!    [`AuthError::LinkFailed`]; a retry runs the flow again, so the hook must be idempotent;
//! 3. the store moves the guest's resources to the account (atomic, idempotent);
//! 4. the guest and its sessions are deleted (only its sessions are revoked with
//!    `disable_delete_anonymous_user`; with `lazy_persistence`, a session-less record of the
//!    guest stays until its anonymous lifetime ends, so that its first token, which needed no
//!    stored session, cannot come back);
//! 5. a new session and cookie are issued for the account.
//!
//! Every change of privilege (register, sign-in, sign-out) issues a new session and token and
//! revokes the old one. Error codes and statuses: see [`AuthError::code`].
//!
//! ```
//! use axum::{body::Body, routing::post, Router};
//! use tower::ServiceExt;
//! use tower_anonymous_auth::{
//!     AnonymousAuthConfig, AnonymousAuthLayer, AuthError, AuthHandle, LinkEvent, MemoryStore,
//!     Registration,
//! };
//!
//! async fn register(handle: AuthHandle) -> Result<String, AuthError> {
//!     let registration = Registration::new("ann@example.com", "correct horse");
//!     Ok(handle.register_with_password(registration).await?.into_user().id)
//! }
//!
//! async fn sign_in(handle: AuthHandle) -> Result<String, AuthError> {
//!     let auth = handle.sign_in_with_password("ann@example.com", "correct horse").await?;
//!     Ok(auth.user().id.clone())
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let config = AnonymousAuthConfig::builder()
//!     .random_key()
//!     .on_link_account(|event: LinkEvent| async move {
//!         println!("guest {} joins {} ({:?})", event.anonymous.id, event.account.id, event.kind);
//!         Ok::<(), std::convert::Infallible>(())
//!     })
//!     .build()
//!     .unwrap();
//! let app = Router::new()
//!     .route("/register", post(register))
//!     .route("/sign-in", post(sign_in))
//!     .layer(AnonymousAuthLayer::new(MemoryStore::new(), config));
//! let request = |path: &str| {
//!     http::Request::post(path)
//!         .header("user-agent", "Mozilla/5.0")
//!         .body(Body::empty())
//!         .unwrap()
//! };
//! // A first visitor registers; a second visitor (another guest) signs in to that account.
//! let registered = app.clone().oneshot(request("/register")).await.unwrap();
//! assert_eq!(registered.status(), 200);
//! let signed_in = app.oneshot(request("/sign-in")).await.unwrap();
//! assert_eq!(signed_in.status(), 200);
//! # });
//! ```
//!
//! ## Features
//! - `axum` (default): extractors [`Auth`], `Option<Auth>`, [`RegisteredUser`],
//!   [`AuthHandle`], and `IntoResponse` for [`AuthError`].
//! - `redis` (default): [`RedisStore`] for Redis and Redis Cluster.
//! - `test-kit`: the store conformance suite, `store_suite!`, for authors of stores.

#![deny(missing_docs, unreachable_pub, missing_debug_implementations)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The modules in layers, each using only those above it (tests/module_graph.rs checks it):
// util; request, store; error, link_event, email_code, rate_limit; token, password; config; engine;
// accounts; service.
mod accounts;
mod config;
mod email_code;
mod engine;
mod error;
mod error_page;
mod link_event;
mod password;
mod rate_limit;
mod request;
mod service;
pub mod store;
#[cfg(feature = "test-kit")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-kit")))]
pub mod test_kit;
mod token;
mod util;

pub use accounts::app_account::AppAccount;
pub use accounts::identity::Identity;
pub use accounts::Registration;
pub use config::{
    AnonymousAuthConfig, AnonymousAuthConfigBuilder, MintPolicy, SameSite, StoreFailureMode,
};
pub use email_code::EmailCode;
pub use error::{AuthError, ConfigError};
pub use link_event::{LinkEvent, LinkKind};
pub use rate_limit::RateLimit;
pub use request::client_ip::PeerAddr;
pub use request::skip::{default_skip_mint, MintRequest};
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use service::axum::RegisteredUser;
pub use service::handle::AuthHandle;
pub use service::layer::{AnonymousAuth, AnonymousAuthLayer};
pub use store::{MemoryStore, Store, StoreError, User};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use store::{RedisStore, RedisStoreConfig};
pub use token::auth::Auth;

/// The response body of [`AnonymousAuth`].
pub mod body {
    pub use crate::service::body::AuthBody;
}

/// Future types of the services in this crate.
pub mod future {
    pub use crate::service::layer::ResponseFuture;
}
