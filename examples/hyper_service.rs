//! The layer on a bare hyper 1 server around a plain `tower::service_fn`: every response is
//! the request's resolved auth as JSON.
//!
//! Run: `AUTH_DEV_MODE=1 cargo run --example hyper_service`, then `curl -i -A Mozilla http://127.0.0.1:3001/`
//! (in-memory store; set `REDIS_URL` to use Redis).

#[path = "support/secret.rs"]
mod secret;
#[path = "support/store_from_env.rs"]
mod store_from_env;

use bytes::Bytes;
use http::{header, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::net::SocketAddr;
use tower::{service_fn, Layer, ServiceBuilder};
use tower_anonymous_auth::{AnonymousAuthConfig, AnonymousAuthLayer, Auth, PeerAddr};

async fn show_auth(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.extensions().get::<Auth>() {
        Some(auth) => serde_json::json!({
            "user": auth.user(),
            "session_id": auth.session_id(),
            "is_anonymous": auth.is_anonymous(),
            "minted_now": auth.minted_now(),
            "expires_at": auth.expires_at(),
        }),
        None => serde_json::json!({ "user": null }),
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = AnonymousAuthConfig::builder()
        .key("dev", secret::auth_secret_or_exit())
        .secure(false) // plain http on localhost
        .build()?;
    let layer = AnonymousAuthLayer::from_arc(store_from_env::store_from_env().await?, config);
    let addr: SocketAddr = std::env::var("ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3001".into())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // With ADDR=127.0.0.1:0 the system picks a free port; tests read it from this line.
    println!("hyper_service on http://{}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        // The peer address feeds the per-IP mint rate limit.
        let service = ServiceBuilder::new()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(PeerAddr(peer));
                request
            })
            .service(layer.layer(service_fn(show_auth)));
        tokio::spawn(async move {
            let served = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .await;
            if let Err(error) = served {
                eprintln!("connection from {peer}: {error}");
            }
        });
    }
}
