use reqwest::header::{ACCEPT, COOKIE, HeaderMap, ORIGIN, SET_COOKIE};
use reqwest::{Client, StatusCode};

use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp, browser, token_from, unique_email, wait_for_mail};

/// The ASVS V3 headers of one answer (`what` names it in failures). A page (HTML) also has a
/// nonce-based CSP that every inline script carries; any other answer may load nothing at all.
fn assert_security_headers(what: &str, headers: &HeaderMap, body: &str, https: bool) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("referrer-policy"), "same-origin", "{what}");
    assert_eq!(header("cache-control"), "no-store", "{what}");
    assert_eq!(header("cross-origin-opener-policy"), "same-origin", "{what}");
    assert_eq!(header("strict-transport-security").contains("max-age=63072000"), https, "{what}: HSTS exactly when served over HTTPS");
    let csp = header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{what}: {csp}");
    if !header("content-type").starts_with("text/html") {
        assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
        return;
    }
    assert!(csp.contains("object-src 'none'"), "{what}: {csp}");
    let nonce = csp.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).unwrap_or_else(|| panic!("{what}: no nonce in {csp}"));
    assert!(nonce.len() >= 16, "{what}");
    for script in body.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap();
        if !tag.contains("src=") {
            assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "{what}: inline script without the nonce: <script{tag}>");
        }
    }
}

/// Every cookie an answer sets is out of reach of scripts and other sites (ASVS 3.3.1-3.3.4):
/// HttpOnly, SameSite=Lax, the whole site's path, no Domain, and on HTTPS Secure with the
/// `__Host-` prefix. Returns how many cookies it checked.
fn assert_cookie_flags(what: &str, headers: &HeaderMap, https: bool) -> usize {
    let cookies: Vec<&str> = headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
    for cookie in &cookies {
        let attributes: Vec<String> = cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect();
        let has = |a: &str| attributes.iter().any(|x| x == a);
        assert!(has("httponly") && has("samesite=lax") && has("path=/"), "{what}: {cookie}");
        assert!(!attributes.iter().any(|a| a.starts_with("domain=")), "{what}: {cookie}");
        assert_eq!(has("secure"), https, "{what}: Secure exactly on HTTPS: {cookie}");
        assert_eq!(cookie.starts_with("__Host-"), https, "{what}: {cookie}");
    }
    cookies.len()
}

/// The route patterns of the app (app/src/lib.rs), so a page added there is checked here too.
pub(crate) fn app_routes() -> Vec<String> {
    let source = include_str!("../../../app/src/lib.rs");
    let routes: Vec<String> =
        source.split("<Route path=path!(\"").skip(1).map(|rest| format!("/{}", rest.split('"').next().unwrap())).collect();
    assert!(routes.len() > 20, "routes found in app/src/lib.rs: {routes:?}");
    routes
}

#[test]
fn asvs_3_4_every_public_page_sends_the_security_headers_and_a_fresh_nonce() {
    crate::support::run(async {
        let app = TestApp::spawn(crate::support::Backend::Sqlite).await.unwrap();
        for path in ["/", "/signup", "/signin", "/terms", "/privacy", "/no-such-page"] {
            let res = app.get(path).await;
            let headers = res.headers().clone();
            assert_security_headers(path, &headers, &res.text().await.unwrap(), false);
        }
        let a = app.get("/").await.headers()["content-security-policy"].clone();
        let b = app.get("/").await.headers()["content-security-policy"].clone();
        assert_ne!(a, b, "each response has its own nonce");
    });
}

/// A person behind one HTTPS portal: no cookie store (the test talks plain HTTP to the server,
/// so it carries the cookie itself), the portal's Origin on server-function calls.
struct Person {
    client: Client,
    cookie: Option<String>,
}

impl Person {
    async fn rpc(&mut self, app: &TestApp, endpoint: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.client.post(app.url(&format!("/rpc/{endpoint}"))).header(ORIGIN, HTTPS_PORTAL).form(form);
        if let Some(cookie) = &self.cookie {
            req = req.header(COOKIE, cookie);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{endpoint}");
        self.keep_cookie(res.headers());
        res
    }

    fn keep_cookie(&mut self, headers: &HeaderMap) {
        if let Some(set) = headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find(|c| c.starts_with("__Host-")) {
            self.cookie = Some(set.split(';').next().unwrap().to_string());
        }
    }

    /// Signs up, confirms the address from the mail and signs in.
    async fn signed_in(app: &TestApp, email: &str) -> Person {
        let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut person = Person { client, cookie: None };
        let form = [("email", email), ("display_name", "Ada Lovelace"), ("password", PASSWORD), ("accept_terms", "on")];
        person.rpc(app, "sign_up", &form).await;
        let token = token_from(&wait_for_mail(email, "Confirm your email").await);
        person.rpc(app, "confirm_email", &[("token", &token)]).await;
        person.rpc(app, "sign_in", &[("email", email), ("password", PASSWORD)]).await;
        assert!(person.cookie.is_some(), "signed in with a __Host- cookie");
        person
    }
}

const HTTPS_PORTAL: &str = "https://portal.example.test";

#[test]
fn asvs_3_every_page_for_visitors_developers_and_admins_sends_the_headers_and_flagged_cookies() {
    crate::support::run(async {
        let app = TestApp::spawn_with(crate::support::Backend::Sqlite, |c| c.public_url = HTTPS_PORTAL.into()).await.unwrap();
        let developer_email = unique_email("headers-dev");
        let mut developer = Person::signed_in(&app, &developer_email).await;
        let issued: serde_json::Value = developer
            .rpc(&app, "create_key", &[("label", "Headers"), ("key_type", "live"), ("expires_in", "never")])
            .await
            .json()
            .await
            .unwrap();
        let key_id = issued["info"]["id"].as_str().unwrap().to_string();
        let admin_email = unique_email("headers-admin");
        let mut admin = Person::signed_in(&app, &admin_email).await;
        assert!(app::accounts::store::set_role(&app.db, &admin_email, "admin", app::db::now()).await.unwrap());
        let account_id = app.account_id(&developer_email).await.to_string();
        let no_such_message = uuid::Uuid::now_v7().to_string();

        let mut visitor = Person { client: developer.client.clone(), cookie: None };
        let mut cookies_checked = 0;
        for route in app_routes() {
            let path = match route.as_str() {
                "/keys/:id" => format!("/keys/{key_id}"),
                "/admin/accounts/:id" => format!("/admin/accounts/{account_id}"),
                "/admin/messages/:id" => format!("/admin/messages/{no_such_message}"),
                other => other.to_string(),
            };
            for (who, person) in [("a visitor", &mut visitor), ("a developer", &mut developer), ("an admin", &mut admin)] {
                let mut req = person.client.get(app.url(&path)).header(ACCEPT, "text/html");
                if let Some(cookie) = &person.cookie {
                    req = req.header(COOKIE, cookie);
                }
                let res = req.send().await.unwrap();
                let (status, headers) = (res.status(), res.headers().clone());
                let what = format!("{path} for {who} ({status})");
                assert!(!status.is_server_error(), "{what}");
                assert_security_headers(&what, &headers, &res.text().await.unwrap(), true);
                cookies_checked += assert_cookie_flags(&what, &headers, true);
                person.keep_cookie(&headers);
                // The check is worth something only if each person saw what is theirs to see.
                let expected = match (who, path.as_str()) {
                    ("a developer" | "an admin", "/dashboard" | "/keys" | "/account" | "/security") => Some(StatusCode::OK),
                    ("an admin", p) if p.starts_with("/admin") && !p.starts_with("/admin/messages/") => Some(StatusCode::OK),
                    ("a visitor", "/dashboard" | "/admin") => Some(StatusCode::FOUND),
                    _ => None,
                };
                if let Some(expected) = expected {
                    assert!(
                        status == expected || (expected == StatusCode::FOUND && status.is_redirection()),
                        "{what}: expected {expected}"
                    );
                }
            }
        }
        assert!(cookies_checked > 0, "the signed-in pages renew the session cookie, and each was checked");
    });
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

#[test]
fn the_legal_documents_render_with_their_version_and_the_site_details() {
    crate::support::run(async {
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
    });
}
