//! The store's part of a link in one transaction: the app's in-transaction hook, the
//! ownership registry, the app's owned tables and the guest's deletion commit together or
//! not at all. A crash or a lost connection at any step rolls everything back, the guest's
//! session included, so the layer's retry runs the link again from the start.

use super::{map_err, PostgresStore};
use crate::store::{LinkStep, StoreError, TransferReport};
use futures::FutureExt;
use sqlx::PgConnection;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

/// The guest being linked and the account it becomes part of, as the in-transaction hook
/// ([`PostgresStoreBuilder::on_link_in_transaction`](super::PostgresStoreBuilder::on_link_in_transaction))
/// is told.
///
/// ```
/// let link = tower_anonymous_auth::store::postgres::LinkedGuest::new("guest-id", "account-id");
/// assert_eq!(link.guest_id, "guest-id");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkedGuest {
    /// The guest's user id: the rows to merge or move are still under it.
    pub guest_id: String,
    /// The account's user id.
    pub account_id: String,
}

impl LinkedGuest {
    /// The link of `guest_id` into `account_id` (for tests of a hook).
    ///
    /// ```
    /// let link = tower_anonymous_auth::store::postgres::LinkedGuest::new("g", "a");
    /// assert_eq!(link.account_id, "a");
    /// ```
    pub fn new(guest_id: impl Into<String>, account_id: impl Into<String>) -> Self {
        Self {
            guest_id: guest_id.into(),
            account_id: account_id.into(),
        }
    }
}

/// What the in-transaction hook returns: a boxed future on the link's connection; an `Err`
/// message rolls the link back.
///
/// ```
/// use tower_anonymous_auth::store::postgres::{LinkHookFuture, LinkedGuest};
///
/// fn noop<'c>(_conn: &'c mut sqlx::PgConnection, _link: &'c LinkedGuest) -> LinkHookFuture<'c> {
///     Box::pin(async { Ok(()) })
/// }
/// # let _ = noop;
/// ```
pub type LinkHookFuture<'c> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'c>>;

pub(super) type LinkHook =
    dyn for<'c> Fn(&'c mut PgConnection, &'c LinkedGuest) -> LinkHookFuture<'c> + Send + Sync;

impl PostgresStore {
    /// The link's steps, in order, on the transaction's connection.
    async fn link_in(
        &self,
        conn: &mut PgConnection,
        step: &LinkStep<'_>,
    ) -> Result<TransferReport, StoreError> {
        if let Some(hook) = &self.link_hook {
            let link = LinkedGuest::new(step.guest_id, step.account_id);
            let outcome = AssertUnwindSafe(hook(&mut *conn, &link))
                .catch_unwind()
                .await;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(message)) => return Err(StoreError::LinkHookFailed(message)),
                Err(_) => {
                    return Err(StoreError::LinkHookFailed(
                        "the in-transaction link hook panicked".to_owned(),
                    ))
                }
            }
        }
        let report = self
            .transfer_in(&mut *conn, step.guest_id, step.account_id)
            .await?;
        for table in self.owned.iter() {
            sqlx::query(sqlx::AssertSqlSafe(table.rewrite.clone()))
                .bind(step.guest_id)
                .bind(step.account_id)
                .execute(&mut *conn)
                .await
                .map_err(|err| match map_err(err) {
                    StoreError::Backend(message) => {
                        StoreError::Backend(format!("moving {}: {message}", table.table))
                    }
                    other => other,
                })?;
        }
        if step.delete_guest {
            self.remove_user(conn, step.guest_id).await?;
        } else {
            sqlx::query(self.sql("DELETE FROM {s}.sessions WHERE user_id = $1"))
                .bind(step.guest_id)
                .execute(&mut *conn)
                .await
                .map_err(map_err)?;
        }
        Ok(report)
    }

    /// [`Store::complete_link`](crate::store::Store::complete_link) in one transaction.
    pub(super) async fn complete_link_in_transaction(
        &self,
        step: &LinkStep<'_>,
    ) -> Result<TransferReport, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let report = self.link_in(&mut tx, step).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(report)
    }
}
