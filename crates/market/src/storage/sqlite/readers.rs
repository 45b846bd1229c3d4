//! A small pool of read-only connections, used from blocking threads.
//!
//! In WAL mode readers never wait for the writer, so reads run in parallel with the group commits.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::storage::{Result, StorageError};

pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Readers {
    pub(super) fn open(path: PathBuf, size: usize) -> Result<Readers> {
        let idle = (0..size).map(|_| open_reader(&path)).collect::<Result<Vec<_>>>()?;
        Ok(Readers { path, idle: Mutex::new(idle), permits: Semaphore::new(size) })
    }

    /// Runs `work` on an idle reader in a blocking thread.
    pub(super) async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self.permits.acquire().await.map_err(|_| StorageError::Backend("reader pool closed".into()))?;
        // A permit guarantees an idle connection, unless one was lost to a panic; then open anew.
        let conn = match self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = work(&conn);
            (conn, result)
        })
        .await
        .map_err(|e| StorageError::Backend(format!("a read panicked: {e}")))?;
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        result
    }
}

fn open_reader(path: &std::path::Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| StorageError::Backend(e.to_string()))?;
    conn.busy_timeout(super::BUSY_TIMEOUT).map_err(|e| StorageError::Backend(e.to_string()))?;
    // SQLite opens a connection's write-ahead log at its first read. Reading once here makes
    // every reader hold its files from the start, so the server's descriptors do not grow
    // with whichever readers the first requests happen to reach (a leak check counts them).
    conn.query_row("PRAGMA schema_version", [], |_| Ok(())).map_err(|e| StorageError::Backend(e.to_string()))?;
    Ok(conn)
}
