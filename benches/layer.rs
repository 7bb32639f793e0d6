//! In-process cost of the layer (`tower::ServiceExt::oneshot` on an axum router):
//! a bare router as the baseline, the layer with a returning visitor's cookie, and the layer
//! minting a guest on MemoryStore. Compare the three in one run: `cargo bench --bench layer`.

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{header, HeaderValue, Request};
use std::hint::black_box;
use tower::ServiceExt;
use tower_anonymous_auth::{AnonymousAuthConfig, AnonymousAuthLayer, MemoryStore};

fn routes() -> Router {
    Router::new().route("/", get(|| async { "hello" }))
}

fn layered() -> Router {
    let config = AnonymousAuthConfig::builder()
        .key("bench", [3u8; 32])
        .build()
        .expect("config");
    routes().layer(AnonymousAuthLayer::new(MemoryStore::new(), config))
}

fn bench_layer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bare = routes();
    let app = layered();
    let cookie = runtime.block_on(async {
        let response = app
            .clone()
            .oneshot(Request::get("/").body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let set_cookie = response.headers()[header::SET_COOKIE]
            .to_str()
            .expect("ascii");
        HeaderValue::from_str(set_cookie.split(';').next().expect("pair")).expect("value")
    });

    let mut group = c.benchmark_group("layer");
    group.bench_function("bare_axum", |b| {
        b.to_async(&runtime).iter(|| async {
            let request = Request::get("/").body(Body::empty()).expect("request");
            black_box(bare.clone().oneshot(request).await.expect("response"))
        })
    });
    group.bench_function("returning_visitor_memory", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut request = Request::get("/").body(Body::empty()).expect("request");
            request.headers_mut().insert(header::COOKIE, cookie.clone());
            black_box(app.clone().oneshot(request).await.expect("response"))
        })
    });
    group.bench_function("new_visitor_memory", |b| {
        b.to_async(&runtime).iter(|| async {
            let request = Request::get("/").body(Body::empty()).expect("request");
            black_box(app.clone().oneshot(request).await.expect("response"))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_layer);
criterion_main!(benches);
