//! The real binary: `serve` prints its address, serves, and exits cleanly on SIGTERM; `serve --demo`
//! seeds once and keeps its data across restarts; `admin` creates a co-op whose code pairs a device.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_fieldcast-market");

/// Starts `serve` with `extra` flags; returns the child and its base URL once the output names it
/// (and, with `--demo`, once demo.json is written).
async fn serve(data_dir: &Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut base = None;
    let demo = extra.contains(&"--demo");
    while let Some(line) = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.expect("the server answers").unwrap() {
        if let Some(url) = line.strip_prefix("listening on ") {
            base = Some(url.to_owned());
            if !demo {
                break;
            }
        }
        if line.starts_with("pair the app") {
            break;
        }
    }
    // Keep reading, so the server never writes into a closed pipe during the test.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base.expect("the first line names the address"))
}

async fn stop(mut child: Child) {
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("the server stops within 10 s of SIGTERM").unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
}

#[tokio::test]
async fn serves_until_sigterm_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("nested/data");
    let (child, base) = serve(&data_dir, &[]).await;
    assert!(data_dir.join("market.db").is_file(), "the data dir and database are created");
    let health: serde_json::Value = common::http_client().get(format!("{base}/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    stop(child).await;
}

#[tokio::test]
async fn the_demo_is_seeded_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = serve(dir.path(), &["--demo"]).await;
    let demo: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("demo.json")).unwrap()).unwrap();
    let titles: Vec<&str> = demo["listings"].as_array().unwrap().iter().map(|l| l["title"].as_str().unwrap()).collect();
    assert_eq!(titles.len(), 3);
    for product in ["corn", "eggs", "Peaches"] {
        assert!(titles.iter().any(|t| t.contains(product)), "{product} in {titles:?}");
    }
    let token = demo["farmer"]["token"].as_str().unwrap();
    let http = common::http_client();
    let me: serde_json::Value = http.get(format!("{base}/api/v1/me")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["member"]["role"], "farmer");
    let page = http.get(demo["listings"][0]["order_link"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    stop(child).await;

    let (child, _) = serve(dir.path(), &["--demo"]).await;
    let again: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("demo.json")).unwrap()).unwrap();
    assert_eq!(again["coop"]["id"], demo["coop"]["id"], "a restart keeps the demo co-op");
    assert_eq!(again["listings"].as_array().unwrap().len(), 3, "and does not seed a second time");
    assert_ne!(again["farmer"]["pairing_code"], demo["farmer"]["pairing_code"], "with fresh one-time codes");
    stop(child).await;
}

#[tokio::test]
async fn an_admin_creates_a_co_op_whose_code_pairs_a_device() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["admin", "--data-dir"])
        .arg(dir.path())
        .args(["--json", "create-coop", "--name", "Hill Co-op", "--currency", "EUR", "--admin-name", "Giulia"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let created: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(created["role"], "admin");
    let code = created["pairing_code"].as_str().unwrap().to_owned();

    let refused = Command::new(BIN).args(["admin", "--data-dir"]).arg(dir.path()).args(["create-coop", "--name", "X", "--currency", "XBT", "--admin-name", "Y"]).output().await.unwrap();
    assert!(!refused.status.success(), "an unknown currency is refused");

    let (child, base) = serve(dir.path(), &[]).await;
    let http = common::http_client();
    let paired: serde_json::Value = http
        .post(format!("{base}/api/v1/pair"))
        .json(&serde_json::json!({ "code": code, "device_name": "office laptop" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(paired["coop"]["name"], "Hill Co-op");
    assert_eq!(paired["coop"]["currency"], "EUR");
    assert_eq!(paired["member"]["name"], "Giulia");
    stop(child).await;
}

#[tokio::test]
async fn a_closed_stdout_does_not_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).await.unwrap();
    // Stop reading at once: the demo summary that follows goes into a closed pipe.
    drop(stdout);
    let base = first.trim().strip_prefix("listening on ").unwrap().to_owned();
    // The listener exists from the first line on; the request waits in its backlog until the
    // server has written the demo and starts serving.
    let health = common::http_client().get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(dir.path().join("demo.json").is_file());
    assert!(child.try_wait().unwrap().is_none(), "the server is still running");
    stop(child).await;
}
