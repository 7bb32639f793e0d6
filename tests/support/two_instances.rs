//! What the tests with two app instances on one store ask of a visitor: register on one
//! instance, see who its token is on either, wait until a revoked token is refused.

use super::account_app::TestApp;
use super::http_client::TestClient;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A registered visitor on `app`: its browser and its `/me`.
pub async fn registered(app: &TestApp, email: &str) -> (TestClient, Value) {
    let client = app.client.fresh();
    let body = serde_json::json!({ "email": email, "password": "correct horse battery" });
    let response = client.post("/register", body).await;
    assert_eq!(response.status, 200, "{:?}", response.json);
    (client, response.json)
}

/// Who `browser` is on its server, from a copy of its cookies (a refused token mints a new
/// guest, which must not replace the cookie under test).
pub async fn who(browser: &TestClient) -> String {
    let me = browser.fork().get("/me").await.json;
    me["id"].as_str().unwrap_or_default().to_owned()
}

/// Polls until `browser` is no longer `user_id`; how long that took.
pub async fn until_refused(browser: &TestClient, user_id: &str) -> Duration {
    let started = Instant::now();
    while who(browser).await == user_id {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the revoked token still works after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    started.elapsed()
}
