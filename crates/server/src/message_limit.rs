//! The largest request message a service accepts, checked on each gRPC
//! message's length prefix as the body streams in: a 20 MB message is
//! refused when its first five bytes arrive, before anything buffers it.
//!
//! gRPC's status table says a message over a configured limit is
//! `RESOURCE_EXHAUSTED`; tonic's own check (the generated server's
//! `max_decoding_message_size`) says `OUT_OF_RANGE`, which
//! [`too_large_from_tonic`] turns into the same answer as ours.

use axum::BoxError;
use axum::body::{Bytes, HttpBody};
use tokio_stream::StreamExt;
use tonic::{Code, Status};

/// Length of a gRPC message prefix: a compression flag, then the length as
/// a big-endian `u32`.
const PREFIX: usize = 5;

/// Where a stream of body chunks is in its sequence of gRPC messages.
#[derive(Debug, Default)]
struct Prefixes {
    prefix: [u8; PREFIX],
    /// Bytes of the current prefix read so far.
    have: usize,
    /// Bytes of the current message still to come.
    remaining: usize,
}

impl Prefixes {
    /// Reads `chunk`; the declared length of the first message longer than
    /// `limit`, if there is one.
    fn over(&mut self, chunk: &[u8], limit: usize) -> Option<usize> {
        let mut over = None;
        let mut rest = chunk;
        while !rest.is_empty() {
            if self.remaining > 0 {
                let skip = self.remaining.min(rest.len());
                self.remaining -= skip;
                rest = &rest[skip..];
                continue;
            }
            let take = (PREFIX - self.have).min(rest.len());
            self.prefix[self.have..self.have + take].copy_from_slice(&rest[..take]);
            self.have += take;
            rest = &rest[take..];
            if self.have == PREFIX {
                self.have = 0;
                let [_, a, b, c, d] = self.prefix;
                let length = u32::from_be_bytes([a, b, c, d]) as usize;
                if length > limit && over.is_none() {
                    over = Some(length);
                }
                self.remaining = length;
            }
        }
        over
    }
}

/// `RESOURCE_EXHAUSTED` for a request message of `found` bytes, naming the limit.
pub(crate) fn too_large(found: usize, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "the request message is {found} bytes, over this method's limit of {limit} bytes; send less in one message"
    ))
}

/// `body`, failing with [`too_large`] at the first message longer than
/// `limit`. tonic finds the status in the error and answers with it.
pub(crate) fn limit_request<B>(body: B, limit: usize) -> tonic::body::Body
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut prefixes = Prefixes::default();
    // Data only: gRPC requests carry no trailers.
    let chunks = axum::body::Body::new(body).into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(BoxError::from)?;
        match prefixes.over(&chunk, limit) {
            Some(found) => Err(BoxError::from(too_large(found, limit))),
            None => Ok(chunk),
        }
    });
    tonic::body::Body::new(axum::body::Body::from_stream(chunks))
}

/// tonic's refusal of a message over the generated server's own limit
/// (`OUT_OF_RANGE`, "decoded message length too large"), said as
/// [`too_large`]; `None` for any other status.
pub(crate) fn too_large_from_tonic(status: &Status) -> Option<Status> {
    if status.code() != Code::OutOfRange {
        return None;
    }
    // "Error, decoded message length too large: found {len} bytes, the limit is: {limit} bytes"
    let rest = status
        .message()
        .strip_prefix("Error, decoded message length too large: found ")?;
    let (found, rest) = rest.split_once(" bytes, the limit is: ")?;
    let limit = rest.strip_suffix(" bytes")?;
    Some(too_large(found.parse().ok()?, limit.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(length: usize) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend_from_slice(&(length as u32).to_be_bytes());
        bytes.extend(std::iter::repeat_n(7, length));
        bytes
    }

    #[test]
    fn every_message_is_measured_however_the_body_is_cut() {
        let mut body = message(3);
        body.extend(message(0));
        body.extend(message(10));
        body.extend(message(11));
        for cut in 1..body.len() {
            let mut prefixes = Prefixes::default();
            let over: Vec<usize> = body.chunks(cut).filter_map(|chunk| prefixes.over(chunk, 10)).collect();
            assert_eq!(over, [11], "chunks of {cut}");
        }
    }

    #[test]
    fn a_message_at_the_limit_passes() {
        let mut prefixes = Prefixes::default();
        assert_eq!(prefixes.over(&message(10), 10), None);
        assert_eq!(prefixes.over(&message(10), 10), None);
        assert_eq!(prefixes.over(&message(20_000_000)[..PREFIX], 10), Some(20_000_000));
    }

    #[test]
    fn tonics_refusal_is_resource_exhausted_naming_the_limit() {
        let tonic = Status::out_of_range(
            "Error, decoded message length too large: found 2097160 bytes, the limit is: 1048576 bytes",
        );
        let status = too_large_from_tonic(&tonic).unwrap();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.message().contains("2097160 bytes"), "{}", status.message());
        assert!(
            status.message().contains("limit of 1048576 bytes"),
            "{}",
            status.message()
        );
        assert!(too_large_from_tonic(&Status::out_of_range("page 9 of 3")).is_none());
    }
}
