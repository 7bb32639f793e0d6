//! The layer around a plain `tower::service_fn` under a bare hyper 1 server (hyper-util's
//! `TowerToHyperService`), over a real TCP socket.

mod support;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::net::SocketAddr;
use support::client::Client;
use tower::{service_fn, Layer};
use tower_anonymous_auth::{AnonymousAuthLayer, Auth, MemoryStore};

async fn show_auth(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.extensions().get::<Auth>() {
        Some(auth) => serde_json::json!({
            "id": auth.user().id,
            "is_anonymous": auth.is_anonymous(),
            "minted_now": auth.minted_now(),
        }),
        None => serde_json::Value::Null,
    };
    Ok(Response::new(Full::new(Bytes::from(body.to_string()))))
}

async fn serve(layer: AnonymousAuthLayer) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = layer.layer(service_fn(show_auth));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_bare_hyper_server_mints_and_resolves() {
    let store = MemoryStore::new();
    let layer = AnonymousAuthLayer::new(store.clone(), support::apps::builder().build().unwrap());
    let client = Client::new(serve(layer).await);

    let first = client.get("/").await;
    assert_eq!(first.status, 200);
    let cookie = first.set_cookie("__Host-auth_token").expect("cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("Secure"));
    let first = first.json();
    assert_eq!(first["is_anonymous"], true);
    assert_eq!(first["minted_now"], true);

    let second = client.get("/").await;
    assert!(second.set_cookie("__Host-auth_token").is_none());
    let second = second.json();
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["minted_now"], false);
    assert_eq!(store.user_count(), 1);
}
