//! The sync engine: a state machine that decides when a device pushes its outbox, when it pulls,
//! how long it waits after a failure, and what it tells the person, without doing any of it.
//!
//! It never reads the clock, never sleeps, never touches a socket or the database. The driver
//! (in the client library) feeds it [`Input`]s with the current time, asks [`Engine::poll_output`]
//! what to do, does that (HTTP, SQLite), and reports back; [`Engine::poll_timeout`] says when to
//! call again if nothing else happens. So the whole of its behaviour is tested deterministically,
//! with seeds, by the simulation in `tests/`.
//!
//! The order of work: push while the outbox has entries (oldest first, in batches), then pull until
//! the server has nothing more, then rest until the periodic pull, a local change, the network
//! coming back or a request from the person. A failure backs off exponentially with full jitter,
//! capped, and success resets it. A refused mutation is reported and removed like an applied one,
//! so it never blocks the queue behind it.

mod rng;

use std::collections::VecDeque;

use domain::error::Field;
use domain::time::Timestamp;
use serde::Serialize;
use ts_rs::TS;

pub use rng::SplitMix64;

/// Tunables. The defaults suit a phone on a rural network.
#[derive(Debug, Clone)]
pub struct Config {
    /// Entries per push; at most `domain::sync::MAX_PUSH_ENTRIES`.
    pub batch_size: usize,
    /// How long a request may take before the engine gives up on it.
    pub request_timeout_ms: i64,
    /// The first backoff window after a failure; it doubles per failure.
    pub backoff_base_ms: i64,
    /// The largest backoff window.
    pub backoff_cap_ms: i64,
    /// How often to pull when nothing else happens.
    pub pull_interval_ms: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config { batch_size: 200, request_timeout_ms: 30_000, backoff_base_ms: 1_000, backoff_cap_ms: 60_000, pull_interval_ms: 60_000 }
    }
}

/// Names one request, so that a late or duplicated answer to an old one is recognised and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(pub u64);

/// A mutation the server refused, for the person who made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Refusal {
    #[ts(type = "number")]
    pub seq: u64,
    /// The mutation's name, e.g. `order.step`.
    pub name: String,
    pub code: String,
    pub field: Option<Field>,
    pub message: String,
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection, a cut connection, a timeout at the driver, a 5xx: try again later.
    Transient,
    /// The device token was refused: stop until the device is paired again.
    Unauthorized,
}

/// What the driver tells the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The outbox holds `pending` entries: after a local change, or at start-up.
    Pending { pending: u64 },
    /// A push was answered: the driver removed `acked` entries (applied or refused) from the outbox,
    /// which now holds `pending`. A driver asked to push an empty outbox answers this at once.
    Pushed { id: RequestId, acked: u64, pending: u64, refused: Vec<Refusal> },
    /// A pull page was applied to the store; `more` pages wait on the server.
    Pulled { id: RequestId, more: bool },
    Failed { id: RequestId, failure: Failure },
    /// The operating system says the network is there again.
    NetworkUp,
    /// The operating system says the network is gone.
    NetworkDown,
    /// The person asked to sync now, or the device was paired (again).
    SyncNow,
}

/// What the engine asks the driver to do or show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send the oldest `max_entries` outbox entries (or fewer) as one push.
    Push { id: RequestId, max_entries: usize },
    /// Ask for the next page of changes after the stored cursor.
    Pull { id: RequestId },
    /// The state changed in a way the person may want to see.
    Progress(Progress),
    /// A change was refused by the marketplace.
    Refused(Refusal),
}

/// Where sync stands, for the status line ("3 of 120 changes sent", "offline: 12 waiting").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Progress {
    pub phase: Phase,
    /// Changes waiting in the outbox.
    #[ts(type = "number")]
    pub pending: u64,
    /// Of the changes this round has had to send, how many are sent.
    #[ts(type = "number")]
    pub sent: u64,
    #[ts(type = "number")]
    pub round_total: u64,
    /// The end of the last complete sync (everything pushed, everything pulled).
    pub last_synced_at: Option<Timestamp>,
    /// Failures in a row; zero after a success.
    pub failures: u32,
    /// When the next attempt is due, while waiting after a failure.
    pub retry_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Everything is sent and pulled.
    Idle,
    Pushing,
    Pulling,
    /// Waiting to try again after a failure.
    Backoff,
    /// The network is down.
    Offline,
    /// The device token was refused; pairing again is needed.
    Unauthorized,
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    id: RequestId,
    pull: bool,
    deadline: Timestamp,
    /// For a pull: the pull requests it answers (see `Engine::pulls_wanted`).
    covers: u64,
}

pub struct Engine {
    config: Config,
    rng: SplitMix64,
    next_id: u64,
    in_flight: Option<InFlight>,
    pending: u64,
    network_up: bool,
    unauthorized: bool,
    /// Pull requests so far (start-up, after a push, sync-now, network back) and how many of them
    /// a finished pull has answered. A pull that was already under way when a request came does
    /// not answer it: it may have read the server before the change the request is about.
    pulls_wanted: u64,
    pulls_answered: u64,
    /// The server said more pages wait.
    more_pages: bool,
    next_periodic_pull: Option<Timestamp>,
    retry_at: Option<Timestamp>,
    failures: u32,
    round_sent: u64,
    round_total: u64,
    last_synced_at: Option<Timestamp>,
    outputs: VecDeque<Output>,
    last_progress: Option<Progress>,
}

impl Engine {
    /// A fresh engine, as at start-up or after a crash. `seed` drives the backoff jitter and the
    /// request ids, so a simulation replays exactly; a real device seeds from the OS.
    pub fn new(config: Config, seed: u64) -> Engine {
        let mut rng = SplitMix64::new(seed);
        // Ids start at a random point so that an answer to a request made before a crash can
        // never be mistaken for one made after it.
        let next_id = rng.next_u64() >> 16;
        Engine {
            config,
            rng,
            next_id,
            in_flight: None,
            pending: 0,
            network_up: true,
            unauthorized: false,
            pulls_wanted: 1,
            pulls_answered: 0,
            more_pages: false,
            next_periodic_pull: None,
            retry_at: None,
            failures: 0,
            round_sent: 0,
            round_total: 0,
            last_synced_at: None,
            outputs: VecDeque::new(),
            last_progress: None,
        }
    }

    /// Restores what the store remembers about the last complete sync.
    pub fn with_last_synced_at(mut self, at: Option<Timestamp>) -> Engine {
        self.last_synced_at = at;
        self
    }

    pub fn handle_input(&mut self, input: Input, now: Timestamp) {
        match input {
            Input::Pending { pending } => {
                if pending > self.pending {
                    self.round_total += pending - self.pending;
                }
                self.pending = pending;
            }
            Input::Pushed { id, acked, pending, refused } => {
                // The outbox count is a fact about the store whichever request reports it: a late
                // answer to a timed-out push still removed entries.
                self.pending = pending;
                self.outputs.extend(refused.into_iter().map(Output::Refused));
                if self.finish(id, false).is_some() {
                    self.succeeded();
                    self.round_sent += acked;
                    self.round_total = self.round_total.max(self.round_sent + pending);
                    // What the server made of the pushed changes (prices, stock) comes back in a pull.
                    self.pulls_wanted += 1;
                }
            }
            Input::Pulled { id, more } => {
                if let Some(flight) = self.finish(id, true) {
                    self.succeeded();
                    self.more_pages = more;
                    if !more {
                        self.pulls_answered = self.pulls_answered.max(flight.covers);
                    }
                    if !more && self.pending == 0 && !self.pull_due() {
                        self.last_synced_at = Some(now);
                        self.next_periodic_pull = Some(Timestamp(now.millis() + self.config.pull_interval_ms));
                        self.round_sent = 0;
                        self.round_total = 0;
                    }
                }
            }
            Input::Failed { id, failure } => {
                if self.finish(id, false).or_else(|| self.finish(id, true)).is_some() {
                    self.failed(failure, now);
                }
            }
            Input::NetworkUp => {
                self.network_up = true;
                self.retry_now();
            }
            Input::NetworkDown => self.network_up = false,
            Input::SyncNow => {
                self.unauthorized = false;
                self.retry_now();
            }
        }
        self.note_progress(now);
    }

    /// The next thing to do, if any. Call until it returns `None`, then wait until
    /// [`Engine::poll_timeout`] or the next input.
    pub fn poll_output(&mut self, now: Timestamp) -> Option<Output> {
        if let Some(output) = self.outputs.pop_front() {
            return Some(output);
        }
        if let Some(flight) = self.in_flight {
            if now >= flight.deadline {
                self.in_flight = None;
                self.failed(Failure::Transient, now);
                self.note_progress(now);
                return self.outputs.pop_front();
            }
            return None;
        }
        if !self.network_up || self.unauthorized || self.retry_at.is_some_and(|at| now < at) {
            return None;
        }
        self.retry_at = None;
        if self.next_periodic_pull.is_some_and(|at| now >= at) {
            self.next_periodic_pull = None;
            self.pulls_wanted += 1;
        }
        let output = if self.pending > 0 {
            let id = self.start(false, now);
            Output::Push { id, max_entries: self.config.batch_size }
        } else if self.pull_due() {
            let id = self.start(true, now);
            Output::Pull { id }
        } else {
            return None;
        };
        // The report of the new phase goes out before the work itself, so that whoever shows it
        // says "sending" while the push is on its way, not after.
        self.note_progress(now);
        self.outputs.push_back(output);
        self.outputs.pop_front()
    }

    /// When to call [`Engine::poll_output`] again if no input comes first.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if let Some(flight) = self.in_flight {
            return Some(flight.deadline);
        }
        if !self.network_up || self.unauthorized {
            return None;
        }
        if let Some(at) = self.retry_at {
            return Some(at);
        }
        if self.pending == 0 && !self.pull_due() { self.next_periodic_pull } else { None }
    }

    fn pull_due(&self) -> bool {
        self.more_pages || self.pulls_answered < self.pulls_wanted
    }

    /// Where sync stands now.
    pub fn progress(&self) -> Progress {
        let phase = match self.in_flight {
            _ if self.unauthorized => Phase::Unauthorized,
            Some(InFlight { pull: false, .. }) => Phase::Pushing,
            Some(InFlight { pull: true, .. }) => Phase::Pulling,
            None if !self.network_up => Phase::Offline,
            None if self.retry_at.is_some() => Phase::Backoff,
            None if self.pending > 0 => Phase::Pushing,
            // A pull that is due counts as under way: "idle" promises the device has everything.
            None if self.pull_due() => Phase::Pulling,
            None => Phase::Idle,
        };
        Progress {
            phase,
            pending: self.pending,
            sent: self.round_sent,
            round_total: self.round_total,
            last_synced_at: self.last_synced_at,
            failures: self.failures,
            retry_at: self.retry_at,
        }
    }

    fn start(&mut self, pull: bool, now: Timestamp) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let deadline = Timestamp(now.millis() + self.config.request_timeout_ms);
        self.in_flight = Some(InFlight { id, pull, deadline, covers: self.pulls_wanted });
        id
    }

    /// Ends the request `id` if it is the one in flight and of that kind; late, duplicated or
    /// foreign answers return `None` and change nothing.
    fn finish(&mut self, id: RequestId, pull: bool) -> Option<InFlight> {
        match self.in_flight {
            Some(flight) if flight.id == id && flight.pull == pull => self.in_flight.take(),
            _ => None,
        }
    }

    fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    fn failed(&mut self, failure: Failure, now: Timestamp) {
        if failure == Failure::Unauthorized {
            self.unauthorized = true;
            return;
        }
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(Timestamp(now.millis() + self.backoff()));
    }

    /// Full jitter: a uniform wait in `[0, min(cap, base · 2^(failures-1))]`, so devices that lost
    /// the network together do not all come back at the same instant.
    fn backoff(&mut self) -> i64 {
        let exponent = self.failures.saturating_sub(1).min(30);
        let window = self.config.backoff_base_ms.saturating_mul(1i64 << exponent).min(self.config.backoff_cap_ms).max(1);
        (self.rng.next_u64() % (window as u64 + 1)) as i64
    }

    fn retry_now(&mut self) {
        self.retry_at = None;
        self.pulls_wanted += 1;
    }

    fn note_progress(&mut self, _now: Timestamp) {
        let progress = self.progress();
        if self.last_progress.as_ref() != Some(&progress) {
            self.last_progress = Some(progress.clone());
            self.outputs.push_back(Output::Progress(progress));
        }
    }
}

#[cfg(test)]
mod tests;
