//! Revocations announced to every app instance. Whenever this store deletes sessions (a
//! sign-out, a link, a privilege change, a deleted user, a session past its lifetime) it
//! publishes their ids on the channel `{prefix}revoked`, one message per deletion with the
//! ids separated by newlines. A layer on the store subscribes with [`RedisStore::watch_revocations`]
//! and drops those sessions from its memo as the messages arrive.
//!
//! Plain pub/sub, which Redis Cluster forwards to every node: the subscriber listens on one
//! node (another one after a reconnect). Pub/sub delivers at most once: a message sent while
//! the subscriber is disconnected is lost, which is why the listener is told whenever the
//! feed goes down and comes back (it stops trusting its memo, then starts it empty).

use super::conn::map_err;
use super::RedisStore;
use crate::store::fast_path::RevocationListener;
use crate::store::StoreError;
use futures::StreamExt;
use std::sync::Weak;
use std::time::Duration;

/// Where the feed subscribes: the store's node, or one of a cluster's nodes.
#[derive(Clone)]
pub(crate) enum FeedSource {
    Single(redis::Client),
    Cluster(Vec<String>),
}

/// The first wait before reconnecting, and the longest.
const FIRST_RETRY: Duration = Duration::from_millis(50);
const LAST_RETRY: Duration = Duration::from_secs(2);
/// How often an idle feed checks that its listener is still alive.
const LISTENER_CHECK: Duration = Duration::from_secs(1);

impl RedisStore {
    fn revocation_channel(&self) -> String {
        format!("{}revoked", self.keys.prefix())
    }

    /// Announces that sessions `ids` were revoked.
    pub(super) async fn publish_revoked<S>(&self, ids: &[S]) -> Result<(), StoreError>
    where
        S: std::borrow::Borrow<str> + Sync,
    {
        if ids.is_empty() {
            return Ok(());
        }
        let _receivers: i64 = redis::cmd("PUBLISH")
            .arg(self.revocation_channel())
            .arg(ids.join("\n"))
            .query_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Subscribes `listener` to this store's revocations, in a task of the current tokio
    /// runtime, until the listener is dropped. It reconnects by itself (50 ms, doubling up to
    /// 2 s) and tells the listener each time the feed goes down and comes back.
    pub(crate) fn watch_revocations(&self, listener: Weak<dyn RevocationListener>) {
        let source = self.feed_source.clone();
        let channel = self.revocation_channel();
        tokio::spawn(async move {
            let mut retry = FIRST_RETRY;
            for attempt in 0usize.. {
                if listener.strong_count() == 0 {
                    return;
                }
                match subscribe(&source, attempt, &channel).await {
                    Ok(pubsub) => {
                        retry = FIRST_RETRY;
                        if !listen(pubsub, &listener).await {
                            return;
                        }
                        tracing::warn!(%channel, "revocation feed lost: every request checks Redis until it is back");
                    }
                    Err(error) if attempt == 0 => {
                        tracing::warn!(%channel, %error, "revocation feed not connected: every request checks Redis until it is");
                    }
                    Err(error) => tracing::debug!(%channel, %error, "revocation feed still down"),
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(LAST_RETRY);
            }
        });
    }
}

/// A pub/sub connection subscribed to `channel` (on the cluster node `attempt` picks).
async fn subscribe(
    source: &FeedSource,
    attempt: usize,
    channel: &str,
) -> redis::RedisResult<redis::aio::PubSub> {
    let client = match source {
        FeedSource::Single(client) => client.clone(),
        FeedSource::Cluster(urls) => redis::Client::open(urls[attempt % urls.len()].as_str())?,
    };
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

/// Hands the feed's messages to the listener until the connection ends (`true`: reconnect)
/// or the listener is dropped (`false`).
async fn listen(pubsub: redis::aio::PubSub, listener: &Weak<dyn RevocationListener>) -> bool {
    match listener.upgrade() {
        Some(listener) => listener.feed_connected(true),
        None => return false,
    }
    let mut messages = pubsub.into_on_message();
    loop {
        let message = tokio::select! {
            message = messages.next() => message,
            () = tokio::time::sleep(LISTENER_CHECK) => {
                if listener.strong_count() == 0 {
                    return false;
                }
                continue;
            }
        };
        let Some(listener) = listener.upgrade() else {
            return false;
        };
        let Some(message) = message else {
            listener.feed_connected(false);
            return true;
        };
        match message.get_payload::<String>() {
            Ok(ids) => ids.split('\n').for_each(|id| listener.revoked(id)),
            Err(error) => {
                // Unreadable: something was revoked, but not known what. Start over.
                tracing::warn!(%error, "unreadable revocation message");
                listener.feed_connected(false);
                listener.feed_connected(true);
            }
        }
    }
}
