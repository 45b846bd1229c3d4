// The app's screens as people use them, in Debian's Chromium against the real server: the farmer's
// phone screens at 390×844 and the co-op console at 1366×768, each in Chinese and English, each
// checked by axe-core (no serious or critical violations) and saved as a screenshot artifact.
//
// The farmer takes two walk-up orders by hand, confirms one and syncs; the co-op's laptop then
// sees both, filters and searches them, moves them along in bulk (one refusal included), prints
// and exports the pick list, syncs the new statuses back to the server, adds a farmer whose
// new phone pairs by a photo of the QR code, and revokes that phone.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { accessibilityProblems, artifacts, laptopContext, launchChromium, phoneContext, startApp, startServer, waitFor } from "./support.mjs";

const shots = join(artifacts, "screens");
mkdirSync(shots, { recursive: true });

let server;
let browser;
before(async () => {
  server = await startServer();
  // The fake camera lets the Go Live screen show its preview in the screenshots.
  browser = await launchChromium({ media: true });
});
after(async () => {
  await browser?.close();
  server?.stop();
});

/** A page of the app in `locale`, the language chosen before the first paint. */
async function open(context, base, locale) {
  await context.addInitScript((chosen) => localStorage.setItem("fieldcast.locale", chosen), locale);
  const page = await context.newPage();
  page.on("pageerror", (error) => assert.fail(`page error: ${error.message}`));
  await page.goto(base);
  return page;
}

/** Opens `screen`'s tab, waits for `ready`, then checks accessibility and saves a screenshot. */
async function visit(page, { screen, ready, name }) {
  await page.getByTestId(`tab-${screen}`).click();
  await page.locator(ready).first().waitFor({ timeout: 20_000 });
  const problems = await accessibilityProblems(page);
  assert.deepEqual(problems, [], `${name}: accessibility`);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function apiOrders(token) {
  const response = await fetch(`${server.base}/api/v1/orders`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  const body = await response.json();
  return body.items;
}

test("the accessibility check itself finds a serious violation", async () => {
  const page = await browser.newPage();
  await page.setContent(`<html lang="en"><body><main><button></button><img src="x.png"></main></body></html>`);
  const problems = await accessibilityProblems(page);
  assert.ok(problems.some((p) => p.startsWith("button-name")), problems.join("\n"));
  await page.close();
});

test("the farmer's day on the phone: walk-up orders, a confirmation, Today's figures, sync; every screen in zh-CN and en", async () => {
  const app = await startApp(server);
  try {
    const context = await phoneContext(browser, "zh-CN");
    // The OS notification cannot be seen from a headless browser: a stand-in records what the
    // app asks the Notification API to show.
    await context.addInitScript(() => {
      globalThis.__notes = [];
      globalThis.Notification = class {
        static permission = "granted";
        static requestPermission = async () => "granted";
        constructor(title, options) {
          globalThis.__notes.push(`${title} | ${options?.body ?? ""}`);
        }
      };
    });
    const page = await open(context, app.base, "zh-CN");
    await page.getByTestId("today-go-live").waitFor();

    // Two walk-up orders typed in by hand, at the first pickup point (the co-op office, sorted by name).
    await page.getByTestId("tab-orders").tap();
    for (const [name, quantity] of [["王芳", "3"], ["Anna Rossi", "2"]]) {
      await page.getByTestId("add-sale").tap();
      await page.locator("[name=quantity]").fill(quantity);
      await page.locator("[name=buyer_name]").fill(name);
      await page.locator("[name=buyer_phone]").fill("13800138000");
      await page.getByTestId("sale-submit").tap();
      await page.getByTestId("add-sale").waitFor();
    }
    // A bad one is refused next to its fields and records nothing.
    await page.getByTestId("add-sale").tap();
    await page.locator("[name=quantity]").fill("-4");
    await page.locator("[name=buyer_phone]").fill("not a phone");
    await page.getByTestId("sale-submit").tap();
    await page.locator("#sale-quantity-error").waitFor();
    assert.equal(await page.locator("#sale-phone-error").textContent(), "请输入电话号码");
    await page.getByRole("button", { name: "取消" }).tap();
    const orders = page.getByTestId("order");
    await waitFor(async () => (await orders.count()) === 2, "two orders are listed");

    // Confirm the first one (newest first: Anna Rossi's).
    await orders.first().getByTestId("action-confirm").tap();
    await waitFor(async () => (await orders.first().getAttribute("data-status")) === "confirmed", "the order is confirmed");

    // Today counts what waits and what to pack, and sums what is owed.
    await page.getByTestId("tab-today").tap();
    await waitFor(async () => (await page.getByTestId("today-waiting").textContent()).startsWith("1"), "one order waits");
    assert.equal(await page.getByTestId("pack-group").count(), 1);
    assert.match(await page.getByTestId("pack-group").textContent(), /合作社办公室 Co-op office/);
    assert.match(await page.getByTestId("today-due").textContent(), /¥.*\d/);

    // A photo for the first product, from a file (the gallery): a thumbnail shows at once.
    const photoFile = join(mkdtempSync(join(tmpdir(), "fieldcast-photo-")), "peaches.jpg");
    execFileSync("convert", ["-seed", "3", "-size", "2000x1500", "plasma:orange-yellow", "-quality", "90", photoFile]);
    await page.getByTestId("tab-produce").tap();
    await page.getByTestId("edit-produce").first().tap();
    await page.getByTestId("photo-input").setInputFiles(photoFile);
    await page.getByTestId("save").tap();
    await page.getByTestId("listing-photo").first().waitFor();
    const titleWithPhoto = await page.getByTestId("listing-title").first().textContent();

    // Sync: both orders, the confirmation and the photo reach the server.
    await page.getByTestId("sync-now").tap();
    await waitFor(async () => (await page.getByTestId("sync-status").textContent()).includes("已同步"), "the sync finishes", 60_000);
    const onServer = await apiOrders(server.demo.farmer.token);
    assert.deepEqual(onServer.map((o) => o.status).sort(), ["confirmed", "placed"]);
    const listings = await (await fetch(`${server.base}/api/v1/listings`, { headers: { authorization: `Bearer ${server.demo.farmer.token}` } })).json();
    const withPhoto = listings.find((l) => l.details.title === titleWithPhoto);
    assert.equal(withPhoto.photos.length, 1, JSON.stringify(withPhoto));
    const served = await fetch(`${server.base}/photos/${withPhoto.photos[0].sha256}.jpg`);
    assert.equal(served.status, 200);
    assert.equal(served.headers.get("content-type"), "image/jpeg");

    // A buyer orders from the order link; the next pull brings it: a notification, a banner, and
    // Today counts it.
    const buyerOrder = await fetch(`${server.base}/api/v1/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": `screens-${Date.now()}` },
      body: JSON.stringify({
        listing_code: server.demo.listings[0].order_link.split("/l/")[1],
        quantity: "1",
        name: "赵六",
        phone: "13700001234",
        pickup_point_id: server.demo.pickup_points[0].id,
        payment_method: "cash_at_pickup",
      }),
    });
    assert.equal(buyerOrder.status, 201, await buyerOrder.text());
    await page.getByTestId("sync-now").tap();
    await page.getByTestId("order-arrived").waitFor({ timeout: 30_000 });
    assert.match(await page.getByTestId("order-arrived").textContent(), /新订单 · 赵六 · ¥/);
    assert.deepEqual(await page.evaluate(() => globalThis.__notes.map((n) => n.split(" | ")[0])), ["新订单"]);
    await page.getByTestId("tab-today").tap();
    await waitFor(async () => (await page.getByTestId("today-waiting").textContent()).startsWith("2"), "Today counts the new order");

    // Sharing a synced product: its order link, a QR code that loads, and copy to the clipboard.
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: app.base });
    await page.getByTestId("tab-produce").tap();
    await page.getByTestId("share-produce").first().tap();
    const link = await page.getByTestId("share-link").textContent();
    assert.ok(link.startsWith(`${server.base}/l/`), link);
    await waitFor(() => page.getByTestId("share-qr").evaluate((img) => img.complete && img.naturalWidth > 0), "the QR code loads");
    await page.getByTestId("share-copy").tap();
    await waitFor(async () => (await page.evaluate(() => navigator.clipboard.readText())) === link, "the link is on the clipboard");
    await page.screenshot({ path: join(shots, "farmer-share-zh-CN.png") });
    await page.getByTestId("share-close").tap();

    for (const locale of ["zh-CN", "en"]) {
      const context = await phoneContext(browser, locale);
      const page = await open(context, app.base, locale);
      await visit(page, { screen: "today", ready: "[data-testid=today-go-live]", name: `farmer-today-${locale}` });
      await visit(page, { screen: "produce", ready: "[data-testid=listing]", name: `farmer-produce-${locale}` });
      await visit(page, { screen: "orders", ready: "[data-testid=order]", name: `farmer-orders-${locale}` });
      await visit(page, { screen: "earnings", ready: "[data-testid=chart-days]", name: `farmer-earnings-${locale}` });
      await visit(page, { screen: "settings", ready: "[data-testid=account]", name: `farmer-settings-${locale}` });
      await visit(page, { screen: "live", ready: "[data-testid=start-live]", name: `farmer-live-${locale}` });
      // Every button a thumb taps is at least 48 px high.
      await page.getByTestId("tab-orders").tap();
      const small = await page.evaluate(() =>
        [...document.querySelectorAll("button")].filter((b) => b.getBoundingClientRect().height < 48).map((b) => b.textContent),
      );
      assert.deepEqual(small, [], "touch targets under 48 px");
      await context.close();
    }

    // Renaming this phone in Settings: the co-op's device list shows the new name.
    await page.getByTestId("tab-settings").tap();
    assert.equal(await page.getByTestId("device-name").inputValue(), "Zhang's phone");
    await page.getByTestId("device-name").fill("  张伟的新手机 ");
    await page.getByTestId("device-name-save").tap();
    await page.getByTestId("device-name-saved").waitFor();
    assert.equal(await page.getByTestId("device-name").inputValue(), "张伟的新手机", "the name as the marketplace keeps it");
    const devices = await (await fetch(`${server.base}/api/v1/devices`, { headers: { authorization: `Bearer ${server.demo.farmer.token}` } })).json();
    assert.ok(devices.some((d) => d.name === "张伟的新手机"), JSON.stringify(devices));

    // Signing out (everything synced) leaves an unpaired device: Today asks to connect.
    await page.getByTestId("sign-out").tap();
    await page.getByTestId("sign-out-confirm").tap();
    await page.getByTestId("today-connect").waitFor();
    await page.getByTestId("tab-produce").tap();
    await waitFor(async () => (await page.getByTestId("listing").count()) === 0, "no produce is left on the device");
    await context.close();
  } finally {
    app.stop();
  }
});

test("the co-op's day on the laptop: filter and search, bulk steps with a refusal, print and export the pick list, sync back", async () => {
  const app = await startApp(server, { code: server.demo.admin.pairing_code, name: "Co-op laptop" });
  try {
    const context = await laptopContext(browser, "en");
    const page = await open(context, app.base, "en");
    const rows = page.getByTestId("order-row");
    await waitFor(async () => (await rows.count()) === 3, "the farmer's two walk-up orders and the buyer's are in the table");

    // Filters and search.
    await page.getByTestId("filter-status").selectOption("placed");
    await waitFor(async () => (await rows.count()) === 2, "two placed orders");
    await page.getByTestId("filter-status").selectOption("all");
    // Every order is the demo farmer's: named in its row and offered as the one farmer to filter by.
    const farmer = server.demo.farmer.name;
    assert.deepEqual(await page.getByTestId("order-farmer").allTextContents(), [farmer, farmer, farmer]);
    assert.deepEqual(await page.getByTestId("filter-farmer").locator("option").allTextContents(), ["All", farmer]);
    await page.getByTestId("filter-farmer").selectOption({ label: farmer });
    await waitFor(async () => (await rows.count()) === 3, "all three are Zhang's");
    await page.getByTestId("filter-farmer").selectOption("all");
    await page.keyboard.press("/");
    await page.keyboard.type("anna");
    await waitFor(async () => (await rows.count()) === 1, "the search finds Anna");
    assert.match(await rows.first().textContent(), /Anna Rossi/);
    await page.getByTestId("search").fill("");
    await page.getByTestId("filter-channel").selectOption("live");
    await waitFor(async () => (await rows.count()) === 0, "no live orders");
    await page.getByTestId("filter-channel").selectOption("in_person");
    await waitFor(async () => (await rows.count()) === 2, "two were taken in person");

    // Bulk, on the two shown: confirming changes the placed one and refuses the confirmed one.
    let bulks = 0;
    const bulk = async (action) => {
      await page.getByTestId("select-all").check();
      await page.getByTestId("bulk-action").selectOption(action);
      await page.getByTestId("bulk-apply").click();
      bulks += 1;
      await page.locator(`[data-testid=bulk-outcome][data-seq="${bulks}"]`).waitFor();
      return page.getByTestId("bulk-outcome").textContent();
    };
    assert.equal(await bulk("confirm"), "1 changed · 1 could not take that step");
    assert.equal(await bulk("pack"), "2 changed · 0 could not take that step");
    assert.equal(await bulk("mark_ready"), "2 changed · 0 could not take that step");
    await page.getByTestId("filter-status").selectOption("ready_for_pickup");
    await waitFor(async () => (await rows.count()) === 2, "both are ready for pickup");

    // Pick list for the co-op office today: shown, printable, exported as CSV.
    await page.getByTestId("tab-pick_lists").click();
    await page.getByTestId("pick-show").click();
    await waitFor(async () => (await page.getByTestId("pick-row").count()) === 2, "two rows to hand over");
    await page.emulateMedia({ media: "print" });
    assert.equal(await page.locator(".tabs").isVisible(), false, "printing hides the app around the sheet");
    assert.equal(await page.getByTestId("pick-sheet").isVisible(), true);
    await page.emulateMedia({ media: "screen" });
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("pick-csv").click()]);
    const chunks = [];
    for await (const chunk of await download.createReadStream()) chunks.push(chunk);
    const csv = Buffer.concat(chunks).toString("utf8");
    assert.ok(csv.startsWith("\uFEFFpickup_point,date,buyer_name,buyer_phone,product,quantity,unit,status,to_collect,currency,order_id\r\n"), csv);
    const lines = csv.trim().split("\r\n");
    assert.equal(lines.length, 3, csv);
    assert.match(csv, /合作社办公室 Co-op office,\d{4}-\d\d-\d\d,王芳,13800138000,[^,]+,3,[a-z]+,ready_for_pickup,[\d.]+,CNY,[0-9a-f-]{36}\r\n/);

    // The statuses reach the server.
    await page.getByTestId("tab-console").click();
    await page.getByTestId("sync-now").click();
    await waitFor(
      async () => (await apiOrders(server.demo.admin.token)).filter((o) => o.status === "ready_for_pickup").length === 2,
      "the server has both in-person orders ready for pickup",
      60_000,
    );

    // Farmers: add one and show his code; his new phone pairs by photographing the QR code on
    // the laptop's screen; the code works once; revoking the phone locks it out.
    await page.getByTestId("tab-farmers").click();
    await page.getByTestId("farmer-name").fill("王芳 Wang Fang");
    await page.getByTestId("add-farmer").click();
    const digits = (await page.getByTestId("pairing-digits").textContent()).replace(/\s/g, "");
    assert.match(digits, /^\d{8}$/);
    const photoOfCode = await page.getByTestId("pairing-qr").screenshot();
    const photoOfDigits = await page.getByTestId("pairing-digits").screenshot();
    const wangsApp = await startApp(server, { code: null });
    try {
      const phone = await phoneContext(browser, "en");
      const wang = await open(phone, wangsApp.base, "en");
      await wang.getByTestId("tab-settings").click();
      await wang.getByTestId("open-pairing").click();
      const scan = (name, buffer) => wang.getByTestId("pair-scan-input").setInputFiles({ name, mimeType: "image/png", buffer });
      await scan("digits.png", photoOfDigits);
      await waitFor(async () => (await wang.getByTestId("pair-error").count()) > 0, "a picture without a code is refused");
      assert.match(await wang.getByTestId("pair-error").textContent(), /No code found/);
      await scan("code.png", photoOfCode);
      await wang.getByTestId("pair-scanned").waitFor();
      assert.equal(await wang.getByTestId("pair-error").count(), 0);
      assert.equal(await wang.locator("input[name=server]").inputValue(), server.base, "the QR code carries the server's address");
      assert.equal(await wang.locator("input[name=code]").inputValue(), digits, "and the code shown beside it");
      assert.deepEqual(await accessibilityProblems(wang), [], "pairing sheet: accessibility");
      await wang.screenshot({ path: join(shots, "phone-pairing-scanned-en.png"), fullPage: true });
      await wang.locator("input[name=device_name]").fill("Wang's phone");
      await wang.getByTestId("pair-submit").click();
      // Paired, a farmer's app opens on Today.
      await wang.getByTestId("today-waiting").waitFor();
      await wang.getByTestId("tab-settings").click();
      await wang.getByTestId("account").waitFor();
      assert.match(await wang.getByTestId("account").textContent(), /王芳 Wang Fang/);

      const pair = (code) =>
        fetch(`${server.base}/api/v1/pair`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code, device_name: "Another phone" }) });
      assert.equal((await pair(digits)).status, 400, "a pairing code works once");
      await page.getByTestId("tab-console").click();
      await page.getByTestId("tab-farmers").click();
      const wangsPhone = page.getByTestId("device-row").filter({ hasText: "Wang's phone" });
      await wangsPhone.getByTestId("revoke").click();
      await waitFor(async () => (await wangsPhone.getAttribute("data-revoked")) === "true", "the phone shows as revoked");
      await wang.getByTestId("tab-today").click();
      await wang.getByTestId("sync-now").click();
      await waitFor(
        async () => (await wang.getByTestId("sync-status").textContent()).includes("signed out"),
        "the revoked phone is told it was signed out",
        30_000,
      );
      await phone.close();
    } finally {
      wangsApp.stop();
    }

    for (const locale of ["en", "zh-CN"]) {
      const context = await laptopContext(browser, locale);
      const page = await open(context, app.base, locale);
      await visit(page, { screen: "console", ready: "[data-testid=order-row]", name: `console-orders-${locale}` });
      await page.getByTestId("tab-pick_lists").click();
      await page.getByTestId("pick-show").click();
      await visit(page, { screen: "pick_lists", ready: "[data-testid=pick-row]", name: `console-pick-list-${locale}` });
      await page.getByTestId("tab-dashboard").click();
      // Sales per farmer, named (the names come from the marketplace after the chart).
      const perFarmer = page.getByTestId("chart-farmers");
      await waitFor(async () => ((await perFarmer.count()) > 0 && (await perFarmer.textContent()).includes(server.demo.farmer.name)), "the dashboard names the farmer");
      await visit(page, { screen: "dashboard", ready: "[data-testid=chart-farmers]", name: `console-dashboard-${locale}` });
      await visit(page, { screen: "farmers", ready: "[data-testid=device-row]", name: `console-farmers-${locale}` });
      await visit(page, { screen: "settings", ready: "[data-testid=account]", name: `console-settings-${locale}` });
      await context.close();
    }
    await context.close();
  } finally {
    app.stop();
  }
});
