//! Users and sessions: [`UserStore`] on the `users` and `sessions` tables.
//!
//! The conditional writes lock the rows they decide on (`SELECT ... FOR UPDATE`) inside a
//! transaction, and the unique indexes (id; collection and email) settle the race of two
//! inserts that found nothing to lock: the loser's `ON CONFLICT DO NOTHING` writes nothing and
//! it reports the conflict.

use super::{column, from_ms, is_unique_violation, map_err, ms, PostgresStore};
use crate::store::{SessionRecord, StoreError, User, UserRecord, UserStore};
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

/// The columns of a user, in the order [`user_from_row`] reads them.
pub(super) const USER_COLUMNS: &str =
    "id, collection, email, name, is_anonymous, email_verified, created_at, password_hash, expires_at";

/// "The user is live at `$now`", for a `WHERE` clause; `{now}` is the parameter's number.
pub(super) fn live(table: &str, now: &str) -> String {
    format!("({table}.expires_at IS NULL OR {table}.expires_at > {now})")
}

pub(super) fn user_from_row(row: &PgRow) -> Result<UserRecord, StoreError> {
    let (id, collection, email, name): (String, String, String, String) = (
        column(row, 0)?,
        column(row, 1)?,
        column(row, 2)?,
        column(row, 3)?,
    );
    let created_at = from_ms(column(row, 6)?);
    let mut user = if column(row, 4)? {
        User::anonymous(id, collection, email, name, created_at)
    } else {
        User::registered(id, collection, email, name, created_at)
    };
    user.email_verified = column(row, 5)?;
    Ok(UserRecord::new(user)
        .with_password_hash(column(row, 7)?)
        .with_expires_at(column::<Option<i64>>(row, 8)?.map(from_ms)))
}

fn session_from_row(row: &PgRow) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord::new(
        column::<String>(row, 0)?,
        column::<String>(row, 1)?,
        from_ms(column(row, 2)?),
        from_ms(column(row, 3)?),
    ))
}

/// The INSERT of a user record; [`bind_user`] binds its values `$1` to `$9`.
const INSERT_USER: &str = "INSERT INTO {s}.users (id, collection, email, name, is_anonymous,
         email_verified, created_at, password_hash, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// `query` with `record`'s values bound as [`INSERT_USER`] numbers them.
fn bind_user<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    record: &'q UserRecord,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let user = &record.user;
    query
        .bind(&user.id)
        .bind(&user.collection)
        .bind(&user.email)
        .bind(&user.name)
        .bind(user.is_anonymous)
        .bind(user.email_verified)
        .bind(ms(user.created_at))
        .bind(&record.password_hash)
        .bind(record.expires_at.map(ms))
}

impl PostgresStore {
    /// Deletes user `id` with its sessions and identities (one statement, on `conn`).
    pub(super) async fn remove_user(
        &self,
        conn: &mut PgConnection,
        id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(self.sql(
            "WITH gone_sessions AS (DELETE FROM {s}.sessions WHERE user_id = $1),
                  gone_identities AS (DELETE FROM {s}.identities WHERE user_id = $1)
             DELETE FROM {s}.users WHERE id = $1",
        ))
        .bind(id)
        .execute(conn)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    /// Locks the users holding `email` in `collection` other than `except`: a live one makes
    /// the email taken, a dead one is removed.
    async fn free_email(
        &self,
        conn: &mut PgConnection,
        collection: &str,
        email: &str,
        except: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        let holders = sqlx::query(self.sql(
            "SELECT id, expires_at FROM {s}.users
             WHERE collection = $1 AND email = $2 AND id <> $3 FOR UPDATE",
        ))
        .bind(collection)
        .bind(email)
        .bind(except)
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err)?;
        for holder in holders {
            let id: String = column(&holder, 0)?;
            let expires_at: Option<i64> = column(&holder, 1)?;
            if expires_at.is_none_or(|at| at > ms(now)) {
                return Err(StoreError::EmailTaken);
            }
            self.remove_user(conn, &id).await?;
        }
        Ok(())
    }

    async fn insert_user_in(
        &self,
        conn: &mut PgConnection,
        record: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        let user = &record.user;
        let current =
            sqlx::query(self.sql("SELECT expires_at FROM {s}.users WHERE id = $1 FOR UPDATE"))
                .bind(&user.id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(map_err)?;
        if let Some(current) = current {
            let expires_at: Option<i64> = column(&current, 0)?;
            if expires_at.is_none_or(|at| at > ms(now)) {
                return Err(StoreError::UserExists(user.id.clone()));
            }
            // An expired user under this id is dead: it goes, with its sessions.
            self.remove_user(conn, &user.id).await?;
        }
        self.free_email(conn, &user.collection, &user.email, &user.id, now)
            .await?;
        let sql = self.sql(&format!("{INSERT_USER} ON CONFLICT DO NOTHING"));
        let inserted = bind_user(sqlx::query(sql), record)
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
        if inserted.rows_affected() == 0 {
            // A concurrent insert committed first; say which of its rows was in the way.
            let taken_id = sqlx::query(self.sql("SELECT 1 FROM {s}.users WHERE id = $1"))
                .bind(&user.id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(map_err)?;
            return Err(match taken_id {
                Some(_) => StoreError::UserExists(user.id.clone()),
                None => StoreError::EmailTaken,
            });
        }
        if let Some(session) = session {
            self.upsert_session(conn, session).await?;
        }
        Ok(())
    }

    /// [`insert_user`](UserStore::insert_user) for a guest whose id was made for this call
    /// and never handed out: no user can hold that id or its placeholder email, so there is
    /// nothing to check or remove first, and the user and its session are written in one
    /// statement (one round trip, its own transaction) instead of a five-statement
    /// transaction. The constraints still hold: a collision is refused, as by `insert_user`.
    pub(crate) async fn insert_fresh_guest(
        &self,
        record: &UserRecord,
        session: Option<&SessionRecord>,
    ) -> Result<(), StoreError> {
        let user = &record.user;
        let sql = match session {
            Some(_) => format!(
                "WITH u AS ({INSERT_USER} RETURNING id)
                 INSERT INTO {{s}}.sessions (id, user_id, created_at, expires_at)
                 SELECT $10, id, $11, $12 FROM u"
            ),
            None => INSERT_USER.to_owned(),
        };
        let query = bind_user(sqlx::query(self.sql(&sql)), record);
        let query = match session {
            Some(session) => query
                .bind(&session.id)
                .bind(ms(session.created_at))
                .bind(ms(session.expires_at)),
            None => query,
        };
        query.execute(&self.pool).await.map_err(|err| {
            let constraint = match &err {
                sqlx::Error::Database(db) if is_unique_violation(&err) => db.constraint(),
                _ => None,
            };
            match constraint {
                Some("users_pkey") => StoreError::UserExists(user.id.clone()),
                Some("users_email") => StoreError::EmailTaken,
                _ => map_err(err),
            }
        })?;
        Ok(())
    }

    async fn upsert_session(
        &self,
        conn: &mut PgConnection,
        session: &SessionRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(self.sql(
            "INSERT INTO {s}.sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id,
                 created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at",
        ))
        .bind(&session.id)
        .bind(&session.user_id)
        .bind(ms(session.created_at))
        .bind(ms(session.expires_at))
        .execute(conn)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn upgrade_user_in(
        &self,
        conn: &mut PgConnection,
        id: &str,
        email: &str,
        name: &str,
        password_hash: Option<&str>,
        now: u64,
    ) -> Result<UserRecord, StoreError> {
        let current = sqlx::query(self.sql(&format!(
            "SELECT {USER_COLUMNS} FROM {{s}}.users WHERE id = $1 AND {} FOR UPDATE",
            live("users", "$2")
        )))
        .bind(id)
        .bind(ms(now))
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?;
        let Some(current) = current else {
            return Err(StoreError::UserNotFound(id.to_owned()));
        };
        let current = user_from_row(&current)?;
        if !current.user.is_anonymous {
            return Err(StoreError::AlreadyRegistered(id.to_owned()));
        }
        self.free_email(conn, &current.user.collection, email, id, now)
            .await?;
        let upgraded = sqlx::query(self.sql(&format!(
            "UPDATE {{s}}.users SET email = $2, name = $3, is_anonymous = FALSE,
                 password_hash = $4, expires_at = NULL
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        )))
        .bind(id)
        .bind(email)
        .bind(name)
        .bind(password_hash)
        .fetch_one(&mut *conn)
        .await
        .map_err(|err| {
            if is_unique_violation(&err) {
                StoreError::EmailTaken
            } else {
                map_err(err)
            }
        })?;
        user_from_row(&upgraded)
    }
}

/// Runs `body` in a transaction on `store`'s pool: committed when it returns `Ok`, rolled back
/// (by dropping the transaction) when it returns an error.
macro_rules! in_transaction {
    ($store:expr, |$conn:ident| $body:expr) => {{
        let mut tx = $store.pool.begin().await.map_err(map_err)?;
        let $conn: &mut PgConnection = &mut tx;
        let outcome = $body.await;
        if outcome.is_ok() {
            tx.commit().await.map_err(map_err)?;
        }
        outcome
    }};
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn insert_user(
        &self,
        record: &UserRecord,
        session: Option<&SessionRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        in_transaction!(self, |conn| self.insert_user_in(conn, record, session, now))
    }

    async fn get_user(&self, id: &str, now: u64) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(self.sql(&format!(
            "SELECT {USER_COLUMNS} FROM {{s}}.users WHERE id = $1 AND {}",
            live("users", "$2")
        )))
        .bind(id)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn find_user_by_email(
        &self,
        collection: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(self.sql(&format!(
            "SELECT {USER_COLUMNS} FROM {{s}}.users WHERE collection = $1 AND email = $2 AND {}",
            live("users", "$3")
        )))
        .bind(collection)
        .bind(email)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn mark_email_verified(
        &self,
        id: &str,
        email: &str,
        now: u64,
    ) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(self.sql(&format!(
            "UPDATE {{s}}.users SET email_verified = TRUE
             WHERE id = $1 AND email = $2 AND NOT is_anonymous AND {}
             RETURNING {USER_COLUMNS}",
            live("users", "$3")
        )))
        .bind(id)
        .bind(email)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn upgrade_user(
        &self,
        id: &str,
        email: &str,
        name: &str,
        password_hash: Option<&str>,
        now: u64,
    ) -> Result<UserRecord, StoreError> {
        in_transaction!(self, |conn| self.upgrade_user_in(
            conn,
            id,
            email,
            name,
            password_hash,
            now
        ))
    }

    async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        self.remove_user(&mut conn, id).await
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        self.upsert_session(&mut conn, session).await
    }

    async fn get_session(&self, id: &str, now: u64) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(self.sql(
            "SELECT id, user_id, created_at, expires_at FROM {s}.sessions
             WHERE id = $1 AND expires_at > $2",
        ))
        .bind(id)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn refresh(&self, session_id: &str, expires_at: u64) -> Result<(), StoreError> {
        // Both tables in one statement: the session slides, and its user too while anonymous.
        sqlx::query(self.sql(
            "WITH slid AS (
                 UPDATE {s}.sessions SET expires_at = GREATEST(expires_at, $2)
                 WHERE id = $1 RETURNING user_id
             )
             UPDATE {s}.users SET expires_at = GREATEST(expires_at, $2)
             WHERE id IN (SELECT user_id FROM slid) AND expires_at IS NOT NULL",
        ))
        .bind(session_id)
        .bind(ms(expires_at))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    /// Announces the revocation even when no row was deleted: a lazy guest's session was
    /// never stored, yet another instance's memo may vouch for its token. (A deleted row is
    /// announced by the trigger too; PostgreSQL delivers identical notifications of one
    /// transaction once.)
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let deleted: i64 = sqlx::query_scalar(self.sql(
            "WITH gone AS (DELETE FROM {s}.sessions WHERE id = $1 RETURNING id)
             SELECT (SELECT count(*) FROM gone) FROM pg_notify($2, $1)",
        ))
        .bind(id)
        .bind(self.revocation_channel())
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(deleted == 1)
    }

    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        let done = sqlx::query(self.sql("DELETE FROM {s}.sessions WHERE user_id = $1"))
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migrated store in a schema of its own on the test database (`DATABASE_URL`).
    async fn store() -> PostgresStore {
        let url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".to_owned());
        let pool = sqlx::PgPool::connect(&url).await.expect("PostgreSQL runs");
        let schema = format!("t_fresh_{}", crate::util::ids::new_id().to_lowercase());
        let schema: String = schema.chars().filter(char::is_ascii_alphanumeric).collect();
        let store = PostgresStore::builder(pool).schema(schema).build().unwrap();
        store.migrate().await.unwrap();
        store
    }

    fn guest(id: &str, email: &str) -> UserRecord {
        UserRecord::new(User::anonymous(id, "users", email, "Guest", 1_000))
            .with_expires_at(Some(90_000))
    }

    #[tokio::test]
    async fn a_fresh_guest_is_written_in_one_statement_and_collisions_are_refused() {
        let store = store().await;
        let session = SessionRecord::new("s1", "u1", 1_000, 90_000);
        store
            .insert_fresh_guest(&guest("u1", "u1@guest"), Some(&session))
            .await
            .unwrap();
        assert_eq!(
            store
                .get_user("u1", 2_000)
                .await
                .unwrap()
                .unwrap()
                .user
                .email,
            "u1@guest"
        );
        assert_eq!(store.get_session("s1", 2_000).await.unwrap(), Some(session));

        let again = store
            .insert_fresh_guest(&guest("u1", "other@guest"), None)
            .await;
        assert_eq!(again, Err(StoreError::UserExists("u1".into())));
        let same_email = store
            .insert_fresh_guest(&guest("u2", "u1@guest"), None)
            .await;
        assert_eq!(same_email, Err(StoreError::EmailTaken));
        // A refused guest leaves nothing behind, its session neither.
        let clash = SessionRecord::new("s2", "u1", 1_000, 90_000);
        let refused = store
            .insert_fresh_guest(&guest("u1", "x@guest"), Some(&clash))
            .await;
        assert!(refused.is_err());
        assert_eq!(store.get_session("s2", 2_000).await.unwrap(), None);

        let drop = format!("DROP SCHEMA {} CASCADE", store.schema.quoted());
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
            .execute(&store.pool)
            .await
            .unwrap();
    }
}
