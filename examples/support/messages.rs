//! What a shopper reads for an `AuthError`: the library's codes are for programs, its
//! messages for developers; a page says what happened and what to do, in a sentence.

use tower_anonymous_auth::AuthError;

pub fn friendly(error: &AuthError) -> String {
    match error {
        AuthError::InvalidCredentials => {
            "That email and password do not match. Try again, or get a code by email.".into()
        }
        AuthError::EmailTaken => "That email already has an account: sign in instead.".into(),
        AuthError::InvalidEmail => "Please enter a valid email address.".into(),
        AuthError::WeakPassword { min, .. } => {
            format!("Please choose a password of at least {min} characters.")
        }
        AuthError::InvalidEmailCode => {
            "That code is wrong or has expired. Check it, or ask for a new one.".into()
        }
        AuthError::IdentityEmailInUse => "An account with this email exists already. Sign in \
             with its password or an email code first."
            .into(),
        AuthError::RateLimited { retry_after_secs } => {
            format!("Too many attempts. Please wait {retry_after_secs} seconds and try again.")
        }
        other => sentence(&other.public_message()),
    }
}

/// `text` with a capital first letter and a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        format!("{}{}.", first.to_uppercase(), chars.as_str())
    })
}
