//! Small view pieces shared by the forms.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::Redirect;

use crate::error::AppError;

/// The error of the last submission of `action`, if it failed.
pub fn action_error<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(|r| r.err()))
}

/// The message for one field, shown under its input.
#[component]
pub fn FieldError(error: Signal<Option<AppError>>, field: &'static str) -> impl IntoView {
    move || {
        error.get().filter(|e| e.field() == Some(field)).map(|e| {
            view! { <p class="field-error" id=format!("{field}-error") role="alert">{e.to_string()}</p> }
        })
    }
}

/// An error that concerns the whole form.
#[component]
pub fn FormError(error: Signal<Option<AppError>>) -> impl IntoView {
    move || error.get().filter(|e| e.field().is_none()).map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
}

/// `aria-invalid` for an input whose field has an error.
pub fn invalid(error: Signal<Option<AppError>>, field: &'static str) -> impl Fn() -> Option<&'static str> {
    move || error.get().filter(|e| e.field() == Some(field)).map(|_| "true")
}

/// A signed-in page: `view_fn` with the loaded data; a signed-out visitor is sent to sign in (a
/// real redirect, as these routes render whole on the server). Reloads keep the old view shown.
/// `heading`: the page's title when its heading comes from the data, shown above an error.
#[component]
pub fn SignedInOnly<T, F, V>(
    data: Resource<Result<T, AppError>>,
    view_fn: F,
    #[prop(optional)] heading: Option<&'static str>,
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    F: Fn(T) -> V + Send + Sync + Clone + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let view_fn = view_fn.clone();
                data.get().map(move |loaded| match loaded {
                    Ok(value) => view_fn(value).into_any(),
                    Err(AppError::Unauthorized) => {
                        let next = leptos_router::hooks::use_location().pathname.get_untracked();
                        view! { <SeeOther path=sign_in_path(&next) /> }.into_any()
                    }
                    Err(AppError::ConsentRequired) => {
                        let next = leptos_router::hooks::use_location().pathname.get_untracked();
                        view! { <SeeOther path=crate::consent::consent_path(&next) /> }.into_any()
                    }
                    Err(e) => view! { <PageError error=e heading=heading /> }.into_any(),
                })
            }}
        </Transition>
    }
}

/// Where a signed-out visitor of `next` is sent: the sign-in page, which comes back to `next`.
pub fn sign_in_path(next: &str) -> String {
    format!("/signin?next={}", crate::consent::safe_next(next))
}

/// Sends the visitor to `path`. On the server a real `303 See Other` with `Location` (a page
/// this renders is never shown: browsers follow the status, with or without JavaScript); in the
/// browser, the router's navigation.
#[component]
pub fn SeeOther(path: String) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::SEE_OTHER);
        if let Ok(location) = http::HeaderValue::from_str(&path) {
            response.insert_header(http::header::LOCATION, location);
        }
        return ().into_any();
    }
    view! { <Redirect path=path /> }.into_any()
}

/// Why a page cannot be shown, under `heading` when the page has no heading of its own without
/// its data. On the server it also sets the status: a forbidden or missing page answers 403 or
/// 404, not 200 with a message.
#[component]
pub fn PageError(error: AppError, #[prop(default = None)] heading: Option<&'static str>) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.status());
    }
    view! {
        {heading.map(|h| view! { <h1>{h}</h1> })}
        <p class="form-error" role="alert">{error.to_string()}</p>
    }
}

/// "Previous" and "Next" of a list shown in numbered pages; `href` makes a page's address.
#[component]
pub fn Pager<H>(page: i64, pages: i64, label: &'static str, href: H) -> impl IntoView
where
    H: Fn(i64) -> String + 'static,
{
    view! {
        <nav class="pager" aria-label=label>
            {(page > 1).then(|| view! { <leptos_router::components::A href=href(page - 1)>"Previous"</leptos_router::components::A> })}
            {(page < pages).then(|| view! { <leptos_router::components::A href=href(page + 1)>"Next"</leptos_router::components::A> })}
        </nav>
    }
}
