//! The webhook provider's user-facing documentation: setup guide (body template variables,
//! content types, Standard Webhooks signing and how to verify it), an example body and the
//! headers every request carries.

use serde_json::json;
use switchyard_plugin_sdk::{Documentation, HeaderDoc};

const SETUP_GUIDE: &str = "\
## Webhook

Sends every matching event as an HTTP request with a JSON body to the URL you enter.

1. Enter the **URL** of your receiver (`https://…`). Pick the **method** (POST by default).
2. Choose **authentication**: none, a bearer token, basic auth (user name and password), a
   header of your choice (e.g. `X-Api-Key`) or a query parameter of your choice (e.g.
   `?api_key=…`, added to the URL's query). Tokens, passwords and header and parameter values
   are stored encrypted and never shown again — also not in error messages: when a receiver
   repeats them in its answer, they are shown as `[REDACTED]`.
3. Optionally add **custom headers** and change the **timeout** (1–60 s, 10 s by default).
4. Optionally write a **body template** (see below) to send your own JSON instead.
5. Optionally pick the **content type**: `json` (the default) or `form`, and list extra HTTP
   statuses to retry in **retry on status** (e.g. `409`, `423`).
6. Optionally turn on **signing** and enter one or more secrets (see below).

### What your receiver gets
By default a JSON body `{id, eventType, timestamp, subscription: {id, name}, data}` where
`data` is the event payload (or what your body template renders), and the headers listed
below. `id` (and `X-Delivery-Id`) stay the same across retries of one delivery: use them to
drop duplicates.

### Body template
A body template replaces the default body with your own JSON, e.g.
`{\"text\": \"{{ payload.title | json_escape }}\", \"type\": \"{{ event.type }}\"}`. Variables:
`payload` (the event payload, e.g. `payload.title`), `event.type`, `event.id`,
`event.timestamp` (RFC 3339, UTC), `event.deliveryId`, `event.attempt`, `subscription.id`,
`subscription.name`, `correlation`, and Checkstack's flat names `eventType`, `eventId`,
`deliveryId`, `timestamp`, `subscriptionId`, `subscriptionName`. A missing value renders
empty (`| default(\"…\")` supplies one, `| required` makes it an error); objects and lists
render as JSON (`| tojson`). Filters: `json_escape` (use it inside JSON strings),
`date(\"%d %b %Y\")`, `truncate(n)`, `markdown_escape`, `html_escape`, `mrkdwn_escape`, `upper`,
`join`… The template is checked when you save: a syntax error is refused with its line. The
rendered text must be valid JSON (for `form`, a JSON object); if an event makes it invalid,
that delivery fails permanently with an error naming `/bodyTemplate`. Use **preview** to see
the rendered body.

With content type `form`, the body is `application/x-www-form-urlencoded` instead: one field
per top-level key of that JSON object, sorted by name; string values as their text, every other
value (numbers, booleans, `null`, and nested objects and arrays such as `data`) as its compact
JSON text. The signature (if any) covers the body exactly as sent.

### Signing (Standard Webhooks)
With signing on, every request is signed as <https://www.standardwebhooks.com> specifies, so
any Standard Webhooks library verifies it. A secret is `whsec_` followed by the base64 of 24 to
64 random bytes (e.g. `echo whsec_$(openssl rand -base64 32)`); give the same secret to your
receiver. Three headers are added:
- `webhook-id`: the delivery id (the same for every retry of one delivery);
- `webhook-timestamp`: when this attempt was sent, in unix seconds;
- `webhook-signature`: `v1,<signature>` for each secret, separated by spaces, where the
  signature is the base64 of HMAC-SHA256, keyed with the base64-decoded part after `whsec_`,
  over `{webhook-id}.{webhook-timestamp}.{body}` (the exact bytes of the body).

To verify, recompute the signature for your secret and accept the request when it equals one
of the `v1,` entries (compare in constant time), and reject timestamps more than 5 minutes
from your clock (replays). To rotate a secret, add the new one (requests then carry both
signatures), switch the receiver to it, then remove the old one. Previews mask the signature:
it does not reveal the secret, but a valid one could be replayed.

### How answers are read
- **2xx**: delivered. If the JSON response has `id`, `externalId` or `messageId`, it is shown as
  the external id.
- **429** and **503**: rate limited; the next attempt waits for `Retry-After` (60 s if absent).
- **408**, other **5xx**, timeouts and network errors: retried with backoff.
- **410** and other **4xx**, and redirects (3xx, not followed): permanent failure, no retry —
  unless the status is listed in **retry on status**, which retries it like a 5xx.

### Which addresses it may call
Only public addresses: a URL whose host is (or resolves to) a loopback, private, link-local,
shared (CGNAT), unique-local or metadata address is refused before anything is sent, as a
permanent failure naming the address. Your operator can allow a subnet for receivers inside
the network (`[plugins] network_allow` of the coordinator). Proxy variables are ignored.
";

/// The provider's documentation block.
#[must_use]
pub fn documentation() -> Documentation {
    Documentation {
        setup_guide: SETUP_GUIDE.to_owned(),
        example_payload: Some(json!({
            "id": "0193a4c2-7f1e-7c3a-9b2d-5e8f1a2b3c4d",
            "eventType": "incident.incident.created",
            "timestamp": "2026-01-15T09:30:00.000Z",
            "subscription": {"id": "sub_01", "name": "Ops webhook"},
            "data": {
                "incidentId": "inc_42",
                "systemIds": ["sys_api"],
                "title": "API latency above 2 s",
                "severity": "major",
                "status": "investigating",
                "createdAt": "2026-01-15T09:29:58.000Z"
            }
        })),
        headers: vec![
            HeaderDoc::new(
                "Content-Type",
                "`application/json`, or `application/x-www-form-urlencoded` with content type `form`.",
            ),
            HeaderDoc::new("User-Agent", "`switchyard-plugin/<version>`."),
            HeaderDoc::new(
                "X-Delivery-Id",
                "The delivery id; the same for every retry of one delivery.",
            ),
            HeaderDoc::new(
                "X-Event-Type",
                "The event type, e.g. `incident.incident.created`.",
            ),
            HeaderDoc::new(
                "Authorization",
                "`Bearer <token>` or `Basic <credentials>` when that authentication is chosen.",
            ),
            HeaderDoc::new(
                "webhook-id, webhook-timestamp, webhook-signature",
                "With signing on: the Standard Webhooks headers (see Signing above).",
            ),
        ],
        external_docs_url: None,
    }
}
