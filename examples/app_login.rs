//! Your own login, with axum-login, and guests that keep their cart when they sign in:
//! after axum-login's `login`, `AuthHandle::sign_in_as` links the visitor's guest into this
//! crate's record of your user (same id as in your users table).
//!
//! Run: `AUTH_DEV_MODE=1 cargo run --example app_login`, then open http://127.0.0.1:3003 and
//! sign in as `ann@example.com` / `correct horse battery` (in-memory stores).

#[path = "support/html.rs"]
mod html;
#[path = "support/secret.rs"]
mod secret;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use axum::extract::Form;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_login::{AuthManagerLayerBuilder, AuthSession, AuthUser, AuthnBackend, UserId};
use html::escape;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tower_anonymous_auth::{
    AnonymousAuthConfig, AnonymousAuthLayer, AppAccount, Auth, AuthError, AuthHandle, MemoryStore,
};
use tower_sessions::{MemoryStore as SessionMemoryStore, SessionManagerLayer};

/// A user of the app's own users table.
#[derive(Clone)]
struct AppUser {
    id: u64,
    email: String,
    password_hash: String,
}

impl std::fmt::Debug for AppUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppUser")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl AuthUser for AppUser {
    type Id = u64;

    fn id(&self) -> u64 {
        self.id
    }

    /// A password change ends axum-login's sessions.
    fn session_auth_hash(&self) -> &[u8] {
        self.password_hash.as_bytes()
    }
}

/// The app's users, by email: what axum-login checks passwords against.
#[derive(Clone)]
struct Users(Arc<HashMap<String, AppUser>>);

#[derive(Clone, Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Debug, thiserror::Error)]
#[error("password check failed")]
struct BackendError;

impl AuthnBackend for Users {
    type User = AppUser;
    type Credentials = Credentials;
    type Error = BackendError;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<AppUser>, BackendError> {
        let Some(user) = self.0.get(&creds.email.trim().to_lowercase()).cloned() else {
            return Ok(None);
        };
        // Off the executor: argon2 takes tens of milliseconds.
        tokio::task::spawn_blocking(move || {
            let good = Argon2::default()
                .verify_password(creds.password.as_bytes(), user.password_hash.as_str())
                .is_ok();
            Ok(good.then_some(user))
        })
        .await
        .map_err(|_| BackendError)?
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<AppUser>, BackendError> {
        Ok(self.0.values().find(|user| user.id == *id).cloned())
    }
}

fn page(auth: Option<&Auth>, cart: &[String], message: &str) -> Html<String> {
    let who = match auth {
        Some(auth) if auth.is_anonymous() => {
            format!("Browsing as guest {}", escape(&auth.user().name))
        }
        Some(auth) => format!(
            "Signed in as {} (user {})",
            escape(&auth.user().email),
            escape(&auth.user().id)
        ),
        None => "Welcome".to_owned(),
    };
    let items: String = cart
        .iter()
        .map(|item| format!("<li><code>{}</code></li>", escape(item)))
        .collect();
    let account = match auth {
        Some(auth) if !auth.is_anonymous() => {
            "<form method=post action=/logout><button>Sign out</button></form>".to_owned()
        }
        _ => "<form method=post action=/login><label>Email <input name=email \
              value=ann@example.com></label> <label>Password <input name=password \
              type=password></label> <button>Sign in</button></form>"
            .to_owned(),
    };
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Your own login</title>\
         </head><body><p>{who}</p><p class=message>{message}</p><h2>Cart</h2><ul>{items}</ul>\
         <form method=post action=/cart><button>Add a notebook</button></form>{account}\
         </body></html>",
        message = escape(message),
    ))
}

async fn home(auth: Option<Auth>, handle: AuthHandle) -> Result<Html<String>, AuthError> {
    let cart = match &auth {
        Some(_) => handle.resources().await?,
        None => Vec::new(),
    };
    Ok(page(auth.as_ref(), &cart, ""))
}

async fn add_to_cart(handle: AuthHandle) -> Result<Redirect, AuthError> {
    handle
        .claim(&format!("cart-item:{}", uuid::Uuid::new_v4()))
        .await?;
    Ok(Redirect::to("/"))
}

/// axum-login checks the password and starts its session; then `sign_in_as` tells this
/// crate who the visitor is, which links the guest (and its cart) into that user.
async fn login(
    mut session: AuthSession<Users>,
    handle: AuthHandle,
    Form(creds): Form<Credentials>,
) -> Result<Response, AuthError> {
    let user = match session.authenticate(creds).await {
        Ok(Some(user)) => user,
        Ok(None) | Err(_) => {
            let auth = handle.auth();
            let cart = match &auth {
                Some(_) => handle.resources().await?,
                None => Vec::new(),
            };
            return Ok(page(auth.as_ref(), &cart, "Wrong email or password").into_response());
        }
    };
    if session.login(&user).await.is_err() {
        return Err(AuthError::Internal(
            "the login session could not be saved".into(),
        ));
    }
    handle
        .sign_in_as(AppAccount::new(user.id.to_string(), &user.email))
        .await?;
    Ok(Redirect::to("/").into_response())
}

async fn logout(
    mut session: AuthSession<Users>,
    handle: AuthHandle,
) -> Result<Redirect, AuthError> {
    // Ending axum-login's session can only fail if its store does; ours is in memory.
    let _ = session.logout().await;
    handle.sign_out().await?;
    Ok(Redirect::to("/"))
}

fn users() -> Users {
    let hash = Argon2::default()
        .hash_password(b"correct horse battery")
        .expect("argon2 hashes")
        .to_string();
    let ann = AppUser {
        id: 1,
        email: "ann@example.com".into(),
        password_hash: hash,
    };
    Users(Arc::new(HashMap::from([(ann.email.clone(), ann)])))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = secret::auth_secret_or_exit();
    let config = AnonymousAuthConfig::builder()
        .key("example", secret.as_bytes())
        // Plain http on localhost while trying it; keep the default (true) in production.
        .secure(false)
        .build()?;
    let sessions = SessionManagerLayer::new(SessionMemoryStore::default()).with_secure(false);
    let login_layer = AuthManagerLayerBuilder::new(users(), sessions).build();
    let app = Router::new()
        .route("/", get(home))
        .route("/cart", post(add_to_cart))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .layer(AnonymousAuthLayer::new(MemoryStore::new(), config))
        .layer(login_layer);
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3003".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("app_login on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
