//! What the account suites ask of a response and of a visitor, in one place: the answer was
//! 200 (and its body), an error with its status and code, a guest that owns something, what
//! a visitor owns.

use super::account_app::TestApp;
use super::http_client::{TestClient, TestResponse};
use hyper::StatusCode;
use serde_json::Value;

/// The body of a 200 answer.
pub fn ok(response: &TestResponse) -> &Value {
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.json);
    &response.json
}

/// The `id` of a `/me`-shaped body.
pub fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

/// An error answer with this status and code, and a readable message.
pub fn assert_error(response: &TestResponse, status: StatusCode, code: &str) {
    assert_eq!(response.status, status, "{:?}", response.json);
    assert_eq!(response.json["code"], code, "{:?}", response.json);
    assert!(response.json["message"].is_string());
}

/// A fresh browser as a guest that owns `resource`; returns it and the guest's id.
pub async fn guest_with(app: &TestApp, resource: &str) -> (TestClient, String) {
    let client = app.client.fresh();
    let claimed = client
        .post(&format!("/claim/{resource}"), Value::Null)
        .await;
    assert_eq!(ok(&claimed)["owned"], true);
    let me = client.get("/me").await.json;
    assert_eq!(me["is_anonymous"], true);
    (client, id(&me))
}

/// What the visitor owns, sorted.
pub async fn resources(client: &TestClient) -> Value {
    let mut owned = client.get("/resources").await.json;
    if let Some(list) = owned.as_array_mut() {
        list.sort_by_key(|value| value.as_str().unwrap_or_default().to_owned());
    }
    owned
}
