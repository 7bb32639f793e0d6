//! The auth cookie: [`AuthCookie`] formats it (a minted guest's from a ready-made template),
//! and a request's [`CookieSlot`] holds the `Set-Cookie` its response will carry.

use crate::config::{CookieSettings, SameSite};
use cookie::time::Duration as CookieDuration;
use cookie::{Cookie, CookieBuilder};
use http::HeaderValue;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The auth cookie's `Set-Cookie` for one response. The layer (a guest minted or a token
/// refreshed while resolving) and the request's handlers (sign in, sign out, a lazy guest
/// stored) write it; the last write wins, so a response sets the auth cookie at most once.
/// Clones share the slot.
#[derive(Clone, Default)]
pub(crate) struct CookieSlot(Arc<Mutex<Option<HeaderValue>>>);

impl CookieSlot {
    fn put(&self, value: HeaderValue) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }

    /// The `Set-Cookie` to put on the response, if anything wrote one.
    pub(crate) fn take(&self) -> Option<HeaderValue> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The auth cookie of one layer: its settings, and the `Set-Cookie` of a guest minted with
/// the anonymous TTL, formatted once so that a new visitor's response only pastes its token in.
pub(crate) struct AuthCookie {
    settings: CookieSettings,
    guest_template: (String, String),
}

impl AuthCookie {
    /// The cookie of `settings`; guests minted by the layer live `anonymous_ttl`.
    pub(crate) fn new(settings: CookieSettings, anonymous_ttl: Duration) -> Self {
        let mut cookie = Self {
            settings,
            guest_template: Default::default(),
        };
        cookie.guest_template = cookie.template(anonymous_ttl);
        cookie
    }

    /// Writes the auth cookie with `token`, living `ttl`.
    pub(crate) fn set(&self, slot: &CookieSlot, token: &str, ttl: Duration) {
        self.write(slot, self.with_ttl(token.to_owned(), ttl));
    }

    /// Writes the cookie of a guest the layer minted with the anonymous TTL: the template
    /// around the token.
    pub(crate) fn set_guest(&self, slot: &CookieSlot, token: &str) {
        let (before, after) = &self.guest_template;
        let mut value = String::with_capacity(before.len() + token.len() + after.len());
        value.push_str(before);
        value.push_str(token);
        value.push_str(after);
        Self::put(slot, value);
    }

    /// Removes the auth cookie from the browser: an explicit removal, even when the request
    /// carried no auth cookie, so that it also replaces the cookie of a guest minted for this
    /// request.
    pub(crate) fn clear(&self, slot: &CookieSlot) {
        self.write(slot, self.builder(String::new()).removal().build());
    }

    fn write(&self, slot: &CookieSlot, cookie: Cookie<'static>) {
        Self::put(slot, cookie.encoded().to_string());
    }

    fn put(slot: &CookieSlot, formatted: String) {
        // Always valid: the name is checked when the configuration is built, and values are
        // percent-encoded (a token needs no encoding: base64url and dots).
        match HeaderValue::try_from(formatted) {
            Ok(value) => slot.put(value),
            Err(error) => tracing::error!(%error, "the auth cookie is not a valid header value"),
        }
    }

    fn with_ttl(&self, value: String, ttl: Duration) -> Cookie<'static> {
        let max_age = CookieDuration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        self.builder(value).max_age(max_age).build()
    }

    /// The `Set-Cookie` formatting of the auth cookie with `ttl`, split where the value goes.
    fn template(&self, ttl: Duration) -> (String, String) {
        let formatted = self.with_ttl(String::new(), ttl).encoded().to_string();
        let value_at = formatted.find('=').map_or(formatted.len(), |at| at + 1);
        let (before, after) = formatted.split_at(value_at);
        (before.to_owned(), after.to_owned())
    }

    fn builder(&self, value: String) -> CookieBuilder<'static> {
        let settings = &self.settings;
        let same_site = match settings.same_site {
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::None => cookie::SameSite::None,
        };
        let mut builder = Cookie::build((settings.name.clone(), value))
            .http_only(true)
            .secure(settings.secure)
            .same_site(same_site)
            .path(settings.path.clone());
        if let Some(domain) = &settings.domain {
            builder = builder.domain(domain.clone());
        }
        builder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie() -> AuthCookie {
        let settings = CookieSettings {
            name: "anon".into(),
            secure: true,
            same_site: SameSite::Lax,
            domain: None,
            path: "/".into(),
        };
        AuthCookie::new(settings, Duration::from_secs(60))
    }

    #[test]
    fn a_guests_cookie_has_every_attribute() {
        let (slot, cookie) = (CookieSlot::default(), cookie());
        cookie.set_guest(&slot, "a.b.c");
        assert_eq!(
            slot.take().unwrap(),
            "anon=a.b.c; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60"
        );
    }

    #[test]
    fn the_last_write_wins_and_is_taken_once() {
        let (slot, cookie) = (CookieSlot::default(), cookie());
        cookie.set_guest(&slot, "guest");
        cookie.clear(&slot);
        let removal = slot.take().unwrap();
        assert!(
            removal.to_str().unwrap().starts_with("anon=;"),
            "{removal:?}"
        );
        assert!(
            removal.to_str().unwrap().contains("Max-Age=0"),
            "{removal:?}"
        );
        assert_eq!(slot.take(), None);
    }
}
