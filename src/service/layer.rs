//! [`AnonymousAuthLayer`], the [`AnonymousAuth`] service it makes, and its response future.

use crate::config::{AnonymousAuthConfig, MintPolicy, StoreFailureMode};
use crate::engine::{AuthEngine, CookieSlot, Outcome, Step};
use crate::error::AuthError;
use crate::request::cache_control::set_private_cookie;
use crate::request::client_ip::client_ip;
use crate::request::fetch_metadata::RequestSite;
use crate::request::skip::MintRequest;
use crate::request::Caller;
use crate::service::body::AuthBody;
use crate::service::handle::AuthHandle;
use crate::store::Store;
use crate::token::auth::Auth;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Request, Response};
use pin_project::pin_project;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// Gives every request a resolved [`Auth`] and an [`AuthHandle`], minting an anonymous user for
/// visitors without a valid credential. It reads and writes its cookie itself: add only this
/// one layer.
///
/// ```
/// use axum::{routing::get, Router};
/// use tower_anonymous_auth::{AnonymousAuthConfig, AnonymousAuthLayer, Auth, MemoryStore};
///
/// let config = AnonymousAuthConfig::builder()
///     .key("2026-11", b"a secret of at least thirty-two bytes!!")
///     .build()
///     .unwrap();
/// let app: Router = Router::new()
///     .route("/", get(|auth: Auth| async move { format!("hello {}", auth.user().name) }))
///     .layer(AnonymousAuthLayer::new(MemoryStore::new(), config));
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct AnonymousAuthLayer {
    engine: Arc<AuthEngine>,
}

impl std::fmt::Debug for AnonymousAuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnonymousAuthLayer")
            .field("config", &self.engine.config)
            .finish_non_exhaustive()
    }
}

impl AnonymousAuthLayer {
    /// A layer over `store` with `config`.
    ///
    /// ```
    /// use tower_anonymous_auth::{AnonymousAuthConfig, AnonymousAuthLayer, MemoryStore};
    /// let config = AnonymousAuthConfig::builder().random_key().build().unwrap();
    /// let layer = AnonymousAuthLayer::new(MemoryStore::new(), config);
    /// # let _ = layer;
    /// ```
    pub fn new(store: impl Store, config: AnonymousAuthConfig) -> Self {
        Self::from_arc(Arc::new(store), config)
    }

    /// A layer over a shared store.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_anonymous_auth::{AnonymousAuthConfig, AnonymousAuthLayer, MemoryStore, Store};
    /// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    /// let config = AnonymousAuthConfig::builder().random_key().build().unwrap();
    /// let layer = AnonymousAuthLayer::from_arc(store.clone(), config);
    /// # let _ = layer;
    /// ```
    pub fn from_arc(store: Arc<dyn Store>, config: AnonymousAuthConfig) -> Self {
        Self {
            engine: Arc::new(AuthEngine::new(store, config)),
        }
    }

    /// The configuration.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, AnonymousAuthLayer, MemoryStore};
    /// # let layer = AnonymousAuthLayer::new(MemoryStore::new(), AnonymousAuthConfig::builder().random_key().build().unwrap());
    /// assert_eq!(layer.config().collection(), "users");
    /// ```
    pub fn config(&self) -> &AnonymousAuthConfig {
        &self.engine.config
    }

    /// The store.
    ///
    /// ```
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, AnonymousAuthLayer, MemoryStore};
    /// # let layer = AnonymousAuthLayer::new(MemoryStore::new(), AnonymousAuthConfig::builder().random_key().build().unwrap());
    /// let store = layer.store().clone();
    /// # let _ = store;
    /// ```
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.engine.store
    }
}

impl<S> Layer<S> for AnonymousAuthLayer {
    type Service = AnonymousAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AnonymousAuth {
            inner,
            engine: self.engine.clone(),
        }
    }
}

/// The service made by [`AnonymousAuthLayer`]: resolves auth, calls the inner service, and
/// sets the auth cookie on its response.
///
/// ```
/// use tower::{service_fn, Layer, ServiceExt};
/// use tower_anonymous_auth::{AnonymousAuthConfig, AnonymousAuthLayer, Auth, MemoryStore};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let config = AnonymousAuthConfig::builder().random_key().build().unwrap();
/// let service = AnonymousAuthLayer::new(MemoryStore::new(), config).layer(service_fn(
///     |request: http::Request<String>| async move {
///         let auth = request.extensions().get::<Auth>().cloned();
///         Ok::<_, std::convert::Infallible>(http::Response::new(format!("{}", auth.is_some())))
///     },
/// ));
/// let request = http::Request::builder()
///     .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")
///     .body(String::new())
///     .unwrap();
/// let response = service.oneshot(request).await.unwrap();
/// assert!(response.headers().contains_key("set-cookie"));
/// let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap();
/// assert_eq!(body.to_bytes(), "true");
/// # });
/// ```
#[derive(Clone)]
pub struct AnonymousAuth<S> {
    inner: S,
    engine: Arc<AuthEngine>,
}

impl<S> AnonymousAuth<S> {
    /// The inner service.
    ///
    /// ```
    /// # use tower::{service_fn, Layer};
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, AnonymousAuthLayer, MemoryStore};
    /// # let layer = AnonymousAuthLayer::new(MemoryStore::new(), AnonymousAuthConfig::builder().random_key().build().unwrap());
    /// let service = layer.layer(service_fn(|_: http::Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(()))
    /// }));
    /// let inner = service.get_ref();
    /// # let _ = inner;
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use tower::{service_fn, Layer};
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, AnonymousAuthLayer, MemoryStore};
    /// # let layer = AnonymousAuthLayer::new(MemoryStore::new(), AnonymousAuthConfig::builder().random_key().build().unwrap());
    /// let mut service = layer.layer(0_u32);
    /// *service.get_mut() += 1;
    /// assert_eq!(*service.get_ref(), 1);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, without the layer.
    ///
    /// ```
    /// # use tower::Layer;
    /// # use tower_anonymous_auth::{AnonymousAuthConfig, AnonymousAuthLayer, MemoryStore};
    /// # let layer = AnonymousAuthLayer::new(MemoryStore::new(), AnonymousAuthConfig::builder().random_key().build().unwrap());
    /// let service = layer.layer("inner");
    /// assert_eq!(service.into_inner(), "inner");
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for AnonymousAuth<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnonymousAuth")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AnonymousAuth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The ready service goes into the future; a fresh clone stays for the next call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let engine = &self.engine;
        let set_cookie = CookieSlot::default();
        let client_ip = client_ip(
            request.extensions(),
            request.headers(),
            &engine.config.trusted_proxies,
        );
        // Read once: whether a guest may be minted, and what the handle refuses.
        let site = request_site(engine, &request);
        // A returning visitor whose session needs no I/O, or a lazy new one, is ready at once
        // and the inner service is called right away; anything else awaits the store.
        let step = engine.resolve(
            request.headers(),
            &set_cookie,
            client_ip,
            || may_mint(engine, &request, site),
            || request_span(&request),
        );
        let pending = Pending {
            request,
            inner,
            engine: engine.clone(),
            set_cookie,
            client_ip,
            site,
        };
        match step {
            Step::Ready(outcome) => ResponseFuture::settle(pending, outcome),
            Step::Pending(resolve) => ResponseFuture::resolving(pending, resolve),
        }
    }
}

/// Whether the layer mints for this request (from `site`) when it has no valid credential:
/// the mint policy says so and the skip predicate does not skip it.
fn may_mint<B>(engine: &AuthEngine, request: &Request<B>, site: RequestSite) -> bool {
    engine.config.mint_policy == MintPolicy::Always
        && !site.no_mint
        && !engine.config.skips_mint(&MintRequest {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
        })
}

/// Where the request comes from (see [`RequestSite`]).
fn request_site<B>(engine: &AuthEngine, request: &Request<B>) -> RequestSite {
    RequestSite::of(
        request.method(),
        request.uri(),
        request.headers(),
        engine.config.mint_on_same_site,
    )
}

/// The span of the layer's work for a request that awaits the store.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    tracing::debug_span!(
        "anonymous_auth",
        method = %request.method(),
        path = %request.uri().path()
    )
}

/// A resolution that awaits the store (in the span of the request).
type Resolve = BoxFuture<'static, Outcome>;

/// Response future of [`AnonymousAuth`]: resolves auth, then runs the inner service.
#[pin_project]
pub struct ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    #[pin]
    state: State<S, ReqBody>,
}

/// What the inner call needs once auth is resolved.
struct Pending<S, ReqBody> {
    request: Request<ReqBody>,
    inner: S,
    engine: Arc<AuthEngine>,
    set_cookie: CookieSlot,
    client_ip: Option<IpAddr>,
    site: RequestSite,
}

impl<S, ReqBody> Pending<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    /// Puts `auth` and an [`AuthHandle`] in the request's extensions and calls the inner
    /// service; a guest minted for this request gets its cookie (unless the handler writes
    /// the auth cookie itself: signs in, stores a lazy guest, signs out), and the layer warns
    /// once if browsers will probably not keep it.
    /// `mint_refused` is the Retry-After of a mint the rate limit refused: the request goes on
    /// without auth, and what needs an identity answers `RATE_LIMITED`.
    fn call(self, auth: Option<Auth>, mint_refused: Option<u64>) -> State<S, ReqBody> {
        let Self {
            mut request,
            mut inner,
            engine,
            set_cookie,
            client_ip,
            site,
        } = self;
        if let Some(minted) = auth.as_ref().filter(|auth| auth.minted_now()) {
            engine.cookie.set_guest(&set_cookie, minted.token());
            engine.watch_minted_cookie(
                request.uri(),
                request.headers(),
                client_ip,
                crate::util::clock::now_millis(),
            );
        }
        let hook = engine.config.on_link_account.is_some();
        let caller = Caller::of(request.headers(), client_ip, hook);
        let handle = AuthHandle::new(
            engine,
            set_cookie.clone(),
            auth.clone(),
            caller,
            site,
            mint_refused,
        );
        let extensions = request.extensions_mut();
        if let Some(auth) = auth {
            extensions.insert(auth);
        }
        extensions.insert(handle);
        State::Calling {
            future: inner.call(request),
            set_cookie,
        }
    }
}

/// Where a response future is. What the inner call needs waits inside `Resolving` (not beside
/// the inner service's future: the response future stays small, and futures are moved).
/// Clippy sees `Resolving` as the largest variant because it cannot size `S::Future`; boxing
/// it would cost every request that awaits the store an allocation.
#[allow(clippy::large_enum_variant)]
#[pin_project(project = StateProj)]
enum State<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    Resolving {
        resolve: Resolve,
        pending: Option<Pending<S, ReqBody>>,
    },
    Calling {
        #[pin]
        future: S::Future,
        /// The auth cookie's `Set-Cookie`, if the layer or a handler wrote one.
        set_cookie: CookieSlot,
    },
    /// The layer answers itself (503 fail closed, 429 rate limited): see `ErrorPages`.
    Answered { response: Option<Response<Bytes>> },
}

impl<S, ReqBody> std::fmt::Debug for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    /// Waits for `resolve`, then calls the inner service.
    fn resolving(pending: Pending<S, ReqBody>, resolve: Resolve) -> Self {
        Self {
            state: State::Resolving {
                resolve,
                pending: Some(pending),
            },
        }
    }

    /// Calls the inner service with a resolved `outcome`, or answers for the layer: a mint
    /// over the rate limit goes on without auth (pages still render, what needs an identity
    /// answers 429); a store failure answers 503 when failing closed, and gives no auth when
    /// failing open.
    fn settle(pending: Pending<S, ReqBody>, outcome: Outcome) -> Self {
        let state = match outcome {
            Ok(auth) => pending.call(auth, None),
            Err(AuthError::RateLimited { retry_after_secs }) => {
                pending.call(None, Some(retry_after_secs))
            }
            Err(error) => match pending.engine.config.store_failure {
                StoreFailureMode::FailClosed => {
                    tracing::warn!(%error, "auth store failed; answering 503 (fail closed)");
                    let engine = &pending.engine;
                    let response = engine
                        .config
                        .error_pages
                        .respond(error, pending.request.headers());
                    State::Answered {
                        response: Some(response),
                    }
                }
                StoreFailureMode::FailOpen => {
                    tracing::warn!(%error, "auth store failed; continuing without auth (fail open)");
                    pending.call(None, None)
                }
            },
        };
        Self { state }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<AuthBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Resolving { resolve, pending } => {
                    let outcome = ready!(resolve.as_mut().poll(cx));
                    let Some(pending) = pending.take() else {
                        panic!("ResponseFuture polled after completion");
                    };
                    this.state.set(Self::settle(pending, outcome).state);
                }
                StateProj::Calling { future, set_cookie } => {
                    let mut response = ready!(future.poll(cx))?.map(AuthBody::from_inner);
                    if let Some(value) = set_cookie.take() {
                        set_private_cookie(response.headers_mut(), value);
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Answered { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(response.map(AuthBody::answer)));
                }
            }
        }
    }
}
