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
use crate::store::revocation_feed::{spawn_feed, unless_dropped};
use crate::store::StoreError;
use futures::StreamExt;
use std::sync::Weak;

/// Where the feed subscribes: the store's node, or one of a cluster's nodes.
#[derive(Clone)]
pub(crate) enum FeedSource {
    Single(redis::Client),
    Cluster(Vec<String>),
}

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
        let subscribe = {
            let channel = channel.clone();
            move |attempt| {
                let (source, channel) = (source.clone(), channel.clone());
                async move { subscribe(&source, attempt, &channel).await }
            }
        };
        spawn_feed("Redis", channel, listener, subscribe, listen);
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
async fn listen(pubsub: redis::aio::PubSub, listener: Weak<dyn RevocationListener>) -> bool {
    match listener.upgrade() {
        Some(listener) => listener.feed_connected(true),
        None => return false,
    }
    let mut messages = pubsub.into_on_message();
    loop {
        let Some(message) = unless_dropped(&listener, messages.next()).await else {
            return false;
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
