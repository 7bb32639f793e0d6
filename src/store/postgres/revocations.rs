//! Revocations announced to every app instance. A trigger on the sessions table (migration
//! 2) sends `NOTIFY "<schema>.revoked"` with the session's id for every deleted session, at
//! commit; a layer on the store listens with [`PostgresStore::watch_revocations`] and drops
//! those sessions from its memo as the notifications arrive.
//!
//! Notifications sent while the listening connection is down are lost, which is why the
//! listener is told whenever the feed goes down and comes back (it stops trusting its memo,
//! then starts it empty). The feed also refuses to call itself connected while the schema
//! lacks the trigger (an app that upgraded the crate but has not run
//! [`migrate`](PostgresStore::migrate)): nothing would be announced.

use super::{map_err, PostgresStore};
use crate::store::fast_path::RevocationListener;
use crate::store::revocation_feed::{spawn_feed, unless_dropped};
use crate::store::StoreError;
use sqlx::postgres::PgListener;
use std::sync::Weak;

impl PostgresStore {
    /// The channel revocations are announced on: `<schema>.revoked` (the trigger builds the
    /// same name from the table's schema).
    pub(super) fn revocation_channel(&self) -> String {
        format!("{}.revoked", self.schema.name())
    }

    /// Subscribes `listener` to this store's revocations, in a task of the current tokio
    /// runtime, until the listener is dropped. The feed holds one connection of the pool;
    /// it reconnects by itself (50 ms, doubling up to 2 s) and tells the listener each time
    /// it goes down and comes back.
    pub(crate) fn watch_revocations(&self, listener: Weak<dyn RevocationListener>) {
        let store = self.clone();
        let channel = self.revocation_channel();
        let subscribe = {
            let channel = channel.clone();
            move |_attempt| {
                let (store, channel) = (store.clone(), channel.clone());
                async move { store.subscribe(&channel).await }
            }
        };
        spawn_feed("PostgreSQL", channel, listener, subscribe, listen);
    }

    /// A connection listening on `channel`, once the schema is known to announce
    /// revocations on it.
    async fn subscribe(&self, channel: &str) -> Result<PgListener, StoreError> {
        let mut feed = PgListener::connect_with(&self.pool)
            .await
            .map_err(map_err)?;
        // Reconnecting is this module's job: it must tell the listener in between.
        feed.eager_reconnect(false);
        feed.listen(channel).await.map_err(map_err)?;
        // Checked after LISTEN, so a trigger created in between is not missed either.
        let announces: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_trigger
                             WHERE tgname = 'sessions_revoked'
                               AND tgrelid = to_regclass($1))",
        )
        .bind(format!("{}.sessions", self.schema.quoted()))
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        if !announces {
            return Err(StoreError::Backend(format!(
                "schema {} does not announce revocations yet: run PostgresStore::migrate()",
                self.schema.name()
            )));
        }
        Ok(feed)
    }
}

/// Hands the feed's notifications to the listener until the connection ends (`true`:
/// reconnect) or the listener is dropped (`false`).
async fn listen(mut feed: PgListener, listener: Weak<dyn RevocationListener>) -> bool {
    match listener.upgrade() {
        Some(listener) => listener.feed_connected(true),
        None => return false,
    }
    loop {
        let Some(received) = unless_dropped(&listener, feed.try_recv()).await else {
            return false;
        };
        let Some(listener) = listener.upgrade() else {
            return false;
        };
        match received {
            Ok(Some(notification)) => listener.revoked(notification.payload()),
            Ok(None) | Err(_) => {
                listener.feed_connected(false);
                return true;
            }
        }
    }
}
