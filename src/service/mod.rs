//! What an application touches: the [`AnonymousAuthLayer`](layer::AnonymousAuthLayer) and its
//! service, the per-request [`AuthHandle`](handle::AuthHandle) (its identity methods in
//! [`identities`], its email-code methods in [`email_codes`]), and the axum extractors.

#[cfg(feature = "axum")]
pub(crate) mod axum;
pub(crate) mod body;
mod email_codes;
pub(crate) mod handle;
mod identities;
pub(crate) mod layer;
