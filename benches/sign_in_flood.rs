//! A real user's password sign-in latency while another address floods the sign-in route.
//!
//! An axum app with `AnonymousAuthLayer` (default configuration, `MemoryStore`) is served on
//! a real socket with the peer address known. 64 tasks, all connecting from `127.0.0.2`,
//! send wrong-password sign-ins for random emails without pause (credential stuffing from one
//! host); meanwhile real users, connecting from `127.0.0.1`, sign in one after another with
//! the right password and each sign-in is timed. The same users are also timed on an idle
//! server, for reference.
//!
//! Run: `cargo bench --bench sign_in_flood` (figures and method: benches/README.md). It only
//! uses the public API, so the same file measures an older commit too.

use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tower_anonymous_auth::{
    AnonymousAuthConfig, AnonymousAuthLayer, AuthError, AuthHandle, MemoryStore, Registration,
};

/// Parallel sign-ins of the flood.
const FLOOD: usize = 64;
/// Real users, each timed signing in once per phase.
const USERS: usize = 20;
const PASSWORD: &str = "correct horse battery";

async fn register(handle: AuthHandle, Json(body): Json<Value>) -> Result<Json<Value>, AuthError> {
    let registration = Registration::new(
        body["email"].as_str().unwrap_or_default(),
        body["password"].as_str().unwrap_or_default(),
    );
    let auth = handle.register_with_password(registration).await?;
    Ok(Json(json!({ "id": auth.user().id })))
}

async fn sign_in(handle: AuthHandle, Json(body): Json<Value>) -> Result<Json<Value>, AuthError> {
    let auth = handle
        .sign_in_with_password(
            body["email"].as_str().unwrap_or_default(),
            body["password"].as_str().unwrap_or_default(),
        )
        .await?;
    Ok(Json(json!({ "id": auth.user().id })))
}

/// A runtime with one worker thread (argon2 still runs on its blocking pool).
fn one_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Serves the app on its own runtime (one worker, as an app pinned to one core) and returns
/// its address.
fn serve() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        one_worker_runtime().block_on(async move {
            let config = AnonymousAuthConfig::builder()
                .key("bench", b"a benchmark secret of at least 32 bytes")
                .secure(false)
                .build()
                .unwrap();
            let app = Router::new()
                .route("/register", post(register))
                .route("/sign-in", post(sign_in))
                .layer(AnonymousAuthLayer::new(MemoryStore::new(), config));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
    });
    rx.recv().unwrap()
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A client whose connections come from `local` (any 127.0.0.0/8 address works on loopback).
fn client_from(local: &str) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_local_address(Some(local.parse::<IpAddr>().unwrap()));
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(FLOOD)
        .build(connector)
}

async fn post_json(client: &HttpClient, addr: SocketAddr, path: &str, body: Value) -> StatusCode {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .header("user-agent", "sign-in-flood-bench")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = client.request(request).await.expect("the server answers");
    let status = response.status();
    let _ = response.into_body().collect().await;
    status
}

/// Signs each real user in once, in turn; returns the latencies and any failures.
async fn time_users(client: &HttpClient, addr: SocketAddr) -> (Vec<Duration>, Vec<StatusCode>) {
    let (mut latencies, mut failures) = (Vec::new(), Vec::new());
    for user in 0..USERS {
        let body = json!({ "email": format!("user{user}@example.com"), "password": PASSWORD });
        let start = Instant::now();
        let status = post_json(client, addr, "/sign-in", body).await;
        latencies.push(start.elapsed());
        if status != StatusCode::OK {
            failures.push(status);
        }
    }
    (latencies, failures)
}

fn report(phase: &str, mut latencies: Vec<Duration>, failures: &[StatusCode]) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "{phase:<12} real user sign-in: median {:>7.1} ms  p90 {:>7.1} ms  max {:>7.1} ms  ({} of {} failed: {failures:?})",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        failures.len(),
        latencies.len(),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and only checks
    // that the file builds.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let addr = serve();
    one_worker_runtime().block_on(async move {
        // Each user registers from an address of its own, so that setting up spends no
        // real user's per-address budget.
        for user in 0..USERS {
            let client = client_from(&format!("127.0.1.{}", user + 1));
            let body = json!({ "email": format!("user{user}@example.com"), "password": PASSWORD });
            assert_eq!(
                post_json(&client, addr, "/register", body).await,
                StatusCode::OK
            );
        }
        // Each phase's real users come from an address of their own, so that neither phase
        // spends the other's per-address budget.
        let (idle, failures) = time_users(&client_from("127.0.0.1"), addr).await;
        report("idle", idle, &failures);

        let stop = Arc::new(AtomicBool::new(false));
        let answers: Arc<Mutex<BTreeMap<u16, usize>>> = Arc::default();
        let flood = client_from("127.0.0.2");
        let mut tasks = Vec::new();
        for task in 0..FLOOD {
            let (stop, answers, flood) = (stop.clone(), answers.clone(), flood.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let body = json!({ "email": format!("victim{task}.{n}@example.com"), "password": "a wrong guess" });
                    let status = post_json(&flood, addr, "/sign-in", body).await;
                    *answers.lock().unwrap().entry(status.as_u16()).or_default() += 1;
                }
            }));
        }
        // Let the flood fill every queue it can before the real users arrive.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let started = Instant::now();
        let (flooded, failures) = time_users(&client_from("127.0.0.3"), addr).await;
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.unwrap();
        }
        report("64-way flood", flooded, &failures);
        println!(
            "flood answers by status over {:.1} s: {:?}",
            elapsed.as_secs_f64() + 2.0,
            answers.lock().unwrap()
        );
    });
}
