//! Reading a request and marking a response: the client address, where the request came
//! from (Fetch Metadata), whether it may mint a guest, the credential it carries, and the
//! `Cache-Control` of responses that set the cookie.

pub(crate) mod cache_control;
pub(crate) mod client_ip;
pub(crate) mod credential;
pub(crate) mod fetch_metadata;
pub(crate) mod skip;
