//! The Discord provider's user-facing documentation: the setup guide (creating a channel
//! webhook and copying its URL), what each event does to the incident's message, how failures
//! are handled, and an example of what is sent.

use serde_json::json;
use switchyard_plugin_sdk::{Documentation, HeaderDoc};

const SETUP_GUIDE: &str = "\
## Discord (webhook)

Posts one embed per incident to a Discord channel (title, status, severity colour, affected
systems, times, a link back to the platform) and keeps it current as the incident changes.

### Get the webhook URL
1. In Discord, open the server, hover the channel the messages go to and click the gear
   (**Edit Channel**). You need the **Manage Webhooks** permission.
2. Open **Integrations → Webhooks** and click **New Webhook** (or **Create Webhook**).
3. Give it a name (e.g. *Switchyard*) and, if you like, a picture; check that the
   **Channel** is the right one; **Save Changes**.
4. Click **Copy Webhook URL** (`https://discord.com/api/webhooks/<id>/<token>`).
5. Paste it into **Webhook URL** here. It contains the webhook's token: it is stored
   encrypted and never shown again (previews show `…/webhooks/<id>/[REDACTED]`).
6. **Test connection** reads the webhook back from Discord (nothing is posted) and names it
   and its channel, or says it was deleted.
7. To post into a thread of that channel, put the thread's id into **Thread id** (enable
   Developer Mode under User Settings → Advanced, then right-click the thread → Copy Thread
   ID).

### What each event does
- An incident's first event (e.g. *created*) posts an embed (`?wait=true`, so Discord returns
  the message id, which Switchyard keeps).
- With **Follow-up** = `edit` (the default), its *updated* and *resolved* events **edit that
  message**: its title, fields and colour (green when resolved) always show where the
  incident stands, and the channel is not flooded. `editAndPost` also posts a new message
  each time (so the channel is notified); `post` only posts new messages, each saying which
  event it follows.
- If someone deleted the first message, the event is posted as a new message instead.

### The message
An embed: the payload's title and status as title (linking to the platform when the payload
has a `url`), its description, the facts as fields, a footer with the event type, the event's
time, and a colour per severity (pick them under **Colours**); the title is also the message
text shown in notifications. **Title template** and **Text template** (Discord Markdown;
escape payload text with `| markdown_escape`) override the title and description. Texts are
cut to Discord's limits (title 256, description 4,096, fields 25 × 256/1,024, 6,000 in all)
instead of being refused. Mentions in payload text never ping anyone.

### Failures
404 means the webhook was deleted: the delivery fails at once (create a new webhook and
update the URL). 429 waits for the `retry_after` Discord sends (or its `Retry-After`
header); 5xx and network errors are retried; a refused message (400) or a wrong token
(401/403) fails at once with Discord's reason.
";

/// The provider's documentation.
#[must_use]
pub fn documentation() -> Documentation {
    Documentation {
        setup_guide: SETUP_GUIDE.to_owned(),
        example_payload: Some(json!({
            "content": "Checkout API down (investigating)",
            "embeds": [{
                "title": "Checkout API down (investigating)",
                "url": "https://status.example.com/incidents/inc-42",
                "description": "Payments fail for 30% of requests.",
                "color": 14_232_864,
                "timestamp": "2026-12-02T17:30:00+00:00",
                "fields": [
                    {"name": "Status", "value": "investigating", "inline": true},
                    {"name": "Severity", "value": "Critical", "inline": true},
                    {"name": "Systems", "value": "checkout-api", "inline": true}
                ],
                "footer": {"text": "incident.incident.created · Switchyard"}
            }],
            "allowed_mentions": {"parse": []},
            "username": "Switchyard"
        })),
        headers: vec![HeaderDoc::new("Content-Type", "application/json")],
        external_docs_url: Some(
            "https://discord.com/developers/docs/resources/webhook#execute-webhook".to_owned(),
        ),
    }
}
