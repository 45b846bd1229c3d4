// A buyer on a phone opens an order link, orders, and lands on the order's status page; the
// order is the server's, at the server's price. Screenshots go to the artifacts folder.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";

import { artifacts, launchChromium, phoneContext, startServer } from "./support.mjs";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** Collects console errors and CSP violations, which must stay empty. */
function watchProblems(page) {
  const problems = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  return problems;
}

test("a buyer orders corn from the order link in Chinese", async () => {
  const context = await phoneContext(browser, "zh-CN");
  const page = await context.newPage();
  const problems = watchProblems(page);
  const corn = server.demo.listings.find((l) => l.title.includes("Sweet corn"));
  await page.goto(corn.order_link);
  await assert.doesNotReject(page.getByRole("heading", { name: "甜玉米 Sweet corn" }).waitFor());
  assert.match(await page.locator(".price").innerText(), /¥3\.50/);
  await page.screenshot({ path: join(artifacts, "buyer-order-page-zh.png"), fullPage: true });

  await page.selectOption("#quantity", "3");
  await page.fill("#name", "王芳");
  await page.fill("#phone", "138 0013 8000");
  await page.getByText("村广场 Village square").tap();
  await page.getByRole("button", { name: "下单" }).tap();

  await page.waitForURL(/\/o\/[A-Za-z0-9_-]{43}$/);
  assert.equal(await page.locator("h1").innerText(), "订单已收到");
  assert.equal(await page.locator("#total").innerText(), "¥10.50");
  assert.equal(await page.locator("#status").getAttribute("data-status"), "placed");
  await page.screenshot({ path: join(artifacts, "buyer-status-page-zh.png"), fullPage: true });

  // The order reached the farmer: Zhang's token sees it, with 3 jin taken from stock.
  const orders = await (await fetch(`${server.base}/api/v1/orders`, {
    headers: { authorization: `Bearer ${server.demo.farmer.token}` },
  })).json();
  assert.equal(orders.items.length, 1);
  assert.equal(orders.items[0].buyer.name, "王芳");
  assert.equal(orders.items[0].total.minor, 1050);
  assert.deepEqual(problems, [], "no console errors or CSP violations");
  await context.close();
});

test("a buyer switches to English, chooses delivery, and a double tap makes one order", async () => {
  const context = await phoneContext(browser, "it-IT");
  const page = await context.newPage();
  const problems = watchProblems(page);
  const eggs = server.demo.listings.find((l) => l.title.includes("eggs"));
  await page.goto(eggs.order_link);
  assert.equal(await page.locator("html").getAttribute("lang"), "it");
  await page.getByRole("link", { name: "English" }).tap();
  assert.equal(await page.locator("html").getAttribute("lang"), "en");

  await page.fill("#name", "Anna");
  await page.fill("#phone", "+39 333 1234567");
  await page.getByText("Delivery to my address").tap();
  await page.fill("#address", "Via Roma 1, Bologna");
  // The script greys out cash at pickup once delivery is chosen, and moves the choice along.
  assert.equal(await page.locator("input[value=cash_at_pickup]").isDisabled(), true);
  assert.equal(await page.locator("input[value=cash_on_delivery]").isChecked(), true);
  await page.screenshot({ path: join(artifacts, "buyer-order-form-en.png"), fullPage: true });

  const button = page.getByRole("button", { name: "Place order" });
  await Promise.all([page.waitForURL(/\/o\//), button.dblclick()]);
  assert.equal(await page.locator("h1").innerText(), "Order received");
  assert.match(await page.locator("body").innerText(), /Via Roma 1, Bologna/);

  const orders = await (await fetch(`${server.base}/api/v1/orders?q=Anna`, {
    headers: { authorization: `Bearer ${server.demo.admin.token}` },
  })).json();
  assert.equal(orders.items.length, 1, "a double tap makes one order");
  assert.deepEqual(problems, []);
  await context.close();
});

test("the page works with JavaScript off", async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false, locale: "en" });
  const page = await context.newPage();
  const peaches = server.demo.listings.find((l) => l.title.includes("Peaches"));
  await page.goto(peaches.order_link);
  await page.fill("#name", "Li");
  await page.fill("#phone", "13900139000");
  await page.getByRole("button", { name: "Place order" }).click();
  await page.waitForURL(/\/o\//);
  assert.equal(await page.locator("#total").innerText(), "¥60.00");
  await context.close();
});
