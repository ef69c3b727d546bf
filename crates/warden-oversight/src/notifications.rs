/*!
Alert notifications: a webhook fed from the durable outbox.

Each notification is queued in the same transaction as the alert event that causes it, so a restart loses
none. A deliverer POSTs due notifications as JSON with `X-Warden-Delivery` (the outbox id, for receivers to
drop duplicates: delivery is at least once) and `X-Warden-Signature: sha256=<hex HMAC-SHA256 of the body,
keyed with the shared secret>`, and retries failures with exponential back-off (1 s doubling to 5 min).
*/

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{Oversight, Result};
use warden_registry::Webhook;

/// Longest pause between attempts.
const MAX_BACKOFF_SECONDS: i64 = 300;

/// `sha256=<hex>` of the body under the secret: what receivers recompute to trust a call.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn backoff_micros(attempts: i64) -> i64 {
    (1i64 << attempts.clamp(0, 9)).min(MAX_BACKOFF_SECONDS) * 1_000_000
}

/// The client deliveries go through (ten seconds per attempt). Needs the process's TLS provider
/// (`warden_registry::install_tls_provider`).
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build()
}

/// Sends every due notification once; returns how many were delivered.
pub async fn deliver_due(warden: &Oversight, client: &reqwest::Client) -> Result<usize> {
    let Some(webhook) = warden.config().webhook.clone() else { return Ok(0) };
    let due = warden.metadata.due_notifications(warden.now(), 100).await?;
    let mut delivered = 0;
    for notification in due {
        let body = notification.payload.to_string();
        let outcome = send(client, &webhook, notification.id, &body).await;
        let now = warden.now();
        match outcome {
            Ok(()) => {
                warden.metadata.record_delivery(notification.id, Some(now), None, now).await?;
                delivered += 1;
            }
            Err(error) => {
                let retry_at = now + backoff_micros(notification.attempts);
                tracing::warn!(delivery = notification.id, attempts = notification.attempts + 1, %error,
                    "webhook delivery failed; will retry");
                warden.metadata.record_delivery(notification.id, None, Some(&error), retry_at).await?;
            }
        }
    }
    Ok(delivered)
}

async fn send(client: &reqwest::Client, webhook: &Webhook, id: i64, body: &str) -> std::result::Result<(), String> {
    let response = client
        .post(&webhook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Warden-Delivery", id.to_string())
        .header("X-Warden-Signature", signature(&webhook.secret, body.as_bytes()))
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status().is_success() { Ok(()) } else { Err(format!("receiver answered {}", response.status())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        let sig = signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn back_off_doubles_up_to_five_minutes() {
        assert_eq!(backoff_micros(0), 1_000_000);
        assert_eq!(backoff_micros(3), 8_000_000);
        assert_eq!(backoff_micros(30), 300_000_000);
    }
}
