//! `instructions <scenario> <requests>`: drives an axum router in process (no sockets), for
//! `benches/instructions.sh`, which runs it under `valgrind --tool=callgrind` twice and
//! reports the instructions of one request. Instruction counts do not depend on what else the
//! machine is doing, so they compare builds where wall-clock timings on a shared box cannot.
//!
//! Scenarios: `bare` (axum, no auth); on MemoryStore with the default configuration (lazy
//! persistence), `returning` (a valid cookie of a guest that never wrote) and `new` (no
//! cookie); with `-eager` (every guest stored as it is minted), `returning-eager` (a stored
//! guest's cookie) and `new-eager` (a stored new visitor); `returning-eager-cached` (with a
//! 60 s session memo); the peer, axum + tower-sessions 0.14 on its MemoryStore doing the same
//! auto-guest: `sessions-memory-new` and `sessions-memory-returning`.

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use load_compare::{config, ours};
use tower::ServiceExt;
use tower_anonymous_auth::{AnonymousAuthLayer, MemoryStore};

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn request(cookie: Option<&http::HeaderValue>) -> http::Request<Body> {
    let mut request = http::Request::get("/")
        .header(http::header::USER_AGENT, BROWSER)
        .body(Body::empty())
        .expect("request");
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert(http::header::COOKIE, cookie.clone());
    }
    request
}

fn app(scenario: &str) -> Router {
    match scenario {
        "bare" => load_compare::bare(),
        "sessions-memory-new" | "sessions-memory-returning" => Router::new()
            .route("/", get(load_compare::guest_session))
            .layer(
                tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
                    .with_secure(false),
            ),
        _ => Router::new()
            .route("/", get(ours))
            .layer(AnonymousAuthLayer::new(
                MemoryStore::new(),
                config(scenario),
            )),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let scenario = args
        .next()
        .ok_or("usage: instructions <scenario> <requests>")?;
    let requests: usize = args.next().ok_or("missing <requests>")?.parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = app(&scenario);
        let first = app.clone().oneshot(request(None)).await?;
        let cookie = match first.headers().get(http::header::SET_COOKIE) {
            Some(value) if scenario.contains("returning") => {
                let pair = value.to_str()?.split(';').next().unwrap_or_default();
                Some(http::HeaderValue::from_str(pair)?)
            }
            _ => None,
        };
        for _ in 0..requests {
            let response = app.clone().oneshot(request(cookie.as_ref())).await?;
            let body = axum::body::to_bytes(response.into_body(), 1 << 16).await?;
            std::hint::black_box(body);
        }
        Ok(())
    })
}
