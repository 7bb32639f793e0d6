//! What an application touches: the [`AnonymousAuthLayer`](layer::AnonymousAuthLayer) and its
//! service, the per-request [`AuthHandle`](handle::AuthHandle), and the axum extractors.

#[cfg(feature = "axum")]
pub(crate) mod axum;
pub(crate) mod body;
pub(crate) mod handle;
pub(crate) mod layer;
