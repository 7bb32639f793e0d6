//! A small shop where a visitor is a guest at once and can fill a cart before signing up.
//!
//! Run: `cargo run --example try_before_you_buy`, then open http://127.0.0.1:3000
//! (in-memory store; set `REDIS_URL` to keep users in Redis).

use axum::extract::{Form, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tower_anonymous_auth::{
    AnonymousAuthConfig, AnonymousAuthLayer, Auth, AuthError, AuthHandle, MemoryStore,
};

const PRODUCTS: &[(&str, &str, u32)] = &[
    ("tea", "Smoky Lapsang tea, 100 g", 900),
    ("mug", "Stoneware mug", 1800),
    ("honey", "Wildflower honey, 250 g", 750),
];

/// Cart lines by cart id; the cart itself is an owned resource `cart:{user id}`.
#[derive(Clone, Default)]
struct Shop {
    carts: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl Shop {
    fn cart(&self, cart_id: &str) -> Vec<String> {
        self.carts
            .lock()
            .map(|carts| carts.get(cart_id).cloned().unwrap_or_default())
            .unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct AddToCart {
    product: String,
}

fn page(title: &str, auth: &Auth, body: &str) -> Html<String> {
    let who = if auth.is_anonymous {
        format!("Browsing as guest <strong>{}</strong>", auth.user.name)
    } else {
        format!("Signed in as <strong>{}</strong>", auth.user.email)
    };
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>{title} · Teashop</title>\
         <style>body{{font-family:system-ui;max-width:40rem;margin:2rem auto;color:#222}}\
         header{{display:flex;justify-content:space-between;border-bottom:1px solid #ddd}}\
         li{{margin:.5rem 0}} button{{margin-left:1rem}}</style></head><body>\
         <header><h1><a href=/>Teashop</a></h1><p>{who} · <a href=/cart>Cart</a></p></header>\
         {body}</body></html>"
    ))
}

async fn home(auth: Auth) -> Html<String> {
    let items: String = PRODUCTS
        .iter()
        .map(|(id, name, cents)| {
            format!(
                "<li>{name} — €{}.{:02}<form method=post action=/cart style=display:inline>\
                 <input type=hidden name=product value={id}><button>Add to cart</button></form></li>",
                cents / 100,
                cents % 100
            )
        })
        .collect();
    page("Shop", &auth, &format!("<h2>Products</h2><ul>{items}</ul>"))
}

async fn add_to_cart(
    State(shop): State<Shop>,
    handle: AuthHandle,
    Form(form): Form<AddToCart>,
) -> Result<Response, AuthError> {
    let auth = handle.require()?;
    let cart_id = format!("cart:{}", auth.user.id);
    handle.claim(&cart_id).await?;
    if PRODUCTS.iter().any(|(id, _, _)| *id == form.product) {
        if let Ok(mut carts) = shop.carts.lock() {
            carts.entry(cart_id).or_default().push(form.product);
        }
    }
    Ok(Redirect::to("/cart").into_response())
}

async fn cart(State(shop): State<Shop>, handle: AuthHandle) -> Result<Html<String>, AuthError> {
    let auth = handle.require()?;
    let mut lines = Vec::new();
    for cart_id in handle.resources().await? {
        for product in shop.cart(&cart_id) {
            if let Some((_, name, _)) = PRODUCTS.iter().find(|(id, _, _)| *id == product) {
                lines.push(format!("<li>{name}</li>"));
            }
        }
    }
    let body = if lines.is_empty() {
        "<h2>Your cart</h2><p>Your cart is empty.</p>".to_owned()
    } else {
        format!("<h2>Your cart</h2><ul>{}</ul>", lines.concat())
    };
    Ok(page("Cart", &auth, &body))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("AUTH_SECRET")
        .unwrap_or_else(|_| "dev-only secret, at least 32 bytes long".into());
    let config = AnonymousAuthConfig::builder()
        .key("dev", secret)
        .secure(false) // plain http on localhost
        .build()?;
    let app = Router::new()
        .route("/", get(home))
        .route("/cart", get(cart).post(add_to_cart))
        .with_state(Shop::default())
        .layer(AnonymousAuthLayer::new(MemoryStore::new(), config));
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("Teashop on http://{addr}");
    axum::serve(listener, app).await?;
    Ok(())
}
