"""Independent check of the webhook plugin's signing: the PyPI `standardwebhooks` verifier on
a request the real plugin sent. Reads a JSON file {"headers": {...}, "body": "...", "accept":
[secrets], "reject": [secrets]}; exits 0 when every `accept` secret verifies the request and
every `reject` secret does not, 1 otherwise (saying which)."""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def verifies(secret, body, headers):
    try:
        Webhook(secret).verify(body, headers)
        return True
    except WebhookVerificationError:
        return False


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        sent = json.load(f)
    failed = [
        f"secret #{i} of {kind}"
        for kind, want in (("accept", True), ("reject", False))
        for i, secret in enumerate(sent[kind])
        if verifies(secret, sent["body"], sent["headers"]) != want
    ]
    if failed:
        print("unexpected verification result for: " + ", ".join(failed))
        return 1
    print(f"verified {len(sent['accept'])}, rejected {len(sent['reject'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
