//! Every site request runs to its end in a task of its own, whether or not its client waits.
//!
//! When a client leaves mid-request, hyper drops the handler and the body stream. For a page that
//! drops its reactive owner tree while the page's resources may still be running on other workers,
//! and reactive_graph 0.2 can then deadlock a worker for good: the worker that drops the tree's
//! last reference still holds a read lock on one of its owners, and the tree's `Drop` wants to
//! write-lock that owner. Two workers are all a small server has. Finished first, a page's tree
//! is dropped only once nothing of it runs any more. The same makes server functions safe against
//! disconnects: a key roll or sign-in is never cut off between two of its writes.
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::StatusCode;

/// Chunks of a page held for a slow client before the render waits for it.
const PAGE_CHUNKS_IN_FLIGHT: usize = 8;

pub async fn run_to_end(request: Request, next: Next) -> Response {
    let response = match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(failed) => {
            tracing::error!(panicked = failed.is_panic(), "a site request failed before it answered");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if !crate::security::is_html(&response) {
        // Server-function answers and files are whole when the handler returns.
        return response;
    }
    let (parts, body) = response.into_parts();
    let (to_client, for_client) = tokio::sync::mpsc::channel::<Result<Bytes, axum::Error>>(PAGE_CHUNKS_IN_FLIGHT);
    tokio::spawn(async move {
        let mut chunks = body.into_data_stream();
        let mut client = Some(to_client);
        while let Some(chunk) = chunks.next().await {
            if let Some(to) = &client {
                if to.send(chunk).await.is_err() {
                    client = None; // gone: finish the render for nobody, then drop it here
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(for_client, |mut chunks| async move { chunks.recv().await.map(|chunk| (chunk, chunks)) });
    Response::from_parts(parts, Body::from_stream(stream))
}
