//! The cases about sign-in identities ([`IdentityStore`](crate::store::IdentityStore)).

use super::{HOUR, NOW};
use crate::store::{IdentityRecord, Store, UserRecord};
use crate::{StoreError, User};
use std::sync::Arc;

async fn insert_member(store: &Arc<dyn Store>, id: &str, collection: &str) {
    let user = User::registered(id, collection, format!("{id}@example.com"), "Member", NOW);
    store
        .insert_user(&UserRecord::new(user), None, NOW)
        .await
        .unwrap();
}

async fn holder(store: &Arc<dyn Store>, collection: &str, provider: &str) -> Option<String> {
    let found = store
        .find_identity(collection, provider, "sub-1", NOW)
        .await;
    found.unwrap().map(|identity| identity.user_id)
}

/// An identity belongs to one user: attached, found and listed; attached again to its holder
/// it is updated; another user is refused with `IdentityTaken`; detached only by its holder,
/// after which another user may take it.
pub async fn identities_attach_find_and_detach(store: Arc<dyn Store>) {
    insert_member(&store, "ann", "users").await;
    insert_member(&store, "bob", "users").await;
    let github = IdentityRecord::new("github", "sub-1", "ann", NOW);
    store.attach_identity("users", &github, NOW).await.unwrap();
    assert_eq!(
        holder(&store, "users", "github").await.as_deref(),
        Some("ann")
    );
    let with_email = github.clone().with_email(Some("ann@example.com".into()));
    store
        .attach_identity("users", &with_email, NOW)
        .await
        .unwrap();
    assert_eq!(
        store.identities_of("ann", NOW).await.unwrap(),
        vec![with_email],
        "attaching again replaces the record"
    );
    let to_bob = IdentityRecord::new("github", "sub-1", "bob", NOW);
    assert_eq!(
        store.attach_identity("users", &to_bob, NOW).await,
        Err(StoreError::IdentityTaken)
    );
    assert!(!store
        .detach_identity("users", "github", "sub-1", "bob")
        .await
        .unwrap());
    assert_eq!(
        holder(&store, "users", "github").await.as_deref(),
        Some("ann")
    );
    assert!(store
        .detach_identity("users", "github", "sub-1", "ann")
        .await
        .unwrap());
    assert_eq!(holder(&store, "users", "github").await, None);
    assert!(store.identities_of("ann", NOW).await.unwrap().is_empty());
    store.attach_identity("users", &to_bob, NOW).await.unwrap();
    assert_eq!(
        holder(&store, "users", "github").await.as_deref(),
        Some("bob")
    );
    assert_eq!(holder(&store, "users", "google").await, None);
}

/// One (provider, subject) is a different identity in each collection, and a user of one
/// collection cannot hold an identity in another.
pub async fn identities_are_per_collection(store: Arc<dyn Store>) {
    insert_member(&store, "ann", "users").await;
    insert_member(&store, "ada", "admins").await;
    let in_users = IdentityRecord::new("github", "sub-1", "ann", NOW);
    let in_admins = IdentityRecord::new("github", "sub-1", "ada", NOW);
    store
        .attach_identity("users", &in_users, NOW)
        .await
        .unwrap();
    store
        .attach_identity("admins", &in_admins, NOW)
        .await
        .unwrap();
    assert_eq!(
        holder(&store, "users", "github").await.as_deref(),
        Some("ann")
    );
    assert_eq!(
        holder(&store, "admins", "github").await.as_deref(),
        Some("ada")
    );
    let wrong_collection = IdentityRecord::new("google", "sub-1", "ann", NOW);
    assert_eq!(
        store
            .attach_identity("admins", &wrong_collection, NOW)
            .await,
        Err(StoreError::UserNotFound("ann".into()))
    );
}

/// A missing user cannot be given an identity; an expired or deleted holder does not hold
/// it any more, and another user may take it.
pub async fn identities_of_gone_users_are_free(store: Arc<dyn Store>) {
    let orphan = IdentityRecord::new("github", "sub-1", "nobody", NOW);
    assert_eq!(
        store.attach_identity("users", &orphan, NOW).await,
        Err(StoreError::UserNotFound("nobody".into()))
    );
    assert_eq!(holder(&store, "users", "github").await, None);
    let guest = UserRecord::new(User::anonymous("g", "users", "temp-g@x.io", "G", NOW))
        .with_expires_at(Some(NOW + HOUR));
    store.insert_user(&guest, None, NOW).await.unwrap();
    let by_guest = IdentityRecord::new("github", "sub-1", "g", NOW);
    store
        .attach_identity("users", &by_guest, NOW)
        .await
        .unwrap();
    let later = NOW + 2 * HOUR;
    let found = store.find_identity("users", "github", "sub-1", later).await;
    assert_eq!(found.unwrap(), None, "the guest expired");
    insert_member(&store, "ann", "users").await;
    let by_ann = IdentityRecord::new("github", "sub-1", "ann", later);
    store
        .attach_identity("users", &by_ann, later)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_identity("users", "github", "sub-1", later)
            .await
            .unwrap(),
        Some(by_ann)
    );
    store.delete_user("ann").await.unwrap();
    assert_eq!(holder(&store, "users", "github").await, None);
    insert_member(&store, "bob", "users").await;
    let by_bob = IdentityRecord::new("github", "sub-1", "bob", NOW);
    store.attach_identity("users", &by_bob, NOW).await.unwrap();
    assert_eq!(
        holder(&store, "users", "github").await.as_deref(),
        Some("bob")
    );
}

/// Of many users attaching one identity at once, exactly one holds it.
pub async fn concurrent_attaches_give_one_holder(store: Arc<dyn Store>) {
    let ids: Vec<String> = (0..8).map(|i| format!("racer{i}")).collect();
    for id in &ids {
        insert_member(&store, id, "users").await;
    }
    let attaches = ids.iter().map(|id| {
        let store = store.clone();
        let identity = IdentityRecord::new("github", "sub-1", id.clone(), NOW);
        tokio::spawn(async move { store.attach_identity("users", &identity, NOW).await })
    });
    let results = futures::future::join_all(attaches).await;
    let won: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, result)| matches!(result, Ok(Ok(()))))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(won.len(), 1, "{results:?}");
    for result in &results {
        if let Ok(Err(error)) = result {
            assert_eq!(*error, StoreError::IdentityTaken);
        }
    }
    let winner = &ids[won[0]];
    assert_eq!(
        holder(&store, "users", "github").await.as_ref(),
        Some(winner)
    );
    let mut listed = 0;
    for id in &ids {
        listed += store.identities_of(id, NOW).await.unwrap().len();
    }
    assert_eq!(listed, 1, "only the winner lists it");
}
