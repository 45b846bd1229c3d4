//! The sync driver: the IO around the sans-IO engine. It reads outbox batches from the store, does
//! the HTTP, feeds the answers back (acknowledging entries and applying pulled pages in one local
//! transaction each), and reports progress and refusals.
//!
//! Triggers: a local change (the client notifies), a timer (the engine's `poll_timeout`), the network
//! coming back and a person's "sync now" (through [`SyncHandle`]).

use std::sync::Arc;
use std::time::Duration;

use domain::mutation::Mutation;
use domain::sync::PushEntry;
use domain::time::Timestamp;
use sync_engine::{Config, Engine, Failure, Input, Output, Phase, Progress, Refusal};
use tokio::sync::{broadcast, mpsc, watch};

use crate::remote::{Remote, RemoteError};
use crate::{Client, ClientError};

/// Entities per pull page.
const PULL_LIMIT: usize = 500;

/// Asks a running driver to do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    NetworkUp,
    NetworkDown,
    SyncNow,
}

/// A running sync driver.
pub struct SyncHandle {
    triggers: mpsc::UnboundedSender<Trigger>,
    progress: watch::Receiver<Progress>,
    refusals: broadcast::Sender<Refusal>,
    arrivals: broadcast::Sender<Vec<OrderArrival>>,
    task: tokio::task::JoinHandle<()>,
}

/// A buyer's order that reached this device with a pull: for the "new order" notification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct OrderArrival {
    pub order_id: domain::ids::OrderId,
    pub buyer_name: String,
    pub total: domain::money::Money,
    pub channel: domain::order::Channel,
}

impl SyncHandle {
    pub fn trigger(&self, trigger: Trigger) {
        let _ = self.triggers.send(trigger);
    }

    /// The latest progress; `changed()` on the receiver wakes on every update.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }

    pub fn refusals(&self) -> broadcast::Receiver<Refusal> {
        self.refusals.subscribe()
    }

    /// New orders as pulls bring them in, one list per pull page that had any.
    pub fn arrivals(&self) -> broadcast::Receiver<Vec<OrderArrival>> {
        self.arrivals.subscribe()
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// What one [`run_once`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub pushed: u64,
    pub refused: Vec<Refusal>,
    pub pulled_pages: u64,
    pub pending: u64,
    pub last_synced_at: Option<Timestamp>,
}

struct Driver {
    client: Arc<Client>,
    engine: Engine,
    config: Config,
    report: SyncReport,
    /// Where progress and refusals go as they happen (a running driver), if anywhere.
    events: Option<Events>,
}

struct Events {
    progress: watch::Sender<Progress>,
    refusals: broadcast::Sender<Refusal>,
    arrivals: broadcast::Sender<Vec<OrderArrival>>,
}

impl Driver {
    fn new(client: Arc<Client>, config: Config, seed: u64) -> Result<Driver, ClientError> {
        let state = client.sync_state()?;
        let mut engine = Engine::new(config.clone(), seed).with_last_synced_at(state.last_synced_at);
        engine.handle_input(Input::Pending { pending: client.status()?.pending_changes }, client.now());
        Ok(Driver { client, engine, config, report: SyncReport::default(), events: None })
    }

    /// Does everything the engine wants done now, publishing progress and refusals as they come,
    /// so a person sees "3 of 120 changes sent" while a long push is under way.
    async fn work(&mut self) {
        while let Some(output) = self.engine.poll_output(self.client.now()) {
            match output {
                Output::Push { id, max_entries } => {
                    let input = self.push(id, max_entries).await;
                    self.engine.handle_input(input, self.client.now());
                }
                Output::Pull { id } => {
                    let input = self.pull(id).await;
                    self.engine.handle_input(input, self.client.now());
                }
                Output::Progress(progress) => {
                    if let Some(events) = &self.events {
                        events.progress.send_replace(progress);
                    }
                }
                Output::Refused(refusal) => {
                    self.report.refused.push(refusal.clone());
                    if let Some(events) = &self.events {
                        let _ = events.refusals.send(refusal);
                    }
                }
            }
        }
    }

    fn remote(&self) -> Result<Option<(Remote, String)>, ClientError> {
        let Some(account) = self.client.account()? else { return Ok(None) };
        let timeout = Duration::from_millis(self.config.request_timeout_ms.max(1) as u64);
        let remote = Remote::new(&account.server_url, timeout).map_err(|e| ClientError::Remote(e.to_string()))?;
        Ok(Some((remote, account.token)))
    }

    fn failed(id: sync_engine::RequestId, error: &RemoteError) -> Input {
        if !error.is_transient() {
            tracing::warn!(%error, "sync request refused");
        }
        let failure = if matches!(error, RemoteError::Unauthorized) { Failure::Unauthorized } else { Failure::Transient };
        Input::Failed { id, failure }
    }

    async fn push(&mut self, id: sync_engine::RequestId, max_entries: usize) -> Input {
        let unpaired = Input::Failed { id, failure: Failure::Unauthorized };
        let Ok(Some((remote, token))) = self.remote() else { return unpaired };
        let (client_id, entries) = match self.client.outbox(max_entries) {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(%error, "reading the outbox");
                return Input::Failed { id, failure: Failure::Transient };
            }
        };
        if entries.is_empty() {
            return Input::Pushed { id, acked: 0, pending: 0, refused: vec![] };
        }
        // Photos go up before the changes that name them (the server checks). An upload that
        // fails fails this push like a network error would: the engine backs off and retries.
        for entry in &entries {
            if let Mutation::ListingPhoto { photo, .. } = &entry.mutation {
                let bytes = match self.client.photo_bytes(photo) {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        tracing::error!(%error, sha256 = %photo.sha256, "a photo to upload is missing on the device");
                        return Input::Failed { id, failure: Failure::Transient };
                    }
                };
                if let Err(error) = remote.put_photo(&token, &photo.sha256, bytes).await {
                    return Self::failed(id, &error);
                }
            }
        }
        let request = domain::sync::PushRequest {
            client_id,
            entries: entries
                .into_iter()
                .map(|e| PushEntry { seq: e.seq, mutation_id: e.mutation_id, mutation: e.mutation, created_at: e.created_at })
                .collect(),
        };
        match remote.push(&token, &request).await {
            Ok(response) => {
                let client = self.client.clone();
                let now = self.client.now();
                let acknowledged = tokio::task::spawn_blocking(move || client.acknowledge(&response.results, now)).await;
                match acknowledged {
                    Ok(Ok(done)) => {
                        self.report.pushed += done.acked;
                        let refused = done
                            .refused
                            .into_iter()
                            .map(|r| Refusal { seq: r.seq, name: r.name, code: r.code, field: r.field, message: r.message })
                            .collect();
                        Input::Pushed { id, acked: done.acked, pending: done.pending, refused }
                    }
                    Ok(Err(error)) => {
                        tracing::error!(%error, "storing a push answer");
                        Input::Failed { id, failure: Failure::Transient }
                    }
                    Err(error) => {
                        tracing::error!(%error, "storing a push answer panicked");
                        Input::Failed { id, failure: Failure::Transient }
                    }
                }
            }
            Err(error) => Self::failed(id, &error),
        }
    }

    async fn pull(&mut self, id: sync_engine::RequestId) -> Input {
        let unpaired = Input::Failed { id, failure: Failure::Unauthorized };
        let Ok(Some((remote, token))) = self.remote() else { return unpaired };
        let (client_id, cursor) = match (self.client.client_id(), self.client.sync_state()) {
            (client_id, Ok(state)) => (client_id, state.cursor),
            (_, Err(error)) => {
                tracing::error!(%error, "reading the sync state");
                return Input::Failed { id, failure: Failure::Transient };
            }
        };
        match remote.pull(&token, client_id, cursor, PULL_LIMIT).await {
            Ok(page) => {
                let more = page.more;
                let client = self.client.clone();
                let now = self.client.now();
                match tokio::task::spawn_blocking(move || client.apply_pull_noting_arrivals(&page, now)).await {
                    Ok(Ok(arrivals)) => {
                        self.report.pulled_pages += 1;
                        if let Some(events) = &self.events
                            && !arrivals.is_empty()
                        {
                            let _ = events.arrivals.send(arrivals);
                        }
                        Input::Pulled { id, more }
                    }
                    Ok(Err(error)) => {
                        tracing::error!(%error, "applying a pulled page");
                        Input::Failed { id, failure: Failure::Transient }
                    }
                    Err(error) => {
                        tracing::error!(%error, "applying a pulled page panicked");
                        Input::Failed { id, failure: Failure::Transient }
                    }
                }
            }
            Err(error) => Self::failed(id, &error),
        }
    }

    /// Remembers a finished sync in the store, so the next start knows when it was.
    fn remember(&mut self) {
        let progress = self.engine.progress();
        self.report.pending = progress.pending;
        self.report.last_synced_at = progress.last_synced_at;
        if let Some(at) = progress.last_synced_at
            && let Err(error) = self.client.set_last_synced_at(at)
        {
            tracing::warn!(%error, "remembering the last sync");
        }
    }

    fn sleep_until(&self, at: Option<Timestamp>) -> Duration {
        match at {
            Some(at) => Duration::from_millis((at.millis() - self.client.now().millis()).max(0) as u64),
            // Nothing scheduled: wake now and then anyway, so a clock jump cannot strand the engine.
            None => Duration::from_secs(300),
        }
    }
}

/// Starts the driver in the background; it runs until [`SyncHandle::stop`] or the runtime ends.
pub fn spawn(client: Arc<Client>, config: Config, seed: u64) -> Result<SyncHandle, ClientError> {
    let mut driver = Driver::new(client.clone(), config, seed)?;
    let (triggers, mut inbox) = mpsc::unbounded_channel();
    let (progress_tx, progress) = watch::channel(driver.engine.progress());
    let (refusals, _) = broadcast::channel(64);
    let (arrivals, _) = broadcast::channel(64);
    driver.events = Some(Events { progress: progress_tx, refusals: refusals.clone(), arrivals: arrivals.clone() });
    let changed = client.changes();
    let task = tokio::spawn(async move {
        loop {
            driver.work().await;
            driver.remember();
            let wait = driver.sleep_until(driver.engine.poll_timeout());
            let now = driver.client.now();
            tokio::select! {
                trigger = inbox.recv() => match trigger {
                    Some(Trigger::NetworkUp) => driver.engine.handle_input(Input::NetworkUp, now),
                    Some(Trigger::NetworkDown) => driver.engine.handle_input(Input::NetworkDown, now),
                    Some(Trigger::SyncNow) => driver.engine.handle_input(Input::SyncNow, now),
                    None => return,
                },
                () = changed.notified() => {
                    match driver.client.status() {
                        Ok(status) => driver.engine.handle_input(Input::Pending { pending: status.pending_changes }, now),
                        Err(error) => tracing::error!(%error, "reading the outbox size"),
                    }
                }
                () = tokio::time::sleep(wait) => {}
            }
        }
    });
    Ok(SyncHandle { triggers, progress, refusals, arrivals, task })
}

/// Syncs until everything is pushed and pulled, or `timeout` passes (retrying with backoff in
/// between). For scripts and the device CLI's `sync`.
pub async fn run_once(client: Arc<Client>, config: Config, seed: u64, timeout: Duration) -> Result<SyncReport, ClientError> {
    let mut driver = Driver::new(client, config, seed)?;
    driver.engine.handle_input(Input::SyncNow, driver.client.now());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        driver.work().await;
        driver.remember();
        let progress = driver.engine.progress();
        match progress.phase {
            Phase::Idle if progress.pending == 0 && progress.last_synced_at.is_some_and(|at| at.millis() > 0) && driver.report.pulled_pages > 0 => {
                return Ok(driver.report);
            }
            Phase::Unauthorized => return Err(ClientError::NotPaired),
            _ => {}
        }
        let wait = driver.sleep_until(driver.engine.poll_timeout());
        if tokio::time::Instant::now() + wait > deadline {
            return Err(ClientError::Remote(format!("not synced within {timeout:?}: {} changes waiting", progress.pending)));
        }
        tokio::time::sleep(wait).await;
    }
}
