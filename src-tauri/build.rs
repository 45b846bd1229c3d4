//! Tauri's build step: reads tauri.conf.json, embeds icons and the capability files.
fn main() {
    tauri_build::build();
}
