//! `/docs/<product>/openapi.json` and `.yaml`: each product's OpenAPI document for SDK
//! generators, as the operator wrote it (the other format converted from it). Behind the same
//! session as the pages: a developers-only product's document needs a signed-in reader.

use app::config::DocsAccess;
use app::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use tower_sessions::Session;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/docs/{product}/openapi.json", axum::routing::get(json))
        .route("/docs/{product}/openapi.yaml", axum::routing::get(yaml))
}

async fn json(state: State<AppState>, session: Session, product: Path<String>) -> Response {
    document(state, session, product, "application/json").await
}

async fn yaml(state: State<AppState>, session: Session, product: Path<String>) -> Response {
    document(state, session, product, "application/yaml").await
}

async fn document(State(state): State<AppState>, session: Session, Path(slug): Path<String>, media_type: &'static str) -> Response {
    let Some(product) = state.catalogue.find(&slug) else {
        return (StatusCode::NOT_FOUND, "There is no API of that name here.").into_response();
    };
    if product.config.docs == DocsAccess::Developers {
        match app::sessions::auth::account_of(&state, &session).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                let next = app::ui::sign_in_path(&format!("/docs/{slug}"));
                let mut res = StatusCode::SEE_OTHER.into_response();
                if let Ok(location) = HeaderValue::from_str(&next) {
                    res.headers_mut().insert(header::LOCATION, location);
                }
                return res;
            }
            Err(e) => return (e.status(), e.to_string()).into_response(),
        }
    }
    let body = if media_type == "application/json" { product.document_json.clone() } else { product.document_yaml.clone() };
    let mut res = body.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    res
}
