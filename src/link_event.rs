//! What a link is, as the app's `on_link_account` hook sees it: the event, its kind, and the
//! stored hook's type. Kept apart from the link flow ([`crate::accounts::link`]) so that the
//! configuration can name the hook without depending on the flow that runs it.

use crate::store::User;
use futures::future::BoxFuture;
use std::net::IpAddr;
use std::sync::Arc;

/// How a guest came to be linked to an account.
///
/// ```
/// use tower_anonymous_auth::LinkKind;
/// assert_ne!(LinkKind::SignIn, LinkKind::Register);
/// assert_eq!(LinkKind::Token.as_str(), "token");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkKind {
    /// The guest registered with a password: the same user, upgraded in place
    /// (`anonymous.id == account.id`).
    Register,
    /// The guest signed in to an existing account with email and password.
    SignIn,
    /// The guest signed in to an existing account with a token obtained elsewhere.
    Token,
    /// The guest signed in with an identity verified elsewhere (OpenID Connect, OAuth, a
    /// passkey): to the account holding it, or, for an identity nobody has, upgraded in place
    /// like [`Register`](Self::Register) (`anonymous.id == account.id`).
    Identity,
    /// The guest signed in with a one-time email code or the link mailed with it: to the
    /// account with that email, or, for an email nobody has, upgraded in place like
    /// [`Register`](Self::Register).
    EmailCode,
    /// The guest signed in as a user of the app's own login
    /// ([`AuthHandle::sign_in_as`](crate::AuthHandle::sign_in_as)).
    AppAccount,
}

impl LinkKind {
    /// A short lowercase name: `"register"`, `"sign_in"`, `"token"`, `"identity"`,
    /// `"email_code"` or `"app_account"`.
    ///
    /// ```
    /// assert_eq!(tower_anonymous_auth::LinkKind::SignIn.as_str(), "sign_in");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SignIn => "sign_in",
            Self::Token => "token",
            Self::Identity => "identity",
            Self::EmailCode => "email_code",
            Self::AppAccount => "app_account",
        }
    }
}

/// What `on_link_account` receives: the guest, the account it becomes part of, and how.
///
/// ```
/// use tower_anonymous_auth::store::OwnershipStore;
/// use tower_anonymous_auth::{AnonymousAuthConfig, LinkEvent, LinkKind, MemoryStore};
///
/// let store = MemoryStore::new();
/// let hook_store = store.clone();
/// let config = AnonymousAuthConfig::builder()
///     .random_key()
///     .on_link_account(move |event: LinkEvent| {
///         let store = hook_store.clone();
///         async move {
///             if event.kind != LinkKind::Register {
///                 // Both carts are still told apart here: merge the guest's into the account's.
///                 let guest_items = store.resources_of(&event.anonymous.id).await?;
///                 println!("merging {} items into {}", guest_items.len(), event.account.id);
///             }
///             Ok::<(), tower_anonymous_auth::StoreError>(())
///         }
///     })
///     .build()
///     .unwrap();
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkEvent {
    /// The anonymous user, as it was before the link.
    pub anonymous: User,
    /// The account the guest is linked to (for [`LinkKind::Register`], the same user as it will
    /// be once registered).
    pub account: User,
    /// How the link came about.
    pub kind: LinkKind,
    /// For [`LinkKind::Identity`], the identity's provider.
    pub provider: Option<String>,
    /// The address of the client that asked, if known.
    pub client_ip: Option<IpAddr>,
    /// The `User-Agent` of the request that asked, if any (lossily decoded).
    pub user_agent: Option<String>,
}

/// The stored `on_link_account` hook; errors are kept as their display text.
pub(crate) type LinkHook =
    Arc<dyn Fn(LinkEvent) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;
