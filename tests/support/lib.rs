//! Helpers for the whole-system tests: child processes that die with the test, a virtual display,
//! waiting on conditions with a deadline, and where to put artifacts.
//!
//! These tests need things `cargo xtask test` builds and installs first (the app binary,
//! tauri-driver, Xvfb, Chromium). They find them through environment variables and fail with a
//! message naming the missing piece instead of skipping.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A child process that is killed when the guard drops, so a failing test leaves nothing behind.
pub struct Guard {
    child: Child,
    name: String,
}

impl Guard {
    pub fn spawn(name: &str, command: &mut Command) -> anyhow::Result<Guard> {
        let child = command.spawn().with_context(|| format!("starting {name}"))?;
        Ok(Guard { child, name: name.to_owned() })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the process has already exited, which usually explains a later timeout.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited early: {status}", self.name);
        }
        Ok(())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` until it holds or `timeout` passes. Polling is the honest way to wait on
/// another process's state; the interval is short and the deadline is what bounds the test.
pub fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> anyhow::Result<bool>) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if condition()? {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

/// A TCP port that was free a moment ago on the loopback interface.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_until(&format!("port {port}"), timeout, || Ok(TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()))
}

/// An X server on a free display number, for the app's window.
pub struct VirtualDisplay {
    _server: Guard,
    display: String,
}

impl VirtualDisplay {
    pub fn start() -> anyhow::Result<VirtualDisplay> {
        let number = (99..200)
            .find(|n| !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() && !Path::new(&format!("/tmp/.X{n}-lock")).exists())
            .context("no free X display number")?;
        let display = format!(":{number}");
        let mut server = Guard::spawn(
            "Xvfb",
            Command::new("Xvfb").args([display.as_str(), "-screen", "0", "1280x900x24", "-nolisten", "tcp"]),
        )?;
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
        wait_until("the X server socket", Duration::from_secs(10), || {
            server.check_alive()?;
            Ok(socket.exists())
        })?;
        Ok(VirtualDisplay { _server: server, display })
    }

    /// The value for `DISPLAY`.
    pub fn name(&self) -> &str {
        &self.display
    }
}

/// A required environment variable, with a hint when it is missing.
pub fn required_env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set; run these tests through `cargo xtask test`"))
}

/// Where screenshots and logs go (`FIELDCAST_ARTIFACTS`, else `target/artifacts`).
pub fn artifacts_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("FIELDCAST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
