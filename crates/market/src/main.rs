//! `fieldcast-market`: the marketplace server binary.
//!
//! `fieldcast-market serve --addr 127.0.0.1:8080 --data-dir ./data` serves until SIGTERM or Ctrl-C,
//! then stops accepting, finishes requests in flight and exits 0. The first stdout line is
//! `listening on http://ADDR`, so scripts and tests that pass port 0 learn the real port.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
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
    Serve {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, env = "FIELDCAST_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Directory for the server's database and files; created if missing.
        #[arg(long, env = "FIELDCAST_DATA_DIR", default_value = "data/market")]
        data_dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { addr, data_dir } => serve(addr, data_dir).await,
    }
}

async fn serve(addr: SocketAddr, data_dir: PathBuf) -> anyhow::Result<()> {
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    println!("listening on http://{local}");
    println!("health:  http://{local}/healthz");
    println!("openapi: http://{local}/api/v1/openapi.json");
    tracing::info!(%local, data_dir = %data_dir.display(), "serving");
    let app = market::app(market::AppState::new(data_dir));
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on the first SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
