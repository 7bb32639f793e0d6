//! Redis dies under load: an axum app with the layer on a `RedisStore` serves mixed traffic on
//! a real loopback socket from a few concurrent clients while its private `redis-server` is
//! killed (`SIGKILL`) and restarted a second later on the same port (or, in one test, frozen
//! with `SIGSTOP` for a second and thawed).
//!
//! The server keeps an append-only file synced on every write, so everything Redis
//! acknowledged before the kill is there after the restart: what the test then reads is what
//! the store really did, not an empty database (with `--save ""` every resource would simply
//! be gone, which proves nothing). A `SIGSTOP` freeze would keep the data too, but the process
//! and its connections would survive; the kill is the harsher fault (connections reset,
//! in-flight scripts either applied and logged or never applied).
//!
//! Checked for each store-failure mode: no panic, no 500 (fail open: the request goes on
//! without auth; fail closed: the layer answers 503), the service recovers once Redis is back,
//! and no resource of a guest-to-account link in flight is lost: every resource a guest had
//! claimed (200) is afterwards owned by the guest (the link failed, it can be retried) or by
//! the account, never by nobody; retrying the unfinished links moves all of them to the
//! account. Counts of responses by status and phase are printed (`--nocapture`).

#![cfg(feature = "redis")]

mod support;

use axum::routing::post;
use axum::Router;
use http::StatusCode;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::account_app::{register, sign_in};
use support::apps::{builder, routes};
use support::client::{serve_axum, Client, TestResponse};
use support::redis_server::RedisServer;
use tower_anonymous_auth::store::OwnershipStore;
use tower_anonymous_auth::store::{RedisStore, RedisStoreConfig};
use tower_anonymous_auth::{AnonymousAuthLayer, StoreFailureMode};

/// Concurrent clients that link guests to accounts, and that browse.
const LINKERS: usize = 2;
const BROWSERS: usize = 3;
/// Resources each linking guest claims before signing in.
const CLAIMS_PER_GUEST: usize = 3;
/// Upper bound on the iterations of one client (the clock stops them first).
const MAX_ITERATIONS: usize = 400;
const PASSWORD: &str = "correct horse battery staple";
/// No single request may take longer than this (Redis calls time out after 300 ms).
const REQUEST_LIMIT: Duration = Duration::from_secs(5);

const WARM_UP: Duration = Duration::from_millis(1_500);
const DOWN_FOR: Duration = Duration::from_secs(1);
const AFTER_RESTART: Duration = Duration::from_millis(2_000);

/// Before the kill; from the kill until the restart begins; from then on.
const PHASES: [&str; 3] = ["up", "down", "back"];

#[derive(Default)]
struct Tally {
    /// (phase, status) -> count.
    statuses: Mutex<BTreeMap<(usize, u16), usize>>,
    /// Slowest response of each phase, in ms.
    slowest: Mutex<[u128; 3]>,
    phase: AtomicUsize,
}

impl Tally {
    fn record(&self, status: StatusCode, took: Duration) {
        let phase = self.phase.load(Ordering::SeqCst);
        let slowest = &mut self.slowest.lock().unwrap()[phase];
        *slowest = (*slowest).max(took.as_millis());
        *self
            .statuses
            .lock()
            .unwrap()
            .entry((phase, status.as_u16()))
            .or_default() += 1;
    }

    fn count(&self, status: u16) -> usize {
        self.statuses
            .lock()
            .unwrap()
            .iter()
            .filter(|((_, s), _)| *s == status)
            .map(|(_, n)| n)
            .sum()
    }

    /// Responses other than 200 in `phase`.
    fn failures_in(&self, phase: usize) -> usize {
        self.statuses
            .lock()
            .unwrap()
            .iter()
            .filter(|((p, s), _)| *p == phase && *s != 200)
            .map(|(_, n)| n)
            .sum()
    }

    fn print(&self, mode: &str) {
        let statuses = self.statuses.lock().unwrap();
        let slowest = self.slowest.lock().unwrap();
        println!("responses by status, {mode}:");
        for (phase, name) in PHASES.iter().enumerate() {
            let line: Vec<String> = statuses
                .iter()
                .filter(|((p, _), _)| *p == phase)
                .map(|((_, status), n)| format!("{status}: {n}"))
                .collect();
            println!(
                "  {name:>4}: {} (slowest {} ms)",
                line.join(", "),
                slowest[phase]
            );
        }
    }
}

/// One guest-to-account sign-in, as the client saw it.
struct LinkAttempt {
    guest: String,
    guest_cookie: String,
    account: String,
    account_email: String,
    /// Claims answered 200.
    confirmed: Vec<String>,
    /// Claims sent but not answered 200 (they may or may not have happened).
    unconfirmed: Vec<String>,
}

struct Harness {
    client_addr: std::net::SocketAddr,
    cookie_name: String,
    tally: Tally,
    stop: AtomicBool,
    links: Mutex<Vec<LinkAttempt>>,
}

impl Harness {
    async fn send(&self, request: impl std::future::Future<Output = TestResponse>) -> TestResponse {
        let started = Instant::now();
        let response = tokio::time::timeout(REQUEST_LIMIT, request)
            .await
            .expect("a request hung while Redis was failing");
        self.tally.record(response.status, started.elapsed());
        response
    }
}

fn credentials(email: &str) -> String {
    serde_json::json!({ "email": email, "password": PASSWORD }).to_string()
}

/// Registers an account through the app (Redis is up); returns its id.
async fn register_account(addr: std::net::SocketAddr, email: &str) -> String {
    let client = Client::new(addr);
    assert_eq!(client.get("/me").await.status, StatusCode::OK);
    let response = client.post("/register", &credentials(email)).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.json()["id"].as_str().unwrap().to_owned()
}

/// A guest claims a few resources, then signs in to `account`.
async fn linker(harness: Arc<Harness>, task: usize, account: String, email: String) {
    for iteration in 0..MAX_ITERATIONS {
        if harness.stop.load(Ordering::SeqCst) {
            return;
        }
        let client = Client::new(harness.client_addr);
        let me = harness.send(client.get("/me")).await;
        if me.status != StatusCode::OK {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let guest = me.json()["id"].as_str().unwrap().to_owned();
        let Some(guest_cookie) = client.cookie(&harness.cookie_name) else {
            panic!("a guest minted without a cookie");
        };
        let (mut confirmed, mut unconfirmed) = (Vec::new(), Vec::new());
        for k in 0..CLAIMS_PER_GUEST {
            let resource = format!("cart:{task}:{iteration}:{k}");
            let path = format!("/claim/{resource}");
            let response = harness.send(client.post(&path, "")).await;
            if response.status == StatusCode::OK && response.json()["owned"] == true {
                confirmed.push(resource);
            } else {
                unconfirmed.push(resource);
            }
        }
        harness
            .send(client.post("/sign-in", &credentials(&email)))
            .await;
        harness.links.lock().unwrap().push(LinkAttempt {
            guest,
            guest_cookie,
            account: account.clone(),
            account_email: email.clone(),
            confirmed,
            unconfirmed,
        });
    }
}

/// New visitors, returning visitors, claims, optional auth and sign-outs, in turn.
async fn browser(harness: Arc<Harness>, task: usize) {
    let mut client = Client::new(harness.client_addr);
    for iteration in 0..MAX_ITERATIONS {
        if harness.stop.load(Ordering::SeqCst) {
            return;
        }
        match iteration % 5 {
            0 => {
                client = Client::new(harness.client_addr);
                harness.send(client.get("/me")).await;
            }
            1 => {
                harness.send(client.get("/me")).await;
            }
            2 => {
                let path = format!("/claim/item:{task}:{iteration}");
                harness.send(client.post(&path, "")).await;
            }
            3 => {
                harness.send(client.get("/optional")).await;
            }
            _ => {
                harness.send(client.post("/sign-out", "")).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn owner(store: &RedisStore, resource: &str) -> Option<String> {
    store.owner_of(resource).await.unwrap()
}

/// What happens to Redis mid-run.
#[derive(Clone, Copy)]
enum Fault {
    /// `SIGKILL`, then a restart on the same port (the append-only file brings the data back).
    Kill,
    /// `SIGSTOP`, then `SIGCONT`: the process and its connections survive, and the commands of
    /// requests that already timed out are executed late, after the client gave up.
    Freeze,
}

async fn run(mode: StoreFailureMode, fault: Fault, name: &str) -> Arc<Harness> {
    let started = Instant::now();
    let mut server = tokio::task::spawn_blocking(RedisServer::start_persistent)
        .await
        .unwrap();
    let store = RedisStore::connect_with_config(
        &server.url(),
        RedisStoreConfig::default()
            .connection_timeout(Duration::from_millis(300))
            .response_timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap()
    .with_prefix(format!("faults-{name}:"));
    let config = builder()
        .secure(false)
        .store_failure(mode)
        // Hundreds of guests, accounts and sign-ins from one loopback address: the limits
        // are not what this test measures.
        .mint_rate_limit(None)
        .sign_in_limit_per_ip(None)
        .sign_in_limit_per_email(None)
        .build()
        .unwrap();
    let cookie_name = config.cookie_name().to_owned();
    let app: Router = routes()
        .route("/register", post(register))
        .route("/sign-in", post(sign_in))
        .layer(AnonymousAuthLayer::new(store.clone(), config));
    let addr = serve_axum(app).await;

    let mut accounts = Vec::new();
    for task in 0..LINKERS {
        let email = format!("account-{task}@example.com");
        accounts.push((register_account(addr, &email).await, email));
    }
    let harness = Arc::new(Harness {
        client_addr: addr,
        cookie_name,
        tally: Tally::default(),
        stop: AtomicBool::new(false),
        links: Mutex::default(),
    });
    let mut tasks = Vec::new();
    for (task, (account, email)) in accounts.into_iter().enumerate() {
        tasks.push(tokio::spawn(linker(harness.clone(), task, account, email)));
    }
    for task in 0..BROWSERS {
        tasks.push(tokio::spawn(browser(harness.clone(), task)));
    }

    tokio::time::sleep(WARM_UP).await;
    harness.tally.phase.store(1, Ordering::SeqCst);
    match fault {
        Fault::Kill => server.stop(),
        Fault::Freeze => server.pause(),
    }
    tokio::time::sleep(DOWN_FOR).await;
    harness.tally.phase.store(2, Ordering::SeqCst);
    let mut server = tokio::task::spawn_blocking(move || {
        match fault {
            Fault::Kill => server.restart(),
            Fault::Freeze => server.resume(),
        }
        server
    })
    .await
    .unwrap();
    tokio::time::sleep(AFTER_RESTART).await;
    harness.stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.expect("a client task panicked");
    }

    // Recovery: a new visitor is served again, and then every request succeeds.
    let recovery = Instant::now();
    loop {
        let response = Client::new(addr).get("/me").await;
        if response.status == StatusCode::OK {
            break;
        }
        assert!(
            recovery.elapsed() < Duration::from_secs(10),
            "{name}: no recovery after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = Client::new(addr);
    for i in 0..10 {
        assert_eq!(client.get("/me").await.status, StatusCode::OK);
        let claim = client.post(&format!("/claim/after:{i}"), "").await;
        assert_eq!(claim.status, StatusCode::OK, "{name}: {}", claim.body);
    }

    check_links(&harness, &store, addr, name).await;
    println!("{name}: whole run {:?}", started.elapsed());
    server.stop();
    harness
}

/// No resource of a link is lost; retrying the unfinished links completes them all.
async fn check_links(
    harness: &Harness,
    store: &RedisStore,
    addr: std::net::SocketAddr,
    name: &str,
) {
    let links = std::mem::take(&mut *harness.links.lock().unwrap());
    assert!(links.len() >= 4, "{name}: only {} links ran", links.len());
    let (mut at_account, mut at_guest, mut unconfirmed_nobody) = (0, 0, 0);
    let mut to_retry = Vec::new();
    for link in &links {
        let (mut moved, mut unfinished) = (false, false);
        for resource in &link.confirmed {
            match owner(store, resource).await {
                Some(o) if o == link.account => {
                    at_account += 1;
                    moved = true;
                }
                Some(o) if o == link.guest => {
                    at_guest += 1;
                    unfinished = true;
                }
                other => panic!(
                    "{name}: {resource} of guest {} (linking to {}) is owned by {other:?}",
                    link.guest, link.account
                ),
            }
        }
        for resource in &link.unconfirmed {
            match owner(store, resource).await {
                None => unconfirmed_nobody += 1,
                Some(o) if o == link.account || o == link.guest => {}
                Some(o) => panic!("{name}: {resource} owned by a stranger {o}"),
            }
        }
        // On a single node a guest's few resources move in one transfer script: all or none.
        assert!(
            !(moved && unfinished),
            "{name}: the link of guest {} moved only part of its resources",
            link.guest
        );
        if unfinished {
            to_retry.push(link);
        }
    }
    println!(
        "{name}: {} links, claimed resources at the account: {at_account}, still at the guest: \
         {at_guest} ({} links to retry), unacknowledged claims that never happened: \
         {unconfirmed_nobody}",
        links.len(),
        to_retry.len()
    );
    for link in &to_retry {
        let client = Client::new(addr);
        client.set_cookie(&harness.cookie_name, &link.guest_cookie);
        let response = client
            .post("/sign-in", &credentials(&link.account_email))
            .await;
        assert_eq!(response.status, StatusCode::OK, "{name}: {}", response.body);
        assert_eq!(response.json()["id"], link.account.as_str());
    }
    for link in &links {
        for resource in &link.confirmed {
            assert_eq!(
                owner(store, resource).await.as_deref(),
                Some(link.account.as_str()),
                "{name}: {resource} after the retry"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_survives_a_redis_kill() {
    let harness = run(StoreFailureMode::FailOpen, Fault::Kill, "fail-open").await;
    harness.tally.print("fail open");
    assert!(harness.tally.failures_in(1) > 0, "the kill went unnoticed");
    assert_eq!(harness.tally.count(500), 0, "fail open answered 500");
    assert!(harness.tally.count(200) > 0);
    let statuses = harness.tally.statuses.lock().unwrap();
    for ((_, status), _) in statuses.iter() {
        assert!(
            *status < 500 || *status == 503,
            "fail open answered {status}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_answers_503_and_recovers() {
    let harness = run(StoreFailureMode::FailClosed, Fault::Kill, "fail-closed").await;
    harness.tally.print("fail closed");
    assert!(
        harness.tally.count(503) > 0,
        "Redis was down, yet no request got 503"
    );
    let statuses = harness.tally.statuses.lock().unwrap();
    for ((_, status), _) in statuses.iter() {
        assert!(
            *status < 500 || *status == 503,
            "fail closed answered {status}"
        );
    }
}

/// A frozen Redis (`SIGSTOP` for a second): calls time out, and the commands of requests that
/// gave up run late once it thaws. Links whose transfer ran after their request failed still
/// leave every resource with the guest or the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_survives_a_redis_freeze() {
    let harness = run(StoreFailureMode::FailClosed, Fault::Freeze, "freeze").await;
    harness.tally.print("fail closed, Redis frozen");
    assert!(
        harness.tally.count(503) > 0,
        "no request noticed the freeze"
    );
    let statuses = harness.tally.statuses.lock().unwrap();
    for ((_, status), _) in statuses.iter() {
        assert!(*status < 500 || *status == 503, "answered {status}");
    }
}
