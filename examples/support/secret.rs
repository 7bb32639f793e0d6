//! The examples' signing secret: `AUTH_SECRET`, or, only when `AUTH_DEV_MODE=1` says this is a
//! developer's own machine, a public development secret. A server started without either
//! refuses to run: with a public secret anyone could sign tokens for any user.

/// The public secret of development mode. Never use it where anyone else can connect.
const DEV_SECRET: &str = "dev-only secret, public, at least 32 bytes long";

/// `AUTH_SECRET`; the development secret when `AUTH_DEV_MODE=1`; else a message that says
/// what to set.
pub fn auth_secret() -> Result<String, String> {
    match std::env::var("AUTH_SECRET") {
        Ok(secret) if !secret.is_empty() => return Ok(secret),
        _ => {}
    }
    if std::env::var("AUTH_DEV_MODE").as_deref() == Ok("1") {
        eprintln!(
            "warning: AUTH_DEV_MODE=1: signing tokens with a public development secret; \
             anyone who can reach this server can forge them"
        );
        return Ok(DEV_SECRET.to_owned());
    }
    Err(
        "AUTH_SECRET is not set. Set it to a random secret of at least 32 bytes \
         (for example `export AUTH_SECRET=$(openssl rand -base64 48)`), or, on your own \
         machine only, set AUTH_DEV_MODE=1 to run with a public development secret."
            .to_owned(),
    )
}

/// [`auth_secret`], or exits with its message (what a misconfigured server should print).
pub fn auth_secret_or_exit() -> String {
    auth_secret().unwrap_or_else(|message| {
        eprintln!("error: {message}");
        std::process::exit(2);
    })
}
