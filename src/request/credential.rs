//! Finding a request's credential: an `Authorization: Bearer` token, else the auth cookie.
//!
//! The cookie is read straight from the `Cookie` headers, the way the `cookie` crate's jar
//! reads them (percent-decoding with its parser when a header has a `%`, the last cookie of
//! the name winning), so a returning visitor's request never builds the whole jar; a
//! header with nothing to decode is split with SIMD searches (`memchr`). A property test
//! checks both paths against the jar.

use crate::token::MAX_TOKEN_LEN;
use cookie::Cookie;
use http::{header, HeaderMap};
use std::borrow::Cow;

/// Where the request's credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredentialSource {
    /// The auth cookie.
    Cookie,
    /// `Authorization: Bearer`.
    Bearer,
}

/// A raw, unverified credential, borrowed from the request or owned.
#[derive(Debug, Clone)]
pub(crate) struct Credential<'a> {
    pub(crate) token: Cow<'a, str>,
    pub(crate) source: CredentialSource,
}

/// Finds the credential of a request: a bearer token wins over the cookie named
/// `cookie_name`. Non-UTF-8, empty or oversized values are ignored (no credential).
pub(crate) fn find<'a>(headers: &'a HeaderMap, cookie_name: &str) -> Option<Credential<'a>> {
    if let Some(token) = bearer_token(headers) {
        return Some(Credential {
            token: Cow::Borrowed(token),
            source: CredentialSource::Bearer,
        });
    }
    let token = cookie_value(headers, cookie_name)?;
    (!token.is_empty() && token.len() <= MAX_TOKEN_LEN).then_some(Credential {
        token,
        source: CredentialSource::Cookie,
    })
}

/// The value of the last cookie named `name` in the request's `Cookie` headers.
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<Cow<'a, str>> {
    let mut found = None;
    for header in headers.get_all(header::COOKIE) {
        let Ok(pairs) = std::str::from_utf8(header.as_bytes()) else {
            continue;
        };
        if memchr::memchr(b'%', pairs.as_bytes()).is_some() {
            let cookies = Cookie::split_parse_encoded(pairs).flatten();
            if let Some(cookie) = cookies.filter(|cookie| cookie.name() == name).last() {
                // Borrowed unless percent-decoding changed the value.
                found = Some(match cookie.value_raw() {
                    Some(raw) => Cow::Borrowed(raw),
                    None => Cow::Owned(cookie.value().to_owned()),
                });
            }
        } else if let Some(value) = last_plain_value(pairs, name) {
            found = Some(Cow::Borrowed(value));
        }
    }
    found
}

/// The values of the cookies named `name` in a header with nothing to percent-decode, in
/// order: what the `cookie` crate's `split_parse` yields (pieces between `;`, blank ones
/// skipped, split at the first `=`, name and value trimmed, empty names and pieces without
/// `=` dropped), found with SIMD searches instead of char-by-char scans of each piece (a
/// token is a few hundred bytes).
fn plain_values<'h, 'n>(
    pairs: &'h str,
    name: &'n str,
) -> impl Iterator<Item = &'h str> + use<'h, 'n> {
    let mut start = 0;
    memchr::memchr_iter(b';', pairs.as_bytes())
        .chain([pairs.len()])
        .filter_map(move |end| {
            // `;` is ASCII, so `start..end` are char boundaries.
            let piece = pairs[start..end].trim();
            start = end + 1;
            let eq = memchr::memchr(b'=', piece.as_bytes())?;
            (piece[..eq].trim() == name && !name.is_empty()).then(|| piece[eq + 1..].trim())
        })
}

/// The value of the last cookie named `name` in a header with nothing to percent-decode.
fn last_plain_value<'h>(pairs: &'h str, name: &str) -> Option<&'h str> {
    plain_values(pairs, name).last()
}

/// Every cookie named `name`, in the order the headers carry them, decoded as
/// [`find`] decodes: where a duplicate cookie (tossed from a sibling subdomain, say) sits
/// beside the good one. Only read when the cookie [`find`] picked is not a valid token.
pub(crate) fn cookie_values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<Cow<'a, str>> {
    let mut values = Vec::new();
    for header in headers.get_all(header::COOKIE) {
        let Ok(pairs) = std::str::from_utf8(header.as_bytes()) else {
            continue;
        };
        if memchr::memchr(b'%', pairs.as_bytes()).is_some() {
            let cookies = Cookie::split_parse_encoded(pairs).flatten();
            values.extend(
                cookies
                    .filter(|cookie| cookie.name() == name)
                    .map(|cookie| match cookie.value_raw() {
                        Some(raw) => Cow::Borrowed(raw),
                        None => Cow::Owned(cookie.value().to_owned()),
                    }),
            );
        } else {
            values.extend(plain_values(pairs, name).map(Cow::Borrowed));
        }
    }
    values.retain(|value| !value.is_empty() && value.len() <= MAX_TOKEN_LEN);
    values
}

/// Whether the request carries an `Authorization: Bearer` token (valid or not): an API
/// client, for which the layer never sets a cookie.
pub(crate) fn has_bearer(headers: &HeaderMap) -> bool {
    bearer_token(headers).is_some()
}

/// The token of an `Authorization: Bearer <token>` header, if well-formed.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= MAX_TOKEN_LEN)
        .then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn bearer_parsing() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        );
        assert_eq!(bearer_token(&headers), None);
    }

    fn cookie_headers(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::COOKIE, HeaderValue::from_bytes(value).unwrap());
        }
        headers
    }

    #[test]
    fn cookie_value_reads_the_named_cookie_like_the_jar() {
        let headers = cookie_headers(&[b"a=1; auth=tok.en; b=2"]);
        let value = cookie_value(&headers, "auth");
        assert_eq!(value.as_deref(), Some("tok.en"));
        assert!(
            matches!(value, Some(Cow::Borrowed(_))),
            "no copy when nothing is encoded"
        );
        // The last one wins, across headers too (the `cookie` crate's jar does the same).
        let headers = cookie_headers(&[b"auth=first", b"x=1;auth=second"]);
        assert_eq!(cookie_value(&headers, "auth").as_deref(), Some("second"));
        // Percent-decoded, as the `cookie` crate decodes.
        let headers = cookie_headers(&[b"auth=a%2Eb"]);
        assert_eq!(cookie_value(&headers, "auth").as_deref(), Some("a.b"));
        // Every duplicate, in order, for the layer to pick a valid one among them.
        let headers = cookie_headers(&[b"auth=first; auth=a%2Eb", b"x=1;auth=third;auth="]);
        assert_eq!(cookie_values(&headers, "auth"), ["first", "a.b", "third"]);
        // A non-UTF-8 header is skipped; the others are still read.
        let headers = cookie_headers(&[b"auth=\xff\xfe", b"auth=ok"]);
        assert_eq!(cookie_value(&headers, "auth").as_deref(), Some("ok"));
        // Prefix names and garbage do not match.
        let headers = cookie_headers(&[b"authx=1; ;=; auth"]);
        assert_eq!(cookie_value(&headers, "auth"), None);
    }

    #[test]
    fn find_prefers_bearer_and_bounds_the_cookie() {
        let mut headers = cookie_headers(&[b"auth=from-cookie"]);
        let found = find(&headers, "auth").unwrap();
        assert_eq!(
            (found.token.as_ref(), found.source),
            ("from-cookie", CredentialSource::Cookie)
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        let found = find(&headers, "auth").unwrap();
        assert_eq!(
            (found.token.as_ref(), found.source),
            ("b", CredentialSource::Bearer)
        );
        let long = format!("auth={}", "x".repeat(MAX_TOKEN_LEN + 1));
        assert!(find(&cookie_headers(&[long.as_bytes()]), "auth").is_none());
        assert!(find(&cookie_headers(&[b"auth="]), "auth").is_none());
    }

    /// What the `cookie` crate's jar says the cookie is (its parsing, verbatim).
    fn jar_value(headers: &HeaderMap, name: &str) -> Option<String> {
        let mut jar = cookie::CookieJar::new();
        for header in headers.get_all(header::COOKIE) {
            if let Ok(header_str) = std::str::from_utf8(header.as_bytes()) {
                for cookie_str in header_str.split(';') {
                    if let Ok(cookie) = Cookie::parse_encoded(cookie_str.to_owned()) {
                        jar.add_original(cookie);
                    }
                }
            }
        }
        jar.get(name).map(|cookie| cookie.value().to_owned())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// The fast read finds exactly what the jar would, on headers built from names near
        /// `auth`, values with `%`, `=`, quotes and spaces, and empty or whitespace pairs.
        #[test]
        fn cookie_value_agrees_with_the_jar(
            headers in proptest::collection::vec(
                proptest::collection::vec(
                    (
                        "(auth|Auth|authx|xauth| auth|auth |a%75th|)",
                        "[a-zA-Z0-9._%=\" -]{0,12}",
                        proptest::bool::ANY,
                    ),
                    0..5,
                ),
                0..3,
            )
        ) {
            let mut map = HeaderMap::new();
            for pairs in &headers {
                let line: Vec<String> = pairs
                    .iter()
                    .map(|(name, value, with_eq)| {
                        if *with_eq { format!("{name}={value}") } else { name.clone() }
                    })
                    .collect();
                if let Ok(value) = HeaderValue::from_str(&line.join(";")) {
                    map.append(header::COOKIE, value);
                }
            }
            proptest::prop_assert_eq!(
                cookie_value(&map, "auth").map(Cow::into_owned),
                jar_value(&map, "auth")
            );
        }
    }
}
