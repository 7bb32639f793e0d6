//! What the app's `send_email_code` hook receives, and the stored hook's type. Kept apart
//! from the sign-in flow ([`crate::accounts::email_code`]) so that the configuration can name
//! the hook without depending on the flow that calls it.

use futures::future::BoxFuture;
use std::net::IpAddr;
use std::sync::Arc;

/// A one-time sign-in code for the app to mail: the code to type and a link token to put in
/// a link, both good for one sign-in until `expires_at`. The crate never sends mail itself;
/// the `send_email_code` hook does. `Debug` leaves the code and the token out.
///
/// ```
/// use tower_anonymous_auth::{AnonymousAuthConfig, EmailCode};
///
/// let config = AnonymousAuthConfig::builder()
///     .random_key()
///     .send_email_code(|mail: EmailCode| async move {
///         // Hand it to your mailer; the link opens a page of yours that posts the token back.
///         let link = format!("https://shop.example/sign-in/email?token={}", mail.link_token);
///         println!("to {}: your code is {} (or open {link})", mail.email, mail.code);
///         Ok::<(), std::io::Error>(())
///     })
///     .build()
///     .unwrap();
/// # let _ = config;
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmailCode {
    /// The address to send it to, normalised (trimmed, lowercase).
    pub email: String,
    /// Six digits for the person to type into the page that asked for the code.
    pub code: String,
    /// For a link: give it back to
    /// [`AuthHandle::sign_in_with_email_link`](crate::AuthHandle::sign_in_with_email_link).
    /// URL-safe (`A-Z a-z 0-9 - _ .`).
    pub link_token: String,
    /// When the code and the link stop working (ms since the Unix epoch).
    pub expires_at: u64,
    /// The address of the client that asked for the code, if known (to say in the mail
    /// where the request came from).
    pub client_ip: Option<IpAddr>,
}

impl std::fmt::Debug for EmailCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailCode")
            .field("email", &self.email)
            .field("code", &"<redacted>")
            .field("link_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("client_ip", &self.client_ip)
            .finish()
    }
}

/// The stored `send_email_code` hook; errors are kept as their display text.
pub(crate) type EmailCodeHook =
    Arc<dyn Fn(EmailCode) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_code_and_the_link_token() {
        let mail = EmailCode {
            email: "ann@example.com".into(),
            code: "493027".into(),
            link_token: "secret-token".into(),
            expires_at: 1,
            client_ip: None,
        };
        let shown = format!("{mail:?}");
        assert!(shown.contains("ann@example.com"));
        assert!(!shown.contains("493027") && !shown.contains("secret-token"));
    }
}
