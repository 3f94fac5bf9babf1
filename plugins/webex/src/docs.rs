//! The Webex provider's user-facing documentation: creating the bot and getting its token,
//! adding it to a room, what each event posts, and an example of what is sent.

use serde_json::json;
use switchyard_plugin_sdk::{Documentation, HeaderDoc};

const SETUP_GUIDE: &str = "\
## Webex

Posts each event as a Markdown message of a Webex **bot** in a room (space). The later events
of an incident (updated, resolved) reply in the thread of the message its first event posted.

### 1. Create a bot and copy its token
1. Sign in at [developer.webex.com](https://developer.webex.com) with a Webex account.
2. Open your avatar → **My Webex Apps** → **Create a New App** → **Create a Bot**.
3. Give it a name (e.g. `Switchyard`), a unique username (e.g. `switchyard-ops@webex.bot`),
   an icon and a description, then **Add Bot**.
4. Copy the **Bot access token** shown on the next page. Webex shows it only once; if it is
   lost, open the bot under **My Webex Apps** and **Regenerate Access Token** (the old token
   stops working).

### 2. Create the connection
Create a **Webex bot** connection and paste the token into **Bot token**. It is stored
encrypted and never shown again. **Test connection** calls `GET /v1/people/me` and shows the
bot's name.

### 3. Add the bot to the room
In the Webex app, open the space → **People** → **Add people** → the bot's username
(`…@webex.bot`). A bot sees only the rooms it is a member of.

### 4. Create the subscription
Pick the connection, then the **Room** (the list holds every room the bot is in, all pages of
`GET /v1/rooms`, and is searchable).

### What each event posts
- An incident's first event (e.g. *created*) posts a new message: a coloured marker
  (🔴 critical, 🟠 major, 🟡 minor, ⚪ info, 🔧 maintenance, ✅ resolved), the title and status,
  the description, status, severity, affected systems and times, and a link back to the
  platform when the payload has one (`url`, `link` or `htmlUrl`).
- *updated* and *resolved* (for event types with a correlation path) **reply in that
  message's thread** (`parentId`). When the first message is unknown (it failed, or the room
  changed since), the reply is a new message that says which event it follows.
- **Markdown template** replaces the whole message (e.g.
  `**{{ payload.title | markdown_escape }}** is {{ payload.status }}`).

Webex limits a message to 7,439 bytes: longer messages are cut (the description first),
never refused. A plain-text version goes along for clients that show no Markdown.

### Failures
401 (a wrong or revoked token), 403 (the bot may not post there) and 404 (the room is gone or
the bot is not in it) fail at once, with what to fix; 429 waits as long as Webex's
`Retry-After` asks, then retries; 5xx and network errors are retried.
";

/// The provider's documentation.
#[must_use]
pub fn documentation() -> Documentation {
    Documentation {
        setup_guide: SETUP_GUIDE.to_owned(),
        example_payload: Some(json!({
            "roomId": "Y2lzY29zcGFyazovL3VzL1JPT00vYmJjZWIxYWQtNDNmMS0zYjU4LTkxNDctZjE0YmIwYzRkMTU0",
            "markdown": "🔴 **Checkout API down \\(investigating\\)**\n\nPayments fail\n\n**Status:** investigating  \n**Severity:** Critical  \n**Systems:** checkout-api",
            "text": "Checkout API down (investigating)\nPayments fail\nStatus: investigating\nSeverity: Critical\nSystems: checkout-api",
        })),
        headers: vec![HeaderDoc::new(
            "Authorization",
            "`Bearer <bot access token>`",
        )],
        external_docs_url: Some(
            "https://developer.webex.com/docs/api/v1/messages/create-a-message".to_owned(),
        ),
    }
}
