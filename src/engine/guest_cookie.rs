//! The cookie of a guest the layer minted: a ready `Set-Cookie` header (the jar's formatting,
//! made once per layer) put on the response directly, unless the handler wrote the auth cookie
//! itself in the meantime (signed in, stored a lazy guest, signed out), whose write through
//! tower-cookies' jar then wins. One header per response for the auth cookie, either way.

use crate::engine::AuthEngine;
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue};
use std::sync::Arc;
use tower_cookies::Cookies;

/// A minted guest's `Set-Cookie`, waiting for the response.
pub(crate) struct GuestCookie {
    value: HeaderValue,
    engine: Arc<AuthEngine>,
    jar: Cookies,
    /// The auth cookie's value in the jar before the handler ran.
    before: Option<String>,
}

impl GuestCookie {
    /// The cookie of a guest minted for this request with `token`. Without a valid header
    /// value (not for the layer's tokens and cookie names), the cookie goes to the jar.
    pub(crate) fn new(engine: &Arc<AuthEngine>, jar: &Cookies, token: &str) -> Option<Self> {
        let Some(value) = engine.cookie.guest(token) else {
            engine.cookie.set(jar, token, engine.config.anonymous_ttl);
            return None;
        };
        Some(Self {
            value,
            before: jar_value(jar, &engine.config.cookie.name),
            engine: engine.clone(),
            jar: jar.clone(),
        })
    }

    /// Sets the cookie on the response, unless the auth cookie was written since.
    pub(crate) fn set_on(self, headers: &mut HeaderMap) {
        if jar_value(&self.jar, &self.engine.config.cookie.name) == self.before {
            headers.append(SET_COOKIE, self.value);
        }
    }
}

/// The value of cookie `name` in the jar: the request's, or what was written since (a removal
/// reads as an empty value).
fn jar_value(jar: &Cookies, name: &str) -> Option<String> {
    jar.get(name).map(|cookie| cookie.value().to_owned())
}
