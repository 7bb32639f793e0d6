//! A real-socket test harness: serve a router on 127.0.0.1:0 and talk to it with a hyper
//! client that keeps cookies like a browser would (Set-Cookie in, Cookie out).

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client as HyperClient};
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The User-Agent the client sends unless told otherwise: a browser's (the default skip
/// predicate does not mint for clients without one).
pub const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// Serves an axum router on a fresh loopback port; the server lives as long as the runtime.
pub async fn serve_axum(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// What a request got back.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl TestResponse {
    /// Every Set-Cookie header value.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The Set-Cookie header for cookie `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// A browser-like client bound to one server: a cookie jar, no redirects. Clones share the
/// jar; `fork` copies it.
#[derive(Clone)]
pub struct Client {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    base: String,
    addr: SocketAddr,
    jar: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{addr}"),
            addr,
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
    pub fn fork_to(&self, other: &Client) -> Self {
        Self {
            base: other.base.clone(),
            addr: other.addr,
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

    /// The server this client talks to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value of a cookie in the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    /// Puts a cookie in the jar (e.g. to replay an old one).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    pub fn clear_cookies(&self) {
        self.jar.lock().unwrap().clear();
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Method::GET, path, HeaderMap::new(), Bytes::new())
            .await
    }

    pub async fn post(&self, path: &str, body: &str) -> TestResponse {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.send(Method::POST, path, headers, Bytes::from(body.to_owned()))
            .await
    }

    /// A GET with extra headers (a `User-Agent` or `Cookie` among them replaces the client's own).
    pub async fn get_with(&self, path: &str, headers: HeaderMap) -> TestResponse {
        self.send(Method::GET, path, headers, Bytes::new()).await
    }

    /// Posts an `application/x-www-form-urlencoded` body, as an HTML form does.
    pub async fn post_form(&self, path: &str, body: &str) -> TestResponse {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self.send(Method::POST, path, headers, Bytes::from(body.to_owned()))
            .await
    }

    /// Sends a request with the jar's cookies plus `headers` (a `Cookie` header in `headers`
    /// replaces the jar's).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> TestResponse {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .body(Full::new(body))
            .unwrap();
        let cookie_line = {
            let jar = self.jar.lock().unwrap();
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if !cookie_line.is_empty() && !headers.contains_key(header::COOKIE) {
            request
                .headers_mut()
                .insert(header::COOKIE, HeaderValue::from_str(&cookie_line).unwrap());
        }
        if !headers.contains_key(header::USER_AGENT) {
            request
                .headers_mut()
                .insert(header::USER_AGENT, HeaderValue::from_static(BROWSER));
        }
        for (name, value) in &headers {
            request.headers_mut().append(name, value.clone());
        }
        let response = self.http.request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let response = TestResponse {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        self.store_cookies(&response);
        response
    }

    fn store_cookies(&self, response: &TestResponse) {
        let mut jar = self.jar.lock().unwrap();
        for line in response.set_cookies() {
            let first = line.split(';').next().unwrap_or_default();
            let Some((name, value)) = first.split_once('=') else {
                continue;
            };
            let removed = value.is_empty()
                || line
                    .split(';')
                    .any(|attr| attr.trim().eq_ignore_ascii_case("max-age=0"));
            if removed {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }
}
