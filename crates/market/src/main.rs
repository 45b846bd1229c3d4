//! `fieldcast-market`: the marketplace server binary.
//!
//! - `serve [--demo]` serves until SIGTERM or Ctrl-C, then finishes requests in flight and exits 0.
//!   The first stdout line is `listening on http://ADDR`, so scripts and tests that pass port 0
//!   learn the real port.
//! - `admin …` manages co-ops, members, pickup points and devices directly in the data directory;
//!   whoever can read that directory is the operator.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use domain::access::Role;
use domain::ids::{CoopId, DeviceId, MemberId};
use domain::money::Currency;
use market::marketplace::IssuedCode;
use market::{AppState, Config};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "fieldcast-market", version, about = "The Fieldcast marketplace server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the buyer pages.
    Serve(Serve),
    /// Manage co-ops, members, pickup points and devices in a data directory.
    Admin {
        #[command(flatten)]
        data: DataDir,
        /// Print JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: Admin,
    },
}

#[derive(Args)]
struct DataDir {
    /// Directory for the server's database and files; created if missing.
    #[arg(long, env = "FIELDCAST_DATA_DIR", default_value = "data/market")]
    data_dir: PathBuf,
}

#[derive(Args)]
struct Serve {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "FIELDCAST_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    #[command(flatten)]
    data: DataDir,
    /// The URL buyers use to reach this server, for links and QR codes. Defaults to http://ADDR.
    #[arg(long, env = "FIELDCAST_PUBLIC_URL")]
    public_url: Option<String>,
    /// Seed a demo co-op (farmer Zhang with corn, eggs and peaches) and write demo.json.
    #[arg(long)]
    demo: bool,
    /// Buyer orders allowed per client IP per minute.
    #[arg(long, env = "FIELDCAST_ORDER_RATE", default_value_t = 30)]
    order_rate: u32,
    /// Pairing attempts allowed per client IP per minute.
    #[arg(long, env = "FIELDCAST_PAIRING_RATE", default_value_t = 10)]
    pairing_rate: u32,
    /// UDP address of the live relay (one port for every camera and viewer). Defaults to the
    /// HTTP address's IP and port.
    #[arg(long, env = "FIELDCAST_MEDIA_ADDR")]
    media_addr: Option<SocketAddr>,
    /// The IP cameras and viewers reach the relay at, when it differs from --media-addr's (a
    /// 0.0.0.0 bind, a 1:1 NAT).
    #[arg(long, env = "FIELDCAST_MEDIA_IP")]
    media_ip: Option<std::net::IpAddr>,
    /// A STUN or TURN URL for WHIP/WHEP clients (repeatable), sent as `Link: rel="ice-server"`.
    #[arg(long = "ice-server")]
    ice_servers: Vec<String>,
    /// Seconds after which a camera or viewer that sends nothing is dropped.
    #[arg(long, default_value_t = 20)]
    media_idle_timeout: u64,
    /// Inject a fault on purpose (tests only), e.g. `lose-push-responses=1`.
    #[arg(long, hide = true, value_parser = market::Failpoints::parse)]
    failpoint: Option<market::Failpoints>,
}

#[derive(Subcommand)]
enum Admin {
    /// Create a co-op and its first admin; prints the admin's pairing code.
    CreateCoop {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "CNY")]
        currency: String,
        #[arg(long)]
        admin_name: String,
    },
    /// Add a farmer, staff member or admin; prints their pairing code.
    AddMember {
        #[arg(long)]
        coop: CoopId,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        name: String,
    },
    /// A fresh pairing code for a member's next device.
    PairingCode {
        #[arg(long)]
        member: MemberId,
    },
    /// Add a pickup point to a co-op.
    AddPickupPoint {
        #[arg(long)]
        coop: CoopId,
        #[arg(long)]
        name: String,
        #[arg(long)]
        address: String,
    },
    /// Revoke a device; its token stops working at once.
    RevokeDevice {
        #[arg(long)]
        device: DeviceId,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| "one of admin, staff, farmer".to_owned())
}

/// Our own logs at info; the WebRTC stack's only when something is wrong (it narrates every
/// connection's states at info and every unknown DTLS extension at warn).
const DEFAULT_LOG: &str = "info,rtc=warn,rtc_ice=warn,rtc_dtls=error,rtc_srtp=warn,rtc_sctp=warn,rtc_interceptor=warn";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG)))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(serve) => run_server(serve).await,
        Command::Admin { data, json, command } => admin(&data.data_dir, json, command).await,
    }
}

async fn run_server(args: Serve) -> anyhow::Result<()> {
    // Registered before anything is announced, so a SIGTERM sent as soon as the address appears
    // already shuts down gracefully instead of killing the process.
    let shutdown = Shutdown::install()?;
    let listener = tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("binding {}", args.addr))?;
    let local = listener.local_addr()?;
    let public_url = args.public_url.unwrap_or_else(|| format!("http://{local}"));
    let media = market::MediaConfig {
        bind: args.media_addr.unwrap_or(local),
        advertise: args.media_ip,
        ice_servers: args.ice_servers,
        idle_timeout: std::time::Duration::from_secs(args.media_idle_timeout.max(1)),
    };
    let config = Config {
        order_rate_per_minute: args.order_rate,
        pairing_rate_per_minute: args.pairing_rate,
        failpoints: args.failpoint.unwrap_or_default(),
        media,
        ..Config::new(&public_url)
    };
    let state = AppState::open(&args.data.data_dir, config)?;
    say(&format!("listening on http://{local}"));
    say(&format!("media:   udp {}", state.live().relay().local_addr()));
    say(&format!("health:  {public_url}/healthz"));
    say(&format!("openapi: {public_url}/api/v1/openapi.json"));
    if args.demo {
        let demo = market::demo::prepare(&state, &args.data.data_dir).await?;
        say(&format!("demo:    {}", args.data.data_dir.join(market::demo::FILE).display()));
        for listing in &demo.listings {
            say(&format!("order:   {}  {}", listing.order_link, listing.title));
        }
        if let Some(farm) = &demo.farmer.farm_url {
            say(&format!("farm:    {farm}"));
        }
        say(&format!("pair the app as {}: code {}", demo.farmer.name, demo.farmer.pairing_code));
    }
    tracing::info!(%local, data_dir = %args.data.data_dir.display(), "serving");
    let app = market::app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown.wait()).await.context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// Prints a line for whoever started the server. A closed stdout (the launcher stopped reading) is
/// no reason to stop serving, so write errors are ignored.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn admin(data_dir: &Path, json: bool, command: Admin) -> anyhow::Result<()> {
    let state = AppState::open(data_dir, Config::new("http://127.0.0.1:8080"))?;
    let market = state.market();
    let failed = |error: market::marketplace::MarketError| anyhow::anyhow!("{error}");
    let output = match command {
        Admin::CreateCoop { name, currency, admin_name } => {
            let currency = Currency::parse(&currency).map_err(|_| anyhow::anyhow!("unknown currency {currency}"))?;
            let (coop, code) = market.create_coop(&name, currency, &admin_name).await.map_err(failed)?;
            let mut value = code_json(&code);
            value["coop_id"] = coop.id.to_string().into();
            value
        }
        Admin::AddMember { coop, role, name } => code_json(&market.add_member(None, coop, role, &name).await.map_err(failed)?.1),
        Admin::PairingCode { member } => code_json(&market.pairing_code_for(None, member).await.map_err(failed)?),
        Admin::AddPickupPoint { coop, name, address } => {
            let point = market.add_pickup_point(None, coop, &name, &address).await.map_err(failed)?;
            serde_json::json!({ "pickup_point_id": point.id.to_string(), "name": point.name })
        }
        Admin::RevokeDevice { device } => {
            market.revoke_device(None, device).await.map_err(failed)?;
            serde_json::json!({ "revoked": device.to_string() })
        }
    };
    if json {
        say(&serde_json::to_string_pretty(&output)?);
    } else {
        for (key, value) in output.as_object().into_iter().flatten() {
            say(&format!("{key}: {}", value.as_str().map_or_else(|| value.to_string(), str::to_owned)));
        }
        if let Some(code) = output.get("pairing_code").and_then(|c| c.as_str()) {
            say(&format!("\n{}", market::qr::terminal(&format!("fieldcast:pair?code={code}"))));
        }
    }
    Ok(())
}

fn code_json(code: &IssuedCode) -> serde_json::Value {
    serde_json::json!({
        "member_id": code.member.id.to_string(),
        "name": code.member.name,
        "role": code.member.role.code(),
        "pairing_code": code.code,
        "expires_at_ms": code.expires_at.millis(),
    })
}

/// SIGTERM and Ctrl-C, listened for from the moment of installation.
struct Shutdown {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn install() -> anyhow::Result<Shutdown> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Shutdown {
                terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
                interrupt: signal(SignalKind::interrupt()).context("listening for Ctrl-C")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Shutdown {})
    }

    /// Resolves on the first of them.
    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = self.interrupt.recv() => tracing::info!("Ctrl-C: shutting down"),
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("Ctrl-C: shutting down");
        }
    }
}
