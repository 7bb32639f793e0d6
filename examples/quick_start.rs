use axum::{
    routing::{get, post},
    Router,
};
use std::net::SocketAddr;
use tower_anonymous_auth::{
    AnonymousAuthConfig, AnonymousAuthLayer, Auth, AuthError, AuthHandle, MemoryStore,
    RegisteredUser,
};

// Public pages take `Option<Auth>`: crawlers, link previews, HEAD requests and clients without
// a user agent are never given a guest, so they get `None` here (`Auth` would answer 401).
async fn home(auth: Option<Auth>) -> String {
    match auth {
        Some(auth) if auth.is_anonymous() => format!("browsing as guest {}", auth.user().name),
        Some(auth) => format!("signed in as {}", auth.user().email),
        None => "welcome".to_owned(),
    }
}

async fn add_to_cart(handle: AuthHandle) -> Result<&'static str, AuthError> {
    handle.claim("cart:42").await?; // 403 NOT_OWNER if another user owns it
    Ok("added")
}

async fn orders(RegisteredUser(auth): RegisteredUser) -> String {
    format!("orders of {}", auth.user().email) // anonymous users get 403
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = AnonymousAuthConfig::builder()
        .key_from_env("2026-11", "AUTH_SECRET") // >= 32 bytes; add newer keys to rotate
        // The cookie is Secure: browsers keep it over https and on http://localhost only.
        // For plain http on another host (a LAN address while developing), uncomment:
        // .secure(false)
        .build()?;
    let app = Router::new()
        .route("/", get(home))
        .route("/cart", post(add_to_cart))
        .route("/orders", get(orders))
        .layer(AnonymousAuthLayer::new(MemoryStore::new(), config));

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // The client's address feeds the per-IP limit on new guests: without
    // `into_make_service_with_connect_info` the limit is off (and the layer says so).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
