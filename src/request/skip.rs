//! Which requests never mint an anonymous user: crawlers, `HEAD` / `OPTIONS`, static assets.

use aho_corasick::{AhoCorasick, MatchKind};
use http::{header, HeaderMap, Method, Uri};
use std::sync::{Arc, LazyLock};

/// The parts of a request a skip predicate looks at.
///
/// ```
/// use tower_anonymous_auth::MintRequest;
/// let headers = http::HeaderMap::new();
/// let uri: http::Uri = "/app.css".parse().unwrap();
/// let request = MintRequest { method: &http::Method::GET, uri: &uri, headers: &headers };
/// assert!(tower_anonymous_auth::default_skip_mint(&request));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MintRequest<'a> {
    /// Request method.
    pub method: &'a Method,
    /// Request URI.
    pub uri: &'a Uri,
    /// Request headers.
    pub headers: &'a HeaderMap,
}

/// A predicate: `true` means "do not mint for this request".
pub(crate) type SkipPredicate = Arc<dyn Fn(&MintRequest<'_>) -> bool + Send + Sync>;

/// User-agent fragments (lowercase) of crawlers, link previewers and uptime checkers.
const BOT_AGENTS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "bingpreview",
    "facebookexternalhit",
    "embedly",
    "quora link preview",
    "whatsapp",
    "skypeuripreview",
    "pinterest",
    "vkshare",
    "w3c_validator",
    "lighthouse",
    "pingdom",
    "uptimerobot",
    "statuscake",
];

const STATIC_EXTENSIONS: &[&str] = &[
    "css",
    "js",
    "mjs",
    "map",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "svg",
    "ico",
    "webp",
    "avif",
    "woff",
    "woff2",
    "ttf",
    "otf",
    "eot",
    "txt",
    "xml",
    "json",
    "webmanifest",
    "mp4",
    "webm",
    "mp3",
];

const STATIC_PREFIXES: &[&str] = &["/static/", "/assets/", "/.well-known/", "/favicon"];

/// The default skip predicate: `HEAD` and `OPTIONS` requests, requests whose `User-Agent`
/// names a known crawler or link previewer (or is missing), and static asset paths
/// (`/static/`, `/assets/`, `/.well-known/`, `/favicon*`, and files such as `.css`, `.js`,
/// images, fonts, `robots.txt`, `sitemap.xml`).
///
/// Requests it skips still resolve an existing credential; they only never mint. Handlers that
/// crawlers reach should take `Option<Auth>` rather than `Auth`.
/// Headless browsers are not skipped: browser tests and real users of them look alike.
///
/// ```
/// use http::{header, HeaderMap, HeaderValue, Method, Uri};
/// use tower_anonymous_auth::{default_skip_mint, MintRequest};
///
/// let uri: Uri = "/products".parse().unwrap();
/// let mut headers = HeaderMap::new();
/// headers.insert(header::USER_AGENT, HeaderValue::from_static("Mozilla/5.0 (compatible; Googlebot/2.1)"));
/// assert!(default_skip_mint(&MintRequest { method: &Method::GET, uri: &uri, headers: &headers }));
/// headers.insert(header::USER_AGENT, HeaderValue::from_static("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"));
/// assert!(!default_skip_mint(&MintRequest { method: &Method::GET, uri: &uri, headers: &headers }));
/// ```
pub fn default_skip_mint(request: &MintRequest<'_>) -> bool {
    if request.method == Method::HEAD || request.method == Method::OPTIONS {
        return true;
    }
    is_static_path(request.uri.path()) || is_bot(request.headers)
}

/// One searcher for all [`BOT_AGENTS`] fragments at once (built once): with leftmost
/// semantics it uses a SIMD prefilter (Teddy) that scans the agent a single time instead of
/// once per fragment, which matters because every browser request pays for this check.
static BOT_FRAGMENTS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(BOT_AGENTS)
        .expect("bot fragments are valid patterns")
});

/// User agents up to this length are lowercased on the stack.
const STACK_AGENT_LEN: usize = 256;

fn is_bot(headers: &HeaderMap) -> bool {
    let Some(agent) = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let agent = agent.as_bytes().trim_ascii();
    if agent.is_empty() {
        return true;
    }
    let mut stack = [0u8; STACK_AGENT_LEN];
    let mut heap = Vec::new();
    let lower: &mut [u8] = match stack.get_mut(..agent.len()) {
        Some(buffer) => buffer,
        None => {
            heap.resize(agent.len(), 0);
            &mut heap
        }
    };
    lower.copy_from_slice(agent);
    lower.make_ascii_lowercase();
    BOT_FRAGMENTS.is_match(&*lower)
}

fn is_static_path(path: &str) -> bool {
    if STATIC_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix))
    {
        return true;
    }
    let file = path.rsplit('/').next().unwrap_or_default();
    file.rsplit_once('.').is_some_and(|(stem, extension)| {
        !stem.is_empty()
            && STATIC_EXTENSIONS
                .iter()
                .any(|known| extension.eq_ignore_ascii_case(known))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn skip(method: Method, path: &str, agent: Option<&str>) -> bool {
        let uri: Uri = path.parse().unwrap();
        let mut headers = HeaderMap::new();
        if let Some(agent) = agent {
            headers.insert(header::USER_AGENT, HeaderValue::from_str(agent).unwrap());
        }
        default_skip_mint(&MintRequest {
            method: &method,
            uri: &uri,
            headers: &headers,
        })
    }

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    const HEADLESS: &str =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/156.0.0.0 Safari/537.36";

    #[test]
    fn browsers_on_pages_mint() {
        assert!(!skip(Method::GET, "/", Some(FIREFOX)));
        assert!(!skip(Method::POST, "/cart", Some(FIREFOX)));
        assert!(!skip(Method::GET, "/products/tea", Some(FIREFOX)));
        assert!(!skip(Method::GET, "/", Some(HEADLESS)));
    }

    #[test]
    fn bots_heads_and_assets_skip() {
        assert!(skip(Method::HEAD, "/", Some(FIREFOX)));
        assert!(skip(Method::OPTIONS, "/api", Some(FIREFOX)));
        assert!(skip(Method::GET, "/", None));
        assert!(skip(Method::GET, "/", Some("Googlebot/2.1")));
        assert!(skip(Method::GET, "/", Some("facebookexternalhit/1.1")));
        assert!(skip(Method::GET, "/", Some("Slackbot-LinkExpanding 1.0")));
        assert!(skip(Method::GET, "/app.CSS", Some(FIREFOX)));
        assert!(skip(Method::GET, "/static/x", Some(FIREFOX)));
        assert!(skip(Method::GET, "/robots.txt", Some(FIREFOX)));
        assert!(skip(Method::GET, "/favicon.ico", Some(FIREFOX)));
        assert!(!skip(Method::GET, "/.hidden", Some(FIREFOX)));
        assert!(skip(Method::GET, "/", Some("   ")));
        let long_bot = format!("{} GOOGLEBOT", "x".repeat(STACK_AGENT_LEN * 2));
        assert!(skip(Method::GET, "/", Some(&long_bot)));
        assert!(!skip(Method::GET, "/", Some(&FIREFOX.repeat(10))));
    }

    proptest::proptest! {
        /// The bot check agrees with its plain definition: a (trimmed, non-empty) agent is a
        /// bot when its lowercase form contains a fragment.
        #[test]
        fn bot_check_matches_lowercase_contains(
            agent in "[ a-zA-Z0-9/.;()_-]{0,40}(bot|Crawl|SPIDER|Pinterest|whatsApp)?[ a-zA-Z0-9/.;()_-]{0,300}"
        ) {
            let mut headers = HeaderMap::new();
            headers.insert(header::USER_AGENT, HeaderValue::from_str(&agent).unwrap());
            let lower = agent.trim().to_ascii_lowercase();
            let expected =
                lower.is_empty() || BOT_AGENTS.iter().any(|fragment| lower.contains(fragment));
            proptest::prop_assert_eq!(is_bot(&headers), expected);
        }
    }
}
