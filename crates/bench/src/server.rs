//! The server under test: the real binary, started in demo mode in a fresh data directory on a free
//! loopback port, stopped (SIGTERM) when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

pub struct Server {
    child: Child,
    binary: std::path::PathBuf,
    data: tempfile::TempDir,
    pub base: String,
    pub demo: serde_json::Value,
}

impl Server {
    /// Starts the server with rate limits high enough not to throttle the load generator, which
    /// sends everything from one address.
    pub fn start(binary: &Path) -> anyhow::Result<Server> {
        let data = tempfile::tempdir()?;
        let mut child = pinned(binary)
            .args(["serve", "--demo", "--addr", "127.0.0.1:0", "--order-rate", "100000000", "--data-dir"])
            .arg(data.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut base = None;
        for line in BufReader::new(child.stdout.take().context("no stdout")?).lines() {
            let line = line?;
            if let Some(url) = line.strip_prefix("listening on ") {
                base = Some(url.to_owned());
            }
            if line.starts_with("pair the app") {
                break;
            }
        }
        let base = base.context("the server printed no address")?;
        let demo = serde_json::from_slice(&std::fs::read(data.path().join("demo.json"))?)?;
        Ok(Server { child, binary: binary.to_owned(), data, base, demo })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `fieldcast-market admin --json …` on the server's data directory; returns the pairing code.
    pub fn admin(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = Command::new(&self.binary).args(["admin", "--data-dir"]).arg(self.data.path()).arg("--json").args(args).output()?;
        anyhow::ensure!(output.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        let value: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        value["pairing_code"].as_str().map(str::to_owned).context("no pairing code")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// A command that runs `binary` where the measured side of a benchmark runs:
/// `FIELDCAST_BENCH_SERVER_CPUS` pins it to some cores (with `taskset`), so that the load
/// generator pinned to the others does not share them and the figures vary less.
pub fn pinned(binary: &Path) -> Command {
    match std::env::var("FIELDCAST_BENCH_SERVER_CPUS") {
        Ok(cpus) => {
            let mut command = Command::new("taskset");
            command.args(["-c", &cpus]).arg(binary);
            command
        }
        Err(_) => Command::new(binary),
    }
}

/// CPU time a process's threads have used so far, in nanoseconds from the scheduler
/// (`/proc/PID/task/*/schedstat`). `/proc/PID/stat` counts in 10 ms ticks, which over a 15 s
/// window at 10 viewers is a step of more than a microsecond per forwarded packet. A thread that
/// ends between two readings takes its time with it; the server's threads (the runtime's
/// workers, the database writer, the relay) live as long as it does.
pub fn cpu_seconds(pid: u32) -> f64 {
    let nanos: u64 = per_thread(pid, "schedstat").filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok()).sum();
    nanos as f64 / 1e9
}

/// Times a process's threads have woken from a wait so far (`voluntary_ctxt_switches` in
/// `/proc/PID/task/*/status`). For an event loop each is one pass, however many datagrams it then
/// reads: a cost paid per wake-up, not per packet.
pub fn wakeups(pid: u32) -> u64 {
    per_thread(pid, "status")
        .filter_map(|status| status_field(&status, "voluntary_ctxt_switches:"))
        .sum()
}

/// The file `name` of each of a process's threads, as text.
fn per_thread(pid: u32, name: &str) -> impl Iterator<Item = String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
    tasks.filter_map(move |task| std::fs::read_to_string(task.path().join(name)).ok())
}

/// Resident memory of a process in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return 0 };
    status_field(&status, "VmRSS:").map_or(0, |kb| kb * 1024)
}

/// The number after `name` in a `/proc/…/status` file (`VmRSS:  1234 kB` gives 1234).
fn status_field(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|l| l.strip_prefix(name))?.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_field_is_the_number_after_its_name() {
        let status = "Name:\tfieldcast-marke\nVmRSS:\t   24240 kB\nvoluntary_ctxt_switches:\t58\nnonvoluntary_ctxt_switches:\t6\n";
        assert_eq!(status_field(status, "VmRSS:"), Some(24240));
        assert_eq!(status_field(status, "voluntary_ctxt_switches:"), Some(58));
        assert_eq!(status_field(status, "VmSwap:"), None);
    }
}
