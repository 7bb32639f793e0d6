//! Small axum apps used by several integration tests.

use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use tower_anonymous_auth::{
    AnonymousAuthConfig, AnonymousAuthConfigBuilder, AnonymousAuthLayer, Auth, AuthError,
    AuthHandle, RegisteredUser, Store,
};

/// The attributes of a guest's auth cookie under the default settings.
pub const GUEST_COOKIE_ATTRIBUTES: [&str; 5] = [
    "HttpOnly",
    "SameSite=Lax",
    "Secure",
    "Path=/",
    "Max-Age=2592000",
];

/// The key [`builder`] signs with.
pub const TEST_KID: &str = "test-1";
pub const TEST_SECRET: [u8; 32] = [7u8; 32];

/// A token signed with the [`builder`]'s key, as any HS256 issuer holding it would make one:
/// `claims` in the wire format (`sub`, `sid`, `iat`, `exp`, `iss`, and optionally `anon`,
/// `email`, `name`, `col`). Lets a test forge what the layer would never issue.
pub fn sign_token(claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(TEST_KID.to_owned());
    let key = jsonwebtoken::EncodingKey::from_secret(&TEST_SECRET);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// A config builder with the test key, storing every guest as it is minted: these tests pin
/// what eager storage does (a guest in the store after its first visit, the mint limit and
/// store failures at the mint). `tests/lazy.rs` covers lazy persistence, the default.
pub fn builder() -> AnonymousAuthConfigBuilder {
    AnonymousAuthConfig::builder()
        .key(TEST_KID, TEST_SECRET)
        .lazy_persistence(false)
}

pub fn auth_json(auth: &Auth) -> Value {
    json!({
        "id": auth.user().id,
        "email": auth.user().email,
        "name": auth.user().name,
        "collection": auth.user().collection,
        "is_anonymous": auth.is_anonymous(),
        "email_verified": auth.user().email_verified,
        "minted_now": auth.minted_now(),
        "persisted": auth.persisted(),
        "session_id": auth.session_id(),
        "token": auth.token(),
    })
}

/// Routes exercising every extractor and handle action.
pub fn routes() -> Router {
    Router::new()
        .route(
            "/me",
            get(|auth: Auth| async move { Json(auth_json(&auth)) }),
        )
        .route(
            "/optional",
            get(|auth: Option<Auth>| async move {
                Json(auth.as_ref().map(auth_json).unwrap_or(Value::Null))
            }),
        )
        .route(
            "/registered",
            get(|RegisteredUser(auth): RegisteredUser| async move { Json(auth_json(&auth)) }),
        )
        .route(
            "/guest",
            post(|handle: AuthHandle| async move {
                let auth = handle.sign_in_anonymously_in("shoppers").await?;
                Ok::<_, AuthError>(Json(auth_json(&auth)))
            }),
        )
        .route(
            "/sign-out",
            post(|handle: AuthHandle| async move {
                handle.sign_out().await?;
                Ok::<_, AuthError>(Json(json!({ "signed_out": true })))
            }),
        )
        .route(
            "/claim-or-403/{resource}",
            post(
                |handle: AuthHandle, Path(resource): Path<String>| async move {
                    handle.claim(&resource).await?;
                    Ok::<_, AuthError>("added")
                },
            ),
        )
        .route(
            "/claim/{resource}",
            post(
                |handle: AuthHandle, Path(resource): Path<String>| async move {
                    let outcome = handle.try_claim(&resource).await?;
                    Ok::<_, AuthError>(Json(json!({
                        "owned": outcome.is_owned_by_caller(),
                        "resources": handle.resources().await?,
                    })))
                },
            ),
        )
}

/// `routes()` behind the layer.
pub fn app(store: Arc<dyn Store>, config: AnonymousAuthConfig) -> Router {
    routes().layer(AnonymousAuthLayer::from_arc(store, config))
}
