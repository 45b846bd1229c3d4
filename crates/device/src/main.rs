//! `fieldcast-device`: what the app does, from a terminal or a script.
//!
//! Every command is one client-library call on the device store in `--data-dir`, so co-op staff
//! can script daily work and tests can run a device as a process (and kill it). `--json` prints
//! machine-readable output; `sync --watch` shows progress on a terminal and stays quiet in scripts.
//! `serve-ui` runs the app's front end in a browser over this device (see `serve_ui.rs`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use client::{ApiError, Client, ClientError, SaleInput};
use domain::ids::{ListingId, OrderId, PickupPointId};
use domain::listing::ListingInput;
use domain::order::{Channel, OrderAction, PaymentMethod};
use serde::Serialize;
use sync_engine::Config;

mod serve_ui;

#[derive(Parser)]
#[command(name = "fieldcast-device", version, about = "The Fieldcast app, headless")]
struct Cli {
    /// The device's data directory (its local store).
    #[arg(long, env = "FIELDCAST_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Pair with a marketplace using a one-time code.
    Pair {
        #[arg(long)]
        server: String,
        #[arg(long)]
        code: String,
        #[arg(long, default_value = "fieldcast-device")]
        name: String,
    },
    /// Pairing, pending changes and the last sync.
    Status,
    #[command(subcommand)]
    Produce(Produce),
    /// Ask for or return stock to sell offline.
    #[command(subcommand)]
    Quota(Quota),
    /// Record a phone or walk-up sale (works offline).
    Sell(Sell),
    /// List orders, newest first.
    Orders,
    #[command(subcommand)]
    Order(OrderCommand),
    /// The co-op's pickup points, as last synced.
    PickupPoints,
    /// Changes the marketplace refused, newest first.
    Refusals,
    /// Sync now (until done or --timeout), or keep syncing with --watch.
    Sync {
        #[arg(long)]
        watch: bool,
        /// Seconds to keep trying without --watch.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        #[command(flatten)]
        tuning: Tuning,
    },
    /// Export orders.
    #[command(subcommand)]
    Export(Export),
    /// Serve the app's front end to a browser on loopback, over this device (tests, development).
    ServeUi {
        #[arg(long, default_value = "127.0.0.1:5180")]
        addr: std::net::SocketAddr,
        /// The built front end.
        #[arg(long, default_value = "ui/dist")]
        ui: PathBuf,
        #[command(flatten)]
        tuning: Tuning,
    },
}

/// Sync engine settings; the defaults suit a phone on a rural network.
#[derive(clap::Args)]
struct Tuning {
    /// Outbox entries per push.
    #[arg(long, default_value_t = 200)]
    batch_size: usize,
    /// Give up on a request after this many milliseconds.
    #[arg(long, default_value_t = 30_000)]
    request_timeout_ms: i64,
    /// The longest wait between retries.
    #[arg(long, default_value_t = 60_000)]
    backoff_cap_ms: i64,
    /// Pull at least this often when nothing else happens.
    #[arg(long, default_value_t = 60_000)]
    pull_interval_ms: i64,
}

impl Tuning {
    fn config(&self) -> Config {
        Config {
            batch_size: self.batch_size.clamp(1, domain::sync::MAX_PUSH_ENTRIES),
            request_timeout_ms: self.request_timeout_ms.max(100),
            backoff_cap_ms: self.backoff_cap_ms.max(1),
            pull_interval_ms: self.pull_interval_ms.max(100),
            ..Config::default()
        }
    }
}

#[derive(Subcommand)]
enum Produce {
    List,
    Add(ProduceFields),
    Edit {
        id: ListingId,
        #[command(flatten)]
        fields: ProduceEdit,
    },
    Pause { id: ListingId },
    Resume { id: ListingId },
}

#[derive(clap::Args)]
struct ProduceFields {
    #[arg(long)]
    title: String,
    #[arg(long)]
    unit: String,
    #[arg(long)]
    price: String,
    #[arg(long)]
    stock: String,
    #[arg(long, default_value = "CNY")]
    currency: String,
    #[arg(long, default_value = "")]
    description: String,
    #[arg(long, default_value = "")]
    step: String,
    #[arg(long, default_value = "")]
    minimum: String,
    #[arg(long, default_value = "")]
    maximum: String,
}

#[derive(clap::Args)]
struct ProduceEdit {
    #[arg(long)]
    title: Option<String>,
    #[arg(long)]
    price: Option<String>,
    #[arg(long)]
    stock: Option<String>,
    #[arg(long)]
    description: Option<String>,
}

#[derive(Subcommand)]
enum Quota {
    Request { listing: ListingId, quantity: String },
    Return { listing: ListingId, quantity: String },
}

#[derive(clap::Args)]
struct Sell {
    #[arg(long)]
    listing: ListingId,
    #[arg(long)]
    quantity: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    phone: String,
    #[arg(long, conflicts_with = "address")]
    pickup: Option<PickupPointId>,
    #[arg(long)]
    address: Option<String>,
    #[arg(long, default_value = "cash_at_pickup", value_parser = parse_payment)]
    payment: PaymentMethod,
    #[arg(long, default_value = "in_person", value_parser = parse_channel)]
    channel: Channel,
    #[arg(long, default_value = "")]
    note: String,
}

#[derive(Subcommand)]
enum OrderCommand {
    /// confirm, pack, ship, mark_ready, deliver, cancel or decline.
    Step {
        id: OrderId,
        #[arg(value_parser = parse_action)]
        action: OrderAction,
        #[arg(long)]
        reason: Option<String>,
    },
    Pay { id: OrderId, amount: String },
}

#[derive(Subcommand)]
enum Export {
    Csv {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn parse_enum<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| format!("unknown value {text}"))
}

fn parse_payment(text: &str) -> Result<PaymentMethod, String> {
    parse_enum(text)
}

fn parse_channel(text: &str) -> Result<Channel, String> {
    parse_enum(text)
}

fn parse_action(text: &str) -> Result<OrderAction, String> {
    parse_enum(text)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("FIELDCAST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let json = cli.json;
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            match error.downcast_ref::<ClientError>() {
                Some(client_error) if json => {
                    eprintln!("{}", serde_json::to_string(&ApiError::from(client_error)).unwrap_or_default());
                }
                _ => eprintln!("error: {error:#}"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(value)?);
    } else {
        println!("{}", text(value));
    }
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let data_dir = cli.data_dir.or_else(client::default_data_dir).context("no data directory; pass --data-dir")?;
    let client = Arc::new(Client::open(&data_dir)?);
    let json = cli.json;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    match cli.command {
        Command::Pair { server, code, name } => {
            let account = runtime.block_on(client.pair(&server, &code, &name))?;
            print(json, &account, |a| format!("paired as {} ({:?}) of {}", a.member_name, a.role, a.coop_name))
        }
        Command::Status => {
            let status = client.status()?;
            print(json, &status, |s| match &s.account {
                Some(a) => format!("{} of {} at {}; {} changes waiting", a.member_name, a.coop_name, a.server_url, s.pending_changes),
                None => format!("not paired; {} changes waiting", s.pending_changes),
            })
        }
        Command::Produce(command) => produce(&client, json, command),
        Command::Quota(Quota::Request { listing, quantity }) => {
            client.request_quota(listing, &quantity)?;
            print(json, &serde_json::json!({ "requested": quantity }), |_| "requested; the grant arrives with the next sync".into())
        }
        Command::Quota(Quota::Return { listing, quantity }) => {
            client.return_quota(listing, &quantity)?;
            print(json, &serde_json::json!({ "returned": quantity }), |_| "returned".into())
        }
        Command::Sell(sell) => {
            let preview = client.preview_sale(sell.listing, &sell.quantity)?;
            if preview.shortfall.is_positive() && !json {
                eprintln!(
                    "warning: this device knows of stock for only part of this sale ({} uncovered); it is recorded and the co-op will see it flagged",
                    preview.shortfall.to_decimal_string()
                );
            }
            let input = SaleInput {
                listing_id: sell.listing,
                quantity: sell.quantity,
                buyer_name: sell.name,
                buyer_phone: sell.phone,
                pickup_point_id: sell.pickup,
                address: sell.address,
                payment_method: sell.payment,
                channel: sell.channel,
                note: sell.note,
            };
            let sold = client.sell(&input)?;
            print(json, &sold, |s| format!("order {} recorded: {}", s.order.id, s.order.total))
        }
        Command::Orders => {
            let orders = client.list_orders()?;
            print(json, &orders, |orders| {
                orders
                    .iter()
                    .map(|o| {
                        format!(
                            "{}  {:<16} {:>10}  {}{}",
                            o.order.id,
                            sqlite_code(&o.order.status),
                            o.order.total.to_string(),
                            o.order.buyer.name,
                            if o.pending { "  (pending sync)" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Command::Order(OrderCommand::Step { id, action, reason }) => {
            let order = client.step_order(id, action, reason)?;
            print(json, &order, |o| format!("order {} is {}", o.order.id, sqlite_code(&o.order.status)))
        }
        Command::Order(OrderCommand::Pay { id, amount }) => {
            let order = client.record_payment(id, &amount)?;
            print(json, &order, |o| format!("order {}: paid {}", o.order.id, o.order.paid))
        }
        Command::PickupPoints => {
            let points = client.pickup_points()?;
            print(json, &points, |points| points.iter().map(|p| format!("{}  {}  {}", p.id, p.name, p.address)).collect::<Vec<_>>().join("\n"))
        }
        Command::Refusals => {
            let refusals = client.refusals(100)?;
            print(json, &refusals, |list| list.iter().map(|r| format!("#{} {}: {} ({})", r.seq, r.name, r.code, r.message)).collect::<Vec<_>>().join("\n"))
        }
        Command::Sync { watch, timeout, tuning } => runtime.block_on(sync(client, json, watch, Duration::from_secs(timeout), tuning.config())),
        Command::ServeUi { addr, ui, tuning } => runtime.block_on(async {
            let sync = client::sync::spawn(client.clone(), tuning.config(), seed()?)?;
            serve_ui::serve(client, sync, addr, ui).await
        }),
        Command::Export(Export::Csv { out }) => {
            let csv = client.export_orders_csv()?;
            match out {
                Some(path) => std::fs::write(&path, csv).with_context(|| format!("writing {}", path.display())),
                None => {
                    print!("{csv}");
                    Ok(())
                }
            }
        }
    }
}

fn produce(client: &Client, json: bool, command: Produce) -> anyhow::Result<()> {
    match command {
        Produce::List => {
            let produce = client.list_produce()?;
            print(json, &produce, |items| {
                items
                    .iter()
                    .map(|p| {
                        let d = &p.listing.details;
                        format!(
                            "{}  {:<24} {} / {}  stock {}  quota {}  {}{}",
                            p.listing.id,
                            d.title,
                            d.price,
                            sqlite_code(&d.unit),
                            d.stock.to_decimal_string(),
                            p.quota.to_decimal_string(),
                            sqlite_code(&p.listing.status),
                            if p.pending { "  (pending sync)" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Produce::Add(f) => {
            let input = ListingInput {
                title: f.title,
                description: f.description,
                unit: f.unit,
                currency: f.currency,
                price: f.price,
                stock: f.stock,
                step: f.step,
                minimum: f.minimum,
                maximum: f.maximum,
            };
            let listing = client.add_produce(&input)?;
            print(json, &listing, |l| format!("{}", l.id))
        }
        Produce::Edit { id, fields } => {
            let current = client.list_produce()?.into_iter().find(|p| p.listing.id == id).ok_or(ClientError::NotFound)?.listing;
            let d = &current.details;
            let input = ListingInput {
                title: fields.title.unwrap_or_else(|| d.title.clone()),
                description: fields.description.unwrap_or_else(|| d.description.clone()),
                unit: sqlite_code(&d.unit),
                currency: d.price.currency.code().into(),
                price: fields.price.unwrap_or_else(|| d.price.to_decimal_string()),
                stock: fields.stock.unwrap_or_else(|| d.stock.to_decimal_string()),
                step: d.rules.step.to_decimal_string(),
                minimum: d.rules.minimum.to_decimal_string(),
                maximum: d.rules.maximum.map(|m| m.to_decimal_string()).unwrap_or_default(),
            };
            let listing = client.edit_produce(id, &input)?;
            print(json, &listing, |l| format!("{} saved", l.id))
        }
        Produce::Pause { id } => {
            let listing = client.pause_produce(id)?;
            print(json, &listing, |l| format!("{} paused", l.id))
        }
        Produce::Resume { id } => {
            let listing = client.resume_produce(id)?;
            print(json, &listing, |l| format!("{} on sale", l.id))
        }
    }
}

async fn sync(client: Arc<Client>, json: bool, watch: bool, timeout: Duration, config: Config) -> anyhow::Result<()> {
    if client.account()?.is_none() {
        bail!(ClientError::NotPaired);
    }
    let seed = seed()?;
    if !watch {
        let report = client::sync::run_once(client, config, seed, timeout).await?;
        return print(json, &serde_json::json!({
            "pushed": report.pushed,
            "refused": report.refused.len(),
            "pulled_pages": report.pulled_pages,
            "pending": report.pending,
            "last_synced_at": report.last_synced_at,
        }), |_| format!("synced: {} changes sent, {} refused, {} waiting", report.pushed, report.refused.len(), report.pending));
    }
    let handle = client::sync::spawn(client, config, seed)?;
    let mut progress = handle.progress();
    let mut refusals = handle.refusals();
    let terminal = std::io::stdout().is_terminal();
    loop {
        tokio::select! {
            changed = progress.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let p = progress.borrow().clone();
                if json {
                    println!("{}", serde_json::to_string(&p)?);
                } else if terminal {
                    println!("{:?}: {} of {} changes sent, {} waiting", p.phase, p.sent, p.round_total, p.pending);
                }
            }
            Ok(refusal) = refusals.recv() => {
                if json {
                    println!("{}", serde_json::to_string(&refusal)?);
                } else if terminal {
                    println!("refused #{} {}: {}", refusal.seq, refusal.name, refusal.code);
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// The seed of the sync engine's backoff jitter.
fn seed() -> anyhow::Result<u64> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for the backoff jitter: {e}"))?;
    Ok(u64::from_le_bytes(bytes))
}

fn sqlite_code<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => format!("{other:?}"),
    }
}
