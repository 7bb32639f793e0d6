//! [`AnonymousAuthConfig`] and its builder: keys, cookie, lifetimes, generators, policies.

use crate::email_code::{EmailCode, EmailCodeHook};
use crate::error::{AuthError, ConfigError};
use crate::error_page::ErrorPages;
use crate::link_event::{LinkEvent, LinkHook};
use crate::password;
use crate::rate_limit::RateLimit;
use crate::request::skip::{default_skip_mint, MintRequest, SkipPredicate};
use crate::token::KeyRing;
use crate::util::names;
use futures::FutureExt;
use ipnet::IpNet;
use jsonwebtoken::Algorithm;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// What happens to a request when the store fails while resolving or minting its auth.
///
/// ```
/// use tower_anonymous_auth::StoreFailureMode;
/// assert_eq!(StoreFailureMode::default(), StoreFailureMode::FailClosed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreFailureMode {
    /// Answer `503 Service Unavailable` (with `Retry-After`) without calling the inner service.
    #[default]
    FailClosed,
    /// Call the inner service with no `Auth` in the request extensions.
    FailOpen,
}

/// When the layer mints an anonymous user for a request without a valid credential.
///
/// ```
/// use tower_anonymous_auth::MintPolicy;
/// assert_eq!(MintPolicy::default(), MintPolicy::Always);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MintPolicy {
    /// On every request without a valid credential.
    #[default]
    Always,
    /// Only when a handler asks for auth: the `Auth` / `RegisteredUser` extractors,
    /// [`AuthHandle::ensure`](crate::AuthHandle::ensure) or
    /// [`AuthHandle::sign_in_anonymously`](crate::AuthHandle::sign_in_anonymously).
    OnDemand,
}

/// Cookie `SameSite` attribute (the auth cookie is always `HttpOnly`).
///
/// ```
/// use tower_anonymous_auth::SameSite;
/// assert_eq!(SameSite::default(), SameSite::Lax);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on cross-site subrequests.
    #[default]
    Lax,
    /// Never sent on cross-site requests.
    Strict,
    /// Sent on every request; requires `Secure`.
    None,
}

/// Makes the placeholder email of a new anonymous user from its id. Synchronous, so that a
/// lazy guest is minted without awaiting anything.
pub(crate) type EmailGenerator = Arc<dyn Fn(&str) -> String + Send + Sync>;
/// Makes the display name of a new anonymous user from its id.
pub(crate) type NameGenerator = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// The cookie the token travels in.
#[derive(Debug, Clone)]
pub(crate) struct CookieSettings {
    pub(crate) name: String,
    pub(crate) secure: bool,
    pub(crate) same_site: SameSite,
    pub(crate) domain: Option<String>,
    pub(crate) path: String,
}

/// Configuration of an [`AnonymousAuthLayer`](crate::AnonymousAuthLayer). Cheap to clone.
///
/// Build it with [`AnonymousAuthConfig::builder`]; the defaults are safe for production
/// except that a signing key must be given.
///
/// ```
/// use std::time::Duration;
/// use tower_anonymous_auth::AnonymousAuthConfig;
///
/// let config = AnonymousAuthConfig::builder()
///     .key("2026-11", b"0123456789abcdef0123456789abcdef")
///     .collection("customers")
///     .email_domain_name("guests.example.com")
///     .anonymous_ttl(Duration::from_secs(7 * 24 * 3600))
///     .build()
///     .unwrap();
/// assert_eq!(config.collection(), "customers");
/// // Secure (the default), so the cookie is host-only: `__Host-` (see `host_prefix`).
/// assert_eq!(config.cookie_name(), "__Host-auth_token");
/// ```
#[derive(Clone)]
pub struct AnonymousAuthConfig {
    pub(crate) keys: KeyRing,
    pub(crate) collection: String,
    pub(crate) email_domain_name: String,
    pub(crate) generate_email: Option<EmailGenerator>,
    pub(crate) generate_name: NameGenerator,
    pub(crate) cookie: CookieSettings,
    pub(crate) anonymous_ttl: Duration,
    pub(crate) session_ttl: Duration,
    pub(crate) session_max_lifetime: Duration,
    pub(crate) refresh_interval: Duration,
    /// `None`: the store's default (on for a store with a revocation feed).
    pub(crate) session_cache_ttl: Option<Duration>,
    pub(crate) token_cache_capacity: usize,
    pub(crate) lazy_persistence: bool,
    pub(crate) store_failure: StoreFailureMode,
    pub(crate) error_pages: ErrorPages,
    pub(crate) mint_policy: MintPolicy,
    pub(crate) skip_mint: Option<SkipPredicate>,
    pub(crate) mint_rate_limit: Option<RateLimit>,
    pub(crate) sign_in_limit_per_ip: Option<RateLimit>,
    pub(crate) sign_in_limit_per_email: Option<RateLimit>,
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) disable_delete_anonymous_user: bool,
    pub(crate) link_identities_by_verified_email: bool,
    pub(crate) mint_on_same_site: bool,
    pub(crate) csrf_guard: bool,
    pub(crate) on_link_account: Option<LinkHook>,
    pub(crate) send_email_code: Option<EmailCodeHook>,
    pub(crate) email_code_ttl: Duration,
    pub(crate) guest_lock_ttl: Duration,
    pub(crate) password_min: usize,
    pub(crate) password_max: usize,
}

impl fmt::Debug for AnonymousAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnonymousAuthConfig")
            .field("keys", &self.keys)
            .field("collection", &self.collection)
            .field("email_domain_name", &self.email_domain_name)
            .field("cookie", &self.cookie)
            .field("anonymous_ttl", &self.anonymous_ttl)
            .field("session_ttl", &self.session_ttl)
            .field("session_max_lifetime", &self.session_max_lifetime)
            .field("refresh_interval", &self.refresh_interval)
            .field("session_cache_ttl", &self.session_cache_ttl)
            .field("token_cache_capacity", &self.token_cache_capacity)
            .field("lazy_persistence", &self.lazy_persistence)
            .field("store_failure", &self.store_failure)
            .field("error_pages", &self.error_pages)
            .field("mint_policy", &self.mint_policy)
            .field("skip_mint", &self.skip_mint.is_some())
            .field("mint_rate_limit", &self.mint_rate_limit)
            .field("sign_in_limit_per_ip", &self.sign_in_limit_per_ip)
            .field("sign_in_limit_per_email", &self.sign_in_limit_per_email)
            .field("trusted_proxies", &self.trusted_proxies)
            .field(
                "disable_delete_anonymous_user",
                &self.disable_delete_anonymous_user,
            )
            .field(
                "link_identities_by_verified_email",
                &self.link_identities_by_verified_email,
            )
            .field("mint_on_same_site", &self.mint_on_same_site)
            .field("csrf_guard", &self.csrf_guard)
            .field("on_link_account", &self.on_link_account.is_some())
            .field("send_email_code", &self.send_email_code.is_some())
            .field("email_code_ttl", &self.email_code_ttl)
            .field("guest_lock_ttl", &self.guest_lock_ttl)
            .field("password_length", &(self.password_min..=self.password_max))
            .finish_non_exhaustive()
    }
}

impl AnonymousAuthConfig {
    /// Starts a builder with the defaults.
    ///
    /// ```
    /// let builder = tower_anonymous_auth::AnonymousAuthConfig::builder();
    /// # let _ = builder;
    /// ```
    pub fn builder() -> AnonymousAuthConfigBuilder {
        AnonymousAuthConfigBuilder::default()
    }

    /// The default collection of new users.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().build().unwrap();
    /// assert_eq!(c.collection(), "users");
    /// ```
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// The full cookie name, with the `__Host-` prefix when enabled.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().host_prefix(true).build().unwrap();
    /// assert_eq!(c.cookie_name(), "__Host-auth_token");
    /// ```
    pub fn cookie_name(&self) -> &str {
        &self.cookie.name
    }

    /// The key ring that signs and verifies tokens.
    #[cfg(test)]
    pub(crate) fn key_ring(&self) -> &KeyRing {
        &self.keys
    }

    /// How long an inactive anonymous user (and its session) lives.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().build().unwrap();
    /// assert_eq!(c.anonymous_ttl().as_secs(), 30 * 24 * 3600);
    /// ```
    pub fn anonymous_ttl(&self) -> Duration {
        self.anonymous_ttl
    }

    /// The store failure mode.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, StoreFailureMode};
    /// let c = AnonymousAuthConfig::builder().random_key().build().unwrap();
    /// assert_eq!(c.store_failure(), StoreFailureMode::FailClosed);
    /// ```
    pub fn store_failure(&self) -> StoreFailureMode {
        self.store_failure
    }

    /// The mint policy.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, MintPolicy};
    /// let c = AnonymousAuthConfig::builder().random_key().build().unwrap();
    /// assert_eq!(c.mint_policy(), MintPolicy::Always);
    /// ```
    pub fn mint_policy(&self) -> MintPolicy {
        self.mint_policy
    }

    /// The accepted length of new passwords, in characters (`min..=max`).
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().build().unwrap();
    /// assert_eq!(c.password_length(), 8..=128);
    /// ```
    pub fn password_length(&self) -> std::ops::RangeInclusive<usize> {
        self.password_min..=self.password_max
    }

    /// The per-IP mint rate limit, if any.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, RateLimit};
    /// let c = AnonymousAuthConfig::builder().random_key().build().unwrap();
    /// assert_eq!(c.mint_rate_limit(), Some(RateLimit::default()));
    /// ```
    pub fn mint_rate_limit(&self) -> Option<RateLimit> {
        self.mint_rate_limit
    }

    /// The limit on password attempts per client IP, if any.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, RateLimit};
    /// let c = AnonymousAuthConfig::builder().random_key().build().unwrap();
    /// assert_eq!(c.sign_in_limit_per_ip(), Some(RateLimit::new(30, 30)));
    /// ```
    pub fn sign_in_limit_per_ip(&self) -> Option<RateLimit> {
        self.sign_in_limit_per_ip
    }

    /// The limit on password sign-ins per email, if any.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, RateLimit};
    /// let c = AnonymousAuthConfig::builder().random_key().build().unwrap();
    /// assert_eq!(c.sign_in_limit_per_email(), Some(RateLimit::new(10, 5)));
    /// ```
    pub fn sign_in_limit_per_email(&self) -> Option<RateLimit> {
        self.sign_in_limit_per_email
    }

    /// Whether guests are stored lazily, at their first write.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// assert!(AnonymousAuthConfig::builder().random_key().build().unwrap().lazy_persistence());
    /// ```
    pub fn lazy_persistence(&self) -> bool {
        self.lazy_persistence
    }

    /// Whether the skip predicate says this request must not mint.
    pub(crate) fn skips_mint(&self, request: &MintRequest<'_>) -> bool {
        self.skip_mint
            .as_ref()
            .is_some_and(|predicate| predicate(request))
    }

    /// How long a new session of a user lives: a guest's `anonymous_ttl`; a registered
    /// user's `session_ttl`, within the absolute `session_max_lifetime`.
    pub(crate) fn ttl_for(&self, is_anonymous: bool) -> Duration {
        if is_anonymous {
            self.anonymous_ttl
        } else {
            self.session_ttl.min(self.session_max_lifetime)
        }
    }

    /// The placeholder email of a new anonymous user.
    pub(crate) fn email_for(&self, id: &str) -> String {
        match &self.generate_email {
            None => crate::util::email::placeholder_email(id, &self.email_domain_name),
            Some(generate) => generate(id),
        }
    }
}

/// Builder of [`AnonymousAuthConfig`]; see each method for its default.
///
/// ```
/// use tower_anonymous_auth::{AnonymousAuthConfig, SameSite, StoreFailureMode};
///
/// let config = AnonymousAuthConfig::builder()
///     .key("old", [1u8; 32])
///     .key("new", [2u8; 32])
///     .cookie_name("sid")
///     .same_site(SameSite::Strict)
///     .store_failure(StoreFailureMode::FailOpen)
///     .generate_name(|id| format!("Guest {}", &id[..4]))
///     .build()
///     .unwrap();
/// assert_eq!(config.cookie_name(), "__Host-sid");
/// ```
#[must_use]
pub struct AnonymousAuthConfigBuilder {
    keys: Vec<(String, Vec<u8>)>,
    algorithm: Algorithm,
    collection: String,
    email_domain_name: String,
    generate_email: Option<EmailGenerator>,
    generate_name: Option<NameGenerator>,
    cookie_name: String,
    secure: bool,
    same_site: SameSite,
    domain: Option<String>,
    path: String,
    host_prefix: Option<bool>,
    anonymous_ttl: Duration,
    session_ttl: Duration,
    session_max_lifetime: Duration,
    refresh_interval: Duration,
    session_cache_ttl: Option<Duration>,
    token_cache_capacity: usize,
    lazy_persistence: bool,
    store_failure: StoreFailureMode,
    error_pages: ErrorPages,
    mint_policy: MintPolicy,
    skip_mint: Option<SkipPredicate>,
    mint_rate_limit: Option<RateLimit>,
    sign_in_limit_per_ip: Option<RateLimit>,
    sign_in_limit_per_email: Option<RateLimit>,
    trusted_proxies: Vec<IpNet>,
    invalid_proxy: Option<String>,
    /// An environment variable `key_from_env` found unset or empty.
    missing_key_variable: Option<String>,
    disable_delete_anonymous_user: bool,
    link_identities_by_verified_email: bool,
    mint_on_same_site: bool,
    csrf_guard: bool,
    on_link_account: Option<LinkHook>,
    send_email_code: Option<EmailCodeHook>,
    email_code_ttl: Duration,
    guest_lock_ttl: Duration,
    password_min: usize,
    password_max: usize,
}

/// Shows the options that are plain values; keys are counted, never shown.
impl fmt::Debug for AnonymousAuthConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnonymousAuthConfigBuilder")
            .field("keys", &self.keys.len())
            .field("algorithm", &self.algorithm)
            .field("collection", &self.collection)
            .finish_non_exhaustive()
    }
}

impl Default for AnonymousAuthConfigBuilder {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            algorithm: Algorithm::HS256,
            collection: "users".into(),
            email_domain_name: crate::util::email::DEFAULT_PLACEHOLDER_DOMAIN.into(),
            generate_email: None,
            generate_name: None,
            cookie_name: "auth_token".into(),
            secure: true,
            same_site: SameSite::Lax,
            domain: None,
            path: "/".into(),
            host_prefix: None,
            anonymous_ttl: Duration::from_secs(30 * 24 * 3600),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            session_max_lifetime: Duration::from_secs(30 * 24 * 3600),
            refresh_interval: Duration::from_secs(3600),
            session_cache_ttl: None,
            token_cache_capacity: 10_000,
            lazy_persistence: true,
            store_failure: StoreFailureMode::FailClosed,
            error_pages: ErrorPages::default(),
            mint_policy: MintPolicy::Always,
            skip_mint: Some(Arc::new(default_skip_mint)),
            mint_rate_limit: Some(RateLimit::default()),
            sign_in_limit_per_ip: Some(RateLimit::new(30, 30)),
            sign_in_limit_per_email: Some(RateLimit::new(10, 5)),
            trusted_proxies: Vec::new(),
            invalid_proxy: None,
            missing_key_variable: None,
            disable_delete_anonymous_user: false,
            link_identities_by_verified_email: false,
            mint_on_same_site: false,
            csrf_guard: true,
            on_link_account: None,
            send_email_code: None,
            email_code_ttl: Duration::from_secs(600),
            guest_lock_ttl: Duration::from_secs(15),
            password_min: password::DEFAULT_MIN_LEN,
            password_max: password::DEFAULT_MAX_LEN,
        }
    }
}

impl AnonymousAuthConfigBuilder {
    /// Adds a signing key (at least 32 bytes). Keys added later are newer: the newest signs new
    /// tokens, all verify. Give each key a distinct id (`kid`).
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let secret = std::env::var("AUTH_SECRET").unwrap_or_else(|_| "x".repeat(32));
    /// let config = AnonymousAuthConfig::builder().key("2026-11", secret).build().unwrap();
    /// # let _ = config;
    /// ```
    pub fn key(mut self, kid: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        self.keys.push((kid.into(), secret.as_ref().to_vec()));
        self
    }

    /// Adds the signing key held by the environment variable `variable`, with id `kid`. When
    /// the variable is unset or empty, [`build`](Self::build) fails with
    /// [`ConfigError::MissingKeyVariable`], whose message names the variable and says how to
    /// make a key.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, ConfigError};
    /// let unset = AnonymousAuthConfig::builder()
    ///     .key_from_env("2026-11", "A_VARIABLE_NOBODY_SETS")
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(unset, ConfigError::MissingKeyVariable("A_VARIABLE_NOBODY_SETS".into()));
    /// ```
    pub fn key_from_env(mut self, kid: impl Into<String>, variable: &str) -> Self {
        match std::env::var(variable) {
            Ok(secret) if !secret.is_empty() => self.key(kid, secret),
            _ => {
                self.missing_key_variable = Some(variable.to_owned());
                self
            }
        }
    }

    /// Adds a random 64-byte key (long enough for every algorithm) with id `"random"`: tokens will not survive a restart nor work
    /// across instances. For local development and tests.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let config = AnonymousAuthConfig::builder().random_key().build();
    /// assert!(config.is_ok());
    /// ```
    pub fn random_key(self) -> Self {
        let secret: [u8; 64] = rand::random();
        self.key("random", secret)
    }

    /// The HMAC algorithm: `HS256` (default), `HS384` or `HS512`.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// use jsonwebtoken::Algorithm;
    /// let short = AnonymousAuthConfig::builder().key("k", [1u8; 32]).algorithm(Algorithm::HS384);
    /// assert!(short.build().is_err(), "HS384 needs a 48-byte key");
    /// let config = AnonymousAuthConfig::builder().random_key().algorithm(Algorithm::HS384).build();
    /// assert!(config.is_ok());
    /// ```
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Collection (user table) of users minted by the layer; default `"users"`.
    /// `sign_in_anonymously_in` can pick another per call.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().collection("shoppers").build().unwrap();
    /// assert_eq!(c.collection(), "shoppers");
    /// ```
    pub fn collection(mut self, collection: impl Into<String>) -> Self {
        self.collection = collection.into();
        self
    }

    /// Domain of placeholder emails, `temp-{id}@{domain}`; default `anonymous.invalid`
    /// (a reserved name: mail to it can never be delivered).
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().email_domain_name("example.com").build();
    /// assert!(c.is_ok());
    /// ```
    pub fn email_domain_name(mut self, domain: impl Into<String>) -> Self {
        self.email_domain_name = domain.into();
        self
    }

    /// Custom placeholder email generator, given the new user's id. It must answer at once
    /// (no I/O): a guest's email is made on the request that mints it.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder()
    ///     .random_key()
    ///     .generate_random_email(|id| format!("guest+{id}@shop.example"))
    ///     .build();
    /// assert!(c.is_ok());
    /// ```
    pub fn generate_random_email<F>(mut self, generate: F) -> Self
    where
        F: Fn(&str) -> String + Send + Sync + 'static,
    {
        self.generate_email = Some(Arc::new(generate));
        self
    }

    /// Display name generator for new anonymous users, given the id. The default,
    /// [`User::default_name`](crate::User::default_name), derives a friendly name such as
    /// "Quiet Otter" from the (random) id, always the same for the same id, which lets a
    /// guest's token and its Redis record leave its name out.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().generate_name(|_| "Anonymous".into()).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn generate_name<F>(mut self, generate: F) -> Self
    where
        F: Fn(&str) -> String + Send + Sync + 'static,
    {
        self.generate_name = Some(Arc::new(generate));
        self
    }

    /// Name of the auth cookie; default `auth_token`, prefixed with `__Host-` whenever the
    /// cookie can be host-only (see [`host_prefix`](Self::host_prefix)).
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().cookie_name("session").build().unwrap();
    /// assert_eq!(c.cookie_name(), "__Host-session");
    /// ```
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// Whether the cookie is `Secure` (default `true`). Turn off only for plain-http local
    /// development: browsers drop Secure cookies on `http://` origins other than localhost.
    /// The layer logs one warning when it sets a Secure cookie on a request that shows it came
    /// over plain http to another host (its `Origin`, `Referer` or `X-Forwarded-Proto`), and one
    /// when a client (address and user agent) is minted five guests within a minute: it is not
    /// sending the cookie back. Many users behind one NAT with the same browser can cause the
    /// second warning too.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let dev = std::env::var("APP_ENV").as_deref() == Ok("dev");
    /// let c = AnonymousAuthConfig::builder().random_key().secure(!dev).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Cookie `SameSite` attribute; default [`SameSite::Lax`].
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, SameSite};
    /// let c = AnonymousAuthConfig::builder().random_key().same_site(SameSite::Strict).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Cookie `Domain` attribute; default none (host-only cookie).
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().cookie_domain("example.com").build();
    /// assert!(c.is_ok());
    /// ```
    pub fn cookie_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Cookie `Path` attribute; default `/`.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().cookie_path("/app").build();
    /// assert!(c.is_ok());
    /// ```
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Prefix the cookie name with `__Host-`. Browsers accept such a cookie only from the
    /// host itself (Secure, path `/`, no Domain), so a sibling subdomain cannot plant one of
    /// its own beside it (cookie tossing). On by default whenever those rules allow it: the
    /// cookie is `Secure` (the default), its path is `/` and it has no domain; plain-http
    /// development with `secure(false)` keeps the bare name. `host_prefix(true)` makes `build`
    /// refuse a configuration that breaks the rules; `host_prefix(false)` turns it off.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, ConfigError};
    /// let secure = AnonymousAuthConfig::builder().random_key().build().unwrap();
    /// assert_eq!(secure.cookie_name(), "__Host-auth_token");
    /// let plain_http = AnonymousAuthConfig::builder().random_key().secure(false).build().unwrap();
    /// assert_eq!(plain_http.cookie_name(), "auth_token");
    /// let err = AnonymousAuthConfig::builder().random_key().host_prefix(true).secure(false).build();
    /// assert_eq!(err.unwrap_err(), ConfigError::HostPrefixRequirements);
    /// ```
    pub fn host_prefix(mut self, enabled: bool) -> Self {
        self.host_prefix = Some(enabled);
        self
    }

    /// How long an anonymous user and its session live without activity; default 30 days.
    /// Activity pushes the expiry forward at most once per [`refresh_interval`](Self::refresh_interval).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().anonymous_ttl(Duration::from_secs(86_400)).build().unwrap();
    /// assert_eq!(c.anonymous_ttl(), Duration::from_secs(86_400));
    /// ```
    pub fn anonymous_ttl(mut self, ttl: Duration) -> Self {
        self.anonymous_ttl = ttl;
        self
    }

    /// How long a registered user's session lives at most, however active it is: its
    /// absolute lifetime, counted from the sign-in (default 30 days). Sessions slide with use
    /// (`session_ttl`), but never past this; then the user signs in again. Guests are not
    /// concerned (their sessions live `anonymous_ttl` from their last visit).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder()
    ///     .random_key()
    ///     .session_max_lifetime(Duration::from_secs(7 * 24 * 3600))
    ///     .build();
    /// assert!(c.is_ok());
    /// ```
    pub fn session_max_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_max_lifetime = lifetime;
        self
    }

    /// How long a registered user's session lives without activity; default 30 days.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().session_ttl(Duration::from_secs(3_600)).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// The least time between two expiry refreshes of one session (a store write and a new
    /// cookie); default 1 hour. Requests in between cost no store write.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().refresh_interval(Duration::from_secs(60)).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// How long this process trusts a session the store confirmed live, before asking the
    /// store again (zero: every request with a credential reads its session).
    ///
    /// On `RedisStore` and `PostgresStore` the memo is on by default (60 s) and safe across
    /// instances: every revocation is announced (Redis pub/sub, PostgreSQL `NOTIFY`) and
    /// drops the session from every instance's memo within milliseconds, and while that feed
    /// is down the memo is not trusted (every request reads the store) and it starts empty
    /// when the feed is back. On other stores it is
    /// off by default; with a TTL there, a session revoked by *this* process stops working here
    /// at once, but other instances accept it until their memo expires.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().session_cache_ttl(Duration::from_secs(30)).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn session_cache_ttl(mut self, ttl: Duration) -> Self {
        self.session_cache_ttl = Some(ttl);
        self
    }

    /// How many verified tokens this process remembers (default 10,000; 0 turns it off), so a
    /// returning visitor's token signature is checked once, not on every request. Entries are
    /// keyed by the exact token and dropped at its `exp`; the session is still checked
    /// (see [`session_cache_ttl`](Self::session_cache_ttl)), so revocation is unaffected.
    /// Memory: about 1 KiB per entry.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().token_cache_capacity(0).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn token_cache_capacity(mut self, entries: usize) -> Self {
        self.token_cache_capacity = entries;
        self
    }

    /// Lazy persistence (default on): a minted guest lives only in its signed token, costing
    /// no store write, until it first writes (claims a resource, registers, signs in, asks
    /// for a link state); then its user and session are stored under the same ids and a new
    /// token is issued. So a visitor who never writes, and a bot, cost no store write at all,
    /// and a guest's record appears in the store at its first write, not at its first visit.
    /// While lazy, its token costs a store read per request (none while the session memo
    /// vouches for it). In lazy mode the mint rate limit applies when a guest is first stored
    /// rather than when it is minted. `false` stores every guest as it is minted.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().lazy_persistence(false).build().unwrap();
    /// assert!(!c.lazy_persistence());
    /// ```
    pub fn lazy_persistence(mut self, lazy: bool) -> Self {
        self.lazy_persistence = lazy;
        self
    }

    /// What a request gets when the store fails; default [`StoreFailureMode::FailClosed`].
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, StoreFailureMode};
    /// let c = AnonymousAuthConfig::builder().random_key().store_failure(StoreFailureMode::FailOpen).build().unwrap();
    /// assert_eq!(c.store_failure(), StoreFailureMode::FailOpen);
    /// ```
    pub fn store_failure(mut self, mode: StoreFailureMode) -> Self {
        self.store_failure = mode;
        self
    }

    /// Makes the layer's own answers (429 over a rate limit, 503 when the store fails closed)
    /// with `respond(error, request_headers)` instead of the built-in ones (the JSON
    /// `{"code", "message"}`, or a short HTML page when the request accepts `text/html`). The
    /// responder gives the body and its headers; the layer then sets the status,
    /// `Retry-After` and `Cache-Control: no-store` (unless the responder set them), the
    /// error's code in `x-auth-error`, and the [`AuthError`](crate::AuthError) in the
    /// response's extensions.
    ///
    /// ```
    /// use tower_anonymous_auth::{AnonymousAuthConfig, AuthError};
    ///
    /// let config = AnonymousAuthConfig::builder()
    ///     .random_key()
    ///     .error_response(|error: &AuthError, _request: &http::HeaderMap| {
    ///         http::Response::builder()
    ///             .header("content-type", "text/html; charset=utf-8")
    ///             .body(format!("<h1>Please try again</h1><p>{}</p>", error.public_message()))
    ///             .unwrap()
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = config;
    /// ```
    pub fn error_response<F, B>(mut self, respond: F) -> Self
    where
        F: Fn(&AuthError, &http::HeaderMap) -> http::Response<B> + Send + Sync + 'static,
        B: Into<bytes::Bytes>,
    {
        self.error_pages = ErrorPages::custom(respond);
        self
    }

    /// When anonymous users are minted; default [`MintPolicy::Always`].
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, MintPolicy};
    /// let c = AnonymousAuthConfig::builder().random_key().mint_policy(MintPolicy::OnDemand).build().unwrap();
    /// assert_eq!(c.mint_policy(), MintPolicy::OnDemand);
    /// ```
    pub fn mint_policy(mut self, policy: MintPolicy) -> Self {
        self.mint_policy = policy;
        self
    }

    /// Requests for which the layer never mints (they still resolve an existing credential).
    /// Replaces the default, [`default_skip_mint`] (crawlers, `HEAD`/`OPTIONS`, static assets);
    /// `skip_mint(|_| false)` mints for every request without a credential, bots included.
    ///
    /// ```
    /// use tower_anonymous_auth::{default_skip_mint, AnonymousAuthConfig, MintRequest};
    /// let c = AnonymousAuthConfig::builder()
    ///     .random_key()
    ///     .skip_mint(|request: &MintRequest<'_>| {
    ///         default_skip_mint(request) || request.uri.path().starts_with("/health")
    ///     })
    ///     .build();
    /// assert!(c.is_ok());
    /// ```
    pub fn skip_mint<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&MintRequest<'_>) -> bool + Send + Sync + 'static,
    {
        self.skip_mint = Some(Arc::new(predicate));
        self
    }

    /// The per-client-IP mint rate limit; `None` turns it off. Default
    /// [`RateLimit::default`] (60 at once, then 60 a minute). Over the limit, the layer
    /// answers `429 Too Many Requests` with `Retry-After`. The client IP comes from the socket
    /// (axum: serve with `into_make_service_with_connect_info::<SocketAddr>()`; other servers:
    /// insert a [`PeerAddr`](crate::PeerAddr)); without it, no limit applies.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, RateLimit};
    /// let c = AnonymousAuthConfig::builder().random_key().mint_rate_limit(Some(RateLimit::new(10, 30))).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn mint_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.mint_rate_limit = limit;
        self
    }

    /// The limit on password attempts (sign-ins and registrations) per client IP; `None`
    /// turns it off. Default 30 at once, then 30 a minute. It is counted in the store (shared
    /// by every app instance) before any password is hashed; over it the attempt fails with
    /// [`AuthError::RateLimited`](crate::AuthError::RateLimited) (`429`, `Retry-After`), even
    /// with the right password. The client IP comes from the socket, as for
    /// [`mint_rate_limit`](Self::mint_rate_limit); without one, only the per-email limit
    /// applies.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, RateLimit};
    /// let c = AnonymousAuthConfig::builder().random_key().sign_in_limit_per_ip(Some(RateLimit::new(10, 10))).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn sign_in_limit_per_ip(mut self, limit: Option<RateLimit>) -> Self {
        self.sign_in_limit_per_ip = limit;
        self
    }

    /// The limit on password sign-ins per normalised email (in its collection), from any
    /// address; `None` turns it off. Default 10 at once, then 5 a minute: a guesser spread
    /// over many addresses gets a handful of tries a minute against one account. Unknown
    /// emails are counted the same way, so the limit tells nothing about which emails have
    /// accounts. The trade-off: while someone floods an account's email, its owner's
    /// password sign-ins are refused too (other ways in, such as a sign-in token, still work).
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, RateLimit};
    /// let c = AnonymousAuthConfig::builder().random_key().sign_in_limit_per_email(None).build().unwrap();
    /// assert_eq!(c.sign_in_limit_per_email(), None);
    /// ```
    pub fn sign_in_limit_per_email(mut self, limit: Option<RateLimit>) -> Self {
        self.sign_in_limit_per_email = limit;
        self
    }

    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed. By default
    /// none: forwarded headers are ignored and the socket's peer is the client.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, ConfigError};
    /// let c = AnonymousAuthConfig::builder().random_key().trusted_proxies(["10.0.0.0/8", "127.0.0.1"]);
    /// assert!(c.build().is_ok());
    /// let bad = AnonymousAuthConfig::builder().random_key().trusted_proxies(["not an ip"]).build();
    /// assert!(matches!(bad, Err(ConfigError::InvalidProxy(_))));
    /// ```
    pub fn trusted_proxies<I, T>(mut self, proxies: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        for proxy in proxies {
            let text = proxy.as_ref().trim().to_owned();
            let parsed = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from));
            match parsed {
                Ok(net) => self.trusted_proxies.push(net),
                Err(_) => self.invalid_proxy = Some(text),
            }
        }
        self
    }

    /// Whether requests from a sibling subdomain (`Sec-Fetch-Site: same-site`) may mint a
    /// guest as this origin's own requests do (default `false`). Requests another site makes
    /// never mint, except a top-level navigation with a safe method (a visitor following a
    /// link): the browser keeps the `SameSite=Lax` cookie from the others, so a guest minted
    /// for them would replace the visitor's cookie or be thrown away. Turn this on when
    /// sibling subdomains of one site share the cookie (`cookie_domain`).
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().mint_on_same_site(true).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn mint_on_same_site(mut self, allowed: bool) -> Self {
        self.mint_on_same_site = allowed;
        self
    }

    /// Whether the handle's privilege changes (register, sign in with a password or a token,
    /// and so linking a guest) refuse requests that do not come from this origin, with
    /// [`AuthError::CrossSiteRequest`](crate::AuthError::CrossSiteRequest) (default `true`).
    /// A request comes from elsewhere when its `Sec-Fetch-Site` is not `same-origin` (or
    /// `none`), or, from a browser without Fetch Metadata, when its `Origin` is not the host
    /// it was sent to. Requests with neither header (curl, native apps) pass. This stops
    /// login CSRF, where another page, even on a sibling subdomain, signs the visitor in to
    /// the attacker's account and links the visitor's guest into it.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().csrf_guard(false).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn csrf_guard(mut self, enabled: bool) -> Self {
        self.csrf_guard = enabled;
        self
    }

    /// Keep the anonymous user after it is linked to an account (default: delete it).
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().disable_delete_anonymous_user(true).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn disable_delete_anonymous_user(mut self, disable: bool) -> Self {
        self.disable_delete_anonymous_user = disable;
        self
    }

    /// Whether a new identity whose provider verified its email signs in to the account that
    /// has that email, and is attached to it (default `false`). Off, such a sign-in fails
    /// with [`AuthError::IdentityEmailInUse`](crate::AuthError::IdentityEmailInUse) and the
    /// user links the identity from the account. Turn it on only for providers whose
    /// `email_verified` you trust: whoever controls the identity then controls the account.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().link_identities_by_verified_email(true).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn link_identities_by_verified_email(mut self, enabled: bool) -> Self {
        self.link_identities_by_verified_email = enabled;
        self
    }

    /// Runs when a guest is linked to an account: when it signs in to an existing account
    /// (password or token) and when it registers. Use it to merge what the two users had
    /// (two carts). It runs before anything changes: an error (any `Display` type, e.g. a boxed
    /// error) aborts the link with [`AuthError::LinkFailed`](crate::AuthError::LinkFailed) and
    /// leaves the guest intact; a retry runs it again, so make it idempotent. See
    /// [`LinkEvent`] for an example, and the [crate docs](crate#accounts-register-sign-in-link-the-guest)
    /// for the order of the link steps.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, LinkEvent};
    /// let c = AnonymousAuthConfig::builder()
    ///     .random_key()
    ///     .on_link_account(|event: LinkEvent| async move {
    ///         println!("{} -> {} ({:?})", event.anonymous.id, event.account.id, event.kind);
    ///         Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    ///     })
    ///     .build();
    /// assert!(c.is_ok());
    /// ```
    pub fn on_link_account<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: Fn(LinkEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        self.on_link_account = Some(Arc::new(move |event: LinkEvent| {
            hook(event)
                .map(|outcome| outcome.map_err(|err| err.to_string()))
                .boxed()
        }));
        self
    }

    /// Sends one-time sign-in codes: called by
    /// [`AuthHandle::request_email_code`](crate::AuthHandle::request_email_code) with the
    /// code and link token to mail ([`EmailCode`]). The crate never sends mail itself; without
    /// this hook, asking for a code fails with
    /// [`AuthError::EmailNotSent`](crate::AuthError::EmailNotSent), as does a hook that
    /// returns an error (any `Display` type; its text is logged, never shown).
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, EmailCode};
    /// let c = AnonymousAuthConfig::builder()
    ///     .random_key()
    ///     .send_email_code(|mail: EmailCode| async move {
    ///         println!("code for {}: {}", mail.email, mail.code);
    ///         Ok::<(), std::convert::Infallible>(())
    ///     })
    ///     .build();
    /// assert!(c.is_ok());
    /// ```
    pub fn send_email_code<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: Fn(EmailCode) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        self.send_email_code = Some(Arc::new(move |mail: EmailCode| {
            hook(mail)
                .map(|outcome| outcome.map_err(|err| err.to_string()))
                .boxed()
        }));
        self
    }

    /// How long a one-time email code and its link work (default 10 minutes, at most 24 h).
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// # use std::time::Duration;
    /// let c = AnonymousAuthConfig::builder().random_key().email_code_ttl(Duration::from_secs(300)).build();
    /// assert!(c.is_ok());
    /// ```
    pub fn email_code_ttl(mut self, ttl: Duration) -> Self {
        self.email_code_ttl = ttl;
        self
    }

    /// How long the store lease on a guest lives (default 15 s). Registering or linking a
    /// guest holds it, so that two app instances never act on one guest at once; the holder
    /// renews it while it works (a slow `on_link_account` keeps it), and a crashed holder's
    /// lease frees the guest after this long.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder()
    ///     .random_key()
    ///     .guest_lock_ttl(Duration::from_secs(5))
    ///     .build();
    /// assert!(c.is_ok());
    /// ```
    pub fn guest_lock_ttl(mut self, ttl: Duration) -> Self {
        self.guest_lock_ttl = ttl;
        self
    }

    /// Accepted length of new passwords, in characters; default `8..=128`. The maximum bounds
    /// the hashing work one request can cause. `build` rejects `min == 0`, `min > max` and
    /// `max > 4096`.
    ///
    /// ```
    /// # use tower_anonymous_auth::AnonymousAuthConfig;
    /// let c = AnonymousAuthConfig::builder().random_key().password_length(12, 64).build().unwrap();
    /// assert_eq!(c.password_length(), 12..=64);
    /// ```
    pub fn password_length(mut self, min: usize, max: usize) -> Self {
        self.password_min = min;
        self.password_max = max;
        self
    }

    /// Checks the options and builds the configuration.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, ConfigError};
    /// assert_eq!(AnonymousAuthConfig::builder().build().unwrap_err(), ConfigError::NoSigningKey);
    /// ```
    pub fn build(self) -> Result<AnonymousAuthConfig, ConfigError> {
        if let Some(variable) = self.missing_key_variable {
            return Err(ConfigError::MissingKeyVariable(variable));
        }
        if let Some(proxy) = self.invalid_proxy {
            return Err(ConfigError::InvalidProxy(proxy));
        }
        let keys = KeyRing::hmac(
            self.algorithm,
            self.keys
                .iter()
                .map(|(kid, secret)| (kid.as_str(), secret.as_slice())),
        )?;
        let valid_name = !self.cookie_name.is_empty()
            && self
                .cookie_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid_name {
            return Err(ConfigError::InvalidCookieName(self.cookie_name));
        }
        let host_only = self.secure && self.path == "/" && self.domain.is_none();
        let prefixed = self.cookie_name.starts_with("__Host-");
        let name = match self.host_prefix {
            Some(true) if !host_only => return Err(ConfigError::HostPrefixRequirements),
            Some(true) | None if host_only && !prefixed => format!("__Host-{}", self.cookie_name),
            _ => self.cookie_name,
        };
        for (option, value) in [
            ("anonymous_ttl", self.anonymous_ttl),
            ("session_ttl", self.session_ttl),
            ("session_max_lifetime", self.session_max_lifetime),
            ("refresh_interval", self.refresh_interval),
        ] {
            if value.as_secs() == 0 || value.as_secs() > 10 * 365 * 24 * 3600 {
                return Err(ConfigError::OutOfRange(option));
            }
        }
        if self.email_code_ttl.as_secs() == 0 || self.email_code_ttl.as_secs() > 24 * 3600 {
            return Err(ConfigError::OutOfRange("email_code_ttl (1 s to 24 h)"));
        }
        if self.password_min == 0
            || self.password_min > self.password_max
            || self.password_max > 4096
        {
            return Err(ConfigError::OutOfRange("password_length"));
        }
        Ok(AnonymousAuthConfig {
            keys,
            collection: self.collection,
            email_domain_name: self.email_domain_name,
            generate_email: self.generate_email,
            generate_name: self
                .generate_name
                .unwrap_or_else(|| Arc::new(names::name_for_id)),
            cookie: CookieSettings {
                name,
                secure: self.secure,
                same_site: self.same_site,
                domain: self.domain,
                path: self.path,
            },
            anonymous_ttl: self.anonymous_ttl,
            session_ttl: self.session_ttl,
            session_max_lifetime: self.session_max_lifetime,
            refresh_interval: self.refresh_interval,
            session_cache_ttl: self.session_cache_ttl,
            token_cache_capacity: self.token_cache_capacity,
            lazy_persistence: self.lazy_persistence,
            store_failure: self.store_failure,
            error_pages: self.error_pages,
            mint_policy: self.mint_policy,
            skip_mint: self.skip_mint,
            mint_rate_limit: self.mint_rate_limit,
            sign_in_limit_per_ip: self.sign_in_limit_per_ip,
            sign_in_limit_per_email: self.sign_in_limit_per_email,
            trusted_proxies: self.trusted_proxies,
            disable_delete_anonymous_user: self.disable_delete_anonymous_user,
            link_identities_by_verified_email: self.link_identities_by_verified_email,
            mint_on_same_site: self.mint_on_same_site,
            csrf_guard: self.csrf_guard,
            on_link_account: self.on_link_account,
            send_email_code: self.send_email_code,
            email_code_ttl: self.email_code_ttl,
            guest_lock_ttl: self.guest_lock_ttl.max(Duration::from_millis(1)),
            password_min: self.password_min,
            password_max: self.password_max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_key_signs_with_the_chosen_algorithm() {
        let config = AnonymousAuthConfig::builder()
            .key("old", [1u8; 64])
            .key("new", [2u8; 64])
            .algorithm(Algorithm::HS512)
            .build()
            .unwrap();
        assert_eq!(config.key_ring().signing_kid(), "new");
        assert_eq!(config.key_ring().algorithm(), Algorithm::HS512);
        let random = AnonymousAuthConfig::builder().random_key().build().unwrap();
        assert_eq!(random.key_ring().signing_kid(), "random");
    }

    #[test]
    fn defaults_are_secure() {
        let c = AnonymousAuthConfig::builder().random_key().build().unwrap();
        assert!(c.cookie.secure);
        assert_eq!(c.cookie.same_site, SameSite::Lax);
        assert_eq!(c.cookie.path, "/");
        assert_eq!(c.store_failure, StoreFailureMode::FailClosed);
    }

    #[test]
    fn bad_options_are_rejected() {
        let b = || AnonymousAuthConfig::builder().random_key();
        assert!(matches!(
            b().cookie_name("bad name").build(),
            Err(ConfigError::InvalidCookieName(_))
        ));
        assert!(matches!(
            b().refresh_interval(Duration::ZERO).build(),
            Err(ConfigError::OutOfRange("refresh_interval"))
        ));
        for (min, max) in [(0, 8), (9, 8), (8, 5000)] {
            assert!(matches!(
                b().password_length(min, max).build(),
                Err(ConfigError::OutOfRange("password_length"))
            ));
        }
        assert!(matches!(
            b().key("random", [0u8; 32]).build(),
            Err(ConfigError::DuplicateKid(_))
        ));
        assert!(matches!(
            AnonymousAuthConfig::builder()
                .key("bad kid", [0u8; 32])
                .build(),
            Err(ConfigError::InvalidKid(_))
        ));
    }

    #[test]
    fn email_generators() {
        let c = AnonymousAuthConfig::builder().random_key().build().unwrap();
        assert_eq!(c.email_for("abc"), "temp-abc@anonymous.invalid");
        let c = AnonymousAuthConfig::builder()
            .random_key()
            .generate_random_email(|id| format!("a-{id}@x.io"))
            .build()
            .unwrap();
        assert_eq!(c.email_for("abc"), "a-abc@x.io");
    }
}
