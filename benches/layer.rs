//! In-process cost of the layer (`tower::ServiceExt::oneshot` on an axum router), each variant
//! against a bare router measured in the same run:
//!
//! - `bare_axum`: no layer (the baseline);
//! - `returning_memory`: a valid cookie, session checked in MemoryStore;
//! - `returning_stateless`: a valid cookie with `session_cache_ttl` (JWT verify only);
//! - `returning_redis`: a valid cookie, session checked in Redis;
//! - `new_memory`, `new_redis`: no cookie, a guest minted and stored;
//! - `new_lazy`: no cookie, a lazy guest minted (no store write).
//!
//! Run: `cargo bench --bench layer` (Redis at `REDIS_URL`, default `redis://127.0.0.1:6379`).

#[path = "support/redis_cleanup.rs"]
mod redis_cleanup;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{header, HeaderValue, Request};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use tower_anonymous_auth::store::RedisStore;
use tower_anonymous_auth::{
    AnonymousAuthConfig, AnonymousAuthConfigBuilder, AnonymousAuthLayer, MemoryStore, Store,
};

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn routes() -> Router {
    Router::new().route("/", get(|| async { "hello" }))
}

fn config() -> AnonymousAuthConfigBuilder {
    AnonymousAuthConfig::builder()
        .key("bench", [3u8; 32])
        .mint_rate_limit(None)
}

fn layered(store: Arc<dyn Store>, config: AnonymousAuthConfigBuilder) -> Router {
    routes().layer(AnonymousAuthLayer::from_arc(
        store,
        config.build().expect("config"),
    ))
}

fn request(cookie: Option<&HeaderValue>) -> Request<Body> {
    let mut request = Request::get("/")
        .header(header::USER_AGENT, BROWSER)
        .body(Body::empty())
        .expect("request");
    if let Some(cookie) = cookie {
        request.headers_mut().insert(header::COOKIE, cookie.clone());
    }
    request
}

/// The `name=value` of the auth cookie a first visit gets.
async fn first_cookie(app: &Router) -> HeaderValue {
    let response = app.clone().oneshot(request(None)).await.expect("response");
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ascii");
    HeaderValue::from_str(set_cookie.split(';').next().expect("pair")).expect("value")
}

fn bench_layer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("bench:{}:", uuid::Uuid::new_v4().simple());
    let redis: Arc<dyn Store> = runtime.block_on(async {
        Arc::new(
            RedisStore::connect(&redis_url)
                .await
                .expect("Redis at REDIS_URL")
                .with_prefix(prefix.clone()),
        )
    });
    let memory: Arc<dyn Store> = Arc::new(MemoryStore::new());

    let bare = routes();
    let on_memory = layered(memory.clone(), config());
    let stateless = layered(
        memory.clone(),
        config().session_cache_ttl(Duration::from_secs(3600)),
    );
    let on_redis = layered(redis.clone(), config());
    let lazy = layered(memory.clone(), config().lazy_persistence(true));
    let (memory_cookie, stateless_cookie, redis_cookie) = runtime.block_on(async {
        (
            first_cookie(&on_memory).await,
            first_cookie(&stateless).await,
            first_cookie(&on_redis).await,
        )
    });

    let mut group = c.benchmark_group("layer");
    let cases: [(&str, &Router, Option<&HeaderValue>); 7] = [
        ("bare_axum", &bare, None),
        ("returning_memory", &on_memory, Some(&memory_cookie)),
        ("returning_stateless", &stateless, Some(&stateless_cookie)),
        ("returning_redis", &on_redis, Some(&redis_cookie)),
        ("new_memory", &on_memory, None),
        ("new_redis", &on_redis, None),
        ("new_lazy", &lazy, None),
    ];
    for (name, app, cookie) in cases {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let response = app.clone().oneshot(request(cookie)).await;
                black_box(response.expect("response"))
            })
        });
    }
    group.finish();
    runtime.block_on(redis_cleanup::delete_prefix(&redis_url, &prefix));
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = bench_layer
}
criterion_main!(benches);
