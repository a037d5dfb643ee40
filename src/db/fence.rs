//! Read-your-writes across instances. A change committed through one instance reaches the
//! others' caches by `NOTIFY`, a little after its commit: a client that writes through instance 1
//! and reads through instance 2 at once could otherwise get instance 2's cached answer from
//! before the write.
//!
//! PostgreSQL delivers notifications in commit order, one queue for every channel. So before an
//! instance with peers trusts its caches for a request, it sends a marker `NOTIFY` to a channel
//! only it listens on and waits until its listener hears it: every change committed before the
//! request arrived was queued ahead of the marker, so it has reached the caches by then. One
//! marker is in flight at a time and serves every request that arrived before it was sent, so
//! the cost is a round trip of latency, not a statement per request.
//!
//! A marker not heard within [`FENCE_TIMEOUT`] means the listener is not hearing: the caches are
//! bypassed and the listener reconnects, exactly as when its connection drops.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use sea_orm::sqlx::PgPool;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use super::notify::{ChangeFeed, Notice};

/// How long a request waits for its marker before the listener is taken for lost.
pub const FENCE_TIMEOUT: Duration = Duration::from_secs(1);

/// What the listener has heard, as the requests waiting on it see it.
#[derive(Debug, Clone, Copy, Default)]
struct Heard {
    /// Bumped at every connection and every loss of the listener's connection.
    epoch: u64,
    /// Whether the listener hears changes now (if not, the caches are bypassed anyway).
    listening: bool,
    /// The highest marker heard.
    passed: u64,
}

/// The markers being sent: the last one's number, and whether one is in flight and another is
/// wanted after it.
#[derive(Debug, Default)]
struct Sending {
    last: u64,
    in_flight: bool,
    again: bool,
}

/// Waits, for a request, until this instance has heard every change committed before it
/// arrived (see the module's documentation). On the embedded database it never waits: one
/// process hears its own changes as they commit.
#[derive(Clone, Default)]
pub struct ChangeFence(Option<Arc<Inner>>);

struct Inner {
    pool: PgPool,
    /// The channel only this instance listens on.
    channel: String,
    feed: ChangeFeed,
    sending: Mutex<Sending>,
    heard: watch::Sender<Heard>,
    /// Tells the listener to drop its connection and reconnect.
    stalled: Notify,
}

impl ChangeFence {
    pub(super) fn postgres(pool: PgPool, feed: ChangeFeed) -> ChangeFence {
        ChangeFence(Some(Arc::new(Inner {
            pool,
            channel: format!("tb_fence_{}", Uuid::now_v7().simple()),
            feed,
            sending: Mutex::default(),
            heard: watch::Sender::new(Heard::default()),
            stalled: Notify::new(),
        })))
    }

    /// Returns once every change committed before the call has reached this instance's caches,
    /// or once they are bypassed because the listener is not hearing.
    pub async fn sync(&self) {
        let Some(inner) = &self.0 else { return };
        let mut heard = inner.heard.subscribe();
        let start = *heard.borrow_and_update();
        if !start.listening {
            return;
        }
        let Some(marker) = inner.request_marker() else {
            return inner.stall();
        };
        let reached = heard.wait_for(|now| now.epoch != start.epoch || now.passed >= marker);
        if !matches!(tokio::time::timeout(FENCE_TIMEOUT, reached).await, Ok(Ok(_))) {
            tracing::warn!("the change listener did not hear this instance's marker in time; reconnecting it");
            inner.stall();
        }
    }

    /// The channel the listener also listens on, if any.
    pub(super) fn channel(&self) -> Option<&str> {
        self.0.as_deref().map(|inner| inner.channel.as_str())
    }

    /// The listener heard a notification on [`ChangeFence::channel`].
    pub(super) fn heard_marker(&self, payload: &str) {
        let (Some(inner), Ok(marker)) = (&self.0, payload.parse::<u64>()) else { return };
        inner.heard.send_modify(|heard| heard.passed = heard.passed.max(marker));
    }

    /// The listener connected (`true`) or lost its connection (`false`).
    pub(super) fn listening(&self, listening: bool) {
        if let Some(inner) = &self.0 {
            inner.heard.send_modify(|heard| {
                heard.epoch += 1;
                heard.listening = listening;
            });
        }
    }

    /// Resolves when a request found the listener not hearing.
    pub(super) async fn stalled(&self) {
        match &self.0 {
            Some(inner) => inner.stalled.notified().await,
            None => std::future::pending().await,
        }
    }
}

impl Inner {
    /// The number of a marker sent after this call: the next one if none is in flight, else
    /// the one after the marker in flight (which may have been sent before this request came).
    /// `None` if the lock is poisoned.
    fn request_marker(self: &Arc<Self>) -> Option<u64> {
        let mut sending = self.sending.lock().ok()?;
        if sending.in_flight {
            sending.again = true;
            return Some(sending.last + 1);
        }
        sending.in_flight = true;
        sending.last += 1;
        let marker = sending.last;
        tokio::spawn(self.clone().send_markers(marker));
        Some(marker)
    }

    /// Sends `marker`, then the next one as long as requests keep wanting one.
    async fn send_markers(self: Arc<Self>, mut marker: u64) {
        loop {
            let sent = sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&self.channel)
                .bind(marker.to_string())
                .execute(&self.pool)
                .await;
            if let Err(error) = sent {
                tracing::warn!(%error, "cannot send the change listener's marker");
                self.stall();
            }
            let Ok(mut sending) = self.sending.lock() else { return };
            if !sending.again {
                sending.in_flight = false;
                return;
            }
            sending.again = false;
            sending.last += 1;
            marker = sending.last;
        }
    }

    /// Bypasses the caches at once and has the listener reconnect (which then empties them and
    /// trusts them again).
    fn stall(&self) {
        self.feed.publish(Notice::Listening(false));
        self.stalled.notify_one();
    }
}
