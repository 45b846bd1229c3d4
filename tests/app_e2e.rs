//! The real Tauri app under Xvfb, driven through tauri-driver and WebKitWebDriver: a farmer adds a
//! product, makes mistakes in a second one, closes the app, opens it again, and the product is
//! still there with the right price, stored in the SQLite file; the farmer's day offline and back;
//! the co-op's day on the console, down to the pick list's CSV file in the Downloads folder and its
//! printout through the system's print dialog. Each app gets a D-Bus session of its own, on which
//! the desktop notifications it sends are recorded.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::{Client, ClientBuilder, Locator};
use tests::{Guard, MarketServer, ServerProcess, SessionBus, VirtualDisplay, artifacts_dir, free_port, http_get, http_head_of_get, required_env, wait_for_port, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// tauri-driver on a display with the app's data in `data_dir`.
struct Driver {
    display: VirtualDisplay,
    _driver: Guard,
    url: String,
    app: String,
    /// The app's Downloads folder (set through XDG user dirs), where CSV exports land.
    downloads: tempfile::TempDir,
    /// The app's Documents folder, where the print dialog's "Print to File" writes.
    documents: tempfile::TempDir,
    _config: tempfile::TempDir,
    /// The app's desktop session bus: the notifications it sent.
    bus: SessionBus,
}

impl Driver {
    fn start(data_dir: &Path) -> anyhow::Result<Driver> {
        tests::install_crypto();
        let app = required_env("FIELDCAST_APP_BIN")?;
        anyhow::ensure!(Path::new(&app).exists(), "the app binary {app} does not exist; run `cargo xtask test`");
        let tauri_driver = std::env::var("FIELDCAST_TAURI_DRIVER").unwrap_or_else(|_| "tauri-driver".into());
        let display = VirtualDisplay::start()?;
        let bus = SessionBus::start()?;
        let (downloads, documents, config) = (tempfile::tempdir()?, tempfile::tempdir()?, tempfile::tempdir()?);
        let user_dirs = format!("XDG_DOWNLOAD_DIR=\"{}\"\nXDG_DOCUMENTS_DIR=\"{}\"\n", downloads.path().display(), documents.path().display());
        std::fs::write(config.path().join("user-dirs.dirs"), user_dirs)?;
        let port = free_port()?;
        let native_port = free_port()?;
        let driver = Guard::spawn(
            "tauri-driver",
            Command::new(&tauri_driver)
                .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
                .env("DISPLAY", display.name())
                .env("FIELDCAST_DATA_DIR", data_dir)
                .env("XDG_CONFIG_HOME", config.path())
                .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
                // A fixed language for the webview, so the first screen is predictable.
                .env("LANG", "zh_CN.UTF-8")
                .env("LANGUAGE", "zh_CN"),
        )?;
        wait_for_port(port, WAIT)?;
        Ok(Driver { display, _driver: driver, url: format!("http://127.0.0.1:{port}"), app, downloads, documents, _config: config, bus })
    }

    /// Launches the app and connects to its webview.
    async fn open_app(&self) -> anyhow::Result<Client> {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), "wry".into());
        capabilities.insert("tauri:options".into(), serde_json::json!({ "application": self.app }));
        let client = ClientBuilder::rustls()?.capabilities(capabilities).connect(&self.url).await?;
        client.wait().at_most(WAIT).for_element(Locator::Css("[data-testid=tab-produce]")).await?;
        // The language is a saved preference; choose Chinese explicitly so the test reads one language.
        choose(&client, "language", "zh-CN").await?;
        // The app opens on Today; these tests work on "My produce".
        client.find(Locator::Css("[data-testid=tab-produce]")).await?.click().await?;
        client.wait().at_most(WAIT).for_element(Locator::Css("[data-testid=add-produce]")).await?;
        Ok(client)
    }

    /// Answers the system print dialog the app opened as a person with no printer would: the
    /// first printer in the list ("Print to File", the only one without CUPS), then Enter. Returns
    /// the text of the PDF it wrote to the Documents folder.
    ///
    /// The dialog is a GTK window, out of WebDriver's reach, so keys go to it through the X server
    /// (`xdotool`). It fills its printer list by itself after it opens, so the keys are sent again
    /// until a PDF appears. The pointer waits in a corner outside the app's window: a key that
    /// arrives as the dialog closes then reaches no window rather than the app.
    fn print_to_file(&self) -> anyhow::Result<String> {
        let xdotool = |args: &[&str]| Command::new("xdotool").args(args).env("DISPLAY", self.display.name()).output().context("running xdotool (apt package xdotool)");
        xdotool(&["mousemove", "1279", "899"])?;
        let mut text = String::new();
        wait_until("the printed pick list", WAIT, || {
            let pdf = std::fs::read_dir(self.documents.path())?.filter_map(Result::ok).map(|e| e.path()).find(|p| p.extension().is_some_and(|e| e == "pdf"));
            if let Some(pdf) = pdf {
                // pdftotext fails on a file that is still being written.
                let output = Command::new("pdftotext").args(["-layout"]).arg(&pdf).arg("-").output().context("running pdftotext (apt package poppler-utils)")?;
                if output.status.success() {
                    text = String::from_utf8(output.stdout)?;
                    return Ok(true);
                }
            }
            let found = xdotool(&["search", "--onlyvisible", "--name", "^(Print|打印)$"])?;
            if let Some(dialog) = String::from_utf8_lossy(&found.stdout).split_whitespace().next() {
                xdotool(&["windowfocus", "--sync", dialog])?;
                xdotool(&["key", "Down", "Return"])?;
            }
            Ok(false)
        })?;
        Ok(text)
    }
}

/// Runs a find-then-act interaction again while the screen is still rendering what it acts on: a
/// screen that finishes loading its data replaces elements (a stale reference) or adds a select's
/// options (none to choose yet). Any other error, or one that outlasts [`WAIT`], is returned.
async fn settled<F, Fut>(mut act: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), CmdError>>,
{
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match act().await {
            Ok(()) => return Ok(()),
            Err(CmdError::Standard(error))
                if std::time::Instant::now() < deadline
                    && matches!(
                        error.error,
                        ErrorStatus::StaleElementReference | ErrorStatus::NoSuchElement | ErrorStatus::ElementNotInteractable | ErrorStatus::InvalidElementState
                    ) => {}
            Err(error) => return Err(error.into()),
        }
    }
}

async fn fill(client: &Client, name: &str, value: &str) -> anyhow::Result<()> {
    settled(|| async {
        let input = client.find(Locator::Css(&format!("[name={name}]"))).await?;
        input.clear().await?;
        // WebKitWebDriver refuses an empty text as "missing"; clearing already did the work.
        if !value.is_empty() {
            input.send_keys(value).await?;
        }
        Ok(())
    })
    .await
}

async fn text_of(client: &Client, css: &str) -> anyhow::Result<String> {
    Ok(client.wait().at_most(WAIT).for_element(Locator::Css(css)).await?.text().await?)
}

async fn screenshot(client: &Client, name: &str) -> anyhow::Result<()> {
    std::fs::write(artifacts_dir()?.join(name), client.screenshot().await?)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_product_added_in_the_app_is_still_there_after_a_restart() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let driver = Driver::start(data.path())?;

    let client = driver.open_app().await?;
    assert_eq!(text_of(&client, ".empty").await?, "还没有商品。添加你要卖的东西吧。");

    // A good product.
    client.find(Locator::Css("[data-testid=add-produce]")).await?.click().await?;
    fill(&client, "title", "甜玉米").await?;
    client.find(Locator::Css("[name=unit]")).await?.select_by_value("jin").await?;
    fill(&client, "price", "3.50").await?;
    fill(&client, "stock", "50").await?;
    client.find(Locator::Css("[data-testid=save]")).await?.click().await?;
    assert_eq!(text_of(&client, "[data-testid=listing-title]").await?, "甜玉米");
    assert_eq!(text_of(&client, "[data-testid=listing-price]").await?, "¥3.50 / 斤");
    assert_eq!(text_of(&client, "[data-testid=sync-status]").await?, "已保存在本机 · 1 条待同步");

    // A bad one: every mistake is named next to its field, in Chinese, and nothing is saved.
    client.find(Locator::Css("[data-testid=add-produce]")).await?.click().await?;
    fill(&client, "title", &"长".repeat(500)).await?;
    fill(&client, "price", "-1").await?;
    fill(&client, "stock", "2.5").await?;
    client.find(Locator::Css("[name=unit]")).await?.select_by_value("box").await?;
    client.find(Locator::Css("[data-testid=save]")).await?.click().await?;
    assert_eq!(text_of(&client, "[data-testid=error-title]").await?, "最多 120 个字");
    assert_eq!(text_of(&client, "[data-testid=error-price]").await?, "不能是负数");
    assert_eq!(text_of(&client, "[data-testid=error-stock]").await?, "这个单位只能用整数");
    screenshot(&client, "app-form-errors.png").await?;
    fill(&client, "title", "").await?;
    client.find(Locator::Css("[data-testid=save]")).await?.click().await?;
    assert_eq!(text_of(&client, "[data-testid=error-title]").await?, "必填");
    client.find(Locator::Css("[data-testid=cancel]")).await?.click().await?;
    assert_eq!(client.find_all(Locator::Css("[data-testid=listing]")).await?.len(), 1);
    screenshot(&client, "app-my-produce.png").await?;

    // Closing the session quits the app.
    client.close().await?;

    let client = driver.open_app().await?;
    assert_eq!(text_of(&client, "[data-testid=listing-title]").await?, "甜玉米");
    assert_eq!(text_of(&client, "[data-testid=listing-price]").await?, "¥3.50 / 斤");
    assert_eq!(client.find_all(Locator::Css("[data-testid=listing]")).await?.len(), 1);
    screenshot(&client, "app-after-restart.png").await?;

    // Debian's WebKitGTK has no WebRTC: the Go Live screen says so instead of failing.
    client.find(Locator::Css("[data-testid=tab-live]")).await?.click().await?;
    let unsupported = text_of(&client, "[data-testid=go-live-unsupported]").await?;
    assert!(unsupported.contains("WebRTC"), "{unsupported}");
    screenshot(&client, "app-go-live-webkitgtk.png").await?;
    client.close().await?;

    // The product is in the SQLite file, with its outbox entry, and the price in integer fen.
    let store = store::Store::open(&data.path().join(client::DATABASE_FILE))?;
    let listings = store.listings()?;
    assert_eq!(listings.len(), 1);
    assert_eq!(listings[0].details.price, domain::money::Money::new(350, domain::money::Currency::CNY));
    assert_eq!(store.outbox_len()?, 1);
    Ok(())
}

/// Waits until the element marked `testid` shows `part` in its text, returning the text. The
/// condition is an XPath, so WebDriver itself polls it until the deadline.
async fn wait_for_text(client: &Client, testid: &str, part: &str) -> anyhow::Result<String> {
    let xpath = format!("//*[@data-testid='{testid}'][contains(., '{part}')]");
    let found = client.wait().at_most(WAIT).for_element(Locator::XPath(&xpath)).await;
    Ok(found.with_context(|| format!("{testid} never showed {part:?}"))?.text().await?)
}

/// Asks for a sync and waits (briefly) until the status line says it finished; true if it did.
/// A click that lands on a button the status line just replaced is the next round's to make.
async fn sync_round(client: &Client) -> bool {
    if let Ok(button) = client.find(Locator::Css("[data-testid=sync-now]")).await {
        button.click().await.ok();
    }
    let done = "//*[@data-testid='sync-status'][contains(., '已同步')]";
    client.wait().at_most(Duration::from_secs(5)).for_element(Locator::XPath(done)).await.is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_pairs_with_the_co_op_and_syncs_what_it_made_offline() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let driver = Driver::start(data.path())?;
    let client = driver.open_app().await?;

    // Offline first: nothing to sync to yet, the product waits on the device.
    client.find(Locator::Css("[data-testid=add-produce]")).await?.click().await?;
    fill(&client, "title", "青豆 Green beans").await?;
    client.find(Locator::Css("[name=unit]")).await?.select_by_value("kg").await?;
    fill(&client, "price", "6").await?;
    fill(&client, "stock", "20").await?;
    client.find(Locator::Css("[data-testid=save]")).await?.click().await?;
    assert_eq!(text_of(&client, "[data-testid=listing-pending]").await?, "等待同步");

    // The co-op's server comes up; the farmer types its address and the code from the co-op.
    let market = MarketServer::start_demo()?;
    client.find(Locator::Css("[data-testid=open-pairing]")).await?.click().await?;
    fill(&client, "server", &market.base).await?;
    fill(&client, "code", "0000 0000").await?;
    client.find(Locator::Css("[data-testid=pair-submit]")).await?.click().await?;
    assert_eq!(text_of(&client, "[data-testid=pair-error]").await?, "配对码不对、已用过或已过期。请向合作社要一个新的。");
    fill(&client, "code", &market.farmer_pairing_code()?).await?;
    fill(&client, "device_name", "张伟的手机").await?;
    client.find(Locator::Css("[data-testid=pair-submit]")).await?.click().await?;

    // The app syncs by itself: the demo produce comes down, the beans go up.
    let status = wait_for_text(&client, "sync-status", "已同步").await?;
    assert!(status.ends_with("已同步"), "{status}");
    client.find(Locator::Css("[data-testid=sync-now]")).await?.click().await?;
    // Synced means four products (the beans and the demo's three), none of them still waiting.
    let all_synced = "//body[count(//*[@data-testid='listing-title']) = 4 and not(//*[@data-testid='listing-pending'])]";
    let deadline = std::time::Instant::now() + WAIT;
    while client.find(Locator::XPath(all_synced)).await.is_err() {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the produce did not sync");
        sync_round(&client).await;
    }
    let mut titles = Vec::new();
    for element in client.find_all(Locator::Css("[data-testid=listing-title]")).await? {
        titles.push(element.text().await?);
    }
    assert!(titles.iter().any(|t| t.contains("甜玉米")), "{titles:?}");
    screenshot(&client, "app-synced.png").await?;
    client.close().await?;

    let on_server = market.farmer_listings()?;
    assert!(on_server.iter().any(|title| title == "青豆 Green beans"), "the product made offline reached the marketplace: {on_server:?}");
    Ok(())
}

/// The farmer's day in the real app: pair with the demo co-op, add a product with a photo file,
/// lose the server, take a walk-up order and move it to packed while offline, get the server back,
/// and see the product, its photo, the order and both steps reach it.
#[tokio::test(flavor = "multi_thread")]
async fn the_farmers_offline_walk_up_order_and_packing_reach_the_server_when_it_returns() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server_data = tempfile::tempdir()?;
    let mut server = ServerProcess::start(server_data.path(), &["--demo"])?;
    let demo_file = server_data.path().join("demo.json");
    wait_until("demo.json", WAIT, || Ok(demo_file.exists()))?;
    let demo: serde_json::Value = serde_json::from_slice(&std::fs::read(&demo_file)?)?;
    let token = demo["farmer"]["token"].as_str().context("token")?.to_owned();

    let driver = Driver::start(data.path())?;
    let client = driver.open_app().await?;
    client.find(Locator::Css("[data-testid=tab-settings]")).await?.click().await?;
    client.find(Locator::Css("[data-testid=open-pairing]")).await?.click().await?;
    fill(&client, "server", &server.base()).await?;
    fill(&client, "code", demo["farmer"]["pairing_code"].as_str().context("code")?).await?;
    fill(&client, "device_name", "张伟的手机").await?;
    client.find(Locator::Css("[data-testid=pair-submit]")).await?.click().await?;
    // Paired, the app goes home: Today, for a farmer.
    client.wait().at_most(WAIT).for_element(Locator::Css("[data-testid=today-go-live]")).await?;
    client.find(Locator::Css("[data-testid=tab-settings]")).await?.click().await?;
    assert_eq!(text_of(&client, "[data-testid=account] dd").await?, "Zhang Wei 张伟");
    client.find(Locator::Css("[data-testid=tab-today]")).await?.click().await?;
    wait_for_text(&client, "sync-status", "已同步").await?;

    // A new product with a photo file from the gallery; the card shows its thumbnail.
    let photo = data.path().join("millet.jpg");
    let made = Command::new("convert").args(["-seed", "5", "-size", "2400x1800", "plasma:gold-khaki", "-quality", "90"]).arg(&photo).status()?;
    anyhow::ensure!(made.success(), "ImageMagick could not make the test photo");
    client.find(Locator::Css("[data-testid=tab-produce]")).await?.click().await?;
    client.find(Locator::Css("[data-testid=add-produce]")).await?.click().await?;
    fill(&client, "title", "小米 Millet").await?;
    fill(&client, "price", "8").await?;
    fill(&client, "stock", "30").await?;
    client.find(Locator::Css("[data-testid=photo-input]")).await?.send_keys(photo.to_str().context("utf-8 path")?).await?;
    client.find(Locator::Css("[data-testid=save]")).await?.click().await?;
    client.wait().at_most(WAIT).for_element(Locator::Css("[data-testid=listing-photo]")).await?;
    screenshot(&client, "app-produce-with-photo.png").await?;

    // The server goes away (the village's link drops); the farmer keeps working.
    server.kill();
    client.find(Locator::Css("[data-testid=tab-orders]")).await?.click().await?;
    // The button stays disabled until the orders screen has read its list, and a click on a
    // disabled button is taken without doing anything.
    client.wait().at_most(WAIT).for_element(Locator::Css("[data-testid=add-sale]:enabled")).await?.click().await?;
    fill(&client, "quantity", "2").await?;
    fill(&client, "buyer_name", "李大妈").await?;
    fill(&client, "buyer_phone", "13900001111").await?;
    client.find(Locator::Css("[data-testid=sale-submit]")).await?.click().await?;
    client.wait().at_most(WAIT).for_element(Locator::Css("[data-testid=action-confirm]")).await?.click().await?;
    client.wait().at_most(WAIT).for_element(Locator::Css("[data-testid=order][data-status=confirmed]")).await?;
    client.wait().at_most(WAIT).for_element(Locator::Css("[data-testid=action-pack]")).await?.click().await?;
    client.wait().at_most(WAIT).for_element(Locator::Css("[data-testid=order][data-status=packed]")).await?;
    assert_eq!(text_of(&client, "[data-testid=order-pending]").await?, "等待同步");
    screenshot(&client, "app-offline-order-packed.png").await?;

    // The server is back: a sync carries the order and its two steps.
    server.restart()?;
    client.find(Locator::Css("[data-testid=tab-today]")).await?.click().await?;
    let deadline = std::time::Instant::now() + WAIT;
    let orders = loop {
        sync_round(&client).await;
        let body = http_get(&format!("{}/api/v1/orders", server.base()), &token)?;
        let page: serde_json::Value = serde_json::from_str(&body)?;
        let orders = page["items"].as_array().cloned().unwrap_or_default();
        if orders.iter().any(|o| o["status"] == "packed") {
            break orders;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "the order did not reach the server: {body}");
    };
    assert_eq!(orders.len(), 1, "{orders:?}");
    // The product and its photo came up with the same sync.
    let listings: Vec<serde_json::Value> = serde_json::from_str(&http_get(&format!("{}/api/v1/listings", server.base()), &token)?)?;
    let millet = listings.iter().find(|l| l["details"]["title"] == "小米 Millet").context("the new product is on the server")?;
    let sha = millet["photos"][0]["sha256"].as_str().context("the photo is on the listing")?;
    assert_eq!(http_head_of_get(&format!("{}/photos/{sha}.jpg", server.base()))?, (200, "image/jpeg".to_owned()));
    assert_eq!(orders[0]["buyer"]["name"], "李大妈");
    assert_eq!(orders[0]["channel"], "in_person");
    wait_for_text(&client, "sync-status", "已同步").await?;
    screenshot(&client, "app-today-synced.png").await?;

    // A buyer orders through the order link: the next pull brings it, Today says so, and the
    // app asks the desktop to show a notification naming the buyer.
    buyer_order(&server.base(), &demo, "farmer-day-buyer", "赵六", "13700137000", "1").await?;
    let deadline = std::time::Instant::now() + WAIT;
    while client.find_all(Locator::Css("[data-testid=order-arrived]")).await?.is_empty() {
        anyhow::ensure!(std::time::Instant::now() < deadline, "no new-order banner");
        sync_round(&client).await;
    }
    assert!(text_of(&client, "[data-testid=order-arrived]").await?.contains("赵六"));
    wait_until("the desktop notification", WAIT, || {
        let sent = driver.bus.notifications();
        Ok(sent.contains("member=Notify") && sent.contains("赵六"))
    })?;
    let sent = driver.bus.notifications();
    assert!(sent.contains("string \"新订单\""), "the notification's title: {sent}");
    client.close().await?;
    Ok(())
}

/// A buyer's order through the public API, as the order page sends it.
async fn buyer_order(base: &str, demo: &serde_json::Value, key: &str, name: &str, phone: &str, quantity: &str) -> anyhow::Result<()> {
    let link = demo["listings"][0]["order_link"].as_str().context("order link")?;
    let code = link.rsplit('/').next().context("code")?;
    let body = serde_json::json!({
        "listing_code": code,
        "quantity": quantity,
        "name": name,
        "phone": phone,
        "pickup_point_id": demo["pickup_points"][0]["id"],
        "payment_method": "cash_at_pickup",
    });
    let reply = reqwest::Client::new().post(format!("{base}/api/v1/orders")).header("idempotency-key", key).json(&body).send().await?;
    anyhow::ensure!(reply.status().as_u16() == 201, "the order was refused: {}", reply.text().await?);
    Ok(())
}

/// Chooses `value` in the `<select>` marked `testid`.
async fn choose(client: &Client, testid: &str, value: &str) -> anyhow::Result<()> {
    settled(|| async { client.find(Locator::Css(&format!("[data-testid={testid}]"))).await?.select_by_value(value).await }).await
}

/// Waits until exactly `count` order rows are shown (with `status`, if given).
async fn rows(client: &Client, count: usize, status: Option<&str>) -> anyhow::Result<()> {
    let rows = match status {
        Some(status) => format!("//*[@data-testid='order-row'][@data-status='{status}']"),
        None => "//*[@data-testid='order-row']".to_owned(),
    };
    let xpath = format!("//body[count({rows}) = {count} and count(//*[@data-testid='order-row']) = {count}]");
    let shown = client.wait().at_most(WAIT).for_element(Locator::XPath(&xpath)).await;
    shown.with_context(|| format!("never {count} rows ({status:?})"))?;
    Ok(())
}

/// The co-op's day on the console in the real app: pair a laptop with the co-op's admin code, see
/// the buyers' orders, filter and search them, move both to ready for pickup in bulk, export the
/// day's pick list as a CSV file and read it, print it to a PDF and read that, and see the new
/// statuses reach the marketplace.
#[tokio::test(flavor = "multi_thread")]
async fn the_co_ops_day_on_the_console_ends_with_a_pick_list_file_and_printout() -> anyhow::Result<()> {
    tests::install_crypto();
    let market = MarketServer::start_demo()?;
    buyer_order(&market.base, &market.demo, "coop-day-1", "王芳", "13800138000", "3").await?;
    buyer_order(&market.base, &market.demo, "coop-day-2", "Anna Rossi", "3331234567", "2").await?;
    let admin_token = market.demo["admin"]["token"].as_str().context("admin token")?.to_owned();

    let data = tempfile::tempdir()?;
    let driver = Driver::start(data.path())?;
    let client = driver.open_app().await?;
    client.find(Locator::Css("[data-testid=tab-settings]")).await?.click().await?;
    client.find(Locator::Css("[data-testid=open-pairing]")).await?.click().await?;
    fill(&client, "server", &market.base).await?;
    fill(&client, "code", market.demo["admin"]["pairing_code"].as_str().context("code")?).await?;
    fill(&client, "device_name", "合作社笔记本").await?;
    client.find(Locator::Css("[data-testid=pair-submit]")).await?.click().await?;

    // Staff get the console, and sync brings the buyers' two orders.
    client.wait().at_most(WAIT).for_element(Locator::Css("[data-testid=orders-table]")).await?;
    let deadline = std::time::Instant::now() + WAIT;
    while rows(&client, 2, Some("placed")).await.is_err() {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the buyers' orders never reached the console");
        sync_round(&client).await;
    }

    // Filters, search and the farmer filter.
    fill(&client, "search", "anna").await?;
    rows(&client, 1, None).await?;
    client.find(Locator::Css("[data-testid=search]")).await?.clear().await?;
    rows(&client, 2, None).await?;
    choose(&client, "filter-channel", "phone").await?;
    rows(&client, 0, None).await?;
    choose(&client, "filter-channel", "order_link").await?;
    rows(&client, 2, None).await?;
    choose(&client, "filter-farmer", market.demo["farmer"]["member_id"].as_str().context("farmer")?).await?;
    rows(&client, 2, None).await?;

    // Both along in bulk: confirmed, packed, ready for pickup.
    for (seq, (action, status)) in [("confirm", "confirmed"), ("pack", "packed"), ("mark_ready", "ready_for_pickup")].into_iter().enumerate() {
        client.find(Locator::Css("[data-testid=select-all]")).await?.click().await?;
        choose(&client, "bulk-action", action).await?;
        client.find(Locator::Css("[data-testid=bulk-apply]")).await?.click().await?;
        client.wait().at_most(WAIT).for_element(Locator::Css(&format!("[data-testid=bulk-outcome][data-seq='{}']", seq + 1))).await?;
        rows(&client, 2, Some(status)).await?;
    }
    screenshot(&client, "app-console-ready.png").await?;

    // Today's pick list at the co-op office, exported: a CSV file in the Downloads folder.
    client.find(Locator::Css("[data-testid=tab-pick_lists]")).await?.click().await?;
    client.wait().at_most(WAIT).for_element(Locator::Css("[data-testid=pick-point]")).await?;
    choose(&client, "pick-point", market.demo["pickup_points"][0]["id"].as_str().context("point")?).await?;
    client.find(Locator::Css("[data-testid=pick-show]")).await?.click().await?;
    let two_rows = "//body[count(//*[@data-testid='pick-row']) = 2]";
    client.wait().at_most(WAIT).for_element(Locator::XPath(two_rows)).await.context("two rows to hand over")?;
    screenshot(&client, "app-pick-list.png").await?;
    client.find(Locator::Css("[data-testid=pick-csv]")).await?.click().await?;
    let (mut csv, mut saved_as) = (String::new(), std::path::PathBuf::new());
    wait_until("the pick list's CSV file", WAIT, || {
        let files: Vec<_> = std::fs::read_dir(driver.downloads.path())?.filter_map(Result::ok).map(|e| e.path()).collect();
        let Some(file) = files.iter().find(|p| p.extension().is_some_and(|e| e == "csv")) else { return Ok(false) };
        csv = std::fs::read_to_string(file)?;
        saved_as = file.clone();
        // The file is complete once both buyers are in it.
        Ok(csv.contains("王芳") && csv.contains("Anna Rossi"))
    })?;
    assert!(csv.starts_with("\u{feff}pickup_point,date,buyer_name,buyer_phone,product,quantity,unit,status,to_collect,currency,order_id\r\n"), "{csv}");
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1..].iter().all(|line| line.contains(",ready_for_pickup,") && line.contains(",CNY,")), "{csv}");
    // The app says where the file went (its webview has no download bar).
    let banner = wait_for_text(&client, "download-saved", "pick-list-").await?;
    assert_eq!(banner.trim_end_matches("关闭").trim(), format!("已保存到 {}", saved_as.display()));

    // Printed through the system's print dialog, to a PDF: the sheet with both buyers, and, by
    // the print stylesheet, without the app's tabs and buttons around it.
    client.find(Locator::Css("[data-testid=pick-print]")).await?.click().await?;
    let printed = driver.print_to_file()?;
    // What each row must show comes from the CSV rows read above (which product the demo's
    // orders took varies): buyer, phone, product and the amount to collect.
    let mut expected = vec!["取货单".to_owned(), "可以自提".to_owned()];
    for line in &lines[1..] {
        let fields: Vec<&str> = line.split(',').collect();
        expected.extend([fields[2], fields[3], fields[4]].map(str::to_owned));
        expected.push(format!("¥{}", fields[8]));
    }
    for expected in &expected {
        assert!(printed.contains(expected.as_str()), "the printed pick list lacks {expected:?}:\n{printed}");
    }
    for app_only in ["导出 CSV", "打印", "概览", "农户"] {
        assert!(!printed.contains(app_only), "the printed pick list shows the app's {app_only:?}:\n{printed}");
    }

    // The statuses reach the marketplace.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        sync_round(&client).await;
        let page: serde_json::Value = serde_json::from_str(&http_get(&format!("{}/api/v1/orders", market.base), &admin_token)?)?;
        let ready = page["items"].as_array().into_iter().flatten().filter(|o| o["status"] == "ready_for_pickup").count();
        if ready == 2 {
            break;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "the statuses did not reach the server: {page}");
    }
    client.close().await?;
    Ok(())
}
