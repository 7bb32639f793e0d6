//! The examples, run as the binaries `cargo run --example ...` starts (cargo builds them for
//! `cargo test`), on a free loopback port, driven over HTTP: guest checkout end to end, and
//! the bare hyper service's JSON, the README's quick start.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::client::Client;

/// A running example; killed on drop.
struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn example_binary(name: &str) -> PathBuf {
    // target/debug/deps/examples_smoke-... -> target/debug/examples/<name>
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.join("examples").join(name)
}

/// Starts an example on `ADDR=127.0.0.1:0` and reads the address it bound from the line it
/// prints (`... on http://127.0.0.1:PORT`). Letting the example bind port 0 leaves no window
/// in which another test could take the port between picking and binding it.
async fn start(name: &str) -> (Example, Client) {
    start_with(name, ("AUTH_DEV_MODE", "1")).await
}

/// [`start`] with the signing secret given by `secret` (`AUTH_SECRET` or `AUTH_DEV_MODE`).
async fn start_with(name: &str, secret: (&str, &str)) -> (Example, Client) {
    let binary = example_binary(name);
    assert!(binary.exists(), "{} not built", binary.display());
    let mut child = Command::new(binary)
        .env("ADDR", "127.0.0.1:0")
        .env_remove("AUTH_SECRET")
        .env_remove("AUTH_DEV_MODE")
        .env(secret.0, secret.1)
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let example = Example(child);
    let addr = tokio::task::spawn_blocking(move || bound_address(stdout));
    let addr = tokio::time::timeout(Duration::from_secs(20), addr)
        .await
        .unwrap_or_else(|_| panic!("{name} printed no address within 20 s"))
        .unwrap();
    (example, Client::new(addr))
}

/// The address in the first `on http://...` line; later output is drained so the example
/// never blocks on a full pipe.
fn bound_address(stdout: std::process::ChildStdout) -> SocketAddr {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some((_, addr)) = line.split_once("on http://") {
            let addr = addr.trim().parse().unwrap();
            std::thread::spawn(move || lines.for_each(drop));
            return addr;
        }
    }
    panic!("the example exited before printing its address");
}

#[tokio::test]
async fn guest_checkout_continue_as_guest_then_register_keeps_the_order() {
    let (_example, client) = start("guest_checkout").await;
    let landing = client.get("/checkout").await;
    assert!(landing.body.contains("Continue as guest"));
    assert!(
        landing.set_cookies().is_empty(),
        "on-demand: nobody minted yet"
    );

    let guest = client.post_form("/guest", "").await;
    assert_eq!(guest.status, 303);
    assert!(client.cookie("auth_token").is_some());
    let checkout = client.get("/checkout").await;
    assert!(checkout.body.contains("Checking out as guest"));

    let order = client.post_form("/order", "address=1+Quay+Street").await;
    assert_eq!(order.status, 200);
    assert!(order.body.contains("ships to 1 Quay Street"));
    let order_id = order
        .body
        .split("<code>")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .unwrap()
        .to_owned();

    // A cross-site post is refused.
    let mut headers = http::HeaderMap::new();
    headers.insert("sec-fetch-site", "cross-site".parse().unwrap());
    headers.insert(
        http::header::CONTENT_TYPE,
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    let forged = client
        .send(http::Method::POST, "/order", headers, "address=x".into())
        .await;
    assert_eq!(forged.status, 403);

    // A refused registration is a page with a sentence and the form again, email kept.
    let weak = client
        .post_form("/register", "email=pat%40example.com&password=short")
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("<!doctype html>"), "a page, not JSON");
    assert!(weak.body.contains("at least 8 characters"), "{}", weak.body);
    assert!(
        weak.body.contains("value=\"pat@example.com\""),
        "the email is kept"
    );
    assert!(
        weak.body.contains("Checking out as guest"),
        "still the guest"
    );

    let registered = client
        .post_form(
            "/register",
            "email=pat%40example.com&password=correct+horse+battery",
        )
        .await;
    assert_eq!(registered.status, 303);
    let orders = client.get("/orders").await;
    assert!(orders.body.contains("Signed in as pat@example.com"));
    assert!(
        orders.body.contains(&order_id),
        "the guest's order followed"
    );

    // Signing out is a button in the header; then a new guest has no orders, and says so.
    assert!(orders.body.contains("action=/sign-out"));
    let signed_out = client.post_form("/sign-out", "").await;
    assert_eq!(signed_out.status, 303);
    let _ = client.post_form("/guest", "").await;
    let empty = client.get("/orders").await;
    assert!(empty.body.contains("No orders yet"), "{}", empty.body);

    // A second visitor takes the email: the page says so in words, as the guest it is.
    let other = client.fresh();
    let _ = other.post_form("/guest", "").await;
    let taken = other
        .post_form(
            "/register",
            "email=pat%40example.com&password=correct+horse+battery",
        )
        .await;
    assert_eq!(taken.status, 409);
    assert!(
        taken.body.contains("already has an account"),
        "{}",
        taken.body
    );
    let wrong = other
        .post_form(
            "/sign-in",
            "email=pat%40example.com&password=wrong+password",
        )
        .await;
    assert!(wrong.body.contains("do not match"), "{}", wrong.body);
    assert!(
        wrong.body.contains("Checking out as guest"),
        "the header says who the visitor is: {}",
        wrong.body
    );
}

#[tokio::test]
async fn hyper_service_prints_the_resolved_auth_as_json() {
    let (_example, client) = start("hyper_service").await;
    let first = client.get("/").await;
    assert!(first.set_cookie("auth_token").is_some());
    let first = first.json();
    assert_eq!(first["is_anonymous"], true);
    assert_eq!(first["minted_now"], true);
    let again = client.get("/").await.json();
    assert_eq!(again["user"]["id"], first["user"]["id"]);
    assert_eq!(again["minted_now"], false);
}

/// Review point 14: with neither `AUTH_SECRET` nor `AUTH_DEV_MODE=1` an example refuses to
/// start (a public secret would let anyone forge its tokens), and says what to set.
#[test]
fn examples_refuse_to_start_without_a_secret() {
    for name in [
        "try_before_you_buy",
        "guest_checkout",
        "hyper_service",
        "quick_start",
    ] {
        let output = Command::new(example_binary(name))
            .env("ADDR", "127.0.0.1:0")
            .env_remove("AUTH_SECRET")
            .env_remove("AUTH_DEV_MODE")
            .env_remove("REDIS_URL")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{name} started without a secret");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("AUTH_SECRET is not set") && stderr.contains("32 bytes"),
            "{name}: {stderr}"
        );
    }
}

/// The README's quick start as a program: public pages answer everyone (crawlers, link
/// previews, HEAD and clients without a user agent get no guest, and no 401), a browser gets
/// a guest, a second visitor cannot claim the first one's cart, guests see no orders.
#[tokio::test]
async fn the_quick_start_serves_everyone_and_guards_what_is_owned() {
    let secret = (
        "AUTH_SECRET",
        "a secret of at least thirty-two bytes, for the test",
    );
    let (_example, client) = start_with("quick_start", secret).await;
    let agent = |value: &'static str| {
        let mut headers = http::HeaderMap::new();
        headers.insert("user-agent", http::HeaderValue::from_static(value));
        headers
    };
    // A crawler, a link preview, a client without a user agent (an empty one counts as none).
    for value in ["Googlebot/2.1", "Slackbot-LinkExpanding 1.0", ""] {
        let page = client.fresh().get_with("/", agent(value)).await;
        assert_eq!(
            (page.status.as_u16(), page.body.as_str()),
            (200, "welcome"),
            "{value}"
        );
        assert!(page.set_cookies().is_empty(), "{value}");
    }
    let head = client
        .fresh()
        .send(
            http::Method::HEAD,
            "/",
            http::HeaderMap::new(),
            Default::default(),
        )
        .await;
    assert_eq!(head.status, 200);
    assert!(head.set_cookies().is_empty());

    let guest = client.get("/").await;
    assert!(
        guest.body.starts_with("browsing as guest "),
        "{}",
        guest.body
    );
    assert_eq!(client.post("/cart", "").await.body, "added");
    let other = client.fresh().post("/cart", "").await;
    assert_eq!(other.status, 403);
    assert_eq!(other.json()["code"], "NOT_OWNER");
    assert_eq!(client.get("/orders").await.status, 403);
}

/// A misconfigured quick start says what to fix: a short key names its length and the length
/// needed (a missing one is in `examples_refuse_to_start_without_a_secret`).
#[test]
fn the_quick_start_explains_a_short_key() {
    let output = Command::new(example_binary("quick_start"))
        .env("ADDR", "127.0.0.1:0")
        .env("AUTH_SECRET", "too short")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is 9 bytes long") && stderr.contains("at least 32 bytes"),
        "{stderr}"
    );
}

/// The axum-login recipe: a guest's cart follows it through axum-login's `login` and
/// `sign_in_as`, into the app's user 1; a second browser's cart joins it.
#[tokio::test]
async fn app_login_keeps_the_guests_cart_through_axum_login() {
    let (_example, first) = start("app_login").await;
    let items = |body: &str| body.matches("<li><code>cart-item:").count();
    for _ in 0..2 {
        assert_eq!(first.post_form("/cart", "").await.status, 303);
    }
    let guest = first.get("/").await;
    assert!(guest.body.contains("Browsing as guest"), "{}", guest.body);
    assert_eq!(items(&guest.body), 2);
    let wrong = first
        .post_form("/login", "email=ann%40example.com&password=wrong")
        .await;
    assert!(wrong.body.contains("Wrong email or password"));
    let login = "email=ann%40example.com&password=correct+horse+battery";
    assert_eq!(first.post_form("/login", login).await.status, 303);
    let signed_in = first.get("/").await;
    assert!(
        signed_in
            .body
            .contains("Signed in as ann@example.com (user 1)"),
        "{}",
        signed_in.body
    );
    assert_eq!(items(&signed_in.body), 2, "the guest's cart followed");

    let second = first.fresh();
    assert_eq!(second.post_form("/cart", "").await.status, 303);
    assert_eq!(second.post_form("/login", login).await.status, 303);
    assert_eq!(items(&second.get("/").await.body), 3, "the carts merged");
    assert_eq!(second.post_form("/logout", "").await.status, 303);
    let after = second.get("/").await;
    assert!(after.body.contains("Browsing as guest"), "{}", after.body);
}
