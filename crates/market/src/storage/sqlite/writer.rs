//! The single writer connection, fed by a queue, committing in groups.
//!
//! Every write is a job: a closure that runs against the writer connection inside its own
//! savepoint. The writer thread takes all jobs waiting in the queue (up to [`MAX_BATCH`]), runs them
//! in one transaction and commits once, so one fsync covers the whole group; only after that commit
//! does it answer each job. Under load the groups grow and the fsync cost per write shrinks; alone,
//! a write commits at once. A job that fails rolls back to its savepoint and does not disturb the
//! others in its group.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::storage::{Result, StorageError};

/// The most jobs in one transaction; bounds the latency a large group adds to its first job.
const MAX_BATCH: usize = 512;
/// How many jobs may wait; senders wait beyond that, which pushes back on the HTTP layer.
const QUEUE_DEPTH: usize = 8192;

/// What a job hands back after running: called with the commit's outcome, it answers the caller.
type Completion = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;

pub(super) struct Writer {
    queue: mpsc::Sender<Job>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<Counters>,
}

/// How much the writer has done: writes per commit is the group size.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) commits: AtomicU64,
    pub(super) writes: AtomicU64,
}

impl Writer {
    pub(super) fn start(conn: Connection) -> Writer {
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        let stats = Arc::new(Counters::default());
        let counters = stats.clone();
        let thread = std::thread::Builder::new()
            .name("market-writer".into())
            .spawn(move || run(conn, jobs, &counters))
            .expect("the writer thread starts");
        Writer { queue, thread: Some(thread), stats }
    }

    /// Commits and writes so far.
    pub(super) fn counts(&self) -> (u64, u64) {
        (self.stats.commits.load(Ordering::Relaxed), self.stats.writes.load(Ordering::Relaxed))
    }

    /// Runs `work` in the writer's transaction and answers once it is durably committed.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = in_savepoint(conn, work);
            Box::new(move |committed| {
                let outcome = match committed {
                    Ok(()) => result,
                    // The group's commit failed, so this job's writes are gone too.
                    Err(cause) => Err(StorageError::Backend(cause)),
                };
                let _ = answer.send(outcome);
            })
        });
        self.queue.send(job).await.map_err(|_| StorageError::Backend("the writer has stopped".into()))?;
        answered.await.map_err(|_| StorageError::Backend("the writer dropped a job".into()))?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread after it finishes the jobs it holds.
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.queue, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: Connection, mut jobs: mpsc::Receiver<Job>, counters: &Counters) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let size = batch.len() as u64;
        if commit_group(&conn, &mut batch) {
            counters.commits.fetch_add(1, Ordering::Relaxed);
            counters.writes.fetch_add(size, Ordering::Relaxed);
        }
    }
}

/// Runs and commits one group; true when the commit succeeded.
fn commit_group(conn: &Connection, batch: &mut Vec<Job>) -> bool {
    if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(%error, "cannot begin a write transaction");
        // Dropping the jobs drops their answer channels, so each caller gets a backend error.
        batch.clear();
        return false;
    }
    let completions: Vec<Completion> = batch.drain(..).map(|job| job(conn)).collect();
    let committed = conn.execute_batch("COMMIT").map_err(|error| {
        tracing::error!(%error, "group commit failed");
        let _ = conn.execute_batch("ROLLBACK");
        error.to_string()
    });
    let ok = committed.is_ok();
    for completion in completions {
        completion(committed.clone());
    }
    ok
}

/// Runs `work` inside a savepoint: kept when it succeeds, rolled back when it fails.
fn in_savepoint<T>(conn: &Connection, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    conn.execute_batch("SAVEPOINT job").map_err(|e| StorageError::Backend(e.to_string()))?;
    let result = work(conn);
    let end = if result.is_ok() { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
    conn.execute_batch(end).map_err(|e| StorageError::Backend(e.to_string()))?;
    result
}
