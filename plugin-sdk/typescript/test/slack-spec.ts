/**
 * Slack incoming-webhook messages checked against Slack's official Web API spec
 * (`tests/vendor-specs/slack/slack_web_openapi_v2.json`): the spec has no operation for incoming
 * webhooks, whose message fields are those of `chat.postMessage`, so a message must use only
 * that operation's parameters, each of its declared type, and carry `text`.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { REPO_DIR } from "./kit.js";

/** The parameters of `chat.postMessage` in Slack's official Web API spec (Swagger 2). */
function postMessageParameters(): Map<string, string> {
  const spec = JSON.parse(readFileSync(join(REPO_DIR, "tests/vendor-specs/slack/slack_web_openapi_v2.json"), "utf8"));
  const params = spec.paths["/chat.postMessage"].post.parameters as { name: string; type: string; in: string }[];
  return new Map(params.filter((p) => p.in === "formData").map((p) => [p.name, p.type]));
}

/** Every field of a webhook message is a `chat.postMessage` parameter of its declared type. */
export function assertSlackMessage(body: Record<string, unknown>): void {
  const declared = postMessageParameters();
  for (const [field, value] of Object.entries(body)) {
    const type = declared.get(field);
    assert.ok(type, `${field} is not a chat.postMessage parameter in Slack's spec`);
    assert.equal(typeof value, type, `${field} should be a ${type}`);
  }
  assert.equal(typeof body["text"], "string", "an incoming webhook message needs text");
}
