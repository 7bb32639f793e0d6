//! The layer's own answers: 429 when a request over a rate limit needs an identity the layer
//! could not give it, 503 when the store fails and the layer fails closed. A program gets the
//! documented JSON `{"code", "message"}`, a browser (`Accept: text/html`) a small page a
//! person can read, and an app that wants its own look plugs in a responder
//! ([`error_response`](crate::AnonymousAuthConfigBuilder::error_response)).

use crate::error::AuthError;
use bytes::Bytes;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use std::sync::Arc;

/// An app's responder: the body and headers of the layer's answer to a request.
type Respond = dyn Fn(&AuthError, &HeaderMap) -> Response<Bytes> + Send + Sync;

/// How the layer answers for itself: the built-in JSON and HTML, or the app's responder.
#[derive(Clone, Default)]
pub(crate) struct ErrorPages {
    custom: Option<Arc<Respond>>,
}

impl std::fmt::Debug for ErrorPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.custom.is_some() {
            "ErrorPages(custom)"
        } else {
            "ErrorPages(built-in)"
        })
    }
}

impl ErrorPages {
    /// Answers with `respond`'s body and headers.
    pub(crate) fn custom<F, B>(respond: F) -> Self
    where
        F: Fn(&AuthError, &HeaderMap) -> Response<B> + Send + Sync + 'static,
        B: Into<Bytes>,
    {
        Self {
            custom: Some(Arc::new(move |error, request| {
                respond(error, request).map(Into::into)
            })),
        }
    }

    /// The layer's answer for `error` to a request with headers `request`. Whatever made the
    /// body, the layer sets the status (a store failure of any kind is 503: "try again"),
    /// `Retry-After` and `Cache-Control: no-store` unless the responder set them, the error's
    /// code in `x-auth-error`, and the typed error in the response's extensions.
    pub(crate) fn respond(&self, error: AuthError, request: &HeaderMap) -> Response<Bytes> {
        let mut response = match &self.custom {
            Some(respond) => respond(&error, request),
            None if wants_html(request) => html(&error),
            None => json(&error),
        };
        *response.status_mut() = layer_status(&error);
        let headers = response.headers_mut();
        let retry_after = error.retry_after_secs().unwrap_or(1);
        headers
            .entry(RETRY_AFTER)
            .or_insert(HeaderValue::from(retry_after));
        headers
            .entry(CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        headers.insert("x-auth-error", HeaderValue::from_static(error.code()));
        response.extensions_mut().insert(error);
        response
    }
}

/// The status of the layer's answer: the error's, except that any store failure is 503.
fn layer_status(error: &AuthError) -> StatusCode {
    match error.status() {
        status if status.is_server_error() => StatusCode::SERVICE_UNAVAILABLE,
        status => status,
    }
}

/// Whether the client asks for a page: browsers navigating send `Accept: text/html,...`;
/// `fetch` and API clients send `*/*` or a JSON type.
fn wants_html(request: &HeaderMap) -> bool {
    request.get_all(ACCEPT).iter().any(|accept| {
        accept
            .to_str()
            .is_ok_and(|accept| accept.to_ascii_lowercase().contains("text/html"))
    })
}

/// The documented JSON body `{"code", "message"}` of `error`, with its content type; the
/// status is the caller's.
pub(crate) fn json(error: &AuthError) -> Response<Bytes> {
    let body = serde_json::to_vec(&error.to_json()).unwrap_or_default();
    let mut response = Response::new(Bytes::from(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn html(error: &AuthError) -> Response<Bytes> {
    let title = match layer_status(error) {
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        _ => "This page is unavailable for a moment",
    };
    let seconds = error.retry_after_secs().unwrap_or(1);
    let message = escape(&error.public_message());
    let page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n<p>{message}</p>\n\
         <p>Please wait {seconds} s, then reload this page.</p>\n</body>\n</html>\n"
    );
    let mut response = Response::new(Bytes::from(page));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    fn accept(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn programs_get_the_documented_json() {
        let error = AuthError::RateLimited {
            retry_after_secs: 7,
        };
        let response = ErrorPages::default().respond(error, &accept("*/*"));
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[RETRY_AFTER], "7");
        assert_eq!(response.headers()["x-auth-error"], "RATE_LIMITED");
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["code"], "RATE_LIMITED");
        assert_eq!(body["retry_after"], 7);
        assert!(response.extensions().get::<AuthError>().is_some());
    }

    #[test]
    fn browsers_get_a_page_that_says_what_to_do_and_leaks_nothing() {
        let error = AuthError::Store(StoreError::Unavailable("10.0.0.3:6379 <refused>".into()));
        let response = ErrorPages::default().respond(error, &accept("text/html,*/*;q=0.8"));
        assert_eq!(response.status(), 503);
        assert!(response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let page = std::str::from_utf8(response.body()).unwrap();
        assert!(
            page.contains("<h1>This page is unavailable for a moment</h1>"),
            "{page}"
        );
        assert!(page.contains("reload this page"), "{page}");
        assert!(!page.contains("10.0.0.3"), "{page}");
    }

    #[test]
    fn an_apps_responder_makes_the_body_and_the_layer_keeps_the_protocol() {
        let pages = ErrorPages::custom(|error: &AuthError, _: &HeaderMap| {
            Response::builder()
                .status(200)
                .header(CACHE_CONTROL, "no-cache")
                .body(format!("sorry: {}", error.code()))
                .unwrap()
        });
        let error = AuthError::Store(StoreError::Backend("x".into()));
        let response = pages.respond(error, &HeaderMap::new());
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[CACHE_CONTROL], "no-cache");
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        assert_eq!(response.body(), "sorry: STORE_ERROR");
    }
}
