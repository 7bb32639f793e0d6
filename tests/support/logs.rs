//! Captures what the crate logs while a test runs.
//!
//! Tracing caches, per call site, whether any subscriber wants its events. A test that
//! installs its own subscriber while other tests in the same binary hit the same call site
//! on other threads can lose events to that cache. So log-capturing tests live in their own
//! binary and take one global lock: only one of them runs at a time.

use std::future::Future;
use std::sync::{Arc, Mutex};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `test` on a current-thread runtime and returns what was logged at warn level and
/// above, without colours.
pub fn warnings_of<F: Future<Output = ()>>(test: impl FnOnce() -> F) -> String {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || runtime.block_on(test()));
    drop(runtime);
    let bytes = captured.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}
