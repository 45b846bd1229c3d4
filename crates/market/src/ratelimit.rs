//! Per-IP rate limits, by the generic cell rate algorithm (GCRA): each IP may make `burst` requests
//! at once and then one every `period / burst`. One timestamp per IP is all the state it keeps.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Beyond this many tracked IPs, expired entries are swept before adding another; an attacker with
/// many addresses costs memory only up to this bound.
const MAX_TRACKED: usize = 100_000;

pub struct RateLimiter {
    /// Time between requests at the sustained rate.
    interval: Duration,
    /// How far ahead of now an IP's schedule may run: the burst.
    tolerance: Duration,
    /// When each IP's next request would be on schedule.
    schedule: Mutex<HashMap<IpAddr, Instant>>,
}

impl RateLimiter {
    /// Allows `per_minute` requests a minute per IP, all of them at once if they come together.
    pub fn per_minute(per_minute: u32) -> RateLimiter {
        let per_minute = per_minute.max(1);
        let interval = Duration::from_secs(60) / per_minute;
        RateLimiter { interval, tolerance: interval * (per_minute - 1), schedule: Mutex::new(HashMap::new()) }
    }

    /// `Ok` when `ip` may go ahead at `now`, else how long until it may.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut schedule = self.schedule.lock().unwrap_or_else(|p| p.into_inner());
        if schedule.len() >= MAX_TRACKED {
            schedule.retain(|_, next| *next > now);
        }
        let next = schedule.get(&ip).copied().unwrap_or(now).max(now);
        let allowed_from = next.checked_sub(self.tolerance).unwrap_or(now);
        if now < allowed_from {
            return Err(allowed_from - now);
        }
        schedule.insert(ip, next + self.interval);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limiter = RateLimiter::per_minute(6); // one every 10 s, six at once
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let start = Instant::now();
        for _ in 0..6 {
            assert_eq!(limiter.check(ip, start), Ok(()));
        }
        let wait = limiter.check(ip, start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(10));
        assert!(limiter.check(ip, start + Duration::from_secs(9)).is_err());
        assert_eq!(limiter.check(ip, start + Duration::from_secs(10)), Ok(()));
    }

    #[test]
    fn each_ip_has_its_own_budget() {
        let limiter = RateLimiter::per_minute(1);
        let now = Instant::now();
        assert!(limiter.check("192.0.2.1".parse().unwrap(), now).is_ok());
        assert!(limiter.check("192.0.2.1".parse().unwrap(), now).is_err());
        assert!(limiter.check("192.0.2.2".parse().unwrap(), now).is_ok());
    }

    #[test]
    fn an_idle_ip_gets_its_burst_back() {
        let limiter = RateLimiter::per_minute(3);
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            limiter.check(ip, start).unwrap();
        }
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limiter.check(ip, later).is_ok());
        }
        assert!(limiter.check(ip, later).is_err());
    }
}
