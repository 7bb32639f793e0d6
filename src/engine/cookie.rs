//! [`AuthCookie`]: writing and removing the auth cookie, and a minted guest's ready-made one.

use crate::config::{CookieSettings, SameSite};
use http::HeaderValue;
use std::time::Duration;
use tower_cookies::cookie::time::Duration as CookieDuration;
use tower_cookies::{Cookie, Cookies};

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

    /// Writes the auth cookie.
    pub(crate) fn set(&self, cookies: &Cookies, token: &str, ttl: Duration) {
        cookies.add(self.with_ttl(token.to_owned(), ttl));
    }

    pub(super) fn with_ttl(&self, value: String, ttl: Duration) -> Cookie<'static> {
        let max_age = CookieDuration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        self.builder(value).max_age(max_age).build()
    }

    /// The jar's `Set-Cookie` formatting of the auth cookie with `ttl`, split where the value
    /// goes (a token needs no percent-encoding: base64url and dots).
    fn template(&self, ttl: Duration) -> (String, String) {
        let formatted = self.with_ttl(String::new(), ttl).encoded().to_string();
        let value_at = formatted.find('=').map_or(formatted.len(), |at| at + 1);
        let (before, after) = formatted.split_at(value_at);
        (before.to_owned(), after.to_owned())
    }

    /// Removes the auth cookie from the browser: an explicit removal, even when the request
    /// carried no auth cookie (the layer then knows the cookie of a guest it minted for this
    /// request must not be set; see `GuestCookie`).
    pub(crate) fn clear(&self, cookies: &Cookies) {
        cookies.add(self.builder(String::new()).removal().build());
    }

    /// The `Set-Cookie` value for a guest minted by the layer: the jar's formatting of the
    /// auth cookie with the anonymous TTL, made once (`template`), around the token.
    pub(crate) fn guest(&self, token: &str) -> Option<HeaderValue> {
        let (before, after) = &self.guest_template;
        let mut value = String::with_capacity(before.len() + token.len() + after.len());
        value.push_str(before);
        value.push_str(token);
        value.push_str(after);
        HeaderValue::try_from(value).ok()
    }

    fn builder(&self, value: String) -> tower_cookies::cookie::CookieBuilder<'static> {
        let settings = &self.settings;
        let same_site = match settings.same_site {
            SameSite::Lax => tower_cookies::cookie::SameSite::Lax,
            SameSite::Strict => tower_cookies::cookie::SameSite::Strict,
            SameSite::None => tower_cookies::cookie::SameSite::None,
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
