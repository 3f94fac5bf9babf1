//! The Jira provider's user-facing documentation: creating an API token and a connection,
//! what each event does to the issue, the field mappings, the transition on resolution, and
//! an example of the issue Switchyard creates.

use serde_json::json;
use switchyard_plugin_sdk::{Documentation, HeaderDoc};

const SETUP_GUIDE: &str = "\
## Jira Cloud

Creates one Jira issue per incident and follows the incident's lifecycle on it.

### 1. Create an API token
1. Sign in to <https://id.atlassian.com/manage-profile/security/api-tokens> as the account
   Switchyard should act as (a dedicated bot account is best: issues and comments show it as
   the author).
2. **Create API token**, name it (e.g. `Switchyard`), and copy it.
3. The account needs the project permissions *Browse projects*, *Create issues*, *Add
   comments* and, for the resolve transition, *Transition issues*.

### 2. Create a connection
- **Base URL**: your site, e.g. `https://your-domain.atlassian.net`.
- **Email**: the account's email address.
- **API token**: the token from step 1. It is stored encrypted and never shown again.

**Test connection** calls `GET /rest/api/3/myself` and shows whom the token belongs to;
testing a subscription also checks that its project can create its issue type.

### 3. Configure the subscription
- **Project**, **Issue type** (sub-task types are not offered: they need a parent) and,
  optionally, **Priority** are picked from your site.
- **Summary template** (one line, at most 255 characters; default: the payload's `title`
  and `status`), e.g. `[{{ payload.severity }}] {{ payload.title }}`.
- **Description template** and **comment template** are **Markdown**, converted to Jira's
  rich text (Atlassian Document Format): `# headings`, `**bold**`, `*italic*`, `` `code` ``,
  `~~strike~~`, `[links](https://…)`, bullet and numbered lists (nested by indenting),
  ```` ``` ```` code blocks and `> quotes`. A line break is kept as a line break. Use
  `{{ payload.title | markdown_escape }}` for text that must not be read as Markdown.
  Default description: the payload's fields as a list.
- **Field mappings** set more fields of the new issue, each from a template. Pick the field
  from the list of the create screen of your project and issue type (required ones are marked
  ` *`). The rendered text is converted to the field's type: numbers, dates (`YYYY-MM-DD`),
  select options (by value or id), users (account id), components and versions (by name or
  id), multi-line text (Markdown, as above), and lists of these (comma-separated, or a JSON
  array such as `{{ payload.systemIds | tojson }}`). An empty result leaves the field unset.
- **Labels** are added to every issue.
- **Resolve transition**: the workflow transition to apply on resolution, by name (`Done`)
  or id (`31`). Left out, resolution only adds a comment.

### What each event does
- The incident's first event (*created*) **creates the issue**. The external id of every
  delivery is the issue key (e.g. `OPS-123`), kept for the incident's later events.
- *updated* / *acknowledged* add a **comment** to that issue. Each comment carries a
  property naming its delivery, so a retried attempt that finds its comment already there
  (the answer was lost, or the transition after it failed) does not add it again.
- *resolved* (or a payload whose `status` is `resolved`) adds a comment and applies the
  **resolve transition**. An issue that is already in a *Done* status is left as it is; a
  transition the issue does not have fails at once, naming the ones it has.
- An event whose incident has no issue yet (its *created* failed) creates one.

Every issue carries the label `switchyard-<delivery id>`. When an attempt times out after
Jira created the issue, the retry finds the issue by that label (`POST /rest/api/3/search/jql`)
and creates nothing, so keep the **Labels** field on the project's create screen. Jira's
search index can lag a few seconds behind; Switchyard's retries wait longer than that.

### Failures
400 (an invalid field, a missing required field) fails at once with Jira's own messages;
401/403 fail at once (check the email, the token and the account's permissions); 404 (a
deleted issue or project) fails at once; 429 and 503 wait as Jira asks (`Retry-After`) and
retry; other 5xx and network errors are retried.
";

/// The provider's documentation.
#[must_use]
pub fn documentation() -> Documentation {
    Documentation {
        setup_guide: SETUP_GUIDE.to_owned(),
        example_payload: Some(json!({
            "fields": {
                "project": {"key": "OPS"},
                "issuetype": {"id": "10001"},
                "summary": "Checkout API down (investigating)",
                "description": {"type": "doc", "version": 1, "content": [
                    {"type": "paragraph", "content": [
                        {"type": "text", "text": "Checkout API down", "marks": [{"type": "strong"}]}
                    ]}
                ]},
                "priority": {"id": "2"},
                "labels": ["incident", "switchyard-dlv_01JX3Q"]
            }
        })),
        headers: vec![
            HeaderDoc::new("Authorization", "`Basic base64(<email>:<API token>)`"),
            HeaderDoc::new("Content-Type", "`application/json`"),
        ],
        external_docs_url: Some(
            "https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/"
                .to_owned(),
        ),
    }
}
