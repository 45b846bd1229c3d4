//! Deterministic simulation of sync: several devices, each with an outbox, a local view and an
//! engine, against a model server that applies pushes with the real batch rules
//! (`domain::sync::check_batch`), over a network that drops, duplicates, delays and reorders
//! requests and responses, while devices crash (the engine is thrown away and rebuilt from the
//! store), go offline and come back, and web buyers buy from the server directly.
//!
//! After every run, with the network healed and a final quiet sync:
//! - every change a device committed is applied exactly once, in `seq` order per device;
//! - the stock never went below zero (checked at every server step);
//! - every device's view equals the server's.
//!
//! `FIELDCAST_SIM_SEED=n` replays one seed; `FIELDCAST_SIM_SEEDS=n` runs more (the bench command
//! runs a longer soak). A failure prints its seed.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use domain::sync::{BatchError, check_batch};
use domain::time::Timestamp;
use sync_engine::{Config, Engine, Failure, Input, Output, Phase, Refusal, RequestId, SplitMix64};

const DEVICES: usize = 3;
const STEPS: usize = 3_000;
const DEFAULT_SEEDS: u64 = 300;

/// A change a device makes: sell some units (refused when the stock is short), or restock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Sell(i64),
    Restock(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Applied,
    Refused,
}

/// The marketplace, reduced to one listing's stock and the per-device applied log.
#[derive(Default)]
struct Server {
    stock: i64,
    version: i64,
    /// Per device: the verdict of seq n at index n - 1.
    applied: HashMap<usize, Vec<Verdict>>,
    /// Every application, in order, to check exactly-once and ordering.
    log: Vec<(usize, u64)>,
}

impl Server {
    fn apply(&mut self, op: Op) -> Verdict {
        let verdict = match op {
            Op::Sell(n) if self.stock >= n => {
                self.stock -= n;
                Verdict::Applied
            }
            Op::Sell(_) => Verdict::Refused,
            Op::Restock(n) => {
                self.stock += n;
                Verdict::Applied
            }
        };
        assert!(self.stock >= 0, "stock went negative");
        self.version += 1;
        verdict
    }

    fn push(&mut self, device: usize, entries: &[(u64, Op)]) -> Result<(Vec<(u64, Verdict)>, u64), BatchError> {
        let seqs: Vec<u64> = entries.iter().map(|(seq, _)| *seq).collect();
        let applied_len = self.applied.get(&device).map_or(0, Vec::len) as u64;
        let split = check_batch(&seqs, applied_len)?;
        let mut results = Vec::new();
        for (i, (seq, op)) in entries.iter().enumerate() {
            let verdict = if i < split {
                self.applied[&device][(*seq - 1) as usize].clone()
            } else {
                let verdict = self.apply(*op);
                self.applied.entry(device).or_default().push(verdict.clone());
                self.log.push((device, *seq));
                verdict
            };
            results.push((*seq, verdict));
        }
        Ok((results, self.applied.get(&device).map_or(0, Vec::len) as u64))
    }
}

/// What a device keeps in its store: it survives crashes.
struct Store {
    outbox: VecDeque<(u64, Op)>,
    next_seq: u64,
    /// The server's stock at the last pull, and the server version it was read at. A pull answer
    /// older than the stored version is ignored, as the real store ignores older entity versions.
    pulled_stock: i64,
    pulled_version: i64,
    /// The server's last applied seq for this device at that pull: entries up to it are already in
    /// `pulled_stock`, as in the real store.
    pulled_applied: u64,
    /// Seqs the device removed from its outbox because the server answered for them.
    answered: HashSet<u64>,
}

impl Store {
    /// The device's view: the server's stock plus its own changes the server has not applied yet.
    fn view(&self) -> i64 {
        self.outbox.iter().filter(|(seq, _)| *seq > self.pulled_applied).fold(self.pulled_stock, |stock, (_, op)| match op {
            Op::Sell(n) if stock >= *n => stock - n,
            Op::Sell(_) => stock,
            Op::Restock(n) => stock + n,
        })
    }
}

struct Device {
    store: Store,
    engine: Engine,
    /// Bumped at each crash; answers to an earlier incarnation's requests never arrive.
    incarnation: u32,
    online: bool,
    in_flight: HashMap<RequestId, Vec<u64>>,
}

#[derive(Debug, Clone)]
enum Payload {
    PushRequest(Vec<(u64, Op)>),
    PullRequest,
    PushResponse(Result<(Vec<(u64, Verdict)>, u64), BatchError>),
    PullResponse { stock: i64, version: i64, applied: u64 },
}

#[derive(Debug, Clone)]
struct Message {
    deliver_at: i64,
    device: usize,
    incarnation: u32,
    id: RequestId,
    payload: Payload,
}

struct Faults {
    drop: u64,
    duplicate: u64,
    max_delay: i64,
}

struct World {
    rng: SplitMix64,
    now: i64,
    server: Server,
    devices: Vec<Device>,
    network: Vec<Message>,
    faults: Faults,
    config: Config,
    dropped: u64,
    duplicated: u64,
}

impl World {
    fn new(seed: u64) -> World {
        let mut rng = SplitMix64::new(seed);
        let config = Config { batch_size: 1 + rng.below(20) as usize, request_timeout_ms: 3_000, backoff_base_ms: 200, backoff_cap_ms: 5_000, pull_interval_ms: 10_000 };
        let devices = (0..DEVICES)
            .map(|_| Device {
                store: Store { outbox: VecDeque::new(), next_seq: 1, pulled_stock: 0, pulled_version: -1, pulled_applied: 0, answered: HashSet::new() },
                engine: Engine::new(config.clone(), rng.next_u64()),
                incarnation: 0,
                online: true,
                in_flight: HashMap::new(),
            })
            .collect();
        let faults = Faults { drop: rng.below(30), duplicate: rng.below(15), max_delay: 50 + rng.below(3_000) as i64 };
        World { rng, now: 0, server: Server { stock: 20, ..Server::default() }, devices, network: Vec::new(), faults, config, dropped: 0, duplicated: 0 }
    }

    fn send(&mut self, message: Message) {
        if !self.devices[message.device].online || self.rng.chance(self.faults.drop) {
            self.dropped += 1;
            return;
        }
        let copies = if self.rng.chance(self.faults.duplicate) { 2 } else { 1 };
        self.duplicated += copies - 1;
        for _ in 0..copies {
            let delay = self.rng.below(self.faults.max_delay as u64 + 1) as i64;
            self.network.push(Message { deliver_at: self.now + delay, ..message.clone() });
        }
    }

    /// Lets device `d`'s engine act until it has nothing to do now.
    fn drive(&mut self, d: usize) {
        let now = Timestamp(self.now);
        while let Some(output) = self.devices[d].engine.poll_output(now) {
            let device = &mut self.devices[d];
            let (id, payload) = match output {
                Output::Push { id, max_entries } => {
                    let batch: Vec<(u64, Op)> = device.store.outbox.iter().take(max_entries).copied().collect();
                    if batch.is_empty() {
                        device.engine.handle_input(Input::Pushed { id, acked: 0, pending: 0, refused: vec![] }, now);
                        continue;
                    }
                    device.in_flight.insert(id, batch.iter().map(|(seq, _)| *seq).collect());
                    (id, Payload::PushRequest(batch))
                }
                Output::Pull { id } => (id, Payload::PullRequest),
                Output::Progress(_) | Output::Refused(_) => continue,
            };
            let incarnation = device.incarnation;
            self.send(Message { deliver_at: 0, device: d, incarnation, id, payload });
        }
    }

    fn deliver(&mut self, message: Message) {
        let d = message.device;
        match message.payload {
            Payload::PushRequest(entries) => {
                let response = self.server.push(d, &entries);
                assert!(!matches!(response, Err(BatchError::Gap { .. })), "a device sent a gap: {entries:?}");
                self.send(Message { payload: Payload::PushResponse(response), ..message });
            }
            Payload::PullRequest => {
                let (stock, version) = (self.server.stock, self.server.version);
                let applied = self.server.applied.get(&d).map_or(0, Vec::len) as u64;
                self.send(Message { payload: Payload::PullResponse { stock, version, applied }, ..message });
            }
            Payload::PushResponse(response) => {
                let device = &mut self.devices[d];
                if message.incarnation != device.incarnation {
                    return;
                }
                let Ok((results, _last)) = response else {
                    device.engine.handle_input(Input::Failed { id: message.id, failure: Failure::Transient }, Timestamp(self.now));
                    return;
                };
                // The driver removes the answered entries and reports them, in one store transaction.
                let mut acked = 0;
                let mut refused = Vec::new();
                for (seq, verdict) in results {
                    if let Some(position) = device.store.outbox.iter().position(|(s, _)| *s == seq) {
                        device.store.outbox.remove(position);
                        device.store.answered.insert(seq);
                        acked += 1;
                        if verdict == Verdict::Refused {
                            refused.push(Refusal { seq, name: "sell".into(), code: "insufficient_stock".into(), field: None, message: String::new() });
                        }
                    }
                }
                let pending = device.store.outbox.len() as u64;
                device.engine.handle_input(Input::Pushed { id: message.id, acked, pending, refused }, Timestamp(self.now));
            }
            Payload::PullResponse { stock, version, applied } => {
                let device = &mut self.devices[d];
                if message.incarnation != device.incarnation {
                    return;
                }
                if version > device.store.pulled_version {
                    device.store.pulled_stock = stock;
                    device.store.pulled_version = version;
                    device.store.pulled_applied = applied;
                }
                device.engine.handle_input(Input::Pulled { id: message.id, more: false }, Timestamp(self.now));
            }
        }
    }

    fn local_change(&mut self, d: usize) {
        let op = if self.rng.chance(70) { Op::Sell(1 + self.rng.below(3) as i64) } else { Op::Restock(1 + self.rng.below(5) as i64) };
        let device = &mut self.devices[d];
        let seq = device.store.next_seq;
        device.store.next_seq += 1;
        device.store.outbox.push_back((seq, op));
        let pending = device.store.outbox.len() as u64;
        device.engine.handle_input(Input::Pending { pending }, Timestamp(self.now));
    }

    fn crash(&mut self, d: usize) {
        let seed = self.rng.next_u64();
        let device = &mut self.devices[d];
        device.incarnation += 1;
        device.in_flight.clear();
        device.engine = Engine::new(self.config.clone(), seed);
        let pending = device.store.outbox.len() as u64;
        device.engine.handle_input(Input::Pending { pending }, Timestamp(self.now));
        if !device.online {
            device.engine.handle_input(Input::NetworkDown, Timestamp(self.now));
        }
    }

    /// Moves time to the next event: a message or an engine timeout.
    fn advance(&mut self) {
        let next_message = self.network.iter().map(|m| m.deliver_at).min();
        let next_timeout = self.devices.iter().filter_map(|d| d.engine.poll_timeout()).map(Timestamp::millis).min();
        let next = [next_message, next_timeout].into_iter().flatten().min().unwrap_or(self.now + 1_000);
        self.now = self.now.max(next);
        // Deliver everything due, in a random order: that is the reordering.
        let (mut due, rest): (Vec<Message>, Vec<Message>) = self.network.drain(..).partition(|m| m.deliver_at <= self.now);
        self.network = rest;
        while !due.is_empty() {
            let message = due.swap_remove(self.rng.below(due.len() as u64) as usize);
            self.deliver(message);
        }
    }

    fn step(&mut self) {
        let d = self.rng.below(DEVICES as u64) as usize;
        match self.rng.below(100) {
            0..=29 => self.local_change(d),
            30..=37 => {
                if self.server.stock > 0 && self.rng.chance(60) {
                    let n = 1.min(self.server.stock);
                    self.server.apply(Op::Sell(n));
                } else {
                    self.server.apply(Op::Restock(1 + self.rng.below(4) as i64));
                }
            }
            38..=41 => self.crash(d),
            42..=45 => {
                let device = &mut self.devices[d];
                device.online = !device.online;
                let input = if device.online { Input::NetworkUp } else { Input::NetworkDown };
                device.engine.handle_input(input, Timestamp(self.now));
            }
            _ => self.advance(),
        }
        for d in 0..DEVICES {
            self.drive(d);
        }
    }

    /// Heals the network and runs until every device is idle with nothing pending, then asks for
    /// pull rounds until one of them changes nothing on the server: only then has every device
    /// seen every other device's last change.
    fn quiet_sync(&mut self) {
        self.faults = Faults { drop: 0, duplicate: 0, max_delay: 50 };
        for device in &mut self.devices {
            device.online = true;
            device.engine.handle_input(Input::NetworkUp, Timestamp(self.now));
        }
        for _ in 0..100 {
            let version = self.server.version;
            for d in 0..DEVICES {
                self.devices[d].engine.handle_input(Input::SyncNow, Timestamp(self.now));
                self.drive(d);
            }
            self.settle();
            if self.server.version == version {
                return;
            }
        }
        panic!("the server kept changing after healing");
    }

    fn settle(&mut self) {
        for _ in 0..10_000 {
            let settled = self.network.is_empty()
                && self.devices.iter().all(|d| d.store.outbox.is_empty() && d.engine.progress().phase == Phase::Idle);
            if settled {
                return;
            }
            self.advance();
            for d in 0..DEVICES {
                self.drive(d);
            }
        }
        let states: Vec<_> = self.devices.iter().map(|d| (d.store.outbox.len(), d.engine.progress(), d.engine.poll_timeout())).collect();
        panic!("the devices did not settle after healing: now {} network {} {states:?}", self.now, self.network.len());
    }

    fn check(&self) {
        // Exactly once and in order: each device's applied log is 1, 2, 3, … with no repeats.
        let mut per_device: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
        for (device, seq) in &self.server.log {
            per_device.entry(*device).or_default().push(*seq);
        }
        for (d, device) in self.devices.iter().enumerate() {
            let applied = per_device.remove(&d).unwrap_or_default();
            let committed: Vec<u64> = (1..device.store.next_seq).collect();
            assert_eq!(applied, committed, "device {d}: every committed change applied once, in order");
            assert!(device.store.answered.iter().all(|seq| *seq < device.store.next_seq));
            assert_eq!(
                device.store.view(),
                self.server.stock,
                "device {d} agrees with the server (pulled at version {}, server at {}, phase {:?})",
                device.store.pulled_version,
                self.server.version,
                device.engine.progress()
            );
        }
    }
}

fn run(seed: u64) {
    let mut world = World::new(seed);
    for _ in 0..STEPS {
        world.step();
    }
    world.quiet_sync();
    world.check();
}

#[test]
fn seeded_runs_keep_every_invariant() {
    let seeds: Vec<u64> = match std::env::var("FIELDCAST_SIM_SEED") {
        Ok(seed) => vec![seed.parse().expect("FIELDCAST_SIM_SEED is a number")],
        Err(_) => {
            let count = std::env::var("FIELDCAST_SIM_SEEDS").ok().and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_SEEDS);
            (1..=count).collect()
        }
    };
    for seed in seeds {
        let outcome = std::panic::catch_unwind(|| run(seed));
        if let Err(panic) = outcome {
            eprintln!("simulation failed with seed {seed}; replay with FIELDCAST_SIM_SEED={seed}");
            std::panic::resume_unwind(panic);
        }
    }
}

#[test]
fn the_simulation_exercises_what_it_claims() {
    // A run must actually see crashes, drops, duplicates and refusals, or it tests nothing.
    let mut world = World::new(7);
    world.faults = Faults { drop: 15, duplicate: 10, max_delay: 2_000 };
    let mut crashes = 0;
    for _ in 0..STEPS {
        let before: u32 = world.devices.iter().map(|d| d.incarnation).sum();
        world.step();
        crashes += world.devices.iter().map(|d| d.incarnation).sum::<u32>() - before;
    }
    world.quiet_sync();
    world.check();
    let refused = world.server.applied.values().flatten().filter(|v| **v == Verdict::Refused).count();
    let applied = world.server.log.len();
    assert!(crashes >= 10, "{crashes} crashes");
    assert!(refused >= 1, "{refused} refusals");
    assert!(applied >= 300, "{applied} changes applied");
    assert!(world.dropped >= 20 && world.duplicated >= 5, "{} dropped, {} duplicated", world.dropped, world.duplicated);
}
