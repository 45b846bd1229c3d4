//! The listing photo pipeline against `vipsthumbnail` (libvips), the fastest common tool, in one
//! run on the same 12-megapixel JPEG at the same JPEG quality: time for the 1280 px photo plus the
//! 320 px thumbnail, and the bytes of each.
//!
//! The input is made by ImageMagick with a fixed seed: a fractal plasma (smooth regions and edges
//! at every scale, like a field under the sky) with sensor-like Gaussian noise, saved as a phone
//! saves it (4:2:0, quality 92), so it compresses like a real photo (about 4 MB), not like a flat
//! test card. vipsthumbnail runs as the command a person would type, twice (one size each), so its
//! time includes starting the process; ours is the library call the app makes.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct PhotoBench {
    pub input: String,
    pub input_bytes: u64,
    pub runs: usize,
    pub ours: Tool,
    pub vipsthumbnail: Tool,
    /// Our median time over vipsthumbnail's: the target is at most 1.5.
    pub time_ratio: f64,
    /// vipsthumbnail's own start-up, twice (the same two commands on a 16×16 JPEG), to read the
    /// ratio without process start-up: our time over (its time − this).
    pub vips_startup_ms: f64,
    pub time_ratio_without_startup: f64,
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub median_ms: f64,
    pub min_ms: f64,
    pub full_bytes: usize,
    pub thumb_bytes: usize,
    pub full_size: String,
}

pub fn measure(runs: usize) -> anyhow::Result<PhotoBench> {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("field-12mp.jpg");
    let status = Command::new("convert")
        .args(["-seed", "7", "-size", "4032x3024", "plasma:fractal", "-attenuate", "0.4", "+noise", "Gaussian"])
        .args(["-sampling-factor", "2x2", "-quality", "92"])
        .arg(&input)
        .status()
        .context("running ImageMagick's convert (Debian package imagemagick)")?;
    anyhow::ensure!(status.success(), "convert failed");
    let bytes = std::fs::read(&input)?;

    let mut ours = Vec::new();
    let mut processed = None;
    for _ in 0..runs {
        let started = Instant::now();
        let photo = photo::process(&bytes)?;
        ours.push(started.elapsed());
        processed = Some(photo);
    }
    let photo = processed.context("at least one run")?;

    let mut vips = Vec::new();
    let (full, thumb) = (dir.path().join("full.jpg"), dir.path().join("thumb.jpg"));
    let quality = photo::QUALITY;
    for _ in 0..runs {
        let started = Instant::now();
        for (edge, out) in [(photo::FULL_EDGE, &full), (photo::THUMB_EDGE, &thumb)] {
            let status = Command::new("vipsthumbnail")
                .arg(&input)
                .args(["--size", &format!("{edge}x{edge}"), "-o", &format!("{}[Q={quality},strip]", out.display())])
                .status()
                .context("running vipsthumbnail (Debian package libvips-tools)")?;
            anyhow::ensure!(status.success(), "vipsthumbnail failed");
        }
        vips.push(started.elapsed());
    }
    let tiny = dir.path().join("tiny.jpg");
    anyhow::ensure!(Command::new("convert").args(["-size", "16x16", "xc:green"]).arg(&tiny).status()?.success(), "convert failed");
    let mut startup = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        for _ in [photo::FULL_EDGE, photo::THUMB_EDGE] {
            let status = Command::new("vipsthumbnail").arg(&tiny).args(["--size", "8x8", "-o"]).arg(dir.path().join("tiny-out.jpg")).status()?;
            anyhow::ensure!(status.success(), "vipsthumbnail failed");
        }
        startup.push(started.elapsed());
    }
    let vips_full = std::fs::read(&full)?;
    let vips_size = vips_dimensions(&full)?;
    let ours = Tool {
        median_ms: median(&ours),
        min_ms: min(&ours),
        full_bytes: photo.full.len(),
        thumb_bytes: photo.thumb.len(),
        full_size: format!("{}x{}", photo.width, photo.height),
    };
    let vipsthumbnail = Tool {
        median_ms: median(&vips),
        min_ms: min(&vips),
        full_bytes: vips_full.len(),
        thumb_bytes: std::fs::metadata(&thumb)?.len() as usize,
        full_size: vips_size,
    };
    let vips_startup_ms = median(&startup);
    Ok(PhotoBench {
        time_ratio_without_startup: ours.median_ms / (vipsthumbnail.median_ms - vips_startup_ms),
        vips_startup_ms,
        input: "4032x3024 JPEG, quality 92, 4:2:0 (ImageMagick plasma:fractal + Gaussian noise, seed 7)".into(),
        input_bytes: bytes.len() as u64,
        runs,
        time_ratio: ours.median_ms / vipsthumbnail.median_ms,
        ours,
        vipsthumbnail,
    })
}

fn vips_dimensions(path: &Path) -> anyhow::Result<String> {
    let output = Command::new("vipsheader").arg(path).output().context("vipsheader")?;
    let text = String::from_utf8_lossy(&output.stdout);
    // "full.jpg: 1280x960 uchar, 3 bands, srgb, jpegload"
    Ok(text.split_whitespace().nth(1).unwrap_or("?").to_owned())
}

fn median(times: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

fn min(times: &[Duration]) -> f64 {
    times.iter().map(|t| t.as_secs_f64() * 1e3).fold(f64::INFINITY, f64::min)
}
