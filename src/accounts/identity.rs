//! Signing in with an identity the app verified elsewhere (an OpenID Connect or OAuth
//! callback, a passkey assertion, SSO), and managing a user's identities.
//!
//! # What a sign-in does
//!
//! - The identity belongs to an account: the caller signs in to it; a guest is linked into it
//!   exactly as by a password sign-in ([`link::link_guest`]).
//! - Nobody has it: a guest is upgraded in place (same id) and given the identity; without a
//!   guest a new account is made the same way, from a short-lived anonymous record, so that
//!   one path gives out identities and a crash midway leaves nothing but a guest that expires.
//! - Its email belongs to an account it is not linked to: refused with
//!   [`AuthError::IdentityEmailInUse`], unless the provider verified the email and the app
//!   turned on `link_identities_by_verified_email`. Matching emails alone never join accounts
//!   (the pre-account-takeover rule: whoever creates an identity with someone else's email at
//!   a lax provider must not get their account).
//!
//! # Concurrency
//!
//! An identity is attached to an anonymous user only under that user's guest lock, right
//! before the upgrade. A sign-in that finds the identity held by another anonymous user waits
//! for that user's lock: afterwards the holder is an account (the other sign-in finished, and
//! this one links into it) or is still anonymous (that sign-in died midway, and the identity
//! is detached from it). So two first sign-ins with one new identity make one account.

use super::finish_sign_in;
use super::link::{self, Cause};
use crate::engine::{AuthEngine, CookieSlot};
use crate::error::AuthError;
use crate::link_event::LinkKind;
use crate::request::Caller;
use crate::store::{IdentityRecord, StoreError, User, UserRecord};
use crate::token::auth::Auth;
use crate::token::link_state::LinkState;
use crate::util::clock::now_millis;
use crate::util::email::normalize_email;
use crate::util::ids::{millis, new_id};

/// The longest provider or subject accepted, in bytes.
const MAX_PART_LEN: usize = 255;
/// How often a sign-in starts over after losing a race for its identity.
const ATTEMPTS: usize = 4;

/// An identity the app has verified: who vouches for the person (`provider`), the provider's
/// stable id for them (`subject`, the `sub` claim of an OpenID Connect ID token), and what the
/// provider says about them. Give it to
/// [`AuthHandle::sign_in_with_identity`](crate::AuthHandle::sign_in_with_identity) or
/// [`AuthHandle::link_identity`](crate::AuthHandle::link_identity) only after checking it
/// (the ID token's signature, issuer, audience and nonce; the OAuth `state`).
///
/// ```
/// use tower_anonymous_auth::Identity;
/// let identity = Identity::new("https://accounts.google.com", "10769150350006150715113082367")
///     .email("ann@example.com", true)
///     .name("Ann");
/// assert!(identity.email_verified);
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct Identity {
    /// Who verified the identity: an issuer URL, `"github"`, `"passkey"`. Chosen by the app;
    /// keep it stable, since it names the identity with `subject`.
    pub provider: String,
    /// The provider's stable id for the person. Never an email: emails change hands.
    pub subject: String,
    /// The email the provider gave, if any.
    pub email: Option<String>,
    /// Whether the provider verified that the person controls `email`.
    pub email_verified: bool,
    /// A display name for a new account.
    pub name: Option<String>,
    /// A link state ([`AuthHandle::link_state`](crate::AuthHandle::link_state)) naming the
    /// guest to link.
    link_state: Option<String>,
}

impl Identity {
    /// An identity with no email and no name.
    ///
    /// ```
    /// let passkey = tower_anonymous_auth::Identity::new("passkey", "credential-id");
    /// assert!(passkey.email.is_none());
    /// ```
    pub fn new(provider: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            subject: subject.into(),
            email: None,
            email_verified: false,
            name: None,
            link_state: None,
        }
    }

    /// The provider's email for the person, and whether it verified it (OpenID Connect's
    /// `email_verified`). Only a verified email becomes a new account's email.
    ///
    /// ```
    /// let id = tower_anonymous_auth::Identity::new("github", "583231").email("ann@example.com", false);
    /// assert!(!id.email_verified);
    /// ```
    pub fn email(mut self, email: impl Into<String>, verified: bool) -> Self {
        self.email = Some(email.into());
        self.email_verified = verified;
        self
    }

    /// A display name for a new account (a guest that is upgraded keeps its own otherwise).
    ///
    /// ```
    /// let id = tower_anonymous_auth::Identity::new("github", "583231").name("Ann");
    /// assert_eq!(id.name.as_deref(), Some("Ann"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Links the guest that `link_state` names (the value
    /// [`AuthHandle::link_state`](crate::AuthHandle::link_state) gave, carried through the
    /// OAuth `state`), for a callback that arrives without the guest's cookie. The state is
    /// single use and lives 10 minutes; a used, expired or forged one makes the sign-in fail
    /// with [`AuthError::InvalidToken`].
    ///
    /// ```
    /// # let state_from_the_callback = String::new();
    /// let identity = tower_anonymous_auth::Identity::new("github", "583231")
    ///     .link_state(state_from_the_callback);
    /// # let _ = identity;
    /// ```
    pub fn link_state(mut self, link_state: impl Into<String>) -> Self {
        self.link_state = Some(link_state.into());
        self
    }

    /// Refuses an empty or oversized provider or subject, or one with control characters.
    fn check(&self) -> Result<(), AuthError> {
        let fits = |part: &str| {
            !part.is_empty() && part.len() <= MAX_PART_LEN && !part.chars().any(|c| c.is_control())
        };
        if fits(&self.provider) && fits(&self.subject) {
            Ok(())
        } else {
            Err(AuthError::InvalidIdentity)
        }
    }

    /// The email, normalised, if it is a plausible address.
    fn normalized_email(&self) -> Option<String> {
        self.email.as_deref().and_then(normalize_email)
    }

    fn record(&self, user_id: &str, now: u64) -> IdentityRecord {
        IdentityRecord::new(&self.provider, &self.subject, user_id, now)
            .with_email(self.normalized_email())
    }
}

/// Leaves the link state out: it is a credential for a guest while it lives.
///
/// ```
/// let identity = tower_anonymous_auth::Identity::new("github", "1").link_state("secret-state");
/// assert!(!format!("{identity:?}").contains("secret-state"));
/// ```
impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("provider", &self.provider)
            .field("subject", &self.subject)
            .field("email", &self.email)
            .field("email_verified", &self.email_verified)
            .field("name", &self.name)
            .field(
                "link_state",
                &self.link_state.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What becoming the identity's account came to.
enum Adopted {
    /// The user was upgraded in place and holds the identity.
    Upgraded(UserRecord),
    /// A concurrent sign-in of the same user with the same identity upgraded it first.
    AlreadyDone(User),
    /// Another user took the identity meanwhile: start over.
    Taken,
}

/// Signs in with `identity`: see the module docs.
pub(crate) async fn sign_in_with_identity(
    engine: &AuthEngine,
    current: Option<&Auth>,
    identity: &Identity,
    set_cookie: &CookieSlot,
    caller: &Caller,
) -> Result<Auth, AuthError> {
    identity.check()?;
    let named_guest;
    let current = match &identity.link_state {
        Some(state) => {
            named_guest = guest_of_state(engine, state).await?;
            Some(&named_guest)
        }
        None => current,
    };
    let cause = Cause {
        kind: LinkKind::Identity,
        provider: Some(&identity.provider),
        caller,
    };
    let store = &engine.store;
    let collection = super::collection_of(engine, current);
    let (provider, subject) = (identity.provider.as_str(), identity.subject.as_str());
    for _ in 0..ATTEMPTS {
        let now = now_millis();
        let held = store
            .find_identity(collection, provider, subject, now)
            .await?;
        let current_holds = match held {
            Some(held) => {
                let Some(holder) = store.get_user(&held.user_id, now).await? else {
                    continue;
                };
                if !holder.user.is_anonymous {
                    return finish_sign_in(engine, current, &holder.user, cause, set_cookie).await;
                }
                if current.is_none_or(|auth| auth.user().id != holder.user.id) {
                    settle_unfinished(engine, collection, identity, &holder.user.id).await?;
                    continue;
                }
                // This guest's own sign-in stopped midway: finish it.
                true
            }
            None => false,
        };
        if !current_holds {
            if let Some(linked) = sign_in_by_email(
                engine, current, collection, identity, cause, set_cookie, now,
            )
            .await?
            {
                return Ok(linked);
            }
        }
        let adopted = match current.filter(|auth| auth.is_anonymous()) {
            Some(guest) => {
                let guest = engine.persist(guest, set_cookie, caller.client_ip).await?;
                let adopted = adopt(engine, &guest, identity, cause).await?;
                if let Adopted::Upgraded(account) = &adopted {
                    link::revoke_guest(engine, &guest, false).await?;
                    let auth = engine.start_session(&account.user, set_cookie).await?;
                    tracing::info!(user_id = %account.user.id, provider, "guest signed in with a new identity (upgraded in place)");
                    return Ok(auth);
                }
                adopted
            }
            None => new_account(engine, collection, identity).await?,
        };
        match adopted {
            Adopted::Upgraded(account) => {
                tracing::info!(user_id = %account.user.id, provider, "account created for a new identity");
                return finish_sign_in(engine, current, &account.user, cause, set_cookie).await;
            }
            Adopted::AlreadyDone(account) => {
                return engine.start_session(&account, set_cookie).await;
            }
            Adopted::Taken => continue,
        }
    }
    Err(AuthError::Store(StoreError::Backend(format!(
        "identity {provider}:{subject} kept changing hands"
    ))))
}

/// How long a link state lives.
const LINK_STATE_SECS: u64 = 600;

/// A link state for the signed-in guest (stored first if it is lazy), and that guest; `None`
/// without a guest. See [`Identity::link_state`].
pub(crate) async fn link_state(
    engine: &AuthEngine,
    current: Option<&Auth>,
    set_cookie: &CookieSlot,
    client_ip: Option<std::net::IpAddr>,
) -> Result<Option<(String, Auth)>, AuthError> {
    let Some(guest) = current.filter(|auth| auth.is_anonymous()) else {
        return Ok(None);
    };
    let guest = engine.persist(guest, set_cookie, client_ip).await?;
    let state = LinkState {
        guest_id: guest.user().id.clone(),
        session_id: guest.session_id().to_owned(),
        exp: now_millis() / 1000 + LINK_STATE_SECS,
        nonce: new_id(),
    };
    Ok(Some((engine.config.keys.sign_link_state(&state), guest)))
}

/// The guest a link state names, as if the request carried its credential: the state must be
/// genuine, unexpired and unused (it is used up here), and its guest still a guest with a live
/// session. Anything else is [`AuthError::InvalidToken`]: a stolen state gives its holder at
/// most what the guest had, and only once.
async fn guest_of_state(engine: &AuthEngine, value: &str) -> Result<Auth, AuthError> {
    let now = now_millis();
    let state = engine
        .config
        .keys
        .verify_link_state(value.trim(), now / 1000)
        .map_err(|reason| {
            tracing::info!(%reason, "link state refused");
            AuthError::InvalidToken
        })?;
    let ttl_ms = (state.exp * 1000).saturating_sub(now);
    if !engine
        .use_once(&format!("link-state:{}", state.nonce), ttl_ms)
        .await?
    {
        tracing::info!(guest_id = %state.guest_id, "link state used again: refused");
        return Err(AuthError::InvalidToken);
    }
    let session = engine.store.get_session(&state.session_id, now).await?;
    let record = engine.store.get_user(&state.guest_id, now).await?;
    match (session, record) {
        (Some(session), Some(record))
            if session.user_id == state.guest_id && record.user.is_anonymous =>
        {
            engine.issue(&record.user, &session, false)
        }
        _ => Err(AuthError::InvalidToken),
    }
}

/// For an identity nobody holds whose email an account has: signs in to that account (the
/// identity attached to it) when the provider verified the email and the app opted in;
/// refuses with [`AuthError::IdentityEmailInUse`] otherwise. `None` when no account has the
/// email.
async fn sign_in_by_email(
    engine: &AuthEngine,
    current: Option<&Auth>,
    collection: &str,
    identity: &Identity,
    cause: Cause<'_>,
    set_cookie: &CookieSlot,
    now: u64,
) -> Result<Option<Auth>, AuthError> {
    let Some(email) = identity.normalized_email() else {
        return Ok(None);
    };
    let owner = engine
        .store
        .find_user_by_email(collection, &email, now)
        .await?;
    let Some(owner) = owner.filter(|owner| !owner.user.is_anonymous) else {
        return Ok(None);
    };
    if !(identity.email_verified && engine.config.link_identities_by_verified_email) {
        tracing::info!(account_id = %owner.user.id, provider = %identity.provider,
            "identity sign-in refused: its email belongs to an account it is not linked to");
        return Err(AuthError::IdentityEmailInUse);
    }
    let record = identity.record(&owner.user.id, now);
    engine
        .store
        .attach_identity(collection, &record, now)
        .await?;
    tracing::info!(account_id = %owner.user.id, provider = %identity.provider,
        "identity attached to the account with its verified email");
    let auth = finish_sign_in(engine, current, &owner.user, cause, set_cookie).await?;
    Ok(Some(auth))
}

/// Makes a new account for `identity` when the caller has no guest: a short-lived anonymous
/// record, then the same upgrade as a guest's. If the upgrade does not happen, the record is
/// removed (or, after a crash, expires with the anonymous lifetime).
async fn new_account(
    engine: &AuthEngine,
    collection: &str,
    identity: &Identity,
) -> Result<Adopted, AuthError> {
    let config = &engine.config;
    let now = now_millis();
    let id = new_id();
    let user = User::anonymous(
        id.clone(),
        collection,
        config.email_for(&id),
        (config.generate_name)(&id),
        now,
    );
    let expires_at = now.saturating_add(millis(config.anonymous_ttl));
    let record = UserRecord::new(user).with_expires_at(Some(expires_at));
    engine.store.insert_user(&record, None, now).await?;
    let adopted = upgrade(engine, &id, None, identity, None).await;
    if !matches!(adopted, Ok(Adopted::Upgraded(_))) {
        engine.store.delete_user(&id).await?;
    }
    adopted
}

/// Upgrades the signed-in guest into the account of `identity`, running `on_link_account`.
async fn adopt(
    engine: &AuthEngine,
    guest: &Auth,
    identity: &Identity,
    cause: Cause<'_>,
) -> Result<Adopted, AuthError> {
    let session = Some(guest.session_id());
    upgrade(engine, &guest.user().id, session, identity, Some(cause)).await
}

/// Under the user's guest lock: checks it is still anonymous (and its session still live,
/// when given), runs the hook for a `cause`, attaches the identity and upgrades the user in
/// place. A failed upgrade detaches the identity again.
async fn upgrade(
    engine: &AuthEngine,
    user_id: &str,
    session_id: Option<&str>,
    identity: &Identity,
    cause: Option<Cause<'_>>,
) -> Result<Adopted, AuthError> {
    let store = &engine.store;
    let flight = engine.lock_guest(user_id).await?;
    let now = now_millis();
    let Some(record) = store.get_user(user_id, now).await? else {
        return Err(AuthError::Unauthenticated);
    };
    let collection = record.user.collection.clone();
    let (provider, subject) = (&identity.provider, &identity.subject);
    if !record.user.is_anonymous {
        let held = store
            .find_identity(&collection, provider, subject, now)
            .await?;
        return if held.is_some_and(|held| held.user_id == user_id) {
            Ok(Adopted::AlreadyDone(record.user))
        } else {
            Err(AuthError::AlreadyRegistered)
        };
    }
    if let Some(session_id) = session_id {
        let live = store.get_session(session_id, now).await?;
        if live.is_none_or(|session| session.user_id != user_id) {
            return Err(AuthError::Unauthenticated);
        }
    }
    let verified_email = identity
        .normalized_email()
        .filter(|_| identity.email_verified);
    let email = verified_email
        .clone()
        .unwrap_or_else(|| record.user.email.clone());
    let name = identity
        .name
        .clone()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| record.user.name.clone());
    let account = User {
        email: email.clone(),
        name: name.clone(),
        is_anonymous: false,
        ..record.user.clone()
    };
    if let Some(cause) = cause {
        link::run_hook(engine, cause.event(record.user, account)).await?;
        flight.ensure_held()?;
    }
    match store
        .attach_identity(&collection, &identity.record(user_id, now), now)
        .await
    {
        Ok(()) => {}
        Err(StoreError::IdentityTaken) => return Ok(Adopted::Taken),
        Err(error) => return Err(error.into()),
    }
    match store.upgrade_user(user_id, &email, &name, None, now).await {
        Ok(upgraded) if verified_email.is_some() => {
            // The provider vouched for the address: the account starts verified.
            let marked = store.mark_email_verified(user_id, &email, now).await?;
            Ok(Adopted::Upgraded(marked.unwrap_or(upgraded)))
        }
        Ok(upgraded) => Ok(Adopted::Upgraded(upgraded)),
        Err(error) => {
            store
                .detach_identity(&collection, provider, subject, user_id)
                .await?;
            Err(match error {
                StoreError::EmailTaken => AuthError::IdentityEmailInUse,
                StoreError::AlreadyRegistered(_) => AuthError::AlreadyRegistered,
                other => other.into(),
            })
        }
    }
}

/// The identity is held by an anonymous user other than the caller: another sign-in is
/// upgrading it, or died while doing so. Waits for that user's guest lock; if the user is
/// still anonymous then, the sign-in died, and the identity is detached from it.
async fn settle_unfinished(
    engine: &AuthEngine,
    collection: &str,
    identity: &Identity,
    holder: &str,
) -> Result<(), AuthError> {
    let _flight = engine.lock_guest(holder).await?;
    let now = now_millis();
    let record = engine.store.get_user(holder, now).await?;
    if record.is_some_and(|record| record.user.is_anonymous) {
        tracing::info!(user_id = %holder, provider = %identity.provider,
            "an identity sign-in stopped midway; its identity is detached from the guest");
        engine
            .store
            .detach_identity(collection, &identity.provider, &identity.subject, holder)
            .await?;
    }
    Ok(())
}

/// The registered user a management call acts on.
fn registered(current: Option<&Auth>) -> Result<&Auth, AuthError> {
    match current {
        None => Err(AuthError::Unauthenticated),
        Some(auth) if auth.is_anonymous() => Err(AuthError::RegisteredUserRequired),
        Some(auth) => Ok(auth),
    }
}

/// Attaches `identity` to the signed-in registered user.
pub(crate) async fn link_identity(
    engine: &AuthEngine,
    current: Option<&Auth>,
    identity: &Identity,
) -> Result<IdentityRecord, AuthError> {
    identity.check()?;
    let user = registered(current)?.user();
    let now = now_millis();
    let record = identity.record(&user.id, now);
    engine
        .store
        .attach_identity(&user.collection, &record, now)
        .await
        .map_err(|error| match error {
            // The layer saw the user a moment ago: it was deleted meanwhile.
            StoreError::UserNotFound(_) => AuthError::Unauthenticated,
            other => other.into(),
        })?;
    tracing::info!(user_id = %user.id, provider = %identity.provider, "identity linked");
    Ok(record)
}

/// Detaches an identity from the signed-in registered user, unless it is the last way to
/// sign in (no password and no other identity).
pub(crate) async fn unlink_identity(
    engine: &AuthEngine,
    current: Option<&Auth>,
    provider: &str,
    subject: &str,
) -> Result<bool, AuthError> {
    let user = registered(current)?.user();
    let store = &engine.store;
    // Serialized per user, so two unlinks at once cannot remove the last two ways in.
    let _flight = engine.lock_guest(&user.id).await?;
    let now = now_millis();
    let Some(record) = store.get_user(&user.id, now).await? else {
        return Err(AuthError::Unauthenticated);
    };
    let identities = store.identities_of(&user.id, now).await?;
    if !identities
        .iter()
        .any(|held| held.provider == provider && held.subject == subject)
    {
        return Ok(false);
    }
    if record.password_hash.is_none() && identities.len() == 1 {
        return Err(AuthError::LastSignInMethod);
    }
    let removed = store
        .detach_identity(&user.collection, provider, subject, &user.id)
        .await?;
    tracing::info!(user_id = %user.id, provider, "identity unlinked");
    Ok(removed)
}

/// The identities of the signed-in user.
pub(crate) async fn identities(
    engine: &AuthEngine,
    current: Option<&Auth>,
) -> Result<Vec<IdentityRecord>, AuthError> {
    let user = current.ok_or(AuthError::Unauthenticated)?.user();
    let mut held = engine.store.identities_of(&user.id, now_millis()).await?;
    held.sort_by_key(|identity| identity.linked_at);
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn providers_and_subjects_are_checked() {
        assert_eq!(Identity::new("github", "1").check(), Ok(()));
        for (provider, subject) in [
            ("", "1"),
            ("github", ""),
            ("github", "a\nb"),
            ("git\0hub", "1"),
        ] {
            assert_eq!(
                Identity::new(provider, subject).check(),
                Err(AuthError::InvalidIdentity),
                "{provider:?} {subject:?}"
            );
        }
        let long = "x".repeat(MAX_PART_LEN + 1);
        assert_eq!(
            Identity::new("github", long).check(),
            Err(AuthError::InvalidIdentity)
        );
    }

    proptest! {
        /// Whatever a provider sends, checking and normalising never panic.
        #[test]
        fn any_identity_is_checked_without_panicking(
            provider in "\\PC{0,300}",
            subject in "\\PC{0,300}",
            email in "\\PC{0,80}",
        ) {
            let identity = Identity::new(provider, subject).email(email, true);
            let _ = identity.check();
            let _ = identity.record("u", 0);
        }
    }
}
