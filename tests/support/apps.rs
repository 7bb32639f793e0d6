//! Small axum apps used by several integration tests.

use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use tower_anonymous_auth::{
    AnonymousAuthConfig, AnonymousAuthConfigBuilder, AnonymousAuthLayer, AnonymousSignIn, Auth,
    AuthError, AuthHandle, OptionalAuth, RegisteredUser, Store,
};

/// A test key ring: one fixed 32-byte key.
/// The attributes of a guest's auth cookie under the default settings.
pub const GUEST_COOKIE_ATTRIBUTES: [&str; 5] = [
    "HttpOnly",
    "SameSite=Lax",
    "Secure",
    "Path=/",
    "Max-Age=2592000",
];

pub fn builder() -> AnonymousAuthConfigBuilder {
    AnonymousAuthConfig::builder().key("test-1", [7u8; 32])
}

pub fn auth_json(auth: &Auth) -> Value {
    json!({
        "id": auth.user.id,
        "email": auth.user.email,
        "name": auth.user.name,
        "collection": auth.user.collection,
        "is_anonymous": auth.is_anonymous,
        "minted_now": auth.minted_now,
        "persisted": auth.persisted,
        "session_id": auth.session_id,
        "token": auth.token,
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
            get(|OptionalAuth(auth): OptionalAuth| async move {
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
                let auth = handle
                    .sign_in_anonymously(AnonymousSignIn::default().collection("shoppers"))
                    .await?;
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
            "/claim/{resource}",
            post(
                |handle: AuthHandle, Path(resource): Path<String>| async move {
                    let outcome = handle.claim(&resource).await?;
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
