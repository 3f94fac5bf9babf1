//! The Slack providers' user-facing documentation: step-by-step setup guides (creating an
//! incoming webhook; creating an app with a bot token and inviting it), what each event does,
//! how failures are handled, and an example of what is sent.

use serde_json::{Value, json};
use switchyard_plugin_sdk::{Documentation, HeaderDoc};

const WEBHOOK_GUIDE: &str = "\
## Slack (incoming webhook)

Posts one formatted message per event (title, status, severity colour, affected systems,
times, a link back to the platform) to the channel of an incoming webhook.

### Get the webhook URL
1. Open <https://api.slack.com/apps> and choose **Create New App → From scratch**; name it
   (e.g. *Switchyard*) and pick your workspace.
2. In the app's settings open **Incoming Webhooks** and switch **Activate Incoming Webhooks**
   on.
3. Click **Add New Webhook to Workspace**, pick the channel the messages go to and
   **Allow**.
4. Copy the new **Webhook URL** (`https://hooks.slack.com/services/T…/B…/…`).
5. Paste it into **Webhook URL** here. It contains the webhook's token: it is stored
   encrypted and never shown again (previews show it as `…/[REDACTED]`).

**Channel**, **Username** and **Icon emoji** are honoured by legacy webhooks only; a
webhook created as above always posts to its own channel under the app's name.

### The message
The default message is Block Kit: a header (the payload's title and status), the
description, the facts (status, severity, systems, start and end times, health checks), a
link to the platform when the payload has a `url`, and a colour bar per severity (pick the
colours under **Colours**). Override the headline with **Title template** and the body with
**Text template** (Slack mrkdwn; escape payload text with `| mrkdwn_escape`). Texts are cut
to Slack's limits (header 150 characters, sections 3,000) instead of being refused.

A webhook has no message ids and no threads: an incident's update or resolution is a new
message that says which event it follows. Use the **Slack (bot)** provider for threads.

### Failures
Slack answers `ok`. A removed webhook (`no_service`, 404), an archived channel
(`channel_is_archived`, 410) or a refused message (400) fails at once, saying what to fix;
429 waits as long as `Retry-After` says; 5xx and network errors are retried.
";

const BOT_GUIDE: &str = "\
## Slack (bot)

Posts one formatted message per incident to a channel with a bot token and threads the
incident's updates under it; on resolution the message turns green and the resolution is
replied in the thread and shown in the channel too.

### Create the app and its token
1. Open <https://api.slack.com/apps> and choose **Create New App → From scratch**; name it
   (e.g. *Switchyard*) and pick your workspace.
2. Open **OAuth & Permissions**. Under **Scopes → Bot Token Scopes** add `chat:write`,
   `channels:read` and `groups:read` (the channel picker lists public and private channels),
   and `chat:write.customize` if you want to set **Username** or **Icon emoji**.
3. Click **Install to Workspace** (at the top of the page) and **Allow**.
4. Copy the **Bot User OAuth Token** (`xoxb-…`).
5. In Switchyard, create a **Slack (bot)** connection and paste the token into **Bot token**
   (stored encrypted, never shown again). **Test connection** calls `auth.test` and names the
   workspace and the bot.
6. In Slack, invite the app to each channel it should post to: type `/invite @Switchyard`
   in the channel (required for private channels).
7. Create the subscription and pick the **Channel** (the list is searchable).

### Threads
An incident's first event (e.g. *created*) posts a message; Switchyard keeps its channel and
`ts`. Its later events (*updated*, *resolved*) reply in that message's thread
(`thread_ts`). On *resolved*, the first message itself is edited to show the resolution
(`chat.update`: green, resolved status; turn **Mark parent resolved** off to leave it as
posted), and the *resolved* reply is also broadcast to the channel (`reply_broadcast`), so
the channel sees the incident end; set **On resolve** to `thread` to keep it in the thread.
Events without a correlation key, or whose first message failed, post new messages that say
which event they follow.

### The message
As for the webhook: a Block Kit header, description, facts, a link to the platform and a
colour bar per severity; **Title template** and **Text template** override the defaults.
Texts are cut to Slack's limits instead of being refused.

### Failures
Slack answers HTTP 200 even when it refuses a call; Switchyard reads its `ok` and `error`.
`channel_not_found`, `not_in_channel`, `is_archived`, `invalid_auth`, `token_revoked`,
`account_inactive` and `missing_scope` fail at once with what to fix; `ratelimited` and
HTTP 429 wait as long as `Retry-After` says; Slack's internal errors, 5xx and network errors
are retried.
";

fn example() -> Value {
    json!({
        "channel": "C0123456789",
        "text": "Checkout API down (investigating)\nStatus: investigating\nSeverity: Critical",
        "attachments": [{
            "color": "#d92d20",
            "fallback": "Checkout API down (investigating)",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Checkout API down (investigating)", "emoji": true}},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": "*Status*\ninvestigating"},
                    {"type": "mrkdwn", "text": "*Severity*\nCritical"},
                    {"type": "mrkdwn", "text": "*Systems*\ncheckout-api"}
                ]},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "`incident.incident.created` · Switchyard"}]}
            ]
        }],
        "unfurl_links": false
    })
}

/// The webhook provider's documentation.
#[must_use]
pub fn webhook() -> Documentation {
    let mut payload = example();
    if let Some(body) = payload.as_object_mut() {
        body.remove("channel");
        body.insert("username".into(), json!("Switchyard"));
        body.insert("icon_emoji".into(), json!(":robot_face:"));
    }
    Documentation {
        setup_guide: WEBHOOK_GUIDE.to_owned(),
        example_payload: Some(payload),
        headers: vec![HeaderDoc::new("Content-Type", "application/json")],
        external_docs_url: Some("https://api.slack.com/messaging/webhooks".to_owned()),
    }
}

/// The bot provider's documentation.
#[must_use]
pub fn bot() -> Documentation {
    Documentation {
        setup_guide: BOT_GUIDE.to_owned(),
        example_payload: Some(example()),
        headers: vec![
            HeaderDoc::new("Authorization", "Bearer <the bot token>"),
            HeaderDoc::new("Content-Type", "application/json; charset=utf-8"),
        ],
        external_docs_url: Some("https://api.slack.com/methods/chat.postMessage".to_owned()),
    }
}
