//! The Opsgenie provider's user-facing documentation: getting an API key, what each event does
//! to the alert, and an example of what is sent.

use serde_json::json;
use switchyard_plugin_sdk::{Documentation, HeaderDoc};

const SETUP_GUIDE: &str = "\
## Opsgenie

Creates one Opsgenie alert per incident and follows the incident's lifecycle on it.

### Get an API key
1. In Opsgenie, open **Teams**, pick the team that should get the alerts, then
   **Integrations → Add integration** (or, account-wide, **Settings → Integrations**).
2. Choose **API** and give it a name (e.g. `Switchyard`).
3. Keep **Create and Update Access** and **Enabled** checked, then **Save Integration**.
4. Copy the **API Key** and paste it into **API key** here. It is stored encrypted and never
   shown again.
5. If your Opsgenie account is in the EU (`app.eu.opsgenie.com`), set **Region** to `eu`.

### What each event does
- An incident's first event (e.g. *created*) **creates** an alert whose **alias** is
  `<subscription id>:<incident id>` (the event type's correlation key; the event id when it
  declares none). Opsgenie de-duplicates on the alias, so a retried create adds no second alert.
- *updated* adds a **note** to that alert; *acknowledged* **acknowledges** it.
- *resolved* / *closed* (or a payload whose `status` is `resolved`) **closes** it.

The message is the payload's `title` and `status` (or your **message template**), at most 130
characters; the priority comes from the payload's `severity` (critical → P1, major/high → P2,
minor/medium → P3, low → P4, info → P5; your **priority map** overrides these); every payload
field is in the alert's details and description; **team** routes the alert to that team.

### Failures
Opsgenie answers 202 and processes the request in the background (the external id is its
`requestId`). 401/403 (a wrong or disabled key) and 422 (an invalid request) fail at once;
429 waits as Opsgenie asks and retries; 5xx and network errors are retried.
";

/// The provider's documentation.
#[must_use]
pub fn documentation() -> Documentation {
    Documentation {
        setup_guide: SETUP_GUIDE.to_owned(),
        example_payload: Some(json!({
            "message": "Checkout API down (investigating)",
            "alias": "sub_1:inc-42",
            "description": "incidentId: inc-42\ntitle: Checkout API down",
            "details": {"incidentId": "inc-42", "eventType": "incident.incident.created"},
            "source": "Switchyard",
            "priority": "P1",
            "tags": []
        })),
        headers: vec![HeaderDoc::new("Authorization", "`GenieKey <API key>`")],
        external_docs_url: Some("https://docs.opsgenie.com/docs/alert-api".to_owned()),
    }
}
