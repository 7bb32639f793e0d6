//! Small building blocks with no knowledge of auth: the clock, ids, guest names, placeholder
//! emails, an expiring map, and a keyed HMAC.

pub(crate) mod clock;
pub(crate) mod email;
pub(crate) mod expiring_map;
pub(crate) mod ids;
pub(crate) mod keyed_hmac;
pub(crate) mod names;
