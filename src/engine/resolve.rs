//! The one entry point of the layer: a request's auth, from its credential (checked) or a
//! guest minted for it, ready at once when nothing needs I/O.

use super::{AuthEngine, Step};
use crate::engine::CookieSlot;
use crate::error::AuthError;
use crate::request::credential::{self, CredentialSource};
use crate::token::auth::Auth;
use crate::util::clock::now_millis;
use http::HeaderMap;
use std::net::IpAddr;
use std::sync::Arc;
use tracing::{Instrument, Span};

/// What resolving a request's auth gives: the auth (none: no valid credential, nothing
/// minted), or the error the layer may answer with.
pub(crate) type Outcome = Result<Option<Auth>, AuthError>;

impl AuthEngine {
    /// The auth of a request with these `headers`: its credential's, once the signature and
    /// the session are checked, else a guest minted for it when `may_mint` says so (asked
    /// only when it matters: it reads the request). What awaits the store runs in `span`. An
    /// API client (a bearer token, valid or
    /// not) never gets a cookie, so never a guest.
    pub(crate) fn resolve(
        self: &Arc<Self>,
        headers: &HeaderMap,
        set_cookie: &CookieSlot,
        client_ip: Option<IpAddr>,
        may_mint: impl FnOnce() -> bool,
        span: impl FnOnce() -> Span,
    ) -> Step<Outcome> {
        let now = now_millis();
        let mints = |may_mint: bool| may_mint && !credential::has_bearer(headers);
        let Some((auth, source)) = self.verified_credential(headers, now) else {
            return match mints(may_mint()) {
                true => self.mint_for_request(client_ip, span),
                false => Step::Ready(Ok(None)),
            };
        };
        match self.confirm(auth, source, set_cookie, now) {
            Step::Ready(Ok(None)) => match mints(may_mint()) {
                true => self.mint_for_request(client_ip, span),
                false => Step::Ready(Ok(None)),
            },
            Step::Ready(checked) => Step::Ready(checked.map_err(AuthError::from)),
            Step::Pending(check) => {
                // The store decides: whether a mint may follow is asked now, while the
                // request is at hand.
                let mint_after = mints(may_mint());
                let engine = self.clone();
                let resolve = async move {
                    match check.await {
                        Ok(None) if mint_after => {
                            engine.mint(None, client_ip).finish().await.map(Some)
                        }
                        checked => checked.map_err(AuthError::from),
                    }
                };
                Step::Pending(Box::pin(resolve.instrument(span())))
            }
        }
    }

    /// A guest for a request without a valid credential, in the configured collection.
    fn mint_for_request(
        self: &Arc<Self>,
        client_ip: Option<IpAddr>,
        span: impl FnOnce() -> Span,
    ) -> Step<Outcome> {
        match self.start_mint(None, client_ip) {
            Step::Ready(minted) => Step::Ready(minted.map(Some)),
            Step::Pending(stored) => {
                let minted = async move { stored.await.map(Some) };
                Step::Pending(Box::pin(minted.instrument(span())))
            }
        }
    }

    /// The request's credential with a valid signature, as an [`Auth`] whose session is still
    /// to be checked: the bearer token, else the auth cookie (the last of its name). When that
    /// one is not valid, a valid one among the others (the cookie behind an invalid bearer;
    /// the good cookie among duplicates that a sibling subdomain tossed in) is taken instead.
    fn verified_credential(
        &self,
        headers: &HeaderMap,
        now: u64,
    ) -> Option<(Auth, CredentialSource)> {
        let name = &self.config.cookie.name;
        let first = credential::find(headers, name)?;
        if let Some(auth) = self.verify(&first.token, now / 1000) {
            return Some((auth, first.source));
        }
        let others = credential::cookie_values(headers, name);
        others
            .iter()
            .rev()
            .filter(|token| **token != first.token)
            .find_map(|token| self.verify(token, now / 1000))
            .map(|auth| (auth, CredentialSource::Cookie))
    }
}
