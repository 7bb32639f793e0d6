//! Where the shop keeps its carts, and the store that goes with it.
//!
//! - On PostgreSQL (`DATABASE_URL` set, built with `--features postgres`): rows of the shop's
//!   own `carts` table, tables and store under the schema `DATABASE_SCHEMA` (default
//!   `teashop`). The store is told that `carts.owner_id` names a user, so a link moves the
//!   guest's rows to the account in the link's own transaction.
//! - Elsewhere (Redis when `REDIS_URL` is set, else memory): each cart line is a resource the
//!   user owns (`line:{random}:{product}`), moved by the store's ownership transfer.

#[path = "store_from_env.rs"]
mod store_from_env;

use std::sync::Arc;
use tower_anonymous_auth::{AuthError, AuthHandle, Store};

/// The shop's carts.
#[derive(Clone)]
pub enum Carts {
    /// Cart lines are resources owned in the auth store.
    Owned,
    /// Cart lines are rows of `table` (`"schema".carts`).
    #[cfg(feature = "postgres")]
    Table { pool: sqlx::PgPool, table: String },
}

/// The store and the carts the environment asks for (see the module's comment).
pub async fn from_env() -> Result<(Arc<dyn Store>, Carts), Box<dyn std::error::Error>> {
    let database_url = std::env::var("DATABASE_URL").unwrap_or_default();
    #[cfg(feature = "postgres")]
    if !database_url.is_empty() {
        return on_postgres(&database_url).await;
    }
    if !database_url.is_empty() {
        println!("DATABASE_URL is set: build with `--features postgres` to keep the shop there");
    }
    Ok((store_from_env::store_from_env().await?, Carts::Owned))
}

#[cfg(feature = "postgres")]
async fn on_postgres(url: &str) -> Result<(Arc<dyn Store>, Carts), Box<dyn std::error::Error>> {
    use tower_anonymous_auth::store::PostgresStore;
    let schema = std::env::var("DATABASE_SCHEMA").unwrap_or_else(|_| "teashop".into());
    let pool = sqlx::PgPool::connect(url).await?;
    // The builder checks the schema name; the table names below are built from it.
    let store = PostgresStore::builder(pool.clone())
        .schema(&schema)
        .owned_table(format!("{schema}.carts"), "owner_id")
        .build()?;
    store.migrate().await?;
    let table = format!("\"{schema}\".carts");
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {table} (
             id BIGSERIAL PRIMARY KEY,
             owner_id TEXT NOT NULL,
             product TEXT NOT NULL,
             added_at TIMESTAMPTZ NOT NULL DEFAULT now()
         );
         CREATE INDEX IF NOT EXISTS carts_owner ON {table} (owner_id)"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
        .execute(&pool)
        .await?;
    // Expired guests and sessions go in batches every five minutes.
    let _purge = store.spawn_purge(std::time::Duration::from_secs(300));
    println!("store: PostgreSQL, schema {schema}, carts in {table}");
    Ok((Arc::new(store), Carts::Table { pool, table }))
}

impl Carts {
    /// Adds one `product` to the visitor's cart.
    pub async fn add(&self, handle: &AuthHandle, product: &str) -> Result<(), AuthError> {
        match self {
            Self::Owned => {
                let line = format!("line:{}:{product}", uuid::Uuid::new_v4().simple());
                handle.claim(&line).await
            }
            #[cfg(feature = "postgres")]
            Self::Table { pool, table } => {
                // A guest with a cart is stored (a lazy one is written now), so that it
                // expires, and links, like any stored guest.
                let auth = handle.ensure_persisted().await?;
                let insert = format!("INSERT INTO {table} (owner_id, product) VALUES ($1, $2)");
                sqlx::query(sqlx::AssertSqlSafe(insert))
                    .bind(&auth.user().id)
                    .bind(product)
                    .execute(pool)
                    .await
                    .map_err(unavailable)?;
                Ok(())
            }
        }
    }

    /// The products in the visitor's cart, one per line, sorted.
    pub async fn products(&self, handle: &AuthHandle) -> Result<Vec<String>, AuthError> {
        let mut products: Vec<String> = match self {
            Self::Owned => handle
                .resources()
                .await?
                .iter()
                .filter_map(|line| Some(line.strip_prefix("line:")?.split_once(':')?.1.to_owned()))
                .collect(),
            #[cfg(feature = "postgres")]
            Self::Table { pool, table } => {
                let Some(auth) = handle.auth() else {
                    return Ok(Vec::new());
                };
                let select = format!("SELECT product FROM {table} WHERE owner_id = $1");
                sqlx::query_scalar(sqlx::AssertSqlSafe(select))
                    .bind(&auth.user().id)
                    .fetch_all(pool)
                    .await
                    .map_err(unavailable)?
            }
        };
        products.sort();
        Ok(products)
    }
}

/// The shop's own query failed: shown like a store outage.
#[cfg(feature = "postgres")]
fn unavailable(err: sqlx::Error) -> AuthError {
    tower_anonymous_auth::StoreError::Unavailable(err.to_string()).into()
}
