//! Helpers for the whole-system tests: child processes that die with the test, a virtual display,
//! a private D-Bus session that records desktop notifications, waiting on conditions with a
//! deadline, and where to put artifacts.
//!
//! These tests need things `cargo xtask test` builds and installs first (the app binary,
//! tauri-driver, Xvfb, Chromium). They find them through environment variables and fail with a
//! message naming the missing piece instead of skipping.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Names rustls's crypto provider for the test process. The workspace enables two (ring for the
/// app's client, the default of fantoccini's TLS), so none is picked automatically; ring is what the
/// app itself uses.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

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

    /// Starts a program that announces something on its first line of output (a display number,
    /// a bus address) once it is ready, and returns that line, trimmed.
    pub fn spawn_announcing(name: &str, command: &mut Command) -> anyhow::Result<(Guard, String)> {
        let mut child = command.stdout(Stdio::piped()).spawn().with_context(|| format!("starting {name}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        // Guarded before the read, so a program that fails to announce is still killed.
        let guard = Guard::adopt(name, child);
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).with_context(|| format!("reading what {name} announced"))?;
        Ok((guard, line.trim().to_owned()))
    }

    /// Takes over a child started elsewhere (with its pipes already taken).
    pub fn adopt(name: &str, child: Child) -> Guard {
        Guard { child, name: name.to_owned() }
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
    /// Xvfb chooses a free display itself (`-displayfd`: past the locks that killed servers leave
    /// behind, since the guard kills) and writes its number once it accepts clients.
    pub fn start() -> anyhow::Result<VirtualDisplay> {
        let (server, line) = Guard::spawn_announcing("Xvfb", Command::new("Xvfb").args(["-displayfd", "1", "-screen", "0", "1280x900x24", "-nolisten", "tcp"]))?;
        let number: u32 = line.parse().with_context(|| format!("Xvfb named no display: {line:?}"))?;
        Ok(VirtualDisplay { _server: server, display: format!(":{number}") })
    }

    /// The value for `DISPLAY`.
    pub fn name(&self) -> &str {
        &self.display
    }
}

/// A D-Bus session bus of the test's own, with `dbus-monitor` writing down every desktop
/// notification sent on it (`org.freedesktop.Notifications.Notify`): what the app asks the
/// desktop to show. No notification server runs, so the calls get an error reply; the call itself
/// is what a test checks.
pub struct SessionBus {
    // Declared first: the monitor goes before the bus it watches.
    _monitor: Guard,
    _daemon: Guard,
    address: String,
    seen: Arc<Mutex<String>>,
}

impl SessionBus {
    pub fn start() -> anyhow::Result<SessionBus> {
        let (daemon, address) =
            Guard::spawn_announcing("dbus-daemon", Command::new("dbus-daemon").args(["--session", "--nofork", "--print-address=1"]).stderr(Stdio::null()))?;
        anyhow::ensure!(!address.is_empty(), "dbus-daemon printed no address");
        let mut monitor = Command::new("dbus-monitor")
            .args(["--address", &address, "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"])
            .stdout(Stdio::piped())
            .spawn()
            .context("starting dbus-monitor")?;
        let lines = BufReader::new(monitor.stdout.take().context("no stdout")?).lines();
        let seen = Arc::new(Mutex::new(String::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut seen = sink.lock().unwrap_or_else(|p| p.into_inner());
                seen.push_str(&line);
                seen.push('\n');
            }
        });
        // The monitor says hello on the bus (its own name) before it watches: wait for that.
        let monitor = Guard::adopt("dbus-monitor", monitor);
        wait_until("dbus-monitor to attach", Duration::from_secs(10), || Ok(!seen.lock().unwrap_or_else(|p| p.into_inner()).is_empty()))?;
        Ok(SessionBus { _monitor: monitor, _daemon: daemon, address, seen })
    }

    /// The value for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Everything `dbus-monitor` printed so far: each `Notify` call with its strings.
    pub fn notifications(&self) -> String {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
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

/// The real marketplace server in demo mode on a free loopback port (the binary from
/// `FIELDCAST_MARKET_BIN`), stopped with the guard.
pub struct MarketServer {
    _process: Guard,
    _data: tempfile::TempDir,
    pub base: String,
    pub demo: serde_json::Value,
}

impl MarketServer {
    pub fn start_demo() -> anyhow::Result<MarketServer> {
        MarketServer::start_demo_with(&[])
    }

    /// The demo server with extra `serve` flags.
    pub fn start_demo_with(extra: &[&str]) -> anyhow::Result<MarketServer> {
        let binary = required_env("FIELDCAST_MARKET_BIN")?;
        let data = tempfile::tempdir()?;
        let port = free_port()?;
        let process = Guard::spawn(
            "fieldcast-market",
            Command::new(&binary)
                .args(["serve", "--demo", "--addr", &format!("127.0.0.1:{port}"), "--data-dir"])
                .arg(data.path())
                .args(extra)
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null()),
        )?;
        let demo_file = data.path().join("demo.json");
        wait_until("the demo server", Duration::from_secs(30), || {
            Ok(demo_file.exists() && TcpStream::connect(("127.0.0.1", port)).is_ok())
        })?;
        let demo = serde_json::from_slice(&std::fs::read(&demo_file)?)?;
        Ok(MarketServer { _process: process, _data: data, base: format!("http://127.0.0.1:{port}"), demo })
    }

    pub fn pid(&self) -> u32 {
        self._process.id()
    }

    pub fn farmer_pairing_code(&self) -> anyhow::Result<String> {
        self.demo["farmer"]["pairing_code"].as_str().map(str::to_owned).context("no pairing code in demo.json")
    }

    /// The titles of the demo farmer's listings, as the server has them (over plain HTTP).
    pub fn farmer_listings(&self) -> anyhow::Result<Vec<String>> {
        let token = self.demo["farmer"]["token"].as_str().context("no token in demo.json")?;
        let body = http_get(&format!("{}/api/v1/listings", self.base), token)?;
        let listings: Vec<serde_json::Value> = serde_json::from_str(&body)?;
        Ok(listings.iter().filter_map(|l| l["details"]["title"].as_str().map(str::to_owned)).collect())
    }
}

/// A minimal HTTP/1.1 GET with a bearer token, enough for checks against the local server.
pub fn http_get(url: &str, token: &str) -> anyhow::Result<String> {
    let (head, body) = raw_get(url, Some(token))?;
    anyhow::ensure!(head.starts_with("HTTP/1.1 200"), "{head}");
    Ok(String::from_utf8(body)?)
}

/// One HTTP/1.1 GET over a fresh connection: the response head as text and the body as bytes.
fn raw_get(url: &str, token: Option<&str>) -> anyhow::Result<(String, Vec<u8>)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").context("http only")?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").context("no HTTP head")?;
    Ok((String::from_utf8_lossy(&response[..end]).into_owned(), response[end + 4..].to_vec()))
}

/// The status and `Content-Type` of a plain GET without a token, for binary answers (photos).
pub fn http_head_of_get(url: &str) -> anyhow::Result<(u16, String)> {
    let (head, _) = raw_get(url, None)?;
    let status = head.split_whitespace().nth(1).context("no status")?.parse()?;
    let content_type = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_owned())).unwrap_or_default();
    Ok((status, content_type))
}

/// A marketplace server process on a fixed loopback port and data directory, so that it can be
/// killed (SIGKILL) and started again where it was.
pub struct ServerProcess {
    binary: String,
    data_dir: PathBuf,
    pub port: u16,
    extra: Vec<String>,
    process: Option<Guard>,
}

impl ServerProcess {
    pub fn start(data_dir: &Path, extra: &[&str]) -> anyhow::Result<ServerProcess> {
        let mut server = ServerProcess {
            binary: required_env("FIELDCAST_MARKET_BIN")?,
            data_dir: data_dir.to_owned(),
            port: free_port()?,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            process: None,
        };
        server.restart()?;
        Ok(server)
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// SIGKILL: no graceful shutdown, no flush.
    pub fn kill(&mut self) {
        self.process = None;
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let mut command = Command::new(&self.binary);
        command
            .args(["serve", "--addr", &format!("127.0.0.1:{}", self.port), "--order-rate", "1000000", "--pairing-rate", "1000"])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.extra)
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null());
        let mut process = Guard::spawn("fieldcast-market", &mut command)?;
        let addr = self.addr();
        wait_until("the server to listen", Duration::from_secs(30), || {
            process.check_alive()?;
            Ok(TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok())
        })?;
        self.process = Some(process);
        Ok(())
    }

    /// Runs `fieldcast-market admin --json …` on the same data directory.
    pub fn admin(&self, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let output = Command::new(&self.binary).args(["admin", "--data-dir"]).arg(&self.data_dir).arg("--json").args(args).output()?;
        anyhow::ensure!(output.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        Ok(serde_json::from_slice(&output.stdout)?)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

/// A device: a data directory driven through the `fieldcast-device` CLI.
pub struct DeviceCli {
    binary: String,
    pub data_dir: PathBuf,
}

impl DeviceCli {
    pub fn new(data_dir: &Path) -> anyhow::Result<DeviceCli> {
        Ok(DeviceCli { binary: required_env("FIELDCAST_DEVICE_BIN")?, data_dir: data_dir.to_owned() })
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command.arg("--data-dir").arg(&self.data_dir).arg("--json");
        command
    }

    /// Runs one command and parses its JSON output; a failure carries the CLI's error.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let output = self.command().args(args).output()?;
        anyhow::ensure!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr).trim());
        Ok(serde_json::from_slice(&output.stdout)?)
    }
}

/// The aiortc version the independent-peer test runs; pinned so a release cannot change the test.
pub const AIORTC: &str = "aiortc==1.16.0";

/// A Python with aiortc, in a venv under `target/` that is made on first use (about 15 s) and
/// reused after. `FIELDCAST_PYTHON` picks the interpreter that makes it.
pub fn aiortc_python() -> anyhow::Result<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/aiortc-venv");
    let python = venv.join("bin/python");
    let ready = |python: &Path| Command::new(python).args(["-c", "import aiortc"]).output().is_ok_and(|o| o.status.success());
    if ready(&python) {
        return Ok(python);
    }
    let base = std::env::var("FIELDCAST_PYTHON").unwrap_or_else(|_| "python3".into());
    let status = Command::new(&base).args(["-m", "venv", "--clear"]).arg(&venv).status().with_context(|| format!("running {base} -m venv"))?;
    anyhow::ensure!(status.success(), "{base} -m venv failed (Debian needs the python3-venv package)");
    let status = Command::new(venv.join("bin/pip")).args(["install", "--quiet", "--disable-pip-version-check", AIORTC]).status()?;
    anyhow::ensure!(status.success(), "pip install {AIORTC} failed");
    anyhow::ensure!(ready(&python), "aiortc does not import in {}", venv.display());
    Ok(python)
}

/// The repository's `tests/` directory.
pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What the operating system says a process holds: open file descriptors (sockets among them),
/// how many of those are TCP connections (not listeners), threads, and resident memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessUsage {
    pub fds: usize,
    pub tcp_connections: usize,
    pub threads: usize,
    pub rss_kib: u64,
}

impl ProcessUsage {
    pub fn of(pid: u32) -> anyhow::Result<ProcessUsage> {
        let connections = tcp_connection_inodes(pid)?;
        let mut fds = 0;
        let mut tcp_connections = 0;
        for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
            fds += 1;
            // A descriptor closed between the listing and the read is simply not a connection.
            let Ok(target) = std::fs::read_link(entry?.path()) else { continue };
            let inode = target.to_str().and_then(|t| t.strip_prefix("socket:[")).and_then(|t| t.strip_suffix(']'));
            if inode.is_some_and(|inode| connections.contains(inode)) {
                tcp_connections += 1;
            }
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> anyhow::Result<u64> {
            let line = status.lines().find(|l| l.starts_with(name)).with_context(|| format!("no {name} in /proc/{pid}/status"))?;
            Ok(line.split_whitespace().nth(1).context("no value")?.parse()?)
        };
        Ok(ProcessUsage { fds, tcp_connections, threads: field("Threads:")? as usize, rss_kib: field("VmRSS:")? })
    }
}

/// The inodes of the TCP sockets in `pid`'s network namespace that are not listening: the
/// connections an HTTP client holds open, which come and go with the client's pool.
fn tcp_connection_inodes(pid: u32) -> anyhow::Result<std::collections::HashSet<String>> {
    const LISTEN: &str = "0A";
    let mut inodes = std::collections::HashSet::new();
    for table in ["tcp", "tcp6"] {
        let path = format!("/proc/{pid}/net/{table}");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        for line in text.lines().skip(1) {
            let columns: Vec<&str> = line.split_whitespace().collect();
            if let (Some(&state), Some(&inode)) = (columns.get(3), columns.get(9))
                && state != LISTEN
            {
                inodes.insert(inode.to_owned());
            }
        }
    }
    Ok(inodes)
}

/// One value from the server's Prometheus `/metrics`.
pub fn metric(base: &str, name: &str) -> anyhow::Result<f64> {
    let text = http_get(&format!("{base}/metrics"), "")?;
    let line = text.lines().find(|l| l.split_whitespace().next() == Some(name)).with_context(|| format!("no metric {name}"))?;
    Ok(line.split_whitespace().nth(1).context("no value")?.parse()?)
}
