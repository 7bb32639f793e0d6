//! The fair, bounded line in front of the password-hashing workers.
//!
//! Every argon2 hash and verification waits here for a worker. Two things keep one client
//! from delaying everyone else's sign-in:
//!
//! - **Fairness.** Each client (an IP address, or an IPv6 /64) has its own lane that lets one
//!   of its checks at a time into the shared first-come line; the rest of its checks wait in
//!   the lane. A flood from one address therefore holds one place in the shared line, and a
//!   user at another address waits for at most one check per other active client, however
//!   many that client sent. Checks without a known client address go straight to the shared
//!   line.
//! - **A bound.** When the line and the lanes together hold the most checks allowed, the next
//!   one is refused at once with [`AuthError::Busy`] instead of waiting seconds behind them.
//!
//! Both waits are tokio semaphores, which serve waiters in order and forget a waiter whose
//! request went away.

use crate::error::AuthError;
use crate::request::client_ip::client_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Semaphore;

/// Workers, the shared line in front of them, and one lane per client.
pub(crate) struct HashQueue {
    workers: Semaphore,
    places: Mutex<Places>,
    max_places: usize,
}

/// The checks holding a place (running, in the shared line or in a lane), in all and by
/// client, with each waiting client's lane.
#[derive(Default)]
struct Places {
    taken: usize,
    lanes: HashMap<String, Lane>,
}

/// One client's lane: a single permit into the shared line, and how many of the client's
/// checks hold a place (the lane is dropped when none does).
struct Lane {
    entry: Arc<Semaphore>,
    holders: usize,
}

/// A place in a [`HashQueue`], given back when dropped (the check finished, or its request
/// went away while it waited).
struct Place {
    queue: &'static HashQueue,
    lane: Option<(String, Arc<Semaphore>)>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut places = self.queue.lock_places();
        places.taken -= 1;
        if let Some((client, _)) = &self.lane {
            if let Some(lane) = places.lanes.get_mut(client) {
                lane.holders -= 1;
                if lane.holders == 0 {
                    places.lanes.remove(client);
                }
            }
        }
    }
}

impl HashQueue {
    /// A queue with `workers` computations at once and `max_places` checks holding a place.
    pub(crate) fn new(workers: usize, max_places: usize) -> Self {
        Self {
            workers: Semaphore::new(workers),
            places: Mutex::default(),
            max_places,
        }
    }

    fn lock_places(&self) -> MutexGuard<'_, Places> {
        // Every change under the lock is a single step, so the counts stay consistent even
        // if a holder panicked.
        self.places.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place for `client`, or refuses at once when every place is taken.
    fn take_place(&'static self, client: Option<IpAddr>) -> Result<Place, AuthError> {
        let mut places = self.lock_places();
        if places.taken >= self.max_places {
            tracing::warn!(
                places = places.taken,
                "password check refused: the hashing queue is full"
            );
            return Err(AuthError::Busy {
                retry_after_secs: 1,
            });
        }
        places.taken += 1;
        let lane = client.map(|ip| {
            let key = client_key(ip);
            let lane = places.lanes.entry(key.clone()).or_insert_with(|| Lane {
                entry: Arc::new(Semaphore::new(1)),
                holders: 0,
            });
            lane.holders += 1;
            (key, lane.entry.clone())
        });
        Ok(Place { queue: self, lane })
    }

    /// Runs an argon2 job on the blocking pool once `client`'s turn comes and a worker is
    /// free. The place, the lane's turn and the worker are held until the job ends, even
    /// when the request that asked for it has gone away meanwhile.
    pub(crate) async fn run<T: Send + 'static>(
        &'static self,
        client: Option<IpAddr>,
        job: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
    ) -> Result<T, AuthError> {
        let closed = |err| AuthError::Internal(format!("password hashing queue closed: {err}"));
        let place = self.take_place(client)?;
        let turn = match &place.lane {
            Some((_, entry)) => Some(entry.clone().acquire_owned().await.map_err(closed)?),
            None => None,
        };
        let worker = self.workers.acquire().await.map_err(closed)?;
        tokio::task::spawn_blocking(move || {
            let _held = (place, turn, worker);
            job()
        })
        .await
        .map_err(|err| AuthError::Internal(format!("password hashing task failed: {err}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn leaked(workers: usize, max_places: usize) -> &'static HashQueue {
        Box::leak(Box::new(HashQueue::new(workers, max_places)))
    }

    async fn until_taken(queue: &HashQueue, taken: usize) {
        while queue.lock_places().taken < taken {
            tokio::task::yield_now().await;
        }
    }

    /// A job that holds its worker until `release` is sent to or dropped.
    fn blocked(release: mpsc::Receiver<()>) -> impl FnOnce() -> Result<(), AuthError> {
        move || {
            let _ = release.recv();
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_client_with_many_checks_waits_in_its_own_lane() {
        let queue = leaked(1, 100);
        let (release, wait) = mpsc::channel();
        let finished = Arc::new(Mutex::new(Vec::new()));
        let record = |name: &'static str| {
            let finished = finished.clone();
            move || {
                finished.lock().unwrap().push(name);
                Ok(())
            }
        };
        let first = tokio::spawn(queue.run(ip("198.51.100.7"), blocked(wait)));
        until_taken(queue, 1).await;
        let mut jobs = Vec::new();
        for name in ["flood 2", "flood 3", "flood 4"] {
            jobs.push(tokio::spawn(queue.run(ip("198.51.100.7"), record(name))));
        }
        until_taken(queue, 4).await;
        // The same /64 is one client.
        jobs.push(tokio::spawn(queue.run(ip("2001:db8::1"), record("v6 a"))));
        jobs.push(tokio::spawn(queue.run(ip("2001:db8::2"), record("v6 b"))));
        until_taken(queue, 6).await;
        let user = tokio::spawn(queue.run(ip("192.0.2.1"), record("user")));
        until_taken(queue, 7).await;
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        user.await.unwrap().unwrap();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        let finished = finished.lock().unwrap().clone();
        let at = |name| finished.iter().position(|n| *n == name).unwrap();
        assert!(at("user") < at("flood 3"), "{finished:?}");
        assert!(
            at("v6 a") < at("flood 3") && at("v6 b") > at("v6 a"),
            "{finished:?}"
        );
        assert_eq!(queue.lock_places().taken, 0);
        assert!(queue.lock_places().lanes.is_empty());
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let queue = leaked(1, 3);
        let (release, wait) = mpsc::channel::<()>();
        let mut jobs = vec![tokio::spawn(queue.run(ip("192.0.2.1"), blocked(wait)))];
        jobs.push(tokio::spawn(queue.run(ip("192.0.2.1"), || Ok(()))));
        jobs.push(tokio::spawn(queue.run(None, || Ok(()))));
        until_taken(queue, 3).await;
        let refused = queue.run(ip("203.0.113.5"), || Ok(())).await;
        assert_eq!(
            refused,
            Err(AuthError::Busy {
                retry_after_secs: 1
            })
        );
        assert_eq!(
            queue.run(None, || Ok(())).await,
            Err(AuthError::Busy {
                retry_after_secs: 1
            })
        );
        drop(release);
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        queue.run(None, || Ok(())).await.unwrap();
    }

    #[tokio::test]
    async fn a_request_that_goes_away_while_waiting_gives_its_place_back() {
        let queue = leaked(1, 10);
        let (release, wait) = mpsc::channel();
        let running = tokio::spawn(queue.run(ip("192.0.2.1"), blocked(wait)));
        until_taken(queue, 1).await;
        let in_lane = tokio::spawn(queue.run(ip("192.0.2.1"), || Ok(())));
        let in_line = tokio::spawn(queue.run(ip("198.51.100.7"), || Ok(())));
        until_taken(queue, 3).await;
        in_lane.abort();
        in_line.abort();
        let _ = (in_lane.await, in_line.await);
        assert_eq!(queue.lock_places().taken, 1);
        release.send(()).unwrap();
        running.await.unwrap().unwrap();
        // Both lines still move: a new check from each client runs.
        queue.run(ip("192.0.2.1"), || Ok(())).await.unwrap();
        queue.run(ip("198.51.100.7"), || Ok(())).await.unwrap();
        assert!(queue.lock_places().lanes.is_empty());
    }
}
