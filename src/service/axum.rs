//! axum extractors (feature `axum`): [`Auth`], `Option<Auth>`, [`RegisteredUser`] and
//! [`AuthHandle`]; and `IntoResponse` for [`AuthError`].

use crate::config::MintPolicy;
use crate::error::AuthError;
use crate::error_page;
use crate::service::handle::AuthHandle;
use crate::token::auth::Auth;
use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{header, HeaderValue};
use std::sync::atomic::{AtomicBool, Ordering};

impl IntoResponse for AuthError {
    /// `{"code": "...", "message": "..."}` with the error's status; `Retry-After` for
    /// rate limits and an unavailable store.
    fn into_response(self) -> Response {
        let mut response = error_page::json(&self).map(Body::from);
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after_secs() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// The rejection of an extractor that needs an identity. Over the mint rate limit the layer
/// gave the request none: that is the layer's own 429, answered as the layer answers (a page
/// for a browser, JSON for a program, or the app's responder); any other error answers its
/// JSON.
fn reject(handle: &AuthHandle, error: AuthError, request: &http::HeaderMap) -> Response {
    match error {
        AuthError::RateLimited { .. } => handle
            .engine()
            .config
            .error_pages
            .respond(error, request)
            .map(Body::from),
        other => other.into_response(),
    }
}

/// The request's handle, or [`AuthError::LayerMissing`], logged once per process: the
/// mistake is in how the app is put together (a route added after `.layer(...)` is not
/// wrapped by it), so it fails every such request the same way.
fn handle_of(parts: &Parts) -> Result<AuthHandle, AuthError> {
    static LOGGED: AtomicBool = AtomicBool::new(false);
    if let Some(handle) = parts.extensions.get::<AuthHandle>() {
        return Ok(handle.clone());
    }
    if !LOGGED.swap(true, Ordering::Relaxed) {
        tracing::error!(path = parts.uri.path(), "{}", AuthError::LayerMissing);
    }
    Err(AuthError::LayerMissing)
}

/// Any signed-in user, anonymous or registered. With [`MintPolicy::OnDemand`](crate::MintPolicy)
/// it mints an anonymous user when the request has none. Otherwise it rejects with 401
/// `UNAUTHENTICATED` when the request has no auth (only possible in fail-open mode).
///
/// ```
/// use tower_anonymous_auth::Auth;
/// async fn me(auth: Auth) -> String {
///     format!("{} (anonymous: {})", auth.user().id, auth.is_anonymous())
/// }
/// # let _ = me;
/// ```
impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let handle = handle_of(parts).map_err(IntoResponse::into_response)?;
        if let Some(auth) = handle.auth() {
            return Ok(auth);
        }
        let minted = match handle.engine().config.mint_policy {
            MintPolicy::OnDemand => handle.ensure().await,
            MintPolicy::Always => Err(handle.missing_auth()),
        };
        minted.map_err(|error| reject(&handle, error, &parts.headers))
    }
}

/// `Option<Auth>`: the request's auth if any, for pages that render for everyone. Never
/// rejects (unless the layer is missing) and never mints, even with
/// [`MintPolicy::OnDemand`](crate::MintPolicy).
///
/// ```
/// use tower_anonymous_auth::Auth;
/// async fn banner(auth: Option<Auth>) -> &'static str {
///     match auth {
///         Some(auth) if auth.is_anonymous() => "browsing as guest",
///         Some(_) => "welcome back",
///         None => "hello",
///     }
/// }
/// # let _ = banner;
/// ```
impl<S: Send + Sync> OptionalFromRequestParts<S> for Auth {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        handle_of(parts)?;
        Ok(parts.extensions.get::<Auth>().cloned())
    }
}

/// A registered (non-anonymous) user: limits what anonymous users can do. Rejects with 401
/// `UNAUTHENTICATED` without auth and 403 `REGISTERED_USER_REQUIRED` for anonymous users.
///
/// ```
/// use tower_anonymous_auth::RegisteredUser;
/// async fn order_history(RegisteredUser(auth): RegisteredUser) -> String {
///     format!("orders of {}", auth.user().email)
/// }
/// # let _ = order_history;
/// ```
#[derive(Debug, Clone)]
pub struct RegisteredUser(pub Auth);

impl<S: Send + Sync> FromRequestParts<S> for RegisteredUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = <Auth as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if auth.is_anonymous() {
            return Err(AuthError::RegisteredUserRequired.into_response());
        }
        Ok(Self(auth))
    }
}

/// The handle to act on auth. Rejects with 500 `LAYER_MISSING` when the layer is not installed.
///
/// ```
/// use tower_anonymous_auth::{AuthError, AuthHandle};
/// async fn sign_out(handle: AuthHandle) -> Result<&'static str, AuthError> {
///     handle.sign_out().await?;
///     Ok("bye")
/// }
/// # let _ = sign_out;
/// ```
impl<S: Send + Sync> FromRequestParts<S> for AuthHandle {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        handle_of(parts)
    }
}
