//! Writing records to a topic: the tests' producer and the ingestion benchmark's.

use std::collections::VecDeque;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

use crate::Error;

/// Most records awaiting their delivery report at once.
const IN_FLIGHT: usize = 20_000;

/// Produces `records` (key, value) to `topic` on `brokers`, in order, and waits until each is acknowledged by
/// the partition's leader; returns how many were written. Records with a key are spread over the partitions
/// by its hash, as Kafka's producers do.
pub async fn produce(
    brokers: &str,
    topic: &str,
    records: impl IntoIterator<Item = (Option<Vec<u8>>, Vec<u8>)>,
) -> Result<u64, Error> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()?;
    let mut in_flight: VecDeque<DeliveryFuture> = VecDeque::new();
    let mut written = 0;
    for (key, value) in records {
        loop {
            let mut record = FutureRecord::to(topic).payload(&value);
            if let Some(key) = &key {
                record = record.key(key);
            }
            match producer.send_result(record) {
                Ok(delivery) => {
                    in_flight.push_back(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => match in_flight.pop_front() {
                    Some(oldest) => written += delivered(oldest).await?,
                    None => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                Err((error, _)) => return Err(Error::Kafka(error)),
            }
        }
        if in_flight.len() >= IN_FLIGHT {
            written += delivered(in_flight.pop_front().expect("not empty")).await?;
        }
    }
    for delivery in in_flight {
        written += delivered(delivery).await?;
    }
    Ok(written)
}

async fn delivered(delivery: DeliveryFuture) -> Result<u64, Error> {
    match delivery.await {
        Ok(Ok(_)) => Ok(1),
        Ok(Err((error, _))) => Err(Error::Kafka(error)),
        Err(_) => Err(Error::Thread("the producer stopped before reporting a delivery".into())),
    }
}
