//! The PagerDuty provider's user-facing documentation: the setup guide (getting an integration
//! key, what each event does to the alert) and an example of what is sent.

use serde_json::json;
use switchyard_plugin_sdk::Documentation;

const SETUP_GUIDE: &str = "\
## PagerDuty (Events API v2)

Opens one PagerDuty alert per incident and follows the incident's lifecycle on it.

### Get an integration key
1. In PagerDuty, open **Services → Service Directory** and pick the service that should page
   (or create one with **+ New Service**).
2. On the service, open the **Integrations** tab and choose **+ Add an integration**
   (or **Add another integration**).
3. Pick **Events API V2** and **Add**.
4. Expand the new integration and copy its **Integration Key** (32 characters).
5. Paste it into **Routing key** here. It is stored encrypted and never shown again.
6. If your PagerDuty account is hosted in the EU (its address ends in `.eu.pagerduty.com`),
   set **Region** to `eu`.

### What each event does
- An incident's first event (e.g. *created*) **triggers** an alert. Its `dedup_key` is
  `<subscription id>:<incident id>` (the event type's correlation key; the event id when the
  event type declares none), so all later events of the incident reach the same alert.
- *updated* re-triggers it with the new details (or, with **On update** = `acknowledge`,
  acknowledges it).
- *resolved* / *closed* (or a payload whose `status` is `resolved`) **resolves** it.
- Maintenance events are sent as **change events**, shown on the service's timeline; they
  never page anyone.

The summary is the payload's `title` and `status` (or your **summary template**), at most
1,024 characters; the severity comes from the payload's `severity` (critical; major/high/
error → error; minor/medium/warning → warning; low/info → info; your **severity map**
overrides these); the whole payload is in the alert's custom details, and a `url` in the
payload becomes a link on the alert.

### Failures
PagerDuty answers 202 when it accepts an event. A 400 (an invalid event) fails at once with
PagerDuty's reasons; 429 (rate limit) waits as PagerDuty asks and retries; 5xx and network
errors are retried.
";

/// The provider's documentation.
#[must_use]
pub fn documentation() -> Documentation {
    Documentation {
        setup_guide: SETUP_GUIDE.to_owned(),
        example_payload: Some(json!({
            "routing_key": "[REDACTED]",
            "event_action": "trigger",
            "dedup_key": "sub_1:inc-42",
            "payload": {
                "summary": "Checkout API down (investigating)",
                "timestamp": "2026-12-02T10:00:00+00:00",
                "severity": "critical",
                "source": "checkout-api",
                "class": "incident.incident.created",
                "custom_details": {"eventType": "incident.incident.created", "payload": {"incidentId": "inc-42"}}
            },
            "client": "Switchyard",
            "links": []
        })),
        headers: Vec::new(),
        external_docs_url: Some(
            "https://developer.pagerduty.com/docs/events-api-v2-overview".to_owned(),
        ),
    }
}
