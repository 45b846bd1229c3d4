//! The relay against a second WebRTC implementation: aiortc (Python) publishes over WHIP and
//! plays over WHEP through the real server, so nothing on the client side is Fieldcast's code or
//! the webrtc-rs stack the relay is built on.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use tests::{Guard, MarketServer, aiortc_python, install_crypto, tests_dir};

/// Reads the next JSON line a peer prints, giving up after `timeout`.
fn next_line(reader: &mut (impl BufRead + Send), timeout: Duration) -> anyhow::Result<Value> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let mut line = String::new();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let read = reader.read_line(&mut line);
            let _ = sender.send(read);
        });
        match receiver.recv_timeout(timeout) {
            Ok(Ok(n)) if n > 0 => Ok(()),
            Ok(Ok(_)) => anyhow::bail!("the peer closed its output"),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => anyhow::bail!("no line from the peer within {timeout:?}"),
        }
    })?;
    serde_json::from_str(&line).with_context(|| format!("not JSON: {line}"))
}

#[test]
fn aiortc_publishes_over_whip_and_plays_over_whep_through_the_relay() -> anyhow::Result<()> {
    install_crypto();
    let python = aiortc_python()?;
    let server = MarketServer::start_demo()?;
    let token = server.demo["farmer"]["token"].as_str().context("farmer token")?.to_owned();
    let listing = server.demo["listings"][0]["id"].clone();
    let runtime = tokio::runtime::Runtime::new()?;
    let stream: Value = runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/streams", server.base))
            .bearer_auth(&token)
            .json(&json!({ "title": "aiortc", "listing_ids": [listing] }))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 201, "creating the stream: {}", response.status());
        Ok(response.json().await?)
    })?;
    let script = tests_dir().join("peers/aiortc_peer.py");
    let whip = stream["whip_url"].as_str().context("whip_url")?;
    let whep = stream["whep_url"].as_str().context("whep_url")?;
    let publish_token = stream["publish_token"].as_str().context("publish_token")?;

    let mut publisher = Command::new(&python);
    publisher.arg(&script).args(["publish", whip, publish_token]).stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = publisher.spawn().context("starting the aiortc publisher")?;
    let mut stdin = child.stdin.take().context("publisher stdin")?;
    let mut stdout = BufReader::new(child.stdout.take().context("publisher stdout")?);
    let _guard = Guard::adopt("aiortc publisher", child);
    let published = next_line(&mut stdout, Duration::from_secs(30))?;
    assert_eq!(published["status"], 201, "{published}");
    assert_eq!(published["state"], "connected", "{published}");

    let played = Command::new(&python).arg(&script).args(["play", whep, "60"]).output().context("running the aiortc player")?;
    let result: Value = serde_json::from_slice(&played.stdout).with_context(|| String::from_utf8_lossy(&played.stderr).into_owned())?;
    assert!(played.status.success(), "{result} {}", String::from_utf8_lossy(&played.stderr));
    assert_eq!(result["codec"], "H264/90000", "H.264 end to end: {result}");
    assert_eq!(result["frames"], 60, "{result}");
    assert_eq!((result["width"].as_u64(), result["height"].as_u64()), (Some(320), Some(240)), "{result}");

    // Closing the publisher's stdin makes it DELETE its session, as a WHIP client should.
    stdin.write_all(b"")?;
    drop(stdin);
    let deleted = next_line(&mut stdout, Duration::from_secs(15))?;
    assert_eq!(deleted["deleted"], 200, "{deleted}");
    Ok(())
}
