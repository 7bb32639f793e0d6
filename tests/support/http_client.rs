//! The account tests' view of [`Client`](super::client::Client): the same real-socket client
//! and cookie jar, with each response's body parsed as JSON up front.

use super::client::{self, Client};
use hyper::{header, HeaderMap, Method, StatusCode};

/// One browser: a base address and a cookie jar. `fork` copies the jar (a second tab that
/// replays the same cookies).
#[derive(Clone)]
pub struct TestClient {
    inner: Client,
}

/// A response: status, JSON body (`Null` when empty or not JSON) and raw `Set-Cookie` values.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub json: serde_json::Value,
    pub set_cookies: Vec<String>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

impl From<client::TestResponse> for TestResponse {
    fn from(response: client::TestResponse) -> Self {
        Self {
            status: response.status,
            json: serde_json::from_str(&response.body).unwrap_or(serde_json::Value::Null),
            set_cookies: response.set_cookies(),
            retry_after: response
                .headers
                .get(header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        }
    }
}

impl TestClient {
    pub fn new(addr: std::net::SocketAddr) -> Self {
        Self {
            inner: Client::new(addr),
        }
    }

    /// A new browser on the same server with a copy of this one's cookies.
    pub fn fork(&self) -> Self {
        Self {
            inner: self.inner.fork(),
        }
    }

    /// A copy of this browser's cookies talking to the server `other` talks to (the same
    /// visitor reaching another app instance behind a load balancer).
    pub fn fork_to(&self, other: &TestClient) -> Self {
        Self {
            inner: self.inner.fork_to(&other.inner),
        }
    }

    /// A new browser on the same server with no cookies.
    pub fn fresh(&self) -> Self {
        Self {
            inner: self.inner.fresh(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.inner.cookie(name)
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.inner.get(path).await.into()
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> TestResponse {
        self.inner.post(path, &body.to_string()).await.into()
    }

    /// A JSON `POST` with extra request headers (`Sec-Fetch-Site`, `Origin`...).
    pub async fn post_with(
        &self,
        path: &str,
        body: serde_json::Value,
        extra: &[(&'static str, &str)],
    ) -> TestResponse {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        for (name, value) in extra {
            headers.insert(*name, value.parse().unwrap());
        }
        self.inner
            .send(Method::POST, path, headers, body.to_string().into())
            .await
            .into()
    }

    /// A GET with `Authorization: Bearer <token>` (cookies are sent too).
    pub async fn get_bearer(&self, path: &str, token: &str) -> TestResponse {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        self.inner
            .send(Method::GET, path, headers, Default::default())
            .await
            .into()
    }
}
