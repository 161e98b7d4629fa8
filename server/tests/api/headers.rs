use reqwest::StatusCode;

use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp, browser, unique_email};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_3_4_every_page_sends_the_security_headers_and_a_nonce_csp() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await.unwrap();
    for path in ["/", "/signup", "/signin", "/terms", "/privacy", "/no-such-page"] {
        let res = app.get(path).await;
        let h = res.headers().clone();
        let html = res.text().await.unwrap();
        let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
        assert_eq!(header("cache-control"), "no-store", "{path}");
        assert_eq!(header("cross-origin-opener-policy"), "same-origin", "{path}");
        let csp = header("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        let nonce = csp.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).unwrap_or_else(|| panic!("{path}: no nonce in {csp}"));
        assert!(nonce.len() >= 16);
        // Every inline script carries this response's nonce.
        for script in html.split("<script").skip(1) {
            let tag = script.split('>').next().unwrap();
            if !tag.contains("src=") {
                assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "{path}: inline script without the nonce: <script{tag}>");
            }
        }
    }
    // Each response has a fresh nonce.
    let a = app.get("/").await.headers()["content-security-policy"].clone();
    let b = app.get("/").await.headers()["content-security-policy"].clone();
    assert_ne!(a, b);
    assert!(app.get("/").await.headers().get("strict-transport-security").is_none(), "no HSTS over plain http");
}

on_both_backends! {
    async fn asvs_3_5_a_cross_origin_post_is_refused_and_changes_nothing(app: TestApp) {
        let email = unique_email("csrf");
        let form = [("email", email.as_str()), ("display_name", "Eve"), ("password", PASSWORD), ("accept_terms", "on")];
        let plain = reqwest::Client::new();
        let no_origin = plain.post(app.url("/rpc/sign_up")).form(&form).send().await.unwrap();
        assert_eq!(no_origin.status(), StatusCode::FORBIDDEN);
        let evil = plain.post(app.url("/rpc/sign_up")).header("origin", "https://evil.example").form(&form).send().await.unwrap();
        assert_eq!(evil.status(), StatusCode::FORBIDDEN);
        let cross_site = plain.post(app.url("/rpc/sign_up")).header("sec-fetch-site", "cross-site").form(&form).send().await.unwrap();
        assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.count_all("account").await, 0);
        assert!(app.all_event_text().await.contains(app::events::kind::CSRF_REFUSED));

        // A signed-in user's session cannot be used by another site to sign them out.
        app.sign_up(&email).await;
        app.sign_in(&email, PASSWORD).await;
        let res = app.client.post(app.url("/rpc/sign_out")).header("origin", "https://evil.example").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.viewer(&app.client).await["display_name"], "Ada Lovelace");
        // The same request from our own pages (Fetch Metadata, no Origin) works.
        let ours = browser(&app.base, app.addr);
        assert_eq!(ours.get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legal_documents_render_with_their_version_and_the_site_details() {
    let app = TestApp::spawn_with(crate::support::Backend::Sqlite, |c| {
        c.site_name = "Acme API".into();
        c.contact_email = "privacy@acme.example".into();
    })
    .await
    .unwrap();
    let privacy = app.get("/privacy").await.text().await.unwrap();
    assert!(privacy.contains("Privacy Policy"));
    assert!(privacy.contains(app::consent::PRIVACY.version));
    assert!(privacy.contains("privacy@acme.example"), "contact address filled in");
    assert!(privacy.contains("Acme API"));
    assert!(!privacy.contains("{{"), "no placeholder left");
    let terms = app.get("/terms").await.text().await.unwrap();
    assert!(terms.contains("Terms of Use") && terms.contains(app::consent::TERMS.version));
    let missing = app.get("/definitely-not-here").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("Page not found"));
}
