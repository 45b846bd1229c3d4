//! The desktop entry point; phones enter through the library's `run` directly.

// No console window beside the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    #[cfg(target_os = "linux")]
    paint_on_the_cpu();
    fieldcast_app::run();
}

/// Asks WebKitGTK to paint pages with Skia on the CPU instead of through OpenGL.
///
/// The app's screens are forms, lists and small charts: painting them on the CPU is quick, and it
/// spares the web process the GPU painting's buffers and GL state. On a machine without a GPU
/// driver (Mesa's software GL, as on co-op laptops with only basic graphics) that is about 37 MB
/// less resident memory for the same screen (`cargo xtask bench`, BENCHMARKS.md). Composition still
/// goes through GL, as WebKitGTK requires for a screen that updates. Whoever prefers GPU painting
/// sets `WEBKIT_SKIA_ENABLE_CPU_RENDERING=0` before starting the app; a value already set is kept.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn paint_on_the_cpu() {
    const VARIABLE: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";
    if std::env::var_os(VARIABLE).is_none() {
        // SAFETY: this is the first thing `main` does, before any thread exists, so nothing can
        // read the environment while it changes. WebKit's processes inherit it when they start.
        unsafe { std::env::set_var(VARIABLE, "1") };
    }
}
