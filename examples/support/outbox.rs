//! The shop's development outbox: the mail `send_email_code` would have sent, kept in memory
//! and shown at `/dev/outbox` (only with `AUTH_DEV_MODE=1`). A real shop hands the mail to
//! its mailer instead.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tower_anonymous_auth::EmailCode;

/// How many mails the outbox keeps.
const KEPT: usize = 50;

#[derive(Clone, Default)]
pub struct Outbox(Arc<Mutex<VecDeque<EmailCode>>>);

impl Outbox {
    pub fn send(&self, mail: EmailCode) {
        if let Ok(mut mails) = self.0.lock() {
            if mails.len() == KEPT {
                mails.pop_back();
            }
            mails.push_front(mail);
        }
    }

    /// The mails, newest first.
    pub fn mails(&self) -> Vec<EmailCode> {
        self.0
            .lock()
            .map(|mails| mails.iter().cloned().collect())
            .unwrap_or_default()
    }
}
