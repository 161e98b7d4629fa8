//! The docs routes. Their views exist on the server only (see the module's comment); should the
//! app's router reach one in the browser, the page is loaded from the server instead.

use leptos::prelude::*;

/// In the browser: load the page the router just moved to from the server, which renders it.
#[cfg(not(feature = "ssr"))]
fn from_server() -> AnyView {
    let _ = window().location().reload();
    ().into_any()
}

macro_rules! server_page {
    ($(#[$doc:meta])* $name:ident => $render:path) => {
        $(#[$doc])*
        #[component]
        pub fn $name() -> impl IntoView {
            #[cfg(feature = "ssr")]
            return $render();
            #[cfg(not(feature = "ssr"))]
            return from_server();
        }
    };
}

server_page!(
    /// `/docs`: every product the visitor may read, with version, summary and guides.
    DocsIndexPage => super::render::index_page
);
server_page!(
    /// `/docs/<product>`: the reference (or its overview when split by tag), or search results.
    DocsProductPage => super::render::product_page
);
server_page!(
    /// `/docs/<product>/tags/<tag>`: one tag's operations, for large references.
    DocsTagPage => super::render::tag_page
);
server_page!(
    /// `/docs/<product>/models`: every named schema.
    DocsModelsPage => super::render::models_page
);
server_page!(
    /// `/docs/<product>/<guide>`: a Markdown guide.
    DocsGuidePage => super::render::guide_page
);
