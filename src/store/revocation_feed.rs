//! What every store's revocation feed shares, whatever carries it (Redis pub/sub,
//! PostgreSQL `NOTIFY`): the task that connects, hands messages on and reconnects with a
//! growing wait, logging when the feed is lost or cannot connect; and the wait for the next
//! message that gives up once the layer that listens is gone. A store supplies only how to
//! subscribe and how to read its messages.

use super::fast_path::RevocationListener;
use std::fmt::Display;
use std::future::Future;
use std::sync::Weak;
use std::time::Duration;

/// The first wait before reconnecting, and the longest.
const FIRST_RETRY: Duration = Duration::from_millis(50);
const LAST_RETRY: Duration = Duration::from_secs(2);
/// How often a feed waiting for a message checks that its listener is still alive.
const LISTENER_CHECK: Duration = Duration::from_secs(1);

/// Runs a feed in a task of the current tokio runtime until `listener` is dropped.
/// `subscribe(attempt)` connects; `listen(connection, listener)` hands the connection's
/// messages on until it ends (`true`: reconnect) or the listener is gone (`false`). Between
/// attempts it waits 50 ms, doubling up to 2 s. `store` and `channel` name the feed in logs.
pub(crate) fn spawn_feed<C, E, Sub, SubFut, Lis, LisFut>(
    store: &'static str,
    channel: String,
    listener: Weak<dyn RevocationListener>,
    mut subscribe: Sub,
    mut listen: Lis,
) where
    C: Send,
    E: Display + Send,
    Sub: FnMut(usize) -> SubFut + Send + 'static,
    SubFut: Future<Output = Result<C, E>> + Send,
    Lis: FnMut(C, Weak<dyn RevocationListener>) -> LisFut + Send + 'static,
    LisFut: Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        let mut retry = FIRST_RETRY;
        for attempt in 0usize.. {
            if listener.strong_count() == 0 {
                return;
            }
            match subscribe(attempt).await {
                Ok(connection) => {
                    retry = FIRST_RETRY;
                    if !listen(connection, listener.clone()).await {
                        return;
                    }
                    tracing::warn!(%channel, "revocation feed lost: every request checks {store} until it is back");
                }
                Err(error) if attempt == 0 => {
                    tracing::warn!(%channel, %error, "revocation feed not connected: every request checks {store} until it is");
                }
                Err(error) => tracing::debug!(%channel, %error, "revocation feed still down"),
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(LAST_RETRY);
        }
    });
}

/// What `next` yields, or `None` once `listener` is gone (checked every second while
/// waiting, so a feed whose layer was dropped ends even when no message comes).
pub(crate) async fn unless_dropped<T>(
    listener: &Weak<dyn RevocationListener>,
    next: impl Future<Output = T>,
) -> Option<T> {
    let mut next = std::pin::pin!(next);
    loop {
        tokio::select! {
            value = &mut next => return Some(value),
            () = tokio::time::sleep(LISTENER_CHECK) => {
                if listener.strong_count() == 0 {
                    return None;
                }
            }
        }
    }
}
