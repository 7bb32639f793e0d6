//! "Sign in with OpenID" for the shop, with the `openidconnect` crate: the authorization code
//! flow with PKCE and a nonce, the ID token checked against the provider's published keys.
//! Configured by `OIDC_ISSUER` (and `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET`, which default to
//! the development client of `e2e/oidc-provider.mjs`).

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a started sign-in waits for its callback.
const PENDING_TTL: Duration = Duration::from_secs(600);

/// What the provider vouched for, once the ID token checked out.
pub struct Verified {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// The link state the sign-in carried (see `AuthHandle::link_state`).
    pub link_state: Option<String>,
}

/// A sign-in between its redirect to the provider and the callback.
struct Pending {
    verifier: PkceCodeVerifier,
    nonce: Nonce,
    /// The session that started it: a callback in another browser is refused (login CSRF).
    session_id: String,
    link_state: Option<String>,
    started: Instant,
}

pub struct OpenId {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect: RedirectUrl,
    http: openidconnect::reqwest::Client,
    /// Discovered on the first sign-in (and again after a failure), so the shop starts even
    /// when the provider is down.
    metadata: tokio::sync::OnceCell<CoreProviderMetadata>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl OpenId {
    /// From `OIDC_ISSUER`, for a shop served at `base`; `None` when it is not set.
    pub fn from_env(base: &str) -> Option<Self> {
        let issuer = std::env::var("OIDC_ISSUER")
            .ok()
            .filter(|url| !url.is_empty())?;
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
        let http = openidconnect::reqwest::Client::builder()
            // Following redirects would let a provider's answer send the shop elsewhere.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?;
        Some(Self {
            issuer: IssuerUrl::new(issuer).ok()?,
            client_id: ClientId::new(var("OIDC_CLIENT_ID", "teashop")),
            client_secret: ClientSecret::new(var(
                "OIDC_CLIENT_SECRET",
                "teashop-development-secret",
            )),
            redirect: RedirectUrl::new(format!("{base}/auth/oidc/callback")).ok()?,
            http,
            metadata: tokio::sync::OnceCell::new(),
            pending: Mutex::default(),
        })
    }

    /// The issuer URL, which names this provider's identities (`Identity::provider`).
    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    async fn client(&self) -> Result<Client, String> {
        let metadata = self
            .metadata
            .get_or_try_init(|| {
                CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            })
            .await
            .map_err(|err| format!("OpenID discovery at {} failed: {err}", self.issuer.as_str()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        )
        .set_redirect_uri(self.redirect.clone()))
    }

    /// The provider's authorization URL for a sign-in started by session `session_id`,
    /// carrying `link_state` to the callback.
    pub async fn start(
        &self,
        session_id: &str,
        link_state: Option<String>,
    ) -> Result<String, String> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let mut pending = self.pending.lock().map_err(|_| "poisoned".to_owned())?;
        pending.retain(|_, started| started.started.elapsed() < PENDING_TTL);
        pending.insert(
            state.secret().clone(),
            Pending {
                verifier,
                nonce,
                session_id: session_id.to_owned(),
                link_state,
                started: Instant::now(),
            },
        );
        Ok(url.to_string())
    }

    /// Finishes the sign-in that `state` names: the code exchanged (with the PKCE verifier),
    /// the ID token's signature, issuer, audience, expiry and nonce checked. `session_id` is
    /// the callback's session; `fresh` says the callback's browser had no cookie at all (an
    /// in-app browser), in which case the link state names the guest.
    pub async fn finish(
        &self,
        state: &str,
        code: &str,
        session_id: Option<&str>,
        fresh: bool,
    ) -> Result<Verified, String> {
        let pending = self
            .pending
            .lock()
            .map_err(|_| "poisoned".to_owned())?
            .remove(state)
            .filter(|pending| pending.started.elapsed() < PENDING_TTL)
            .ok_or("this sign-in has expired or was already used")?;
        if !fresh && session_id != Some(pending.session_id.as_str()) {
            return Err("this sign-in was started in another browser".into());
        }
        let client = self.client().await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|err| format!("the provider has no token endpoint: {err}"))?
            .set_pkce_verifier(pending.verifier)
            .request_async(&self.http)
            .await
            .map_err(|err| format!("the code exchange failed: {err}"))?;
        let id_token = response.id_token().ok_or("the provider sent no ID token")?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &pending.nonce)
            .map_err(|err| format!("the ID token was refused: {err}"))?;
        Ok(Verified {
            issuer: self.issuer.as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|email| email.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|name| name.get(None))
                .map(|name| name.as_str().to_owned()),
            link_state: pending.link_state,
        })
    }
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;
