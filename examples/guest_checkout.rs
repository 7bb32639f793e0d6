//! Guest checkout: nobody is signed in until they choose.
//! At checkout the visitor picks "Continue as guest" (`sign_in_anonymously`) or signs in;
//! orders placed as a guest are owned resources that follow the guest into an account.
//!
//! Run: `AUTH_DEV_MODE=1 cargo run --example guest_checkout`, then open http://127.0.0.1:3002
//! (in-memory store; set `REDIS_URL` to use Redis).

#[path = "support/html.rs"]
mod html;
#[path = "support/messages.rs"]
mod messages;
#[path = "support/secret.rs"]
mod secret;
#[path = "support/store_from_env.rs"]
mod store_from_env;

use axum::extract::Form;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use html::escape;
use messages::friendly;
use serde::Deserialize;
use std::net::SocketAddr;
use tower_anonymous_auth::{
    AnonymousAuthConfig, AnonymousAuthLayer, Auth, AuthError, AuthHandle, MintPolicy, Registration,
};

const SIGN_OUT: &str =
    "<form method=post action=/sign-out class=inline><button>Sign out</button></form>";

fn page(auth: Option<&Auth>, body: &str) -> Html<String> {
    let who = match auth {
        Some(auth) if auth.is_anonymous() => {
            format!(
                "Checking out as guest {} {SIGN_OUT}",
                escape(&auth.user().name)
            )
        }
        Some(auth) => format!("Signed in as {} {SIGN_OUT}", escape(&auth.user().email)),
        None => "<a href=/checkout>Sign in</a>".to_owned(),
    };
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Checkout · Paperie</title>\
         <style>body{{font-family:system-ui;max-width:40rem;margin:2rem auto;color:#222}}\
         header{{display:flex;justify-content:space-between;border-bottom:1px solid #ddd}}\
         form{{border:1px solid #ddd;border-radius:8px;padding:1rem;margin:1rem 0}}\
         label{{display:block;margin:.4rem 0}}.error{{color:#a00}}\
         form.inline{{display:inline;border:0;padding:0;margin:0}}</style></head><body>\
         <header><h1><a href=/>Paperie</a></h1><p>{who}</p></header>{body}</body></html>"
    ))
}

/// Refuses cross-site posts (login CSRF included): a browser's `Sec-Fetch-Site` must say
/// same-origin, and an `Origin`, when sent, must be this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let site_ok = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|site| site == "same-origin" || site == "none");
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|origin| {
            host.is_some_and(|host| {
                origin
                    .strip_prefix("http://")
                    .or(origin.strip_prefix("https://"))
                    == Some(host)
            })
        });
    site_ok && origin_ok
}

async fn home(auth: Option<Auth>) -> Html<String> {
    page(
        auth.as_ref(),
        "<h2>A5 dotted notebook — €14.00</h2><p><a href=/checkout>Checkout</a></p>",
    )
}

async fn checkout(auth: Option<Auth>) -> Html<String> {
    let body = match &auth {
        None => "<h2>How would you like to check out?</h2>\
            <form method=post action=/guest><button>Continue as guest</button></form>\
            <form method=post action=/sign-in><h3>Sign in</h3>\
            <label>Email <input name=email type=email required></label>\
            <label>Password <input name=password type=password required></label>\
            <button>Sign in and check out</button></form>"
            .to_owned(),
        Some(_) => "<h2>Shipping</h2><form method=post action=/order>\
            <label>Ship to <input name=address required></label>\
            <button>Place order</button></form>"
            .to_owned(),
    };
    page(auth.as_ref(), &body)
}

async fn continue_as_guest(handle: AuthHandle, headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    match handle.sign_in_anonymously().await {
        Ok(_) | Err(AuthError::AnonymousCannotSignInAgain) => {
            Redirect::to("/checkout").into_response()
        }
        Err(error) => error.into_response(),
    }
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

async fn sign_in(
    handle: AuthHandle,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    if !same_origin(&headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    match handle
        .sign_in_with_password(&form.email, &form.password)
        .await
    {
        Ok(_) => Redirect::to("/checkout").into_response(),
        Err(error) => (
            error.status(),
            page(
                handle.auth().as_ref(),
                &format!(
                    "<p class=error>{}</p><p><a href=/checkout>Try again</a></p>",
                    escape(&friendly(&error))
                ),
            ),
        )
            .into_response(),
    }
}

async fn sign_out(handle: AuthHandle, headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    match handle.sign_out().await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(error) => error.into_response(),
    }
}

/// The offer to turn a guest into an account, with the email typed so far and an error.
fn register_form(email: &str, error: Option<&str>) -> String {
    let error = error
        .map(|message| format!("<p class=error>{}</p>", escape(message)))
        .unwrap_or_default();
    format!(
        "<form id=register method=post action=/register><h3>Save your details for next time?</h3>\
         {error}<label>Email <input name=email type=email required value=\"{}\"></label>\
         <label>Password <input name=password type=password minlength=8 required></label>\
         <button>Create account</button></form>",
        escape(email)
    )
}

#[derive(Deserialize)]
struct Order {
    address: String,
}

async fn place_order(
    handle: AuthHandle,
    headers: HeaderMap,
    Form(order): Form<Order>,
) -> Result<Response, AuthError> {
    if !same_origin(&headers) {
        return Ok(StatusCode::FORBIDDEN.into_response());
    }
    let auth = handle.require()?;
    let order_id = format!("order:{}", uuid::Uuid::new_v4().simple());
    handle.claim(&order_id).await?;
    let offer = if auth.is_anonymous() {
        register_form("", None)
    } else {
        String::new()
    };
    Ok(page(
        Some(&auth),
        &format!(
            "<h2>Thank you!</h2><p>Order <code>{}</code> ships to {}.</p>{offer}<p><a href=/orders>Your orders</a></p>",
            escape(&order_id),
            escape(&order.address)
        ),
    )
    .into_response())
}

async fn register(
    handle: AuthHandle,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Result<Response, AuthError> {
    if !same_origin(&headers) {
        return Ok(StatusCode::FORBIDDEN.into_response());
    }
    let registration = Registration::new(form.email.as_str(), form.password.as_str());
    match handle.register_with_password(registration).await {
        Ok(_) => Ok(Redirect::to("/orders").into_response()),
        Err(error) => {
            let form = register_form(&form.email, Some(&friendly(&error)));
            let page = page(handle.auth().as_ref(), &form);
            Ok((error.status(), page).into_response())
        }
    }
}

async fn orders(handle: AuthHandle) -> Result<Html<String>, AuthError> {
    let auth = handle.auth();
    let items: String = handle
        .resources()
        .await?
        .into_iter()
        .filter(|resource| resource.starts_with("order:"))
        .map(|order| format!("<li><code>{}</code></li>", escape(&order)))
        .collect();
    let list = if items.is_empty() {
        "<p>No orders yet. <a href=/>Find something you like</a>.</p>".to_owned()
    } else {
        format!("<ul>{items}</ul>")
    };
    Ok(page(auth.as_ref(), &format!("<h2>Your orders</h2>{list}")))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = AnonymousAuthConfig::builder()
        .key("dev", secret::auth_secret_or_exit())
        .secure(false) // plain http on localhost
        .mint_policy(MintPolicy::OnDemand) // nobody is a guest until they choose to be
        .build()?;
    let layer = AnonymousAuthLayer::from_arc(store_from_env::store_from_env().await?, config);
    let app = Router::new()
        .route("/", get(home))
        .route("/checkout", get(checkout))
        .route("/guest", post(continue_as_guest))
        .route("/sign-in", post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/order", post(place_order))
        .route("/register", post(register))
        .route("/orders", get(orders))
        .layer(layer);
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3002".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    // With ADDR=127.0.0.1:0 the system picks a free port; tests read it from this line.
    println!("guest checkout on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
