//! Points in time as plain numbers handed in by the caller.
//!
//! The domain never asks what time it is; whoever calls it passes `now`. That keeps every rule
//! reproducible in tests and lets the sync engine run on a simulated clock.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(transparent)]
#[ts(type = "number")]
#[schema(value_type = i64)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn millis(self) -> i64 {
        self.0
    }

    /// The instant `since_epoch` after the Unix epoch, saturating far in the future.
    pub fn from_since_epoch(since_epoch: std::time::Duration) -> Timestamp {
        Timestamp(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }

    /// This instant plus `duration`, saturating.
    pub fn plus(self, duration: std::time::Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)))
    }
}

/// Where the shells get the current time from. The domain only declares it; implementations live
/// in the shells (the system clock) and in tests (a fixed or manual clock).
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}
