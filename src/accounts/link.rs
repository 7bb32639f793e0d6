//! The link flow: what happens when a guest becomes (or signs in to) a real account.
//!
//! # Order of the steps, and why
//!
//! When an anonymous user signs in to an existing account (password or token):
//!
//! 1. **Single flight.** The request takes this process's lock for the guest's id, then checks
//!    that the guest's session is still live. If it is not, a concurrent request (a double
//!    submit) has already linked this guest: the request signs in to the account without
//!    linking again (see below).
//! 2. **`on_link_account`** runs, before anything changes, so it sees both users as they were:
//!    the guest's resources still belong to the guest and the account's to the account (what a
//!    cart merge needs to tell the two carts apart). If it fails, nothing has changed — the
//!    guest keeps its data, its session and its cookie — and the caller gets
//!    [`AuthError::LinkFailed`]; retrying runs the whole flow again.
//! 3. **Transfer and revoke** ([`Store::complete_link`](crate::store::Store::complete_link)).
//!    The store moves every resource of the guest to the account, atomically and
//!    idempotently, then deletes the guest with all its sessions (or, with
//!    `disable_delete_anonymous_user`, only revokes its sessions); `PostgresStore` does both,
//!    with the app's own rows, in one transaction. A lazy guest's token (see
//!    `lazy_persistence`) is then revoked by keeping a session-less record of the guest.
//! 4. **Rotate.** A new session is started for the account and its cookie set.
//!
//! A crash or store failure after step 2 leaves the guest's session live, so a retry runs the
//! hook again, moves what is left (nothing, if step 3 finished) and completes. The hook must
//! therefore be idempotent: it can run more than once for one link (after a failure in a
//! later step, or when a lease outlived its holder: two instances serialize work on one guest
//! through a store lease that the holder renews, and a holder that stops renewing loses it).
//! Resources still move exactly once: that is the store's `transfer` guarantee.
//!
//! Registering while anonymous stores a lazy guest first, then upgrades the guest in place (same id, nothing to move); the hook
//! runs with [`LinkKind::Register`] before the store upgrades the user, so a failing hook
//! leaves the guest anonymous and unchanged.

use crate::engine::AuthEngine;
use crate::engine::CookieSlot;
use crate::error::AuthError;
use crate::link_event::{LinkEvent, LinkKind};
use crate::request::Caller;
use crate::store::{LinkStep, User};
use crate::token::auth::Auth;
use crate::util::clock::now_millis;
use futures::FutureExt;
use std::panic::AssertUnwindSafe;

/// Why a link happens and who asked for it: what `on_link_account` is told beside the two
/// users.
#[derive(Clone, Copy)]
pub(crate) struct Cause<'a> {
    pub(crate) kind: LinkKind,
    /// The identity's provider, for [`LinkKind::Identity`].
    pub(crate) provider: Option<&'a str>,
    pub(crate) caller: &'a Caller,
}

impl<'a> Cause<'a> {
    pub(crate) fn new(kind: LinkKind, caller: &'a Caller) -> Self {
        Self {
            kind,
            provider: None,
            caller,
        }
    }

    /// The event for the hook: `anonymous` becomes part of `account`.
    pub(crate) fn event(&self, anonymous: User, account: User) -> LinkEvent {
        LinkEvent {
            anonymous,
            account,
            kind: self.kind,
            provider: self.provider.map(str::to_owned),
            client_ip: self.caller.client_ip,
            user_agent: self
                .caller
                .user_agent
                .as_ref()
                .map(|agent| String::from_utf8_lossy(agent.as_bytes()).into_owned()),
        }
    }
}

/// Runs the configured hook, if any. A failure or a panic becomes [`AuthError::LinkFailed`].
pub(crate) async fn run_hook(engine: &AuthEngine, event: LinkEvent) -> Result<(), AuthError> {
    let Some(hook) = &engine.config.on_link_account else {
        return Ok(());
    };
    let (guest, account, kind) = (
        event.anonymous.id.clone(),
        event.account.id.clone(),
        event.kind,
    );
    let outcome = AssertUnwindSafe(hook(event)).catch_unwind().await;
    let message = match outcome {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(message)) => message,
        Err(_) => "on_link_account panicked".to_owned(),
    };
    tracing::warn!(guest_id = %guest, account_id = %account, kind = kind.as_str(), error = %message,
        "on_link_account failed; the guest is left as it was");
    Err(AuthError::LinkFailed(message))
}

/// Revokes every session of the guest (in the store and in this process's session memo), and
/// deletes the guest itself when `delete_user`. When the guest may have a lazy token (one that
/// is valid while nothing of the guest is stored, see `lazy_persistence`), a session-less
/// record of the guest is kept until its anonymous lifetime ends, so that the token cannot
/// come back to life once the guest is deleted.
pub(crate) async fn revoke_guest(
    engine: &AuthEngine,
    guest: &Auth,
    delete_user: bool,
) -> Result<(), AuthError> {
    engine.sessions.forget(guest.session_id());
    if delete_user {
        engine.store.delete_user(&guest.user().id).await?;
    } else {
        engine.store.delete_user_sessions(&guest.user().id).await?;
    }
    revoke_lazy_token(engine, guest, delete_user).await
}

/// Once the guest's records are gone (or its sessions revoked), keeps its lazy token from
/// coming back to life (see [`revoke_guest`]).
async fn revoke_lazy_token(
    engine: &AuthEngine,
    guest: &Auth,
    deleted: bool,
) -> Result<(), AuthError> {
    if !guest.persisted() || (deleted && engine.config.lazy_persistence) {
        engine.revoke_lazy(guest).await?;
    }
    Ok(())
}

/// Whether the guest's credential is still good in the store: its session is stored, or it is
/// a lazy guest of which nothing is stored yet. `false` once a link (or a sign-out) revoked it.
async fn guest_is_live(engine: &AuthEngine, guest: &Auth, now: u64) -> Result<bool, AuthError> {
    let session = engine.store.get_session(guest.session_id(), now).await?;
    if session.is_some_and(|session| session.user_id == guest.user().id) {
        return Ok(true);
    }
    Ok(!guest.persisted()
        && engine
            .store
            .get_user(&guest.user().id, now)
            .await?
            .is_none())
}

/// Links the signed-in guest `guest` to the registered user `account` and signs in as the
/// account (new session and cookie). See the module docs for the order of the steps.
pub(crate) async fn link_guest(
    engine: &AuthEngine,
    guest: &Auth,
    account: &User,
    cause: Cause<'_>,
    set_cookie: &CookieSlot,
) -> Result<Auth, AuthError> {
    let _flight = engine.lock_guest(&guest.user().id).await?;
    let now = now_millis();
    if !guest_is_live(engine, guest, now).await? {
        tracing::info!(guest_id = %guest.user().id, account_id = %account.id,
            "guest session already gone (linked by a concurrent request); signing in without linking");
        return engine.start_session(account, set_cookie).await;
    }
    let anonymous = engine
        .store
        .get_user(&guest.user().id, now)
        .await?
        .map_or_else(|| guest.user().clone(), |record| record.user);
    run_hook(engine, cause.event(anonymous, account.clone())).await?;
    // The hook may have run long: go on only while the lease is ours and the guest is still
    // live (another instance may have linked it once the lease lapsed).
    _flight.ensure_held()?;
    if !guest_is_live(engine, guest, now_millis()).await? {
        return engine.start_session(account, set_cookie).await;
    }
    let delete_guest = !engine.config.disable_delete_anonymous_user;
    let mut step = LinkStep::new(&guest.user().id, &account.id);
    if !delete_guest {
        step = step.keep_guest();
    }
    engine.sessions.forget(guest.session_id());
    let report = engine.store.complete_link(&step).await?;
    revoke_lazy_token(engine, guest, delete_guest).await?;
    let auth = engine.start_session(account, set_cookie).await?;
    tracing::info!(
        guest_id = %guest.user().id,
        account_id = %account.id,
        kind = cause.kind.as_str(),
        moved = report.moved,
        guest_deleted = !engine.config.disable_delete_anonymous_user,
        "guest linked to account"
    );
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AnonymousAuthConfig;
    use crate::store::MemoryStore;
    use std::sync::Arc;

    fn event() -> LinkEvent {
        Cause::new(LinkKind::SignIn, &Caller::default()).event(
            User::anonymous("g", "users", "t@x.io", "G", 0),
            User::registered("a", "users", "a@x.io", "A", 0),
        )
    }

    fn engine(config: AnonymousAuthConfig) -> AuthEngine {
        AuthEngine::new(Arc::new(MemoryStore::new()), config)
    }

    #[tokio::test]
    async fn hook_errors_and_panics_become_link_failed() {
        let failing = AnonymousAuthConfig::builder()
            .random_key()
            .on_link_account(|_| async { Err::<(), _>("merge failed") })
            .build()
            .unwrap();
        assert_eq!(
            run_hook(&engine(failing), event()).await,
            Err(AuthError::LinkFailed("merge failed".into()))
        );
        let panicking = AnonymousAuthConfig::builder()
            .random_key()
            .on_link_account(|event: LinkEvent| async move {
                if event.kind == LinkKind::SignIn {
                    panic!("bug in the app's merge");
                }
                Ok::<(), String>(())
            })
            .build()
            .unwrap();
        assert_eq!(
            run_hook(&engine(panicking), event()).await,
            Err(AuthError::LinkFailed("on_link_account panicked".into()))
        );
        let none = AnonymousAuthConfig::builder().random_key().build().unwrap();
        assert_eq!(run_hook(&engine(none), event()).await, Ok(()));
    }
}
