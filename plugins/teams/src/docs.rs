//! The Teams providers' user-facing documentation: setting up a Teams workflow and copying its
//! URL; registering an Entra ID app for Graph (with Microsoft's restriction on posting channel
//! messages as an application, stated plainly); what each event posts; examples of what is
//! sent.

use serde_json::json;
use switchyard_plugin_sdk::{Documentation, HeaderDoc};

const WORKFLOW_GUIDE: &str = "\
## Microsoft Teams — Workflows webhook

Posts each event as an Adaptive Card to a Teams channel or chat through a **Teams workflow**
(Power Automate). This replaces the retired Office 365 connectors (\"Incoming Webhook\").

### 1. Create the workflow and copy its URL
1. In Teams, open the channel → **⋯** (More options) → **Workflows**.
2. Pick the template **Post to a channel when a webhook request is received** (or, in Power
   Automate, start a flow with the trigger **When a Teams webhook request is received** and add
   the action **Post card in a chat or channel** with *Adaptive Card* set to the trigger's
   `attachments` → `content`).
3. Name it (e.g. `Switchyard`), choose the team and channel, then **Add workflow**.
4. Copy the URL Teams shows (`https://…logic.azure.com…/invoke?…&sig=…` or
   `https://…environment.api.powerplatform.com/…`). The `sig` part is its password: paste the
   whole URL into **Webhook URL** here. It is stored encrypted and never shown again.

### What each event posts
A card per event: a coloured header (red for critical and major, amber for minor, blue for
maintenance, green once resolved) with the title and status, the description, the facts
(status, severity, affected systems, times), and an **Open in the platform** button when the
payload has a link (`url`, `link` or `htmlUrl`). **Title template** and **text template**
replace the title and the text. Long texts are cut so the card stays under Teams' ~28 KB.

A workflow cannot reply in a thread (it answers `202 Accepted` without a message id), so an
incident's *updated* or *resolved* is a new card that says which event it follows. For replies
in the incident's thread use the **Microsoft Teams (Graph)** provider.

### Failures
400 (the workflow refused the card), 401/403 (a wrong `sig`, or the flow is off) and 404 (the
workflow was deleted) fail at once with what to fix; 429 waits as long as `Retry-After` asks;
5xx and network errors are retried.
";

const GRAPH_GUIDE: &str = "\
## Microsoft Teams — Microsoft Graph

Posts each event as an Adaptive Card message in a Teams channel through Microsoft Graph, as an
Entra ID application (client credentials), and an incident's later events (*updated*,
*resolved*) as **replies in the thread** of the message its first event posted.

### Read this first: Microsoft restricts posting as an application
Graph's *Send chatMessage in a channel* accepts application permissions (`Teamwork.Migrate.All`)
**only to import history into a team or channel created in migration mode**. For a normal
channel Graph answers `401 … Message POST is allowed in application-only context only for
import purposes`, and this provider fails with that explanation. So, for ordinary notifications:
- the **Microsoft Teams (Workflows webhook)** provider is the supported way;
- or use an app that Microsoft allows to post in that team — for example a Teams app installed
  in the team with **resource-specific consent** (RSC) for sending channel messages, where your
  tenant offers it (check Microsoft's current RSC permission list, e.g.
  `ChannelMessage.Send.Group`, and its licensing notes before relying on it).
Listing teams and channels (the pickers and **Test connection**) works with ordinary
application permissions.

### 1. Register the app (Microsoft Entra admin center)
1. **Identity → Applications → App registrations → New registration**; name it (e.g.
   `Switchyard`), *Accounts in this organizational directory only*, **Register**.
2. Copy the **Application (client) ID** and the **Directory (tenant) ID** from *Overview*.
3. **Certificates & secrets → Client secrets → New client secret**; copy its **Value** (shown
   once; note when it expires).
4. **API permissions → Add a permission → Microsoft Graph → Application permissions**: add
   `Team.ReadBasic.All` (list teams) and `Channel.ReadBasic.All` (list channels), plus the
   permission that lets the app post in your channels (see above). Then **Grant admin consent**.

### 2. Create the connection
Create a **Microsoft Graph application** connection with the tenant id, client id and client
secret (stored encrypted, never shown again). National clouds: set **Authority URL** (e.g.
`https://login.microsoftonline.us`) and **Graph base URL** (e.g.
`https://graph.microsoft.us/v1.0`); the token is asked for that Graph host's `/.default` scope.
**Test connection** gets a token and lists one team.

### 3. Create the subscription
Pick the connection, the **Team** and then the **Channel** (both lists follow Graph's
`@odata.nextLink` to the last page, and are searchable).

### Tokens
One token serves every delivery of the connection until 5 minutes before it expires (about an
hour); then one new token is requested. When Graph answers 401, the token is dropped and the
call made once more with a new one.

### What each event posts
The same card as the Workflows provider (coloured header, text, facts, link; title and text
templates; cut under ~28 KB). The first event of an incident posts a new message
(`POST /teams/{team}/channels/{channel}/messages`); its later events reply to it
(`…/messages/{id}/replies`). If that first message is unknown (it failed, or the channel
changed since), the reply is a new message saying which event it follows.

### Failures
401 after a new token, 403 (missing permission or consent) and 404 (team, channel or message
gone) fail at once with what to fix; 429 waits as long as Graph's `Retry-After` asks; 5xx and
network errors are retried. A token request refused (wrong tenant, client id or secret, expired
secret) fails at once.
";

fn card_example() -> serde_json::Value {
    json!({
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "Container", "style": "attention", "items": [
                {"type": "TextBlock", "text": "Checkout API down (investigating)",
                 "size": "Large", "weight": "Bolder", "color": "attention", "wrap": true}]},
            {"type": "TextBlock", "text": "Payments fail", "wrap": true},
            {"type": "FactSet", "facts": [{"title": "Severity", "value": "Critical"},
                                          {"title": "Systems", "value": "checkout-api"}]}
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open in the platform",
                     "url": "https://status.example.com/incidents/42"}]
    })
}

/// The Workflows provider's documentation.
#[must_use]
pub fn workflow() -> Documentation {
    Documentation {
        setup_guide: WORKFLOW_GUIDE.to_owned(),
        example_payload: Some(json!({
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                             "contentUrl": null, "content": card_example()}]
        })),
        headers: vec![HeaderDoc::new("Content-Type", "`application/json`")],
        external_docs_url: Some(
            "https://support.microsoft.com/office/create-incoming-webhooks-with-workflows-for-microsoft-teams-8ae491c7-0394-4861-ba59-055e33f75498"
                .to_owned(),
        ),
    }
}

/// The Graph provider's documentation.
#[must_use]
pub fn graph() -> Documentation {
    Documentation {
        setup_guide: GRAPH_GUIDE.to_owned(),
        example_payload: Some(json!({
            "body": {"contentType": "html", "content": "<attachment id=\"4f1c2b9e8d7a6c5b\"></attachment>"},
            "summary": "Checkout API down (investigating)",
            "attachments": [{"id": "4f1c2b9e8d7a6c5b",
                             "contentType": "application/vnd.microsoft.card.adaptive",
                             "content": card_example().to_string()}]
        })),
        headers: vec![HeaderDoc::new(
            "Authorization",
            "`Bearer <access token>` (client credentials, cached until shortly before expiry)",
        )],
        external_docs_url: Some(
            "https://learn.microsoft.com/graph/api/channel-post-messages".to_owned(),
        ),
    }
}
