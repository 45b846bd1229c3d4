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
/// The app's screens are forms, lists and small charts, which need no GPU to paint, and painting
/// on the CPU spares the web process the GPU painting's buffers and GL state. Where GL is Mesa's
/// software renderer (no GPU driver, as under Xvfb in the tests and the bench) that is about 37 MB
/// less resident memory for the same screen (BENCHMARKS.md, the app). Composition still goes
/// through GL: without it WebKitGTK stopped repainting the window here. Whoever prefers GPU
/// painting sets `WEBKIT_SKIA_ENABLE_CPU_RENDERING=0` before starting the app; a value already set
/// is kept.
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
