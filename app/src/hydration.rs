//! Starts the WebAssembly app once the browser is idle after painting the page.
//!
//! Leptos's `HydrationScripts` preloads the bundle from `<head>`. On a phone-like connection
//! Lighthouse then counts that download towards the largest paint whenever it ends before the
//! first paint (measured: mobile performance 81 to 85 on sign-in and dashboard, LCP 4.3 to
//! 4.5 s). Every page works without JavaScript (the HTML arrives complete), so nothing is lost
//! by loading the bundle after the paint: then 96 to 99, LCP 0.9 to 1.2 s (README, Proof).

use leptos::prelude::*;

/// How long an always-busy page waits before it hydrates anyway.
const IDLE_TIMEOUT_MS: u32 = 2000;

#[component]
pub fn DeferredHydration(options: LeptosOptions) -> impl IntoView {
    // Read once: a process serves one site folder.
    static NAMES: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (js, wasm) = NAMES.get_or_init(|| bundle_file_names(&options));
    let nonce = leptos::nonce::use_nonce();
    view! { <script type="module" nonce=nonce>{hydration_script(&options.site_pkg_dir, js, wasm)}</script> }
}

fn hydration_script(pkg_dir: &str, js: &str, wasm: &str) -> String {
    let pkg = format!("/{pkg_dir}");
    format!(
        "const start = () => import(\"{pkg}/{js}.js\").then((app) => \
         app.default({{ module_or_path: \"{pkg}/{wasm}.wasm\" }}).then(() => app.hydrate()));\n\
         if (\"requestIdleCallback\" in window) requestIdleCallback(start, {{ timeout: {IDLE_TIMEOUT_MS} }}); else setTimeout(start, 0);"
    )
}

/// The JavaScript and WebAssembly names without extension, as `HydrationScripts` finds them:
/// with the content hashes from the hash file when the build wrote one (`hash-files`).
fn bundle_file_names(options: &LeptosOptions) -> (String, String) {
    let name = options.output_name.to_string();
    let hashes = options
        .hash_files
        .then(|| {
            let exe_dir = std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.to_path_buf())).unwrap_or_default();
            std::fs::read_to_string(exe_dir.join(options.hash_file.as_ref())).ok()
        })
        .flatten();
    match hashes {
        Some(text) => {
            let hash = |kind: &str| {
                text.lines()
                    .find_map(|line| line.trim().split_once(':').filter(|(file, _)| *file == kind).map(|(_, h)| h.trim().to_string()))
            };
            let named = |hash: Option<String>| hash.map(|h| format!("{name}.{h}")).unwrap_or_else(|| name.clone());
            (named(hash("js")), named(hash("wasm")))
        }
        // cargo-leptos names the files after the package; a plain cargo build keeps wasm-bindgen's `_bg`.
        None if option_env!("LEPTOS_OUTPUT_NAME").is_some() => (name.clone(), name),
        None => (name.clone(), format!("{name}_bg")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_loads_the_hashed_bundle_when_idle_and_preloads_nothing() {
        let dir = std::env::temp_dir().join(format!("mast-hydration-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hash_file = dir.join("hash.txt");
        std::fs::write(&hash_file, "js: AbC123\nwasm: dEf456\ncss: x\n").unwrap();
        let options = LeptosOptions::builder()
            .output_name("mast")
            .site_pkg_dir("pkg")
            .hash_files(true)
            .hash_file(std::sync::Arc::from(hash_file.to_string_lossy().as_ref()))
            .build();
        let (js, wasm) = bundle_file_names(&options);
        let script = hydration_script(&options.site_pkg_dir, &js, &wasm);
        assert!(script.contains("import(\"/pkg/mast.AbC123.js\")"), "{script}");
        assert!(script.contains("module_or_path: \"/pkg/mast.dEf456.wasm\""), "{script}");
        assert!(script.contains("requestIdleCallback(start, { timeout: 2000 })"), "{script}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
