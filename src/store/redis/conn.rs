//! The connection (single node or cluster) and the mapping of redis errors to [`StoreError`].

use crate::store::StoreError;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, ServerErrorKind, Value};
use std::time::Duration;

/// Connection settings for [`RedisStore`](super::RedisStore).
///
/// Both timeouts bound every call, so a dead or unreachable Redis gives
/// [`StoreError::Unavailable`] quickly instead of hanging the request.
///
/// ```
/// use std::time::Duration;
/// use tower_anonymous_auth::store::RedisStoreConfig;
///
/// let config = RedisStoreConfig::default()
///     .connection_timeout(Duration::from_millis(500))
///     .response_timeout(Duration::from_millis(500));
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct RedisStoreConfig {
    connection_timeout: Duration,
    response_timeout: Duration,
}

impl Default for RedisStoreConfig {
    fn default() -> Self {
        Self {
            connection_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
        }
    }
}

impl RedisStoreConfig {
    /// How long to wait for a TCP connection (and each reconnect attempt). Default 1 s.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let c = tower_anonymous_auth::store::RedisStoreConfig::default()
    ///     .connection_timeout(Duration::from_secs(2));
    /// # let _ = c;
    /// ```
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// How long to wait for the reply to one call. Default 1 s.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let c = tower_anonymous_auth::store::RedisStoreConfig::default()
    ///     .response_timeout(Duration::from_millis(300));
    /// # let _ = c;
    /// ```
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }
}

/// A cloneable, self-reconnecting connection to one node or to a cluster.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    /// A connection to one node, and the client it came from (for the revocation feed).
    pub(crate) async fn single(
        url: &str,
        config: &RedisStoreConfig,
    ) -> Result<(Self, redis::Client), StoreError> {
        let client = redis::Client::open(url).map_err(|err| not_reachable(&[url], err))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connection_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_with_config(client.clone(), manager_config)
            .await
            .map_err(|err| not_reachable(&[url], err))?;
        Ok((Self::Single(manager), client))
    }

    pub(crate) async fn cluster(
        urls: &[&str],
        config: &RedisStoreConfig,
    ) -> Result<Self, StoreError> {
        let client = ClusterClientBuilder::new(urls.iter().copied())
            .connection_timeout(config.connection_timeout)
            .response_timeout(config.response_timeout)
            .retries(3)
            .max_retry_wait(200)
            .build()
            .map_err(|err| not_reachable(urls, err))?;
        let connection = client
            .get_async_connection()
            .await
            .map_err(|err| not_reachable(urls, err))?;
        Ok(Self::Cluster(connection))
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// A failure to connect, saying where (passwords hidden) and what to check. Errors that are
/// not about reaching the server (a malformed URL, a refused password) keep their kind.
fn not_reachable(urls: &[&str], err: RedisError) -> StoreError {
    let at = urls
        .iter()
        .map(|url| redacted(url))
        .collect::<Vec<_>>()
        .join(", ");
    match map_err(err) {
        StoreError::Unavailable(reason) => StoreError::Unavailable(format!(
            "Redis at {at} is not reachable ({reason}); check that it runs there and that the \
             URL is right"
        )),
        StoreError::Backend(reason) => StoreError::Backend(format!("Redis at {at}: {reason}")),
        other => other,
    }
}

/// `url` with the password of its user info replaced by `***`.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let user = rest[..at].split(':').next().unwrap_or_default();
    let password_given = rest[..at].contains(':');
    let user_info = if password_given {
        format!("{user}:***")
    } else {
        user.to_owned()
    };
    format!("{scheme}://{user_info}{}", &rest[at..])
}

/// Maps a redis error: unreachable, timed out, restarting or cluster-down servers are
/// [`StoreError::Unavailable`] (retryable); replies we cannot read are
/// [`StoreError::Corrupt`]; anything else is [`StoreError::Backend`].
pub(crate) fn map_err(err: RedisError) -> StoreError {
    let unavailable = err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_cluster_error()
        || matches!(
            err.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(ServerErrorKind::BusyLoading)
                | ErrorKind::Server(ServerErrorKind::MasterDown)
                | ErrorKind::Server(ServerErrorKind::TryAgain)
                | ErrorKind::Server(ServerErrorKind::ReadOnly)
        );
    if unavailable {
        StoreError::Unavailable(err.to_string())
    } else if matches!(
        err.kind(),
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType
    ) {
        StoreError::Corrupt(err.to_string())
    } else {
        StoreError::Backend(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn urls_lose_their_passwords_and_keep_the_rest() {
        assert_eq!(
            redacted("redis://127.0.0.1:6379/"),
            "redis://127.0.0.1:6379/"
        );
        assert_eq!(
            redacted("redis://:s3cret@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(
            redacted("rediss://app:p@ss@cache.example:6380"),
            "rediss://app:***@cache.example:6380"
        );
        assert_eq!(redacted("redis://app@cache/"), "redis://app@cache/");
        assert_eq!(redacted("not a url"), "not a url");
    }
}
