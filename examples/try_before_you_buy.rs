//! Teashop: try before you buy. A visitor is a guest at once and can fill a cart; registering
//! keeps the cart (same user, upgraded in place); signing in to an existing account, with a
//! password, an OpenID provider or a one-time email code, moves the guest's cart into it.
//!
//! A cart moves with the link, so two carts become one without any merge code. On
//! PostgreSQL (`DATABASE_URL` set, `--features postgres`) it is rows of the shop's own
//! `carts` table, moved by the store in the link's transaction; elsewhere (Redis when
//! `REDIS_URL` is set, else memory) each line is a resource the user owns in the store.
//!
//! Run: `AUTH_DEV_MODE=1 cargo run --example try_before_you_buy`, then open
//! http://127.0.0.1:3000. "Email me a code" puts the mail in a development outbox
//! (`/dev/outbox`). For "Sign in with OpenID", start the development provider
//! (`node e2e/oidc-provider.mjs`) and set `OIDC_ISSUER=http://127.0.0.1:3004`. Anywhere but
//! your own machine, set `AUTH_SECRET` (32 bytes or more) instead of `AUTH_DEV_MODE`: without
//! one of the two the shop refuses to start.

#[path = "support/carts.rs"]
mod carts;
#[path = "support/html.rs"]
mod html;
#[path = "support/messages.rs"]
mod messages;
#[path = "support/openid.rs"]
mod openid;
#[path = "support/outbox.rs"]
mod outbox;
#[path = "support/secret.rs"]
mod secret;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use carts::Carts;
use html::escape;
use messages::friendly;
use openid::OpenId;
use outbox::Outbox;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tower_anonymous_auth::{
    AnonymousAuthConfig, AnonymousAuthLayer, Auth, AuthError, AuthHandle, EmailCode, Identity,
    Registration,
};

/// (id, name, price in cents)
const PRODUCTS: &[(&str, &str, u32)] = &[
    ("tea", "Smoky Lapsang tea, 100 g", 900),
    ("mug", "Stoneware mug", 1800),
    ("honey", "Wildflower honey, 250 g", 750),
    ("kettle", "Gooseneck kettle", 4200),
];

#[derive(Clone)]
struct Shop {
    /// CSRF tokens are an HMAC of the session id under this key: nothing to store per
    /// session, so nothing that grows with every visitor (and the same on every instance).
    csrf_key: Arc<[u8]>,
    /// "Sign in with OpenID", when `OIDC_ISSUER` is set (known once the shop has bound).
    openid: Arc<OnceLock<OpenId>>,
    outbox: Outbox,
    carts: Carts,
    dev_mode: bool,
}

impl Shop {
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

    fn csrf_field(&self, auth: Option<&Auth>) -> String {
        let token = auth
            .map(|auth| self.csrf_token(auth.session_id()))
            .unwrap_or_default();
        format!("<input type=hidden name=csrf value={token}>")
    }
}

fn product(id: &str) -> Option<&'static (&'static str, &'static str, u32)> {
    PRODUCTS.iter().find(|(product, _, _)| *product == id)
}

fn euros(cents: u32) -> String {
    format!("€{}.{:02}", cents / 100, cents % 100)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:0 1rem;color:#1f2328;background:#fbfaf7}\
header{display:flex;justify-content:space-between;align-items:center;border-bottom:2px solid #e8e2d6;padding:.5rem 0}\
header h1{font-size:1.4rem;margin:0}header a{color:#7a4e1d;text-decoration:none}nav a{margin-left:1rem}\
.who{font-size:.9rem;color:#555}ul.products{list-style:none;padding:0;display:grid;grid-template-columns:1fr 1fr;gap:1rem}\
ul.products li{background:#fff;border:1px solid #e8e2d6;border-radius:8px;padding:1rem}\
button,a.button{background:#7a4e1d;color:#fff;border:0;border-radius:6px;padding:.45rem .9rem;cursor:pointer;text-decoration:none;display:inline-block}\
form.account,div.account{background:#fff;border:1px solid #e8e2d6;border-radius:8px;padding:1rem;margin:1rem 0}\
form.account label{display:block;margin:.4rem 0}input{padding:.35rem;width:16rem}\
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.5rem;border-radius:6px}\
.done{background:#e8f5e9;border:1px solid #9ccc9f;padding:.5rem;border-radius:6px}\
.note{color:#555;font-size:.9rem}li.mail{background:#fff;border:1px solid #e8e2d6;border-radius:8px;padding:.5rem 1rem;margin:.5rem 0}";

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
    let user_id = auth.map(|auth| escape(&auth.user().id)).unwrap_or_default();
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content='width=device-width,initial-scale=1'>\
         <title>{title} · Teashop</title><style>{STYLE}</style></head><body>\
         <header><h1><a href=/>Teashop</a></h1><nav><span class=who data-user-id=\"{user_id}\">{who}</span>\
         <a href=/cart>Cart</a></nav></header><main>{body}</main></body></html>",
        title = escape(title),
    ))
}

/// `?done=...`: the confirmation a redirect after an action carries.
#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

impl Done {
    fn notice(&self) -> String {
        let text = match self.done.as_deref() {
            Some("registered") => "Welcome! Your account is ready, and your cart came with you.",
            Some("signed-in") => {
                "Signed in. Anything in your guest cart is now in your account's cart."
            }
            Some("signed-out") => "Signed out. See you soon!",
            _ => return String::new(),
        };
        format!("<p class=done>{text}</p>")
    }
}

async fn home(State(shop): State<Shop>, auth: Option<Auth>, done: Query<Done>) -> Html<String> {
    let csrf = shop.csrf_field(auth.as_ref());
    let items: String = PRODUCTS
        .iter()
        .map(|(id, name, cents)| {
            format!(
                "<li data-product={id}><strong>{name}</strong><p>{price}</p>\
                 <form method=post action=/cart><input type=hidden name=product value={id}>\
                 {csrf}<button>Add to cart</button></form></li>",
                price = euros(*cents),
            )
        })
        .collect();
    page(
        "Shop",
        auth.as_ref(),
        &format!(
            "{notice}<h2>Fresh from the garden</h2><p class=note>No account needed: add anything \
             to your cart, sign up when you are ready, and keep it.</p><ul class=products>{items}</ul>",
            notice = done.notice(),
        ),
    )
}

#[derive(Deserialize)]
struct AddToCart {
    product: String,
    csrf: String,
}

/// Refuses cross-site form posts: the browser's `Sec-Fetch-Site`, when sent, must say
/// same-origin, and the form must carry the session's CSRF token. The page to answer a
/// refused post with ("this form has expired"), or `None` for a genuine one.
fn refuse_forged(
    shop: &Shop,
    handle: &AuthHandle,
    headers: &HeaderMap,
    token: &str,
) -> Option<Response> {
    let auth = handle.auth();
    let same_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|site| site == "same-origin" || site == "none");
    let genuine = same_site
        && auth
            .as_ref()
            .is_some_and(|auth| shop.csrf_ok(auth.session_id(), token));
    if genuine {
        return None;
    }
    let body = "<h2>This form has expired</h2><p class=error>The page you sent it from is out \
                of date (you signed in or out meanwhile) or it came from another site.</p>\
                <p><a href=/account>Go back</a>, reload and try again.</p>";
    let page = page("Form expired", auth.as_ref(), body);
    Some((StatusCode::FORBIDDEN, page).into_response())
}

async fn add_to_cart(
    State(shop): State<Shop>,
    handle: AuthHandle,
    headers: HeaderMap,
    Form(form): Form<AddToCart>,
) -> Result<Response, AuthError> {
    if let Some(refused) = refuse_forged(&shop, &handle, &headers, &form.csrf) {
        return Ok(refused);
    }
    handle.require()?;
    if product(&form.product).is_some() {
        shop.carts.add(&handle, &form.product).await?;
    }
    Ok(Redirect::to("/cart").into_response())
}

async fn cart(
    State(shop): State<Shop>,
    handle: AuthHandle,
    done: Query<Done>,
) -> Result<Html<String>, AuthError> {
    let auth = handle.auth();
    let mut lines = Vec::new();
    let mut total = 0;
    let in_cart = shop.carts.products(&handle).await?;
    for (_, name, cents) in in_cart.iter().filter_map(|id| product(id)) {
        total += cents;
        lines.push(format!(
            "<li class=cart-item>{name} — {}</li>",
            euros(*cents)
        ));
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
    let body = format!("{}{body}", done.notice());
    Ok(page("Cart", auth.as_ref(), &body))
}

/// The account page, with an error to show and the email the visitor typed (kept).
fn account_page(
    shop: &Shop,
    auth: Option<&Auth>,
    error: Option<&str>,
    email: &str,
) -> Html<String> {
    let csrf = shop.csrf_field(auth);
    let error = error
        .map(|message| format!("<p class=error>{}</p>", escape(message)))
        .unwrap_or_default();
    let email = escape(email);
    let forms = match auth {
        Some(auth) if !auth.is_anonymous() => format!(
            "<p>You are signed in as <strong>{}</strong>.</p>\
             <form id=sign-out method=post action=/sign-out class=account>\
             {csrf}<button>Sign out</button></form>",
            escape(&auth.user().email)
        ),
        _ => {
            let openid = if shop.openid.get().is_some() {
                "<div class=account><h3>Sign in with your provider</h3>\
                 <p class=note>New or returning: your cart comes with you.</p>\
                 <a id=openid class=button href=/auth/oidc/start>Sign in with OpenID</a></div>"
            } else {
                ""
            };
            format!(
                "{openid}<form id=email-code method=post action=/email-code class=account>\
                 <h3>No password? Get a code by email</h3>\
                 <label>Email <input name=email type=email required autocomplete=email value=\"{email}\"></label>\
                 {csrf}<button>Email me a code</button></form>\
                 <form id=register method=post action=/register class=account><h3>New here? Register</h3>\
                 <p class=note>Your cart comes with you.</p>\
                 <label>Email <input name=email type=email required autocomplete=email value=\"{email}\"></label>\
                 <label>Password <input name=password type=password minlength=8 required autocomplete=new-password></label>\
                 {csrf}<button>Create account</button></form>\
                 <form id=sign-in method=post action=/sign-in class=account><h3>Have an account? Sign in</h3>\
                 <p class=note>What is in your guest cart is added to your account's cart.</p>\
                 <label>Email <input name=email type=email required autocomplete=email value=\"{email}\"></label>\
                 <label>Password <input name=password type=password required autocomplete=current-password></label>\
                 {csrf}<button>Sign in</button></form>"
            )
        }
    };
    page("Account", auth, &format!("<h2>Account</h2>{error}{forms}"))
}

async fn account(State(shop): State<Shop>, auth: Option<Auth>) -> Html<String> {
    account_page(&shop, auth.as_ref(), None, "")
}

fn account_error(shop: &Shop, handle: &AuthHandle, error: &AuthError, email: &str) -> Response {
    let page = account_page(shop, handle.auth().as_ref(), Some(&friendly(error)), email);
    (error.status(), page).into_response()
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

/// The two password forms: register, or sign in to an existing account.
#[derive(Clone, Copy)]
enum AccountForm {
    Register,
    SignIn,
}

impl AccountForm {
    /// Checks the form's CSRF token, then registers or signs in; back to the cart with a
    /// confirmation on success, the account page with the error otherwise.
    async fn submit(
        self,
        shop: &Shop,
        handle: &AuthHandle,
        headers: &HeaderMap,
        form: Credentials,
    ) -> Response {
        if let Some(refused) = refuse_forged(shop, handle, headers, &form.csrf) {
            return refused;
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
        match (outcome, self) {
            (Ok(_), Self::Register) => Redirect::to("/cart?done=registered").into_response(),
            (Ok(_), Self::SignIn) => Redirect::to("/cart?done=signed-in").into_response(),
            (Err(error), _) => account_error(shop, handle, &error, &form.email),
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
    if let Some(refused) = refuse_forged(&shop, &handle, &headers, &form.csrf) {
        return refused;
    }
    match handle.sign_out().await {
        Ok(()) => Redirect::to("/?done=signed-out").into_response(),
        Err(error) => account_error(&shop, &handle, &error, ""),
    }
}

/// `GET /auth/oidc/start`: off to the provider, carrying a link state naming this guest.
async fn openid_start(State(shop): State<Shop>, handle: AuthHandle) -> Response {
    let (Some(openid), Some(auth)) = (shop.openid.get(), handle.auth()) else {
        return Redirect::to("/account").into_response();
    };
    let started = match handle.link_state().await {
        Ok(link_state) => openid.start(auth.session_id(), link_state).await,
        Err(error) => Err(friendly(&error)),
    };
    match started {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(message) => {
            log_openid_failure(&message);
            let message = "The sign-in provider cannot be reached right now. Please try again.";
            let page = account_page(&shop, Some(&auth), Some(message), "");
            (StatusCode::BAD_GATEWAY, page).into_response()
        }
    }
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/oidc/callback`: the ID token checked, then `sign_in_with_identity`.
async fn openid_callback(
    State(shop): State<Shop>,
    handle: AuthHandle,
    Query(callback): Query<Callback>,
) -> Response {
    let Some(openid) = shop.openid.get() else {
        return Redirect::to("/account").into_response();
    };
    let auth = handle.auth();
    let verified = match (callback.code, callback.state, callback.error) {
        (Some(code), Some(state), None) => {
            let session = auth.as_ref().map(|auth| auth.session_id());
            let fresh = auth.as_ref().is_none_or(|auth| auth.minted_now());
            openid.finish(&state, &code, session, fresh).await
        }
        (_, _, error) => Err(format!(
            "the provider did not sign you in ({})",
            error.as_deref().unwrap_or("no code")
        )),
    };
    let verified = match verified {
        Ok(verified) => verified,
        Err(message) => {
            log_openid_failure(&message);
            let message = format!("Signing in with OpenID did not work: {message}.");
            let page = account_page(&shop, auth.as_ref(), Some(&message), "");
            return (StatusCode::BAD_REQUEST, page).into_response();
        }
    };
    let mut identity = Identity::new(verified.issuer, verified.subject);
    if let Some(email) = verified.email {
        identity = identity.email(email, verified.email_verified);
    }
    if let Some(name) = verified.name {
        identity = identity.name(name);
    }
    if let Some(link_state) = verified.link_state {
        identity = identity.link_state(link_state);
    }
    match handle.sign_in_with_identity(identity).await {
        Ok(_) => Redirect::to("/cart?done=signed-in").into_response(),
        Err(error) => account_error(&shop, &handle, &error, ""),
    }
}

/// The shopper sees a short sentence; the details go to the server's log.
fn log_openid_failure(message: &str) {
    eprintln!("openid: {message}");
}

#[derive(Deserialize)]
struct EmailForm {
    email: String,
    code: Option<String>,
    csrf: String,
}

/// The page that asks for the code just mailed to `email`.
fn code_page(shop: &Shop, auth: Option<&Auth>, email: &str, error: Option<&str>) -> Html<String> {
    let csrf = shop.csrf_field(auth);
    let error = error
        .map(|message| format!("<p class=error>{}</p>", escape(message)))
        .unwrap_or_default();
    let outbox = if shop.dev_mode {
        "<p class=note>Development mode: the mail is in the <a href=/dev/outbox>outbox</a>.</p>"
    } else {
        ""
    };
    let email = escape(email);
    page(
        "Check your inbox",
        auth,
        &format!(
            "<h2>Check your inbox</h2>{error}<p>If <strong>{email}</strong> is right, a \
             six-digit code is on its way. It works for 10 minutes.</p>{outbox}\
             <form id=enter-code method=post action=/email-code/sign-in class=account>\
             <input type=hidden name=email value=\"{email}\">\
             <label>Code <input name=code inputmode=numeric autocomplete=one-time-code required></label>\
             {csrf}<button>Sign in</button></form>"
        ),
    )
}

/// `POST /email-code`: mails a code (the answer is the same whether or not the email has
/// an account).
async fn email_code(
    State(shop): State<Shop>,
    handle: AuthHandle,
    headers: HeaderMap,
    Form(form): Form<EmailForm>,
) -> Response {
    if let Some(refused) = refuse_forged(&shop, &handle, &headers, &form.csrf) {
        return refused;
    }
    match handle.request_email_code(&form.email).await {
        Ok(()) => code_page(&shop, handle.auth().as_ref(), form.email.trim(), None).into_response(),
        Err(error) => account_error(&shop, &handle, &error, &form.email),
    }
}

/// `POST /email-code/sign-in`: the code typed in.
async fn email_code_sign_in(
    State(shop): State<Shop>,
    handle: AuthHandle,
    headers: HeaderMap,
    Form(form): Form<EmailForm>,
) -> Response {
    if let Some(refused) = refuse_forged(&shop, &handle, &headers, &form.csrf) {
        return refused;
    }
    let code = form.code.unwrap_or_default();
    match handle.sign_in_with_email_code(&form.email, &code).await {
        Ok(_) => Redirect::to("/cart?done=signed-in").into_response(),
        Err(error) => {
            let page = code_page(
                &shop,
                handle.auth().as_ref(),
                &form.email,
                Some(&friendly(&error)),
            );
            (error.status(), page).into_response()
        }
    }
}

#[derive(Deserialize)]
struct LinkToken {
    token: String,
    csrf: Option<String>,
}

/// `GET /email-link?token=...`: the mailed link opens a page whose button signs in, so a mail
/// scanner that opens links does not use the token up.
async fn email_link(
    State(shop): State<Shop>,
    auth: Option<Auth>,
    Query(link): Query<LinkToken>,
) -> Html<String> {
    let csrf = shop.csrf_field(auth.as_ref());
    page(
        "Sign in",
        auth.as_ref(),
        &format!(
            "<h2>Sign in to Teashop</h2><form id=email-link method=post action=/email-link class=account>\
             <input type=hidden name=token value=\"{}\">{csrf}<button>Sign in</button></form>",
            escape(&link.token)
        ),
    )
}

/// `POST /email-link`: the button of the link's page.
async fn email_link_sign_in(
    State(shop): State<Shop>,
    handle: AuthHandle,
    headers: HeaderMap,
    Form(link): Form<LinkToken>,
) -> Response {
    let csrf = link.csrf.unwrap_or_default();
    if let Some(refused) = refuse_forged(&shop, &handle, &headers, &csrf) {
        return refused;
    }
    match handle.sign_in_with_email_link(&link.token).await {
        Ok(_) => Redirect::to("/cart?done=signed-in").into_response(),
        Err(error) => account_error(&shop, &handle, &error, ""),
    }
}

/// `GET /dev/outbox`: what the shop would have mailed (development mode only).
async fn dev_outbox(State(shop): State<Shop>, auth: Option<Auth>) -> Response {
    if !shop.dev_mode {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mails: String = shop
        .outbox
        .mails()
        .iter()
        .map(|mail| {
            format!(
                "<li class=mail data-to=\"{to}\"><p>To: <strong>{to}</strong></p>\
                 <p>Your Teashop code: <strong class=code>{code}</strong></p>\
                 <p><a class=link href=\"/email-link?token={token}\">Or sign in with this link</a></p></li>",
                to = escape(&mail.email),
                code = escape(&mail.code),
                token = escape(&mail.link_token),
            )
        })
        .collect();
    let body = format!(
        "<h2>Development outbox</h2><p class=note>The mail the shop would have sent, newest \
         first.</p><ul style=list-style:none;padding:0>{mails}</ul>"
    );
    page("Outbox", auth.as_ref(), &body).into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = secret::auth_secret_or_exit();
    let (store, carts) = carts::from_env().await?;
    let shop = Shop {
        csrf_key: secret.as_bytes().into(),
        openid: Arc::default(),
        outbox: Outbox::default(),
        carts,
        dev_mode: std::env::var("AUTH_DEV_MODE").as_deref() == Ok("1"),
    };
    let outbox = shop.outbox.clone();
    let config = AnonymousAuthConfig::builder()
        .key("dev", secret)
        .secure(false) // plain http on localhost; keep the default (true) in production
        .send_email_code(move |mail: EmailCode| {
            // A real shop hands the mail to its mailer here.
            println!("mail: a sign-in code for {} (see /dev/outbox)", mail.email);
            outbox.send(mail);
            std::future::ready(Ok::<(), std::convert::Infallible>(()))
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
        .route("/auth/oidc/start", get(openid_start))
        .route("/auth/oidc/callback", get(openid_callback))
        .route("/email-code", post(email_code))
        .route("/email-code/sign-in", post(email_code_sign_in))
        .route("/email-link", get(email_link).post(email_link_sign_in))
        .route("/dev/outbox", get(dev_outbox))
        .with_state(shop.clone())
        .layer(layer);
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    if let Some(openid) = OpenId::from_env(&base) {
        println!("OpenID provider: {}", openid.issuer());
        let _ = shop.openid.set(openid);
    }
    // With ADDR=127.0.0.1:0 the system picks a free port; tests read it from this line.
    println!("Teashop on {base}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
