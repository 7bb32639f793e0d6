//! Teashop: try before you buy. A visitor is a guest at once and can fill a cart; registering
//! keeps the cart (same user, upgraded in place); signing in to an existing account moves the
//! guest's cart to it and merges the two carts in `on_link_account`.
//!
//! Run: `AUTH_DEV_MODE=1 cargo run --example try_before_you_buy`, then open
//! http://127.0.0.1:3000 (in-memory store; set `REDIS_URL` to keep users and ownership in
//! Redis). Anywhere but your own machine, set `AUTH_SECRET` (32 bytes or more) instead of
//! `AUTH_DEV_MODE`: without one of the two the shop refuses to start.

#[path = "support/html.rs"]
mod html;
#[path = "support/secret.rs"]
mod secret;
#[path = "support/store_from_env.rs"]
mod store_from_env;

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use html::escape;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tower_anonymous_auth::{
    AnonymousAuthConfig, AnonymousAuthLayer, Auth, AuthError, AuthHandle, LinkEvent, LinkKind,
    Registration,
};

/// (id, name, price in cents)
const PRODUCTS: &[(&str, &str, u32)] = &[
    ("tea", "Smoky Lapsang tea, 100 g", 900),
    ("mug", "Stoneware mug", 1800),
    ("honey", "Wildflower honey, 250 g", 750),
    ("kettle", "Gooseneck kettle", 4200),
];

/// The shop's own data: cart lines by cart id, and the key of its CSRF tokens.
/// A cart is the resource `cart:{user id}`, owned (claimed) by the user who made it.
#[derive(Clone)]
struct Shop {
    carts: Arc<Mutex<HashMap<String, Vec<String>>>>,
    /// CSRF tokens are an HMAC of the session id under this key: nothing to store per
    /// session, so nothing that grows with every visitor (and the same on every instance).
    csrf_key: Arc<[u8]>,
}

impl Shop {
    fn lines(&self, cart_id: &str) -> Vec<String> {
        self.carts
            .lock()
            .map(|carts| carts.get(cart_id).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    fn add(&self, cart_id: &str, product: &str) {
        if let Ok(mut carts) = self.carts.lock() {
            carts
                .entry(cart_id.to_owned())
                .or_default()
                .push(product.to_owned());
        }
    }

    /// Moves the lines of cart `from` into cart `into` (the merge of two carts at sign-in).
    fn merge(&self, from: &str, into: &str) {
        if let Ok(mut carts) = self.carts.lock() {
            let moved = carts.remove(from).unwrap_or_default();
            carts.entry(into.to_owned()).or_default().extend(moved);
        }
    }

    /// The CSRF token of a session (synchronizer token pattern, stateless): an HMAC of the
    /// session id, so a new session has a new token and no other site can compute it.
    fn csrf_token(&self, session_id: &str) -> String {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.csrf_key)
            .expect("HMAC takes keys of any length");
        mac.update(b"csrf:");
        mac.update(session_id.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    fn csrf_ok(&self, session_id: &str, token: &str) -> bool {
        // Compared in constant time: a timing difference would leak the token byte by byte.
        let expected = self.csrf_token(session_id);
        expected.len() == token.len()
            && expected
                .bytes()
                .zip(token.bytes())
                .fold(0, |diff, (a, b)| diff | (a ^ b))
                == 0
    }

    /// Drops the carts nobody owns any more (their guest expired and the store released
    /// what it owned), so the map does not grow with every visitor who went away.
    async fn purge_abandoned_carts(&self, store: &dyn tower_anonymous_auth::Store) {
        let carts: Vec<String> = match self.carts.lock() {
            Ok(carts) => carts.keys().cloned().collect(),
            Err(_) => return,
        };
        for cart in carts {
            if let Ok(None) = store.owner_of(&cart).await {
                if let Ok(mut carts) = self.carts.lock() {
                    carts.remove(&cart);
                }
            }
        }
    }
}

fn cart_id(user_id: &str) -> String {
    format!("cart:{user_id}")
}

fn euros(cents: u32) -> String {
    format!("€{}.{:02}", cents / 100, cents % 100)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:0 1rem;color:#1f2328;background:#fbfaf7}\
header{display:flex;justify-content:space-between;align-items:center;border-bottom:2px solid #e8e2d6;padding:.5rem 0}\
header h1{font-size:1.4rem;margin:0}header a{color:#7a4e1d;text-decoration:none}nav a{margin-left:1rem}\
.who{font-size:.9rem;color:#555}ul.products{list-style:none;padding:0;display:grid;grid-template-columns:1fr 1fr;gap:1rem}\
ul.products li{background:#fff;border:1px solid #e8e2d6;border-radius:8px;padding:1rem}\
button{background:#7a4e1d;color:#fff;border:0;border-radius:6px;padding:.45rem .9rem;cursor:pointer}\
form.account{background:#fff;border:1px solid #e8e2d6;border-radius:8px;padding:1rem;margin:1rem 0}\
form.account label{display:block;margin:.4rem 0}input{padding:.35rem;width:16rem}\
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.5rem;border-radius:6px}\
.note{color:#555;font-size:.9rem}";

fn page(title: &str, auth: Option<&Auth>, body: &str) -> Html<String> {
    let who = match auth {
        Some(auth) if auth.is_anonymous() => format!(
            "Browsing as guest <strong>{}</strong> · <a href=/account>Sign in or register</a>",
            escape(&auth.user().name)
        ),
        Some(auth) => format!(
            "Signed in as <strong>{}</strong> · <a href=/account>Account</a>",
            escape(&auth.user().email)
        ),
        None => "<a href=/account>Sign in</a>".to_owned(),
    };
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content='width=device-width,initial-scale=1'>\
         <title>{title} · Teashop</title><style>{STYLE}</style></head><body>\
         <header><h1><a href=/>Teashop</a></h1><nav><span class=who>{who}</span>\
         <a href=/cart>Cart</a></nav></header><main>{body}</main></body></html>",
        title = escape(title),
    ))
}

async fn home(State(shop): State<Shop>, auth: Option<Auth>) -> Html<String> {
    let csrf = auth
        .as_ref()
        .map(|auth| shop.csrf_token(auth.session_id()))
        .unwrap_or_default();
    let items: String = PRODUCTS
        .iter()
        .map(|(id, name, cents)| {
            format!(
                "<li data-product={id}><strong>{name}</strong><p>{price}</p>\
                 <form method=post action=/cart><input type=hidden name=product value={id}>\
                 <input type=hidden name=csrf value={csrf}><button>Add to cart</button></form></li>",
                price = euros(*cents),
            )
        })
        .collect();
    page(
        "Shop",
        auth.as_ref(),
        &format!(
            "<h2>Fresh from the garden</h2><p class=note>No account needed: add anything to \
             your cart, sign up when you are ready, and keep it.</p><ul class=products>{items}</ul>"
        ),
    )
}

#[derive(Deserialize)]
struct AddToCart {
    product: String,
    csrf: String,
}

/// Refuses cross-site form posts: the browser's `Sec-Fetch-Site`, when sent, must say
/// same-origin, and the form must carry the session's CSRF token.
fn check_csrf(shop: &Shop, headers: &HeaderMap, auth: Option<&Auth>, token: &str) -> bool {
    let same_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|site| site == "same-origin" || site == "none");
    same_site && auth.is_some_and(|auth| shop.csrf_ok(auth.session_id(), token))
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        "This form has expired or did not come from this site. Go back, reload and try again.",
    )
        .into_response()
}

async fn add_to_cart(
    State(shop): State<Shop>,
    handle: AuthHandle,
    headers: HeaderMap,
    Form(form): Form<AddToCart>,
) -> Result<Response, AuthError> {
    if !check_csrf(&shop, &headers, handle.auth().as_ref(), &form.csrf) {
        return Ok(forbidden());
    }
    let auth = handle.require()?;
    if PRODUCTS.iter().any(|(id, _, _)| *id == form.product) {
        let cart = cart_id(&auth.user().id);
        handle.claim(&cart).await?;
        shop.add(&cart, &form.product);
    }
    Ok(Redirect::to("/cart").into_response())
}

async fn cart(State(shop): State<Shop>, handle: AuthHandle) -> Result<Html<String>, AuthError> {
    let auth = handle.auth();
    let mut lines = Vec::new();
    let mut total = 0;
    for cart in handle.resources().await? {
        for product in shop.lines(&cart) {
            if let Some((_, name, cents)) = PRODUCTS.iter().find(|(id, _, _)| *id == product) {
                total += cents;
                lines.push(format!(
                    "<li class=cart-item>{name} — {}</li>",
                    euros(*cents)
                ));
            }
        }
    }
    let body = if lines.is_empty() {
        "<h2>Your cart</h2><p>Your cart is empty. <a href=/>Browse the shop</a>.</p>".to_owned()
    } else {
        let nudge = if auth.as_ref().is_some_and(|a| a.is_anonymous()) {
            "<p class=note>You are shopping as a guest. <a href=/account>Register</a> to keep \
             this cart on every device.</p>"
        } else {
            ""
        };
        format!(
            "<h2>Your cart</h2><ul>{}</ul><p><strong>Total: {}</strong></p>{nudge}",
            lines.concat(),
            euros(total)
        )
    };
    Ok(page("Cart", auth.as_ref(), &body))
}

fn account_page(shop: &Shop, auth: Option<&Auth>, error: Option<&str>) -> Html<String> {
    let csrf = auth
        .map(|auth| shop.csrf_token(auth.session_id()))
        .unwrap_or_default();
    let error = error
        .map(|message| format!("<p class=error>{}</p>", escape(message)))
        .unwrap_or_default();
    let forms = match auth {
        Some(auth) if !auth.is_anonymous() => format!(
            "<p>You are signed in as <strong>{}</strong>.</p>\
             <form id=sign-out method=post action=/sign-out class=account>\
             <input type=hidden name=csrf value={csrf}><button>Sign out</button></form>",
            escape(&auth.user().email)
        ),
        _ => format!(
            "<form id=register method=post action=/register class=account><h3>New here? Register</h3>\
             <p class=note>Your cart comes with you.</p>\
             <label>Email <input name=email type=email required autocomplete=email></label>\
             <label>Password <input name=password type=password minlength=8 required autocomplete=new-password></label>\
             <input type=hidden name=csrf value={csrf}><button>Create account</button></form>\
             <form id=sign-in method=post action=/sign-in class=account><h3>Have an account? Sign in</h3>\
             <p class=note>What is in your guest cart is added to your account's cart.</p>\
             <label>Email <input name=email type=email required autocomplete=email></label>\
             <label>Password <input name=password type=password required autocomplete=current-password></label>\
             <input type=hidden name=csrf value={csrf}><button>Sign in</button></form>"
        ),
    };
    page("Account", auth, &format!("<h2>Account</h2>{error}{forms}"))
}

async fn account(State(shop): State<Shop>, auth: Option<Auth>) -> Html<String> {
    account_page(&shop, auth.as_ref(), None)
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
    csrf: String,
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

/// The two account forms: register, or sign in to an existing account.
#[derive(Clone, Copy)]
enum AccountForm {
    Register,
    SignIn,
}

impl AccountForm {
    /// Checks the form's CSRF token, then registers or signs in; back to the cart on success,
    /// the account page with the error otherwise.
    async fn submit(
        self,
        shop: &Shop,
        handle: &AuthHandle,
        headers: &HeaderMap,
        form: Credentials,
    ) -> Response {
        if !check_csrf(shop, headers, handle.auth().as_ref(), &form.csrf) {
            return forbidden();
        }
        let outcome = match self {
            Self::Register => {
                let registration = Registration::new(form.email.as_str(), form.password.as_str());
                handle.register_with_password(registration).await
            }
            Self::SignIn => {
                handle
                    .sign_in_with_password(&form.email, &form.password)
                    .await
            }
        };
        match outcome {
            Ok(_) => Redirect::to("/cart").into_response(),
            Err(error) => account_error(shop, handle, error),
        }
    }
}

async fn register(
    State(shop): State<Shop>,
    handle: AuthHandle,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    AccountForm::Register
        .submit(&shop, &handle, &headers, form)
        .await
}

async fn sign_in(
    State(shop): State<Shop>,
    handle: AuthHandle,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    AccountForm::SignIn
        .submit(&shop, &handle, &headers, form)
        .await
}

async fn sign_out(
    State(shop): State<Shop>,
    handle: AuthHandle,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if !check_csrf(&shop, &headers, handle.auth().as_ref(), &form.csrf) {
        return forbidden();
    }
    match handle.sign_out().await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(error) => error.into_response(),
    }
}

fn account_error(shop: &Shop, handle: &AuthHandle, error: AuthError) -> Response {
    let status = error.status();
    let message = match &error {
        AuthError::InvalidCredentials => "Invalid email or password.".to_owned(),
        AuthError::EmailTaken => "That email is already registered: sign in instead.".to_owned(),
        other => other.to_string(),
    };
    (
        status,
        account_page(shop, handle.auth().as_ref(), Some(&message)),
    )
        .into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = secret::auth_secret_or_exit();
    let shop = Shop {
        carts: Arc::default(),
        csrf_key: secret.as_bytes().into(),
    };
    let store = store_from_env::store_from_env().await?;
    let (hook_shop, hook_store) = (shop.clone(), store.clone());
    let (purged_shop, purged_store) = (shop.clone(), store.clone());
    tokio::spawn(async move {
        let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every_minute.tick().await;
            purged_shop.purge_abandoned_carts(&*purged_store).await;
        }
    });
    let config = AnonymousAuthConfig::builder()
        .key("dev", secret)
        .secure(false) // plain http on localhost; keep the default (true) in production
        .on_link_account(move |event: LinkEvent| {
            let (shop, store) = (hook_shop.clone(), hook_store.clone());
            async move {
                // Signing in to an existing account: pour the guest's cart into the
                // account's own cart, so the two carts become one.
                if event.kind != LinkKind::Register {
                    let account_cart = cart_id(&event.account.id);
                    // The cart's id is made from the account's: nobody else can own it.
                    let _own_cart = store.claim(&account_cart, &event.account.id).await?;
                    shop.merge(&cart_id(&event.anonymous.id), &account_cart);
                }
                Ok::<(), tower_anonymous_auth::StoreError>(())
            }
        })
        .build()?;
    let layer = AnonymousAuthLayer::from_arc(store, config);
    let app = Router::new()
        .route("/", get(home))
        .route("/cart", get(cart).post(add_to_cart))
        .route("/account", get(account))
        .route("/register", post(register))
        .route("/sign-in", post(sign_in))
        .route("/sign-out", post(sign_out))
        .with_state(shop)
        .layer(layer);
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    // With ADDR=127.0.0.1:0 the system picks a free port; tests read it from this line.
    println!("Teashop on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
