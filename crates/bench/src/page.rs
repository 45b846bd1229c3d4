//! An order link page: how long it takes to answer, and how many bytes it and everything it loads
//! (the photo excepted) cost over the wire, compressed as a browser would ask for them.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::server::Server;
use crate::stats::{Latency, latency};

#[derive(Debug, Serialize)]
pub struct PageResult {
    pub url: String,
    pub response_time: Latency,
    /// Each resource: its path, encoding and compressed body bytes.
    pub resources: Vec<Resource>,
    pub total_body_bytes: usize,
    pub total_header_bytes: usize,
    pub total_bytes: usize,
}

#[derive(Debug, Serialize)]
pub struct Resource {
    pub path: String,
    pub encoding: String,
    pub body_bytes: usize,
    pub header_bytes: usize,
}

/// What a phone browser sends; the client does not decompress, so body lengths are wire bytes.
const ACCEPT_ENCODING: &str = "br, gzip";

async fn fetch(http: &reqwest::Client, url: &str) -> anyhow::Result<(Resource, String)> {
    let response = http.get(url).header("accept-encoding", ACCEPT_ENCODING).header("accept-language", "zh-CN").send().await?.error_for_status()?;
    let header_bytes = response.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum::<usize>() + 17;
    let encoding = response.headers().get("content-encoding").and_then(|v| v.to_str().ok()).unwrap_or("identity").to_owned();
    let path = response.url().path().to_owned();
    let body = response.bytes().await?;
    let text = if encoding == "identity" { String::from_utf8_lossy(&body).into_owned() } else { String::new() };
    Ok((Resource { path, encoding, body_bytes: body.len(), header_bytes }, text))
}

/// The same-origin resources a page references (stylesheets, scripts, icons, images), photos left out.
fn referenced(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["href=\"", "src=\""] {
        for piece in html.split(attribute).skip(1) {
            let value = piece.split('"').next().unwrap_or("");
            let wanted = value.starts_with("/static/") || value.starts_with("/favicon") || (value.starts_with("/l/") && value.ends_with(".svg"));
            if wanted && !found.contains(&value.to_owned()) {
                found.push(value.to_owned());
            }
        }
    }
    found
}

pub async fn measure(binary: &Path) -> anyhow::Result<PageResult> {
    let server = Server::start(binary)?;
    let url = server.demo["listings"][0]["order_link"].as_str().unwrap_or_default().to_owned();
    let http = reqwest::Client::new();
    let mut samples = Vec::new();
    for _ in 0..300 {
        let started = Instant::now();
        fetch(&http, &url).await?;
        samples.push(started.elapsed());
    }
    // The HTML uncompressed, to find what it loads; then everything as a browser fetches it.
    let plain = http.get(&url).header("accept-language", "zh-CN").send().await?.text().await?;
    let (page, _) = fetch(&http, &url).await?;
    let mut resources = vec![page];
    for path in referenced(&plain) {
        resources.push(fetch(&http, &format!("{}{path}", server.base)).await?.0);
    }
    let total_body_bytes = resources.iter().map(|r| r.body_bytes).sum();
    let total_header_bytes = resources.iter().map(|r| r.header_bytes).sum();
    Ok(PageResult {
        url,
        response_time: latency(samples),
        total_bytes: total_body_bytes + total_header_bytes,
        resources,
        total_body_bytes,
        total_header_bytes,
    })
}
