//! What the consumption benchmarks compare a service's consumer with.

use async_nats::jetstream::{self, consumer::pull};
use futures::{Stream, StreamExt};

/// A durable pull consumer named `durable` of `stream`, read from its
/// start as well as a stream can be read: the server keeps up to 10,000
/// messages unacknowledged in flight and acks are cumulative (the caller
/// acks each batch's last message). Messages come in batches of up to
/// `batch`, as they arrive.
pub async fn bare_batches(
    stream: &jetstream::stream::Stream,
    durable: &str,
    batch: usize,
) -> impl Stream<Item = Vec<jetstream::Message>> + use<> {
    let consumer: jetstream::consumer::Consumer<pull::Config> = stream
        .create_consumer(pull::Config {
            durable_name: Some(durable.into()),
            ack_policy: jetstream::consumer::AckPolicy::All,
            max_ack_pending: 10_000,
            ..Default::default()
        })
        .await
        .expect("the bare consumer");
    consumer
        .stream()
        .max_messages_per_batch(batch)
        .messages()
        .await
        .expect("the bare consumer's messages")
        .ready_chunks(batch)
        .map(|chunk| chunk.into_iter().map(|message| message.expect("a message")).collect())
}
