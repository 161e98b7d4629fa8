//! Reading a request body with a limit, for the handlers that read one themselves (the verify
//! endpoint, the NUL guard in front of server functions).

/// What a client may still send after its body passed the limit: read and dropped, not kept, so
/// the client, still writing, gets the 413 instead of a reset connection. Past it, we hang up.
const DISCARD_AT_MOST: usize = 8 * 1024 * 1024;

/// The body when it holds at most `limit` bytes; `None` (after discarding the rest, up to
/// [`DISCARD_AT_MOST`]) when it holds more or cannot be read.
pub async fn read_at_most(body: axum::body::Body, limit: usize) -> Option<axum::body::Bytes> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.ok()?;
        seen += chunk.len();
        if seen <= limit {
            kept.extend_from_slice(&chunk);
        } else if seen > DISCARD_AT_MOST {
            return None;
        }
    }
    (seen <= limit).then(|| kept.into())
}
