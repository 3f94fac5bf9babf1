// The console in a real headless Chromium against a real `switchyard serve` with the Python
// example plugin and a local vendor API (see harness.mjs). One coordinator walks the whole
// story in order — connection, subscription through the schema form, a server-side config
// error at its field, Preview, Send test event seen live, redeliver — and a second one checks
// the token prompt. A screenshot of each page goes to $CONSOLE_SCREENSHOTS (or a temp dir,
// printed). Run: scripts/test-console.sh (after `cargo build --workspace --bins`).

import assert from "node:assert/strict";
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";

import { registerEventTypes, startBrowser, startCoordinator, startVendor } from "./harness.mjs";

const API_TOKEN = "vendor-tok-5ecret-7781";
/** Bounds, not expectations: a loaded 2-core machine runs a Python plugin and Chromium slowly. */
const WAIT_MS = 90_000;
const OPTIONS_PATH = "/switchyard.coordinator.v1.ConnectionService/GetConnectionOptions";
const shots = process.env.CONSOLE_SCREENSHOTS ?? (await mkdtemp(join(tmpdir(), "sy-console-shots-")));
await mkdir(shots, { recursive: true });
console.log(`# screenshots in ${shots}`);

describe("the console against a coordinator", { timeout: 600_000 }, () => {
  let vendor, coordinator, browser, page;
  /** Every request the page made to GetConnectionOptions, with its context. */
  const resolverCalls = [];
  /** The bodies of every API answer the page received. */
  const bodies = [];

  before(async () => {
    vendor = await startVendor(API_TOKEN);
    coordinator = await startCoordinator();
    await registerEventTypes(coordinator);
    browser = await startBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(WAIT_MS);
    page.on("pageerror", (e) => console.log(`# page error: ${e.message}`));
    page.on("request", (r) => {
      if (r.url().endsWith(OPTIONS_PATH)) resolverCalls.push(r.url());
    });
    page.on("response", (r) => {
      if (r.url().startsWith(coordinator.url)) bodies.push(r.body().then((b) => b.toString("latin1"), () => ""));
    });
  });
  after(async () => {
    await browser?.close();
    await coordinator?.stop();
    await vendor?.stop();
  });
  // The page as each test left it, for a person looking into a failure.
  afterEach(() => page?.screenshot({ path: join(shots, "last.png"), fullPage: true }).catch(() => undefined));

  const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const secretNowhere = async () => {
    assert.ok(!(await page.content()).includes(API_TOKEN), "the secret is in the DOM");
    const values = await page.evaluate(() => [...document.querySelectorAll("input, textarea")].map((i) => i.value));
    assert.ok(!values.some((v) => v.includes(API_TOKEN)), "the secret is in an input");
    for (const body of await Promise.all(bodies)) assert.ok(!body.includes(API_TOKEN), "the secret is in an API response");
  };

  it("lists the providers and renders a provider's setup guide", async () => {
    await page.goto(`${coordinator.url}/`);
    const link = page.getByRole("link", { name: "Channel message (Python example)" });
    await link.waitFor();
    await shot("providers");
    await link.click();
    await page.getByRole("heading", { name: "Setup guide" }).waitFor();
    assert.match(await page.locator(".markdown").innerText(), /Create a connection with the API's base URL/);
    assert.match(await page.locator("pre.code").innerText(), /"mention": "alice"/);
    await page.getByText("connection options").first().waitFor();
    await shot("provider");
  });

  it("creates a connection and tests it", async () => {
    await page.getByRole("link", { name: "Connections" }).click();
    await page.getByLabel("New connection for").selectOption("pyexample.channel-post");
    await page.getByRole("button", { name: "New connection" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Chat API");
    await page.getByLabel("API base URL").fill(vendor.baseUrl);
    await page.getByLabel("API token").fill(API_TOKEN);
    await page.getByRole("button", { name: "Create connection" }).click();
    await page.getByText('Saved "Chat API".').waitFor();
    await page.getByRole("button", { name: "Test connection" }).click();
    await page.getByText("Connection works: connected: 2 channels visible").waitFor();
    assert.ok(vendor.calls.includes("GET /api/channels"), vendor.calls.join());
    await page.getByRole("row", { name: /Chat API/ }).waitFor();
    await page.getByPlaceholder("stored — leave blank to keep").waitFor();
    await secretNowhere();
    await shot("connections");
  });

  it("creates a subscription through the form: dependent dropdowns, fetched only when needed", async () => {
    await page.getByRole("link", { name: "Subscriptions" }).click();
    await page.getByRole("button", { name: "New subscription" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Ops chat");
    await page.getByLabel("Provider").selectOption("pyexample.channel-post");
    await page.getByLabel("Event types").fill("incident.incident.created");
    assert.equal(resolverCalls.length, 0, "nothing can be listed before a connection is chosen");
    await page.getByLabel("Connection", { exact: true }).selectOption({ label: "Chat API" });
    const channel = page.locator("select#cfg_channel");
    await channel.locator("option", { hasText: "Operations" }).waitFor({ state: "attached" });
    assert.equal(resolverCalls.length, 1, "one call for the channels, none for the members yet");
    await channel.selectOption("ops");
    const mention = page.locator("button#cfg_mention");
    await page.waitForFunction(() => !document.querySelector("button#cfg_mention")?.disabled);
    assert.equal(resolverCalls.length, 2, "choosing a channel fetched its members once");
    await mention.click();
    await page.getByLabel("Search Mention").fill("bo");
    const members = page.getByRole("listbox", { name: "Mention (optional)" }).getByRole("option");
    assert.equal(await members.count(), 1, "the search box filters the members");
    await page.getByRole("option", { name: "Bob" }).click();
    await page.locator("button#cfg_mention", { hasText: "Bob" }).waitFor();
    // The template editor offers the event type's payload paths.
    const editor = page.getByRole("textbox", { name: "Message (optional)" });
    await editor.click();
    await page.keyboard.type("payload.ti");
    await page.locator(".cm-tooltip-autocomplete li", { hasText: "payload.title" }).waitFor();
    await page.keyboard.press("Escape");
    // Unrelated fields: typing in them fetches nothing.
    await editor.fill("{{ payload.title");
    await page.getByLabel("Description (optional)").fill("pages the ops channel");
    assert.equal(resolverCalls.length, 2, "an unrelated field fetched options");
    // Changing the channel refetches the members and clears the mention chosen for the old one.
    await channel.selectOption("dev");
    await page.locator("button#cfg_mention", { hasText: "Choose…" }).waitFor();
    await page.waitForFunction(() => !document.querySelector("button#cfg_mention")?.disabled);
    assert.equal(resolverCalls.length, 3);
    assert.ok(vendor.calls.includes("GET /api/channels/dev/members"), vendor.calls.join());
    await mention.click();
    await page.getByRole("option", { name: "Carol" }).click();
    await shot("subscription-form");
  });

  it("shows the plugin's config error next to its field, then saves", async () => {
    await page.getByRole("button", { name: "Create subscription" }).click();
    const field = page.locator(".form-group", { has: page.locator("#cfg_textTemplate") }).last();
    await field.locator(".error-detail").waitFor();
    assert.match(await field.locator(".error-detail").innerText(), /\S/);
    await page.getByRole("alert").filter({ hasText: "at /textTemplate" }).waitFor();
    await shot("subscription-config-error");
    await page.getByRole("textbox", { name: "Message (optional)" }).fill("{{ payload.title }} needs you");
    await page.getByRole("button", { name: "Create subscription" }).click();
    await page.getByText('Saved "Ops chat".').waitFor();
    assert.equal(await field.locator(".error-detail").count(), 0, "the old error is gone");
    assert.equal(resolverCalls.length, 3, "saving refetched no options");
  });

  it("previews what would be sent, secrets masked", async () => {
    await page.getByRole("button", { name: "Preview" }).click();
    const preview = page.getByTestId("preview");
    await preview.waitFor();
    const text = await preview.innerText();
    assert.match(text, new RegExp(`POST ${vendor.baseUrl}/channels/dev/messages`));
    assert.match(text, /needs you/);
    assert.match(text, /Bearer \[REDACTED\]/);
    assert.equal(vendor.messages.length, 0, "a preview sends nothing");
    await secretNowhere();
    await shot("subscription-preview");
  });

  it("sends a test event whose delivery appears live, and redelivers it", async () => {
    const watcher = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    watcher.setDefaultTimeout(WAIT_MS);
    try {
      // The coordinator answers the watch's headers once it has subscribed it: from then on no
      // change is missed.
      const watching = watcher.waitForResponse((r) => r.url().endsWith("/WatchDeliveries"));
      await watcher.goto(`${coordinator.url}/#/deliveries`);
      await watcher.getByTestId("dl-total").filter({ hasText: "0 matching deliveries" }).waitFor();
      await watching;
      await page.getByRole("button", { name: "Send test event" }).click();
      const sent = await page.getByText(/Test event sent: delivery/).innerText();
      const id = /delivery (\S+)\./.exec(sent)[1];
      const row = watcher.locator(`tr[data-delivery="${id}"]`);
      await row.getByText("succeeded").waitFor();
      assert.equal(vendor.messages.length, 1);
      assert.equal(vendor.messages[0].mention, "carol");
      assert.match(vendor.messages[0].text, /needs you/);
      await watcher.screenshot({ path: join(shots, "deliveries.png"), fullPage: true });
      await row.getByRole("link").click();
      await watcher.getByTestId("attempt-rows").getByRole("row").first().waitFor();
      await watcher.getByRole("button", { name: "Redeliver" }).click();
      await watcher.getByTestId("attempt-rows").getByRole("row").nth(1).getByText("manual").waitFor();
      await watcher.getByTestId("delivery-status").getByText("succeeded").waitFor();
      assert.equal(vendor.messages.length, 2, "the redelivery posted again");
      await watcher.screenshot({ path: join(shots, "delivery.png"), fullPage: true });
    } finally {
      await watcher.close();
    }
  });

  it("charts the deliveries per hour", async () => {
    await page.getByRole("link", { name: "Stats" }).click();
    await page.getByTestId("stats-total").filter({ hasText: "1 delivery created in the last 24 hours" }).waitFor();
    await page.getByText("pyexample.channel-post: 1", { exact: true }).waitFor();
    await page.getByText("succeeded: 1", { exact: true }).waitFor();
    await shot("stats");
    await page.getByRole("link", { name: "Subscriptions" }).click();
    await page.getByTestId("subs-total").filter({ hasText: "1 subscription" }).waitFor();
    await shot("subscriptions");
    await secretNowhere();
  });

  it("filters the failed deliveries and redelivers them in bulk", async () => {
    const subs = JSON.parse((await coordinator.cli("--json", "subscriptions", "list")).stdout);
    const sub = (subs.subscriptions ?? subs).find((s) => s.name === "Ops chat");
    vendor.failing = true;
    await coordinator.cli("subscriptions", "test", sub.id, "--event-type", "incident.incident.created");
    await page.getByRole("link", { name: "Deliveries" }).click();
    await page.getByLabel("Status").selectOption({ label: "failed" });
    const failed = page.getByTestId("delivery-rows").getByRole("row");
    await page.getByTestId("dl-total").filter({ hasText: "1 matching delivery" }).waitFor();
    await failed.getByText("failed").waitFor();
    assert.match(await failed.innerText(), /400/);
    vendor.failing = false;
    const hourAgo = await page.evaluate(() => {
      const d = new Date(Date.now() - 3600_000);
      d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
      return d.toISOString().slice(0, 16);
    });
    const bulk = page.getByRole("form", { name: "Redeliver failed deliveries" });
    await bulk.getByLabel("Subscription").selectOption({ label: "Ops chat" });
    await bulk.getByLabel("Created from").fill(hourAgo);
    await bulk.getByRole("button", { name: "Redeliver failed" }).click();
    await page.getByText("1 failed delivery redelivered.").waitFor();
    // The row stays, and the watch turns it green.
    await failed.getByText("succeeded").waitFor();
    await shot("deliveries-bulk");
    assert.equal(vendor.messages.length, 3, "the bulk redelivery posted the failed message");
  });
});

describe("the console against a coordinator that requires a token", { timeout: 300_000 }, () => {
  const TOKEN = "console-admin-token-42";
  let coordinator, browser;
  before(async () => {
    coordinator = await startCoordinator({ token: TOKEN });
    browser = await startBrowser();
  });
  after(async () => {
    await browser?.close();
    await coordinator?.stop();
  });

  it("asks for the token and shows nothing without it", async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(`${coordinator.url}/`);
    const prompt = page.getByRole("dialog", { name: "This coordinator needs a token" });
    await prompt.waitFor();
    assert.equal(await page.getByRole("link", { name: /Python example/ }).count(), 0);
    await page.screenshot({ path: join(shots, "token-prompt.png") });
    await page.getByLabel("API token").fill("not-the-token");
    await page.getByRole("button", { name: "Use token" }).click();
    await page.getByText("The token given was refused.").waitFor();
    await page.getByLabel("API token").fill(TOKEN);
    await page.getByRole("button", { name: "Use token" }).click();
    await page.getByRole("link", { name: "Channel message (Python example)" }).waitFor();
    assert.equal(await prompt.count(), 0);
  });
});
