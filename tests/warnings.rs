//! What the layer logs when an app is misconfigured: each warning once per layer, with what
//! to do about it. These tests capture logs, so they share one lock (see `support::logs`).

mod support;

use http::header;
use std::sync::Arc;
use support::apps::{app, builder};
use support::logs::warnings_of;
use tower::ServiceExt;
use tower_anonymous_auth::MemoryStore;

/// Review point 5: the two ways the per-IP limit silently goes wrong are each logged once:
/// no peer address (the limit is off), and a loopback or private peer without trusted
/// proxies (behind a proxy, every visitor shares its bucket).
#[test]
fn a_misconfigured_mint_limit_is_logged_once() {
    let logs = warnings_of(|| async {
        let router = app(Arc::new(MemoryStore::new()), builder().build().unwrap());
        for peer in [None, None, None, Some([10, 0, 0, 7]), Some([127, 0, 0, 1])] {
            let mut request = http::Request::get("/optional")
                .header(header::USER_AGENT, support::client::BROWSER)
                .body(axum::body::Body::empty())
                .unwrap();
            if let Some(ip) = peer {
                let addr = std::net::SocketAddr::from((ip, 4000));
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(addr));
            }
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200);
        }
    });
    assert_eq!(
        logs.matches("no client address is known").count(),
        1,
        "{logs}"
    );
    assert_eq!(
        logs.matches("no trusted proxies are set").count(),
        1,
        "{logs}"
    );
}
