//! The cases about users and sessions ([`UserStore`](crate::store::UserStore)).

use super::{HOUR, NOW};
use crate::store::fast_path::FastPath;
use crate::store::{SessionRecord, Store, UserRecord};
use crate::{StoreError, User};
use std::sync::Arc;

fn guest(id: &str, expires_at: u64) -> UserRecord {
    UserRecord::new(User::anonymous(
        id,
        "users",
        format!("temp-{id}@example.com"),
        "Guest",
        NOW,
    ))
    .with_expires_at(Some(expires_at))
}

/// The id of the user holding `email` in collection `users` at `NOW`.
async fn holder_of(store: &Arc<dyn Store>, email: &str) -> Option<String> {
    let found = store.find_user_by_email("users", email, NOW).await.unwrap();
    found.map(|record| record.user.id)
}

fn member(id: &str, email: &str) -> UserRecord {
    UserRecord::new(User::registered(id, "users", email, "Member", NOW))
        .with_password_hash(Some("$argon2id$fake".into()))
}

/// A user inserted with its first session reads back by id, by email and by session id; unknown ids read as `None`.
pub async fn insert_and_get_user(store: Arc<dyn Store>) {
    let record = guest("u1", NOW + HOUR);
    let session = SessionRecord::new("s1", "u1", NOW, NOW + HOUR);
    store
        .insert_user(&record, Some(&session), NOW)
        .await
        .unwrap();
    assert_eq!(
        store.get_user("u1", NOW).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(store.get_session("s1", NOW).await.unwrap(), Some(session));
    assert_eq!(
        store
            .find_user_by_email("users", "temp-u1@example.com", NOW)
            .await
            .unwrap(),
        Some(record)
    );
    assert_eq!(store.get_user("missing", NOW).await.unwrap(), None);
    assert_eq!(store.get_session("missing", NOW).await.unwrap(), None);
}

/// An email belongs to at most one live user per collection, and to one in each of two collections.
pub async fn email_is_unique_per_collection(store: Arc<dyn Store>) {
    store
        .insert_user(&member("a", "ann@example.com"), None, NOW)
        .await
        .unwrap();
    let err = store
        .insert_user(&member("b", "ann@example.com"), None, NOW)
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::EmailTaken);
    let mut other = member("c", "ann@example.com");
    other.user.collection = "admins".into();
    store.insert_user(&other, None, NOW).await.unwrap();
    let found = store
        .find_user_by_email("admins", "ann@example.com", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user.id, "c");
    assert_eq!(store.get_user("b", NOW).await.unwrap(), None);
}

/// A guest's placeholder email taken as a real one blocks the guest only while its holder lives.
pub async fn placeholder_taken_as_a_real_email_blocks_only_while_its_holder_lives(
    store: Arc<dyn Store>,
) {
    // A member registered with the string a guest's placeholder email would be.
    store
        .insert_user(&member("m", "temp-g@example.com"), None, NOW)
        .await
        .unwrap();
    let session = SessionRecord::new("sg", "g", NOW, NOW + HOUR);
    let err = store
        .insert_user(&guest("g", NOW + HOUR), Some(&session), NOW)
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::EmailTaken);
    assert_eq!(
        store.get_user("g", NOW).await.unwrap(),
        None,
        "nothing written"
    );
    assert_eq!(store.get_session("sg", NOW).await.unwrap(), None);
    // Once the member is gone, the guest gets its placeholder.
    store.delete_user("m").await.unwrap();
    store
        .insert_user(&guest("g", NOW + HOUR), Some(&session), NOW)
        .await
        .unwrap();
    assert_eq!(
        holder_of(&store, "temp-g@example.com").await.as_deref(),
        Some("g")
    );
    assert_eq!(store.get_session("sg", NOW).await.unwrap(), Some(session));
}

/// Users and sessions past their expiry read as missing.
pub async fn expired_users_and_sessions_read_as_none(store: Arc<dyn Store>) {
    let record = guest("old", NOW + 10);
    let session = SessionRecord::new("old-s", "old", NOW, NOW + 10);
    store
        .insert_user(&record, Some(&session), NOW)
        .await
        .unwrap();
    assert!(store.get_user("old", NOW + 9).await.unwrap().is_some());
    assert_eq!(store.get_user("old", NOW + 10).await.unwrap(), None);
    assert_eq!(store.get_session("old-s", NOW + 10).await.unwrap(), None);
    assert_eq!(
        store
            .find_user_by_email("users", "temp-old@example.com", NOW + 10)
            .await
            .unwrap(),
        None
    );
    // The expired holder of an email does not block a new user from taking it.
    let mut taker = member("new", "temp-old@example.com");
    taker.user.created_at = NOW + 20;
    store.insert_user(&taker, None, NOW + 20).await.unwrap();
    let found = store
        .find_user_by_email("users", "temp-old@example.com", NOW + 20)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user.id, "new");
}

/// Registering a guest in place keeps its id, sessions and resources, and removes its expiry.
pub async fn upgrade_keeps_id_and_removes_expiry(store: Arc<dyn Store>) {
    store
        .insert_user(&guest("g", NOW + HOUR), None, NOW)
        .await
        .unwrap();
    store
        .insert_user(&member("m", "taken@example.com"), None, NOW)
        .await
        .unwrap();
    let err = store
        .upgrade_user("g", "taken@example.com", "G", Some("$h"), NOW)
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::EmailTaken);
    let upgraded = store
        .upgrade_user("g", "gina@example.com", "Gina", Some("$h"), NOW)
        .await
        .unwrap();
    assert_eq!(upgraded.user.id, "g");
    assert!(!upgraded.user.is_anonymous);
    assert_eq!(upgraded.expires_at, None);
    assert_eq!(upgraded.password_hash.as_deref(), Some("$h"));
    // Far in the future the registered user is still there.
    let later = NOW + 1_000 * HOUR;
    assert_eq!(
        store.get_user("g", later).await.unwrap(),
        Some(upgraded.clone())
    );
    let by_email = store
        .find_user_by_email("users", "gina@example.com", later)
        .await
        .unwrap();
    assert_eq!(by_email, Some(upgraded));
    assert_eq!(
        store
            .find_user_by_email("users", "temp-g@example.com", NOW)
            .await
            .unwrap(),
        None,
        "the placeholder email is released"
    );
    let missing = store
        .upgrade_user("nobody", "x@example.com", "X", None, NOW)
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::UserNotFound(_)));
}

/// Sessions are deleted one at a time and all of a user's at once.
pub async fn sessions_are_revocable(store: Arc<dyn Store>) {
    store
        .insert_user(&member("u", "u@example.com"), None, NOW)
        .await
        .unwrap();
    for sid in ["s1", "s2", "s3"] {
        store
            .insert_session(&SessionRecord::new(sid, "u", NOW, NOW + HOUR))
            .await
            .unwrap();
    }
    store.delete_session("s1").await.unwrap();
    store.delete_session("s1").await.unwrap();
    assert_eq!(store.get_session("s1", NOW).await.unwrap(), None);
    assert!(store.get_session("s2", NOW).await.unwrap().is_some());
    assert_eq!(store.delete_user_sessions("u").await.unwrap(), 2);
    assert_eq!(store.get_session("s2", NOW).await.unwrap(), None);
    assert_eq!(store.get_session("s3", NOW).await.unwrap(), None);
    assert_eq!(store.delete_user_sessions("u").await.unwrap(), 0);
}

/// Whether `get_session` finds the session `id` of `user` live at `at`, and whether
/// `check_session_now` agrees when the store answers at once (stores that do not answer keep
/// the default `None`).
async fn session_verdicts(store: &Arc<dyn Store>, id: &str, user: &str, at: u64) -> (bool, bool) {
    let read = store.get_session(id, at).await.unwrap();
    let live = read.is_some_and(|session| session.user_id == user);
    let agrees = FastPath::of(&**store)
        .check_session_now(id, user, at)
        .is_none_or(|answer| answer == live);
    (live, agrees)
}

/// Where the layer asks a store about a session without waiting, the answer agrees with `get_session`.
pub async fn immediate_session_checks_agree_with_get_session(store: Arc<dyn Store>) {
    store
        .insert_user(&member("u", "u@example.com"), None, NOW)
        .await
        .unwrap();
    let sessions = [("s1", "u", NOW + HOUR), ("s2", "u", NOW + 10)];
    for (id, user, expires_at) in sessions {
        store
            .insert_session(&SessionRecord::new(id, user, NOW, expires_at))
            .await
            .unwrap();
    }
    let embedded = SessionRecord::new("g.s", "g", NOW, NOW + HOUR);
    store
        .insert_user(&guest("g", NOW + HOUR), Some(&embedded), NOW)
        .await
        .unwrap();
    let cases = [
        ("s1", "u", NOW, true),
        ("s1", "g", NOW, false),
        ("s2", "u", NOW, true),
        ("s2", "u", NOW + 10, false),
        ("g.s", "g", NOW, true),
        ("g.s", "u", NOW, false),
        ("missing", "u", NOW, false),
    ];
    for (id, user, at, live) in cases {
        let (read, agrees) = session_verdicts(&store, id, user, at).await;
        assert_eq!(read, live, "{id} {user}");
        assert!(agrees, "{id} {user} {at}");
    }
    store.delete_session("s1").await.unwrap();
    store.delete_user("g").await.unwrap();
    for (id, user) in [("s1", "u"), ("g.s", "g")] {
        assert_eq!(store.get_session(id, NOW).await.unwrap(), None, "{id}");
        assert!(
            session_verdicts(&store, id, user, NOW).await.1,
            "{id} revoked"
        );
    }
}

/// Session ids shaped like the layer's own (`{user_id}.{random}`, which RedisStore keeps inside
/// the user's record), mixed with ids that are not: every operation treats them alike.
pub async fn sessions_named_after_their_user_work_like_any_other(store: Arc<dyn Store>) {
    let guest_session = SessionRecord::new("g.s1", "g", NOW, NOW + HOUR);
    store
        .insert_user(&guest("g", NOW + HOUR), Some(&guest_session), NOW)
        .await
        .unwrap();
    assert_eq!(
        store.get_session("g.s1", NOW).await.unwrap(),
        Some(guest_session.clone())
    );
    assert_eq!(store.get_session("g.s1", NOW + HOUR).await.unwrap(), None);
    assert_eq!(store.get_session("g.other", NOW).await.unwrap(), None);
    store.refresh("g.s1", NOW + 3 * HOUR).await.unwrap();
    let at = NOW + 2 * HOUR;
    let slid = store.get_session("g.s1", at).await.unwrap().unwrap();
    assert_eq!((slid.created_at, slid.expires_at), (NOW, NOW + 3 * HOUR));
    assert!(store.get_user("g", at).await.unwrap().is_some());
    store.refresh("g.s1", NOW + 2 * HOUR).await.unwrap();
    let kept = store.get_session("g.s1", at).await.unwrap().unwrap();
    assert_eq!(
        kept.expires_at,
        NOW + 3 * HOUR,
        "refresh never moves backwards"
    );

    store
        .insert_user(&member("m", "m@example.com"), None, NOW)
        .await
        .unwrap();
    let sessions = [
        SessionRecord::new("m.a", "m", NOW, NOW + HOUR),
        SessionRecord::new("m.b", "m", NOW, NOW + HOUR),
        SessionRecord::new("g.x", "m", NOW, NOW + HOUR), // names another user
        SessionRecord::new("plain", "m", NOW, NOW + HOUR),
    ];
    for session in &sessions {
        store.insert_session(session).await.unwrap();
    }
    for session in &sessions {
        assert_eq!(
            store.get_session(&session.id, NOW).await.unwrap().as_ref(),
            Some(session),
            "{}",
            session.id
        );
    }
    store.refresh("m.a", NOW + 3 * HOUR).await.unwrap();
    assert!(store.get_session("m.a", at).await.unwrap().is_some());
    assert_eq!(store.get_session("m.b", at).await.unwrap(), None);
    let m = store.get_user("m", at).await.unwrap().unwrap();
    assert_eq!(m.expires_at, None, "registered users never gain an expiry");
    store.delete_session("m.b").await.unwrap();
    store.delete_session("g.x").await.unwrap();
    assert_eq!(store.get_session("m.b", NOW).await.unwrap(), None);
    assert_eq!(store.get_session("g.x", NOW).await.unwrap(), None);
    assert!(store.get_session("g.s1", NOW).await.unwrap().is_some());
    assert_eq!(store.delete_user_sessions("m").await.unwrap(), 2);
    assert_eq!(store.get_session("m.a", NOW).await.unwrap(), None);
    assert_eq!(store.get_session("plain", NOW).await.unwrap(), None);

    // A guest stored without its session (a revoked lazy token) has no session at all.
    store
        .insert_user(&guest("h", NOW + HOUR), None, NOW)
        .await
        .unwrap();
    assert_eq!(store.get_session("h.s", NOW).await.unwrap(), None);
    store.delete_user("g").await.unwrap();
    assert_eq!(store.get_session("g.s1", NOW).await.unwrap(), None);
}

/// Inserts a fresh guest with its first session and checks that both read back as written.
async fn insert_fresh_and_read_back(
    store: &Arc<dyn Store>,
    guest: UserRecord,
    session: SessionRecord,
) {
    FastPath::of(&**store)
        .insert_fresh_guest(&**store, &guest, Some(&session), NOW)
        .await
        .unwrap();
    let user = store.get_user(&guest.user.id, NOW).await.unwrap();
    assert_eq!(user, Some(guest));
    let read = store.get_session(&session.id, NOW).await.unwrap();
    assert_eq!(read, Some(session));
}

/// `insert_fresh_guest` (the mint's insert) stores a guest like `insert_user`; a guest whose
/// email is not its own placeholder still takes that email.
pub async fn fresh_guests_are_stored_like_any_user(store: Arc<dyn Store>) {
    let session = SessionRecord::new("f.s", "f", NOW, NOW + HOUR);
    insert_fresh_and_read_back(&store, guest("f", NOW + HOUR), session).await;
    assert_eq!(
        holder_of(&store, "temp-f@example.com").await.as_deref(),
        Some("f")
    );
    let custom = UserRecord::new(User::anonymous(
        "c",
        "users",
        "guest-c@example.com",
        "Guest",
        NOW,
    ))
    .with_expires_at(Some(NOW + HOUR));
    FastPath::of(&*store)
        .insert_fresh_guest(&*store, &custom, None, NOW)
        .await
        .unwrap();
    let taken = store
        .insert_user(&member("m", "guest-c@example.com"), None, NOW)
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::EmailTaken), "{taken:?}");
}

/// Guests with the name their id gives and no password (what RedisStore leaves out of their
/// hash) read back as written, through every insert and after an upgrade.
pub async fn default_names_and_no_password_read_back(store: Arc<dyn Store>) {
    let default_guest = |id: &str| {
        UserRecord::new(User::anonymous(
            id,
            "users",
            format!("temp-{id}@example.com"),
            User::default_name(id),
            NOW,
        ))
        .with_expires_at(Some(NOW + HOUR))
    };
    let session = SessionRecord::new("d.0", "d", NOW, NOW + HOUR);
    insert_fresh_and_read_back(&store, default_guest("d"), session).await;
    let inserted = default_guest("g");
    store.insert_user(&inserted, None, NOW).await.unwrap();
    assert_eq!(store.get_user("g", NOW).await.unwrap(), Some(inserted));

    let upgraded = store
        .upgrade_user(
            "d",
            "d@example.com",
            &User::default_name("d"),
            Some("$h"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(upgraded.user.name, User::default_name("d"));
    assert_eq!(store.get_user("d", NOW).await.unwrap(), Some(upgraded));
    let renamed = store
        .upgrade_user("g", "g@example.com", "Gail", None, NOW)
        .await
        .unwrap();
    assert_eq!(renamed.user.name, "Gail");
    assert_eq!(renamed.password_hash, None);
    assert_eq!(store.get_user("g", NOW).await.unwrap(), Some(renamed));
}

/// `refresh` pushes a session's expiry, and its guest's, never a registered user's.
pub async fn refresh_slides_guest_expiry_only(store: Arc<dyn Store>) {
    store
        .insert_user(
            &guest("g", NOW + HOUR),
            Some(&SessionRecord::new("gs", "g", NOW, NOW + HOUR)),
            NOW,
        )
        .await
        .unwrap();
    store
        .insert_user(
            &member("m", "m@example.com"),
            Some(&SessionRecord::new("ms", "m", NOW, NOW + HOUR)),
            NOW,
        )
        .await
        .unwrap();
    store.refresh("gs", NOW + 3 * HOUR).await.unwrap();
    store.refresh("ms", NOW + 3 * HOUR).await.unwrap();
    store.refresh("missing", NOW + 3 * HOUR).await.unwrap();
    let at = NOW + 2 * HOUR;
    assert!(store.get_user("g", at).await.unwrap().is_some());
    assert!(store.get_session("gs", at).await.unwrap().is_some());
    assert!(store.get_session("ms", at).await.unwrap().is_some());
    let m = store.get_user("m", NOW).await.unwrap().unwrap();
    assert_eq!(m.expires_at, None, "registered users never gain an expiry");
    assert_eq!(store.get_user("g", NOW + 3 * HOUR).await.unwrap(), None);
}

/// Deleting a user removes its sessions and frees its email.
pub async fn delete_user_removes_sessions_and_email(store: Arc<dyn Store>) {
    store
        .insert_user(
            &member("d", "d@example.com"),
            Some(&SessionRecord::new("ds", "d", NOW, NOW + HOUR)),
            NOW,
        )
        .await
        .unwrap();
    store.delete_user("d").await.unwrap();
    store.delete_user("d").await.unwrap();
    assert_eq!(store.get_user("d", NOW).await.unwrap(), None);
    assert_eq!(store.get_session("ds", NOW).await.unwrap(), None);
    store
        .insert_user(&member("e", "d@example.com"), None, NOW)
        .await
        .unwrap();
}

/// Inserting a user whose id is taken by a live user is refused and changes nothing: what
/// makes storing a lazy guest at its first write safe against a concurrent registration.
pub async fn insert_refuses_an_id_in_use(store: Arc<dyn Store>) {
    let record = guest("u1", NOW + HOUR);
    let session = SessionRecord::new("u1.0", "u1", NOW, NOW + HOUR);
    store
        .insert_user(&record, Some(&session), NOW)
        .await
        .unwrap();
    store
        .upgrade_user("u1", "ann@example.com", "Ann", Some("$argon2id$x"), NOW)
        .await
        .unwrap();
    store.delete_session("u1.0").await.unwrap();
    for again in [Some(&session), None] {
        let err = store.insert_user(&record, again, NOW).await.unwrap_err();
        assert_eq!(err, StoreError::UserExists("u1".into()));
    }
    let err = store
        .insert_user(&member("u1", "bob@example.com"), None, NOW)
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::UserExists("u1".into()));
    let stored = store.get_user("u1", NOW).await.unwrap().unwrap();
    assert!(!stored.user.is_anonymous);
    assert_eq!(stored.user.email, "ann@example.com");
    assert_eq!(stored.password_hash.as_deref(), Some("$argon2id$x"));
    assert_eq!(stored.expires_at, None);
    assert_eq!(
        store.get_session("u1.0", NOW).await.unwrap(),
        None,
        "not revived"
    );
    assert_eq!(holder_of(&store, "bob@example.com").await, None);
    assert_eq!(
        holder_of(&store, "ann@example.com").await.as_deref(),
        Some("u1")
    );

    // An expired user's id is free again.
    store
        .insert_user(&guest("u2", NOW + 10), None, NOW)
        .await
        .unwrap();
    store
        .insert_user(&guest("u2", NOW + HOUR), None, NOW + 20)
        .await
        .unwrap();
    let revived = store.get_user("u2", NOW + 20).await.unwrap().unwrap();
    assert_eq!(revived.expires_at, Some(NOW + HOUR));
}

/// `upgrade_user` only upgrades an anonymous user: a second registration of the same user
/// is refused and leaves the first one as it was.
pub async fn upgrade_is_refused_for_a_registered_user(store: Arc<dyn Store>) {
    store
        .insert_user(&guest("g", NOW + HOUR), None, NOW)
        .await
        .unwrap();
    store
        .upgrade_user("g", "ann@example.com", "Ann", Some("$argon2id$ann"), NOW)
        .await
        .unwrap();
    for email in ["bob@example.com", "ann@example.com"] {
        let err = store
            .upgrade_user("g", email, "Bob", Some("$argon2id$bob"), NOW)
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::AlreadyRegistered("g".into()));
    }
    let stored = store.get_user("g", NOW).await.unwrap().unwrap();
    assert_eq!(stored.user.email, "ann@example.com");
    assert_eq!(stored.user.name, "Ann");
    assert_eq!(stored.password_hash.as_deref(), Some("$argon2id$ann"));
    assert_eq!(
        holder_of(&store, "ann@example.com").await.as_deref(),
        Some("g")
    );
    assert_eq!(holder_of(&store, "bob@example.com").await, None);
    // The refused email is free for someone else.
    store
        .insert_user(&member("b", "bob@example.com"), None, NOW)
        .await
        .unwrap();
}

/// `delete_session` says whether it removed the session, so that exactly one of several
/// concurrent deletes of one session wins (a single-use token's exchange).
pub async fn delete_session_reports_whether_it_removed_one(store: Arc<dyn Store>) {
    store
        .insert_user(&guest("u1", NOW + HOUR), None, NOW)
        .await
        .unwrap();
    for id in ["u1.0", "u1.a-random-part", "detached"] {
        let session = SessionRecord::new(id, "u1", NOW, NOW + HOUR);
        store.insert_session(&session).await.unwrap();
        let deletes = (0..6).map(|_| store.delete_session(id));
        let removed = futures::future::join_all(deletes).await;
        let won = removed.into_iter().filter(|r| *r.as_ref().unwrap()).count();
        assert_eq!(won, 1, "{id}: exactly one delete removes it");
        assert_eq!(store.get_session(id, NOW).await.unwrap(), None);
        assert!(!store.delete_session(id).await.unwrap());
    }
}
