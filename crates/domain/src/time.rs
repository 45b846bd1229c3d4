//! Points in time as plain numbers handed in by the caller.
//!
//! The domain never asks what time it is; whoever calls it passes `now`. That keeps every rule
//! reproducible in tests and lets the sync engine run on a simulated clock.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(transparent)]
#[ts(type = "number")]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn millis(self) -> i64 {
        self.0
    }
}
