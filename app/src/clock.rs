//! The time as the app sees it. Tests move it forward instead of sleeping, so promises about
//! time (fill-time checks, retention) are tested at the instants they are about.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_us: Arc<AtomicI64>,
}

impl Clock {
    /// Now, plus however far a test has moved this clock (never, in production).
    pub fn now(&self) -> OffsetDateTime {
        crate::db::now() + Duration::microseconds(self.offset_us.load(Ordering::Relaxed))
    }

    /// Moves this clock forward (tests only have a reason to).
    pub fn advance(&self, by: Duration) {
        let us = i64::try_from(by.whole_microseconds()).unwrap_or(i64::MAX);
        self.offset_us.fetch_add(us, Ordering::Relaxed);
    }
}
