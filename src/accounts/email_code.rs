//! One-time email codes: signing in (or up) by proving control of an address, with the code
//! the person types or the link mailed with it.
//!
//! # What a sign-in does
//!
//! Asking for a code never looks at the accounts: the same answer and the same work whether
//! or not the address has one, so the endpoint cannot be used to find out who is a customer.
//! Using the code proves the address, and then:
//!
//! - An account has the email: the caller signs in to it, its email now verified; a guest is
//!   linked into it as by a password sign-in ([`LinkKind::EmailCode`]).
//! - Nobody has it: a guest is upgraded in place (same id, registered without a password,
//!   email verified); without a guest a new account is made.
//!
//! A code is single use, lives `email_code_ttl` (10 minutes by default) and dies after five
//! wrong tries; the store checks and counts atomically. A new code for an address replaces
//! the previous one. Asking is rate limited per address and per client address, trying per
//! client address (the `sign_in_limit_per_*` limits, in buckets of their own).

use super::link::Cause;
use super::{check_attempt_rate, collection_of, finish_sign_in, upgrade_guest, Upgrade};
use crate::email_code::EmailCode;
use crate::engine::{AuthEngine, CookieSlot};
use crate::error::AuthError;
use crate::link_event::LinkKind;
use crate::request::Caller;
use crate::store::{EmailCodeCheck, EmailCodeRecord, User, UserRecord};
use crate::token::auth::Auth;
use crate::util::clock::now_millis;
use crate::util::email::normalize_email;
use crate::util::ids::{millis, new_id};

/// Longer codes are refused without a store round trip.
const MAX_CODE_LEN: usize = 32;
/// Longer link tokens are refused without a store round trip (a real one is 55 bytes).
const MAX_LINK_TOKEN_LEN: usize = 128;
/// How often a sign-in starts over when someone else takes the email meanwhile.
const ATTEMPTS: usize = 2;

/// The store key of `email`'s code in `collection`.
fn code_key(engine: &AuthEngine, collection: &str, email: &str) -> String {
    engine
        .config
        .keys
        .email_code_digest(&["key", collection, email])
}

/// Makes a code for `email`, stores its proofs and hands code and link token to the app's
/// `send_email_code` hook.
pub(crate) async fn request_email_code(
    engine: &AuthEngine,
    current: Option<&Auth>,
    email: &str,
    caller: &Caller,
) -> Result<(), AuthError> {
    let email = normalize_email(email).ok_or(AuthError::InvalidEmail)?;
    let Some(send) = engine.config.send_email_code.clone() else {
        tracing::error!(
            "request_email_code needs a mailer: set AnonymousAuthConfigBuilder::send_email_code"
        );
        return Err(AuthError::EmailNotSent);
    };
    let collection = collection_of(engine, current);
    check_attempt_rate(
        engine,
        "email-code",
        caller.client_ip,
        Some((collection, &email)),
    )
    .await?;
    let key = code_key(engine, collection, &email);
    let code = format!("{:06}", rand::random_range(0..1_000_000u32));
    let secret = new_id();
    let keys = &engine.config.keys;
    let now = now_millis();
    let expires_at = now.saturating_add(millis(engine.config.email_code_ttl));
    let record = EmailCodeRecord::new(
        email.clone(),
        keys.email_code_digest(&["code", &key, &code]),
        keys.email_code_digest(&["link", &key, &secret]),
        expires_at,
    );
    engine.store.put_email_code(&key, &record, now).await?;
    let mail = EmailCode {
        email,
        code,
        link_token: format!("{key}.{secret}"),
        expires_at,
        client_ip: caller.client_ip,
    };
    send(mail).await.map_err(|reason| {
        tracing::warn!(%reason, "the send_email_code hook failed");
        AuthError::EmailNotSent
    })?;
    tracing::info!("email code sent");
    Ok(())
}

/// Signs in with the code sent to `email`: see the module docs.
pub(crate) async fn sign_in_with_email_code(
    engine: &AuthEngine,
    current: Option<&Auth>,
    email: &str,
    code: &str,
    set_cookie: &CookieSlot,
    caller: &Caller,
) -> Result<Auth, AuthError> {
    let email = normalize_email(email).ok_or(AuthError::InvalidEmail)?;
    check_attempt_rate(engine, "email-code-try", caller.client_ip, None).await?;
    let code = code.trim();
    if code.is_empty() || code.len() > MAX_CODE_LEN {
        return Err(AuthError::InvalidEmailCode);
    }
    let collection = collection_of(engine, current);
    let key = code_key(engine, collection, &email);
    let proof = engine.config.keys.email_code_digest(&["code", &key, code]);
    let used = use_code(engine, &key, &proof).await?;
    finish(engine, current, collection, &used.email, set_cookie, caller).await
}

/// Signs in with the link token mailed with a code: see the module docs.
pub(crate) async fn sign_in_with_email_link(
    engine: &AuthEngine,
    current: Option<&Auth>,
    token: &str,
    set_cookie: &CookieSlot,
    caller: &Caller,
) -> Result<Auth, AuthError> {
    let token = token.trim();
    let parts = token
        .split_once('.')
        .filter(|_| token.len() <= MAX_LINK_TOKEN_LEN)
        .filter(|(key, secret)| !key.is_empty() && !secret.is_empty());
    let Some((key, secret)) = parts else {
        return Err(AuthError::InvalidEmailCode);
    };
    check_attempt_rate(engine, "email-code-try", caller.client_ip, None).await?;
    let proof = engine.config.keys.email_code_digest(&["link", key, secret]);
    let used = use_code(engine, key, &proof).await?;
    let collection = collection_of(engine, current);
    if code_key(engine, collection, &used.email) != key {
        // Asked for in another collection (another user table of this app).
        return Err(AuthError::InvalidEmailCode);
    }
    finish(engine, current, collection, &used.email, set_cookie, caller).await
}

/// Tries `proof` against the code under `key`; the code when it was right.
async fn use_code(
    engine: &AuthEngine,
    key: &str,
    proof: &str,
) -> Result<EmailCodeRecord, AuthError> {
    match engine
        .store
        .try_email_code(key, proof, now_millis())
        .await?
    {
        EmailCodeCheck::Accepted(used) => Ok(used),
        EmailCodeCheck::Wrong { attempts_left } => {
            tracing::info!(attempts_left, "wrong email code");
            Err(AuthError::InvalidEmailCode)
        }
        EmailCodeCheck::Missing => {
            tracing::info!("email code missing, used or expired");
            Err(AuthError::InvalidEmailCode)
        }
    }
}

/// The caller proved it controls `email`: signs in to its account, or makes one.
async fn finish(
    engine: &AuthEngine,
    current: Option<&Auth>,
    collection: &str,
    email: &str,
    set_cookie: &CookieSlot,
    caller: &Caller,
) -> Result<Auth, AuthError> {
    let cause = Cause::new(LinkKind::EmailCode, caller);
    let store = &engine.store;
    for _ in 0..ATTEMPTS {
        let now = now_millis();
        match store.find_user_by_email(collection, email, now).await? {
            Some(holder) if !holder.user.is_anonymous => {
                let marked = store
                    .mark_email_verified(&holder.user.id, email, now)
                    .await?;
                let account = marked.map_or(holder.user, |record| record.user);
                return finish_sign_in(engine, current, &account, cause, set_cookie).await;
            }
            // Another guest has this address as its placeholder: it is nobody's real email.
            Some(holder) if current.is_none_or(|auth| auth.user().id != holder.user.id) => {
                return Err(AuthError::EmailTaken);
            }
            _ => {}
        }
        let made = match current.filter(|auth| auth.is_anonymous()) {
            Some(guest) => {
                let guest = engine.persist(guest, set_cookie, caller.client_ip).await?;
                let upgrade = Upgrade {
                    email: email.to_owned(),
                    name: None,
                    hash: None,
                    verified: true,
                };
                upgrade_guest(engine, &guest, upgrade, cause, set_cookie).await
            }
            None => new_account(engine, current, collection, email, cause, set_cookie).await,
        };
        match made {
            // Someone registered the email meanwhile: sign in to that account instead.
            Err(AuthError::EmailTaken) => continue,
            other => return other,
        }
    }
    Err(AuthError::EmailTaken)
}

/// A new account with `email`, verified and without a password, signed in to.
async fn new_account(
    engine: &AuthEngine,
    current: Option<&Auth>,
    collection: &str,
    email: &str,
    cause: Cause<'_>,
    set_cookie: &CookieSlot,
) -> Result<Auth, AuthError> {
    let id = new_id();
    let name = (engine.config.generate_name)(&id);
    let mut user = User::registered(id, collection, email, name, now_millis());
    user.email_verified = true;
    engine
        .store
        .insert_user(&UserRecord::new(user.clone()), None, user.created_at)
        .await?;
    tracing::info!(user_id = %user.id, "account created by email code");
    finish_sign_in(engine, current, &user, cause, set_cookie).await
}
