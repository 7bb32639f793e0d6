//! The cases about one-time email codes ([`EmailCodeStore`](crate::store::EmailCodeStore))
//! and marking an email verified ([`UserStore::mark_email_verified`](crate::store::UserStore::mark_email_verified)).

use super::{HOUR, NOW};
use crate::store::{EmailCodeCheck, EmailCodeRecord, Store, UserRecord};
use crate::User;
use std::sync::Arc;

fn code(email: &str) -> EmailCodeRecord {
    EmailCodeRecord::new(email, "code-proof", "link-proof", NOW + HOUR)
}

/// A code is accepted once, by either proof; a new code replaces the previous one.
pub async fn email_codes_are_single_use(store: Arc<dyn Store>) {
    store
        .put_email_code("k1", &code("ann@example.com"), NOW)
        .await
        .unwrap();
    let accepted = store.try_email_code("k1", "code-proof", NOW).await.unwrap();
    let EmailCodeCheck::Accepted(used) = accepted else {
        panic!("the right code is accepted, got {accepted:?}");
    };
    assert_eq!(used.email, "ann@example.com");
    assert_eq!(used.expires_at, NOW + HOUR);
    assert_eq!(
        store.try_email_code("k1", "code-proof", NOW).await.unwrap(),
        EmailCodeCheck::Missing,
        "a used code is gone"
    );

    store
        .put_email_code("k2", &code("bob@example.com"), NOW)
        .await
        .unwrap();
    let accepted = store.try_email_code("k2", "link-proof", NOW).await.unwrap();
    assert!(
        matches!(accepted, EmailCodeCheck::Accepted(_)),
        "the link proof is accepted too"
    );
    assert_eq!(
        store.try_email_code("k2", "code-proof", NOW).await.unwrap(),
        EmailCodeCheck::Missing,
        "and uses up the code"
    );

    store
        .put_email_code("k3", &code("cy@example.com"), NOW)
        .await
        .unwrap();
    let newer = EmailCodeRecord::new("cy@example.com", "newer-code", "newer-link", NOW + HOUR);
    store.put_email_code("k3", &newer, NOW).await.unwrap();
    assert_eq!(
        store.try_email_code("k3", "code-proof", NOW).await.unwrap(),
        EmailCodeCheck::Wrong { attempts_left: 4 },
        "a replaced code no longer works"
    );
    assert!(matches!(
        store.try_email_code("k3", "newer-code", NOW).await.unwrap(),
        EmailCodeCheck::Accepted(_)
    ));
}

/// Each wrong try spends one of five; the fifth kills the code, even for the right proof.
/// A code dies at its expiry.
pub async fn email_codes_die_after_five_wrong_tries_or_expiry(store: Arc<dyn Store>) {
    store
        .put_email_code("k", &code("ann@example.com"), NOW)
        .await
        .unwrap();
    for left in (0..EmailCodeRecord::ATTEMPTS).rev() {
        assert_eq!(
            store.try_email_code("k", "guess", NOW).await.unwrap(),
            EmailCodeCheck::Wrong {
                attempts_left: left
            }
        );
    }
    assert_eq!(
        store.try_email_code("k", "code-proof", NOW).await.unwrap(),
        EmailCodeCheck::Missing,
        "five wrong tries kill the code"
    );

    store
        .put_email_code("k", &code("ann@example.com"), NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .try_email_code("k", "code-proof", NOW + HOUR)
            .await
            .unwrap(),
        EmailCodeCheck::Missing,
        "a code is dead at its expiry"
    );
    assert_eq!(
        store.try_email_code("never", "x", NOW).await.unwrap(),
        EmailCodeCheck::Missing
    );
}

/// Concurrent tries are atomic: of many right tries one is accepted; of many wrong ones no
/// more than five are compared before the code dies.
pub async fn concurrent_email_code_tries_are_counted_once(store: Arc<dyn Store>) {
    store
        .put_email_code("k", &code("ann@example.com"), NOW)
        .await
        .unwrap();
    let tries = (0..16).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.try_email_code("k", "code-proof", NOW).await })
    });
    let outcomes = futures::future::join_all(tries).await;
    let accepted = outcomes
        .into_iter()
        .filter(|outcome| matches!(outcome, Ok(Ok(EmailCodeCheck::Accepted(_)))))
        .count();
    assert_eq!(accepted, 1, "a code signs in once");

    store
        .put_email_code("k", &code("ann@example.com"), NOW)
        .await
        .unwrap();
    let guesses = (0..16).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.try_email_code("k", &format!("guess-{i}"), NOW).await })
    });
    let outcomes = futures::future::join_all(guesses).await;
    let compared = outcomes
        .into_iter()
        .filter(|outcome| matches!(outcome, Ok(Ok(EmailCodeCheck::Wrong { .. }))))
        .count();
    assert_eq!(
        compared,
        EmailCodeRecord::ATTEMPTS as usize,
        "parallel guesses get five comparisons in all"
    );
    assert_eq!(
        store.try_email_code("k", "code-proof", NOW).await.unwrap(),
        EmailCodeCheck::Missing
    );
}

/// Marking an email verified works on a registered user with that email, reads back, and
/// changes nothing for a guest, another email or a missing user.
pub async fn mark_email_verified_is_conditional(store: Arc<dyn Store>) {
    let ann = User::registered("ann", "users", "ann@example.com", "Ann", NOW);
    store
        .insert_user(&UserRecord::new(ann), None, NOW)
        .await
        .unwrap();
    let guest = User::anonymous("guest", "users", "temp-guest@anonymous.invalid", "G", NOW);
    let guest = UserRecord::new(guest).with_expires_at(Some(NOW + HOUR));
    store.insert_user(&guest, None, NOW).await.unwrap();

    let read = store.get_user("ann", NOW).await.unwrap().unwrap();
    assert!(!read.user.email_verified, "a new account is unverified");
    let other = store
        .mark_email_verified("ann", "old@example.com", NOW)
        .await
        .unwrap();
    assert!(other.is_none(), "another address verifies nothing");
    let marked = store
        .mark_email_verified("ann", "ann@example.com", NOW)
        .await
        .unwrap()
        .expect("ann is marked");
    assert!(marked.user.email_verified);
    let read = store.get_user("ann", NOW).await.unwrap().unwrap();
    assert!(read.user.email_verified, "verified reads back");
    assert_eq!(read.user.email, "ann@example.com");
    assert!(!read.user.is_anonymous);

    let guest = store
        .mark_email_verified("guest", "temp-guest@anonymous.invalid", NOW)
        .await
        .unwrap();
    assert!(guest.is_none(), "a guest has no email to verify");
    let missing = store
        .mark_email_verified("nobody", "n@example.com", NOW)
        .await
        .unwrap();
    assert!(missing.is_none());
}
