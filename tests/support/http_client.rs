//! A small HTTP/1 client for the integration tests: hyper-util's legacy client over a real TCP
//! connection, with a manual cookie jar (name -> value; attributes ignored, `Max-Age=0` or an
//! empty value removes the cookie).

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{COOKIE, SET_COOKIE, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A browser's User-Agent: the default skip predicate does not mint for clients without one.
const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// One browser: a base address and a cookie jar. `fork` copies the jar (a second tab that
/// replays the same cookies).
#[derive(Clone)]
pub struct TestClient {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    jar: Arc<Mutex<BTreeMap<String, String>>>,
}

/// A response: status, JSON body (`Null` when empty or not JSON) and raw `Set-Cookie` values.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub json: serde_json::Value,
    pub set_cookies: Vec<String>,
}

impl TestClient {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            base: format!("http://{addr}"),
            client: Client::builder(TokioExecutor::new()).build_http(),
            jar: Arc::default(),
        }
    }

    /// A new browser on the same server with a copy of this one's cookies.
    pub fn fork(&self) -> Self {
        let jar = self.jar.lock().unwrap().clone();
        Self {
            jar: Arc::new(Mutex::new(jar)),
            ..self.clone()
        }
    }

    /// A copy of this browser's cookies talking to the server `other` talks to (the same
    /// visitor reaching another app instance behind a load balancer).
    pub fn fork_to(&self, other: &TestClient) -> Self {
        Self {
            base: other.base.clone(),
            ..self.fork()
        }
    }

    /// A new browser on the same server with no cookies.
    pub fn fresh(&self) -> Self {
        Self {
            jar: Arc::default(),
            ..self.clone()
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> TestResponse {
        self.send(Method::POST, path, Some(body), None).await
    }

    /// A GET with `Authorization: Bearer <token>` (cookies are sent too).
    pub async fn get_bearer(&self, path: &str, token: &str) -> TestResponse {
        self.send(Method::GET, path, None, Some(token)).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
        bearer: Option<&str>,
    ) -> TestResponse {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(USER_AGENT, BROWSER);
        let cookie_header = {
            let jar = self.jar.lock().unwrap();
            jar.iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if !cookie_header.is_empty() {
            request = request.header(COOKIE, cookie_header);
        }
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let bytes = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(&json).unwrap())
            }
            None => Bytes::new(),
        };
        let response = self
            .client
            .request(request.body(Full::new(bytes)).unwrap())
            .await
            .expect("request failed");
        let status = response.status();
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok().map(str::to_owned))
            .collect();
        self.store_cookies(&set_cookies);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        TestResponse {
            status,
            json,
            set_cookies,
        }
    }

    fn store_cookies(&self, set_cookies: &[String]) {
        let mut jar = self.jar.lock().unwrap();
        for line in set_cookies {
            let mut parts = line.split(';').map(str::trim);
            let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
                continue;
            };
            let expired = parts.any(|attr| attr.eq_ignore_ascii_case("max-age=0"));
            if expired || value.is_empty() {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }
}
