//! Rate limits per client (minting guests, password attempts) and per email: their
//! configuration and the GCRA arithmetic the stores share. Who the client is comes from
//! the `client_ip` module.

/// How many times one client (an IP, or for password attempts an email) may do a thing: a
/// burst, then a steady rate (a token bucket, computed as GCRA). IPv6 clients are counted
/// per /64.
///
/// ```
/// use tower_anonymous_auth::RateLimit;
/// let limit = RateLimit::new(20, 60);
/// assert_eq!(limit.burst, 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Attempts allowed at once from a fresh client.
    pub burst: u32,
    /// Attempts per minute after the burst is spent.
    pub per_minute: u32,
}

impl RateLimit {
    /// A limit of `burst` at once and `per_minute` afterwards (both at least 1).
    ///
    /// ```
    /// let limit = tower_anonymous_auth::RateLimit::new(0, 0);
    /// assert_eq!((limit.burst, limit.per_minute), (1, 1));
    /// ```
    pub fn new(burst: u32, per_minute: u32) -> Self {
        Self {
            burst: burst.max(1),
            per_minute: per_minute.max(1),
        }
    }

    /// Milliseconds between two attempts at the steady rate.
    pub(crate) fn interval_ms(&self) -> u64 {
        60_000 / u64::from(self.per_minute.max(1))
    }

    /// How far ahead of now the arrival time may run: room for `burst - 1` extra attempts.
    pub(crate) fn tolerance_ms(&self) -> u64 {
        self.interval_ms()
            .saturating_mul(u64::from(self.burst.max(1)) - 1)
    }

    /// Applies one request at `now` to the stored theoretical arrival time `tat` (GCRA).
    /// Returns the decision and, when allowed, the new `tat` to store (it can expire at `tat`).
    pub(crate) fn apply(&self, tat: Option<u64>, now: u64) -> (RateDecision, Option<u64>) {
        let interval = self.interval_ms();
        let tolerance = self.tolerance_ms();
        let tat = tat.unwrap_or(now).max(now);
        let allow_at = tat.saturating_sub(tolerance);
        if now < allow_at {
            return (
                RateDecision::Limited {
                    retry_after_ms: allow_at - now,
                },
                None,
            );
        }
        (RateDecision::Allowed, Some(tat.saturating_add(interval)))
    }
}

impl Default for RateLimit {
    /// 60 at once, then 60 per minute per IP.
    fn default() -> Self {
        Self::new(60, 60)
    }
}

/// What a rate-limit check decided.
///
/// ```
/// use tower_anonymous_auth::store::RateDecision;
/// assert!(RateDecision::Allowed.is_allowed());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Go ahead.
    Allowed,
    /// Over the limit; retry after this many milliseconds.
    Limited {
        /// Milliseconds until the next attempt is allowed.
        retry_after_ms: u64,
    },
}

impl RateDecision {
    /// `true` for [`RateDecision::Allowed`].
    ///
    /// ```
    /// # use tower_anonymous_auth::store::RateDecision;
    /// assert!(!RateDecision::Limited { retry_after_ms: 5 }.is_allowed());
    /// ```
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_allows_a_burst_then_the_steady_rate() {
        let limit = RateLimit::new(3, 60);
        let mut tat = None;
        for _ in 0..3 {
            let (decision, next) = limit.apply(tat, 10_000);
            assert!(decision.is_allowed());
            tat = next;
        }
        let (decision, _) = limit.apply(tat, 10_000);
        assert_eq!(
            decision,
            RateDecision::Limited {
                retry_after_ms: 1_000
            }
        );
        let (decision, _) = limit.apply(tat, 11_000);
        assert!(decision.is_allowed());
    }
}
