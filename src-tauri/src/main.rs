//! The desktop entry point; phones enter through the library's `run` directly.

// No console window beside the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    fieldcast_app::run();
}
