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

impl Timestamp {
    /// The instant as RFC 3339 in UTC to the second, e.g. `2026-11-21T08:30:00Z`.
    pub fn to_rfc3339(self) -> String {
        let seconds = self.0.div_euclid(1000);
        let (days, in_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", in_day / 3600, in_day % 3600 / 60, in_day % 60)
    }

    /// The calendar day this instant falls on where the clock is `offset_minutes` ahead of UTC
    /// (China: 480), as `YYYY-MM-DD`. The caller says which offset: the domain knows no time zone.
    pub fn local_date(self, offset_minutes: i32) -> String {
        let seconds = self.0.div_euclid(1000).saturating_add(i64::from(offset_minutes) * 60);
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        format!("{year:04}-{month:02}-{day:02}")
    }
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Where the shells get the current time from. The domain only declares it; implementations live
/// in the shells (the system clock) and in tests (a fixed or manual clock).
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_rfc3339_utc() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(951_782_400_000).to_rfc3339(), "2000-02-29T00:00:00Z");
        assert_eq!(Timestamp(1_795_286_270_600).to_rfc3339(), "2026-11-21T18:37:50Z");
        assert_eq!(Timestamp(-1).to_rfc3339(), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn local_dates_follow_the_offset() {
        // 2026-11-21T18:37:50Z is already the 22nd in Shandong (UTC+8) and still the 21st in Rome.
        assert_eq!(Timestamp(1_795_286_270_600).local_date(480), "2026-11-22");
        assert_eq!(Timestamp(1_795_286_270_600).local_date(60), "2026-11-21");
        assert_eq!(Timestamp(0).local_date(-1), "1969-12-31");
    }
}
