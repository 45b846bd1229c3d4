//! Client tests against a real store file in a temporary directory, with a fixed clock.

use domain::error::Field;
use domain::ids::ListingId;
use domain::listing::{ListingInput, ListingStatus};
use domain::money::{Currency, Money};
use domain::time::{Clock, Timestamp};
use uuid::Uuid;

use crate::{ApiError, Client, ClientError, SaleInput};

struct FixedClock(i64);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0)
    }
}

fn corn() -> ListingInput {
    ListingInput {
        title: "甜玉米".into(),
        unit: "jin".into(),
        currency: "CNY".into(),
        price: "3.50".into(),
        stock: "50".into(),
        ..Default::default()
    }
}

fn open(dir: &std::path::Path) -> Client {
    Client::open_with_clock(dir, Box::new(FixedClock(1_700_000_000_000))).unwrap()
}

#[test]
fn produce_added_is_listed_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let added = open(dir.path()).add_produce(&corn()).unwrap();
    assert_eq!(added.details.price, Money::new(350, Currency::CNY));
    assert_eq!(added.status, ListingStatus::Active);
    assert_eq!(added.created_at, Timestamp(1_700_000_000_000));
    let client = open(dir.path());
    let produce = client.list_produce().unwrap();
    assert_eq!(produce.len(), 1);
    assert_eq!(produce[0].listing, added);
    assert!(produce[0].pending, "not synced yet");
    assert_eq!(produce[0].order_link, None, "no link before the marketplace has it");
    assert_eq!(client.status().unwrap().pending_changes, 1);
}

#[test]
fn invalid_produce_writes_nothing_and_names_each_field() {
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path());
    let input = ListingInput { title: "x".repeat(500), price: "-1".into(), unit: "furlong".into(), ..corn() };
    let error = client.add_produce(&input).unwrap_err();
    let api = ApiError::from(error);
    assert_eq!(api.code, "invalid");
    let fields: Vec<_> = api.fields.iter().map(|f| (f.field, f.code.as_str())).collect();
    assert_eq!(fields, [(Field::Title, "too_long"), (Field::Unit, "unknown_unit"), (Field::Price, "negative")]);
    assert!(client.list_produce().unwrap().is_empty());
    assert_eq!(client.status().unwrap().pending_changes, 0);
}

#[test]
fn editing_changes_the_listing_and_queues_the_edit() {
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path());
    let added = client.add_produce(&corn()).unwrap();
    let edited = client.edit_produce(added.id, &ListingInput { price: "4".into(), stock: "0".into(), ..corn() }).unwrap();
    assert_eq!(edited.details.price.minor, 400);
    assert_eq!(edited.status, ListingStatus::SoldOut);
    assert_eq!(client.list_produce().unwrap()[0].listing, edited);
    assert_eq!(client.status().unwrap().pending_changes, 3, "create, edit of the price, and a stock change of -50");
    let unchanged = client.edit_produce(added.id, &ListingInput { price: "4".into(), stock: "0".into(), ..corn() }).unwrap();
    assert_eq!(unchanged, edited);
    assert_eq!(client.status().unwrap().pending_changes, 3, "saving an unchanged form queues nothing");
}

#[test]
fn editing_unknown_or_with_bad_input_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path());
    let added = client.add_produce(&corn()).unwrap();
    assert!(matches!(client.edit_produce(ListingId(Uuid::from_u128(42)), &corn()), Err(ClientError::NotFound)));
    assert!(matches!(client.edit_produce(added.id, &ListingInput { stock: "2.5".into(), unit: "box".into(), ..corn() }), Err(ClientError::Invalid(_))));
    assert_eq!(client.list_produce().unwrap()[0].listing, added);
    assert_eq!(client.status().unwrap().pending_changes, 1);
}

#[test]
fn an_offline_sale_is_recorded_and_warned_about_beyond_what_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path());
    let corn = client.add_produce(&ListingInput { stock: "5".into(), ..corn() }).unwrap();
    let preview = client.preview_sale(corn.id, "7").unwrap();
    assert_eq!((preview.from_quota.milli(), preview.from_stock.milli(), preview.shortfall.milli()), (0, 5_000, 2_000));
    let sale = SaleInput {
        listing_id: corn.id,
        quantity: "7".into(),
        buyer_name: "王芳".into(),
        buyer_phone: "13800138000".into(),
        pickup_point_id: None,
        address: Some("East gate".into()),
        payment_method: domain::order::PaymentMethod::CashOnDelivery,
        channel: domain::order::Channel::InPerson,
        note: String::new(),
    };
    let sold = client.sell(&sale).unwrap();
    assert_eq!(sold.order.shortfall.milli(), 2_000, "recorded, with the uncovered part flagged");
    assert_eq!(sold.order.total.minor, 2_450);
    assert_eq!(client.list_produce().unwrap()[0].listing.details.stock.milli(), 0);
    let bad = SaleInput { quantity: "abc".into(), buyer_phone: "x".into(), ..sale };
    assert!(matches!(client.sell(&bad), Err(ClientError::Invalid(fields)) if fields.len() == 2));
    let csv = client.export_orders_csv().unwrap();
    assert!(csv.starts_with("\u{feff}order_id,"));
    assert!(csv.contains(",王芳,13800138000,,East gate,cash_on_delivery,甜玉米,7,jin,3.50,24.50,CNY,0.00,2\r\n"), "{csv}");
}

#[test]
fn storage_errors_do_not_leak_details() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let error = Client::open(&file).err().expect("a file is not a data directory");
    let api = ApiError::from(error);
    assert_eq!(api.code, "storage");
    assert!(!api.message.contains("not-a-dir"), "{}", api.message);
}

#[test]
fn bindings_declare_every_boundary_type() {
    let ts = crate::bindings::typescript();
    for name in ["Listing", "ListingInput", "Money", "Unit", "ApiError", "FieldProblem", "Order"] {
        assert!(ts.contains(&format!("export type {name} =")), "{name} missing");
    }
    assert!(ts.contains(r#"export type Unit = "kg" | "g" | "jin""#), "units are string unions");
    assert!(!ts.contains("bigint"), "money and quantities are plain numbers in JSON");
}

/// A device paired with a CNY co-op that knows one pickup point.
fn paired_with_point(dir: &std::path::Path) -> (Client, domain::ids::PickupPointId) {
    use domain::ids::{CoopId, DeviceId, MemberId, PickupPointId};
    let client = open(dir);
    let account = store::Account {
        server_url: "http://127.0.0.1:9".into(),
        token: "t".into(),
        device_id: DeviceId(Uuid::from_u128(1)),
        device_name: "张伟的手机".into(),
        member_id: MemberId(Uuid::from_u128(2)),
        member_name: "张伟".into(),
        role: domain::access::Role::Farmer,
        coop_id: CoopId(Uuid::from_u128(3)),
        coop_name: "阳光谷".into(),
        currency: Currency::CNY,
        paired_at: Timestamp(0),
    };
    client.store().set_account(&account).unwrap();
    let point = PickupPointId(Uuid::from_u128(4));
    let page = domain::sync::PullResponse {
        listings: vec![],
        orders: vec![],
        quotas: vec![],
        pickup_points: vec![domain::sync::PickupPointInfo { id: point, name: "村委会 Village hall".into(), address: "1 Main St".into(), active: true }],
        last_applied_seq: 0,
        cursor: 0,
        more: false,
    };
    client.apply_pull(&page, Timestamp(0)).unwrap();
    (client, point)
}

#[test]
fn today_pick_lists_and_bulk_steps_follow_the_orders_on_the_device() {
    use domain::order::{OrderAction, OrderStatus};
    let dir = tempfile::tempdir().unwrap();
    let (client, point) = paired_with_point(dir.path());
    let corn = client.add_produce(&corn()).unwrap();
    let sale = |name: &str, quantity: &str| SaleInput {
        listing_id: corn.id,
        quantity: quantity.into(),
        buyer_name: name.into(),
        buyer_phone: "13800138000".into(),
        pickup_point_id: Some(point),
        address: None,
        payment_method: domain::order::PaymentMethod::CashAtPickup,
        channel: domain::order::Channel::Phone,
        note: String::new(),
    };
    let first = client.sell(&sale("王芳", "4")).unwrap().order.id;
    let second = client.sell(&sale("Anna, \"Rossi\"", "2")).unwrap().order.id;

    let today = client.today(480).unwrap();
    assert_eq!((today.waiting, today.placed_today), (2, 2));
    assert!(today.to_pack.is_empty(), "nothing is confirmed yet");
    assert_eq!(today.money_due, Money::new(2100, Currency::CNY));

    // Confirm both in bulk, then pack in bulk including one that cannot be packed twice.
    let confirmed = client.step_orders(&[first, second], OrderAction::Confirm).unwrap();
    assert_eq!(confirmed.changed, [first, second]);
    client.step_order(first, OrderAction::Pack, None).unwrap();
    let packed = client.step_orders(&[first, second], OrderAction::Pack).unwrap();
    assert_eq!(packed.changed, [second]);
    assert_eq!(packed.refused.len(), 1);
    assert_eq!((packed.refused[0].order_id, packed.refused[0].code.as_str()), (first, "invalid_transition"));
    assert!(client.list_orders().unwrap().iter().all(|o| o.order.status == OrderStatus::Packed && o.pending));
    assert!(matches!(client.step_orders(&[], OrderAction::Pack), Err(ClientError::Invalid(_))));

    let date = Timestamp(1_700_000_000_000).local_date(480);
    let list = client.pick_list(point, &date, 480).unwrap();
    assert_eq!(list.rows.len(), 2);
    let csv = client.pick_list_csv(point, &date, 480).unwrap();
    assert!(csv.starts_with("\u{feff}pickup_point,date,buyer_name,"), "{csv}");
    assert!(csv.contains(&format!("村委会 Village hall,{date},王芳,13800138000,甜玉米,4,jin,packed,14.00,CNY,{first}\r\n")), "{csv}");
    assert!(csv.contains("\"Anna, \"\"Rossi\"\"\""), "quoted per RFC 4180: {csv}");
    assert_eq!(csv.matches("\r\n").count(), 3);

    // Bad input: unknown point, malformed date, absurd offsets and windows.
    assert!(matches!(client.pick_list(domain::ids::PickupPointId(Uuid::from_u128(99)), &date, 480), Err(ClientError::NotFound)));
    assert!(matches!(client.pick_list(point, "tomorrow", 480), Err(ClientError::Invalid(f)) if f[0].error.code() == "invalid_date"));
    assert!(client.today(24 * 60).is_err());
    assert!(client.earnings(480, 0).is_err());
    assert!(client.earnings(480, 10_000).is_err());
    let earnings = client.earnings(480, 7).unwrap();
    assert_eq!(earnings.total, Money::new(2100, Currency::CNY));
    assert_eq!(earnings.by_channel[0].key, "phone");
}

#[test]
fn reports_need_a_pairing_for_the_currency() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(open(dir.path()).today(0), Err(ClientError::NotPaired)));
}

/// A PNG as a gallery might hold it.
fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 200) as u8, (y % 200) as u8, 30]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn a_photo_is_processed_kept_by_hash_once_and_queued_for_sync() {
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path());
    let corn = client.add_produce(&corn()).unwrap();
    let before = client.outbox(100).unwrap().1.len();
    let listing = client.add_photo(corn.id, &png(1600, 1200)).unwrap();
    assert_eq!(listing.photos.len(), 1);
    let sha = listing.photos[0].sha256.clone();
    assert!(dir.path().join("photos").join(format!("{sha}.jpg")).is_file());
    assert!(dir.path().join("photos").join(format!("{sha}-thumb.jpg")).is_file());
    let again = client.add_photo(corn.id, &png(1600, 1200)).unwrap();
    assert_eq!(again.photos.len(), 1, "the same photo is kept once");
    let outbox = client.outbox(100).unwrap().1;
    assert_eq!(outbox.len(), before + 2);
    assert!(matches!(&outbox[before].mutation, domain::mutation::Mutation::ListingPhoto { photo, .. } if photo.sha256 == sha));
    let url = client.photo_data_url(&listing.photos[0], true).unwrap();
    assert!(url.starts_with("data:image/jpeg;base64,/9j/"), "{}", &url[..40]);

    // Bad input: not an image, an unknown listing, a path for a name.
    assert!(matches!(client.add_photo(corn.id, b"hello"), Err(ClientError::Invalid(f)) if f[0].error.code() == "invalid_photo"));
    assert!(matches!(client.add_photo(ListingId(Uuid::from_u128(5)), &png(10, 10)), Err(ClientError::NotFound)));
    let forged = domain::listing::PhotoRef { sha256: "../fieldcast.db".into() };
    assert!(matches!(client.photo_data_url(&forged, false), Err(ClientError::Invalid(_))));
    assert_eq!(client.outbox(100).unwrap().1.len(), before + 2, "refusals queue nothing");
}

#[test]
fn signing_out_waits_for_unsynced_changes_then_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (client, _) = paired_with_point(dir.path());
    let listed = client.add_produce(&corn()).unwrap();
    client.add_photo(listed.id, &png(400, 300)).unwrap();
    assert!(matches!(client.sign_out(), Err(ClientError::Refused { code, .. }) if code == "unsynced_changes"));
    assert!(client.account().unwrap().is_some(), "a refused sign-out changes nothing");

    // Once the marketplace has acknowledged everything, signing out wipes the device.
    let (_, outbox) = client.outbox(100).unwrap();
    let results: Vec<domain::sync::EntryResult> = outbox
        .iter()
        .map(|e| domain::sync::EntryResult { seq: e.seq, mutation_id: e.mutation_id, verdict: domain::sync::Verdict::Applied { moved: None, shortfall: None } })
        .collect();
    client.acknowledge(&results, Timestamp(5)).unwrap();
    let before = client.client_id();
    client.sign_out().unwrap();
    assert!(client.account().unwrap().is_none());
    assert!(client.list_produce().unwrap().is_empty());
    assert!(client.pickup_points().unwrap().is_empty());
    assert_ne!(client.client_id(), before, "a new sync identity");
    assert_eq!(std::fs::read_dir(dir.path().join("photos")).unwrap().count(), 0);
    // The store still works.
    client.add_produce(&corn()).unwrap();
}

#[test]
fn pulled_orders_count_as_arrivals_only_when_new_placed_and_after_the_first_sync() {
    use domain::order::{Buyer, Channel, Fulfilment, Order, OrderLine, OrderStatus, PaymentMethod};
    use domain::sync::{OrderVersion, PullResponse};
    let dir = tempfile::tempdir().unwrap();
    let (client, point) = paired_with_point(dir.path());
    let order = |n: u128, status: OrderStatus| OrderVersion {
        order: Order {
            id: domain::ids::OrderId(Uuid::from_u128(n)),
            lines: vec![OrderLine {
                listing_id: ListingId(Uuid::from_u128(7)),
                title: "甜玉米".into(),
                unit: domain::quantity::Unit::Jin,
                quantity: domain::quantity::Quantity::whole(2).unwrap(),
                unit_price: Money::new(350, Currency::CNY),
                total: Money::new(700, Currency::CNY),
            }],
            total: Money::new(700, Currency::CNY),
            buyer: Buyer { name: format!("buyer {n}"), phone: "+8613800000000".into() },
            fulfilment: Fulfilment::Pickup { point_id: point },
            payment_method: PaymentMethod::CashAtPickup,
            channel: Channel::OrderLink,
            status,
            paid: Money::zero(Currency::CNY),
            note: String::new(),
            shortfall: domain::quantity::Quantity::ZERO,
            created_at: Timestamp(1),
            updated_at: Timestamp(1),
            stream: None,
        },
        farmer_id: domain::ids::MemberId(Uuid::from_u128(2)),
        version: 1,
    };
    let page = |orders: Vec<OrderVersion>| PullResponse { listings: vec![], orders, quotas: vec![], pickup_points: vec![], last_applied_seq: 0, cursor: 0, more: false };

    // The first sync's backlog notifies nobody.
    assert!(client.apply_pull_noting_arrivals(&page(vec![order(1, OrderStatus::Placed)]), Timestamp(2)).unwrap().is_empty());
    client.set_last_synced_at(Timestamp(3)).unwrap();
    // Afterwards: a new placed order counts; one already here, or already confirmed, does not.
    let arrivals = client
        .apply_pull_noting_arrivals(&page(vec![order(1, OrderStatus::Placed), order(2, OrderStatus::Placed), order(3, OrderStatus::Confirmed)]), Timestamp(4))
        .unwrap();
    assert_eq!(arrivals.len(), 1);
    assert_eq!((arrivals[0].buyer_name.as_str(), arrivals[0].total.minor), ("buyer 2", 700));
    // Each pulled order knows its farmer, for the console's filter and the dashboard.
    let farmers: Vec<_> = client.list_orders().unwrap().iter().map(|item| item.farmer_id).collect();
    assert_eq!(farmers, [Some(domain::ids::MemberId(Uuid::from_u128(2))); 3]);
}

/// A PNG of a QR code of `text`, as base64, the way the front end sends a picked file.
fn qr_png_base64(text: &str) -> String {
    use base64::Engine as _;
    let symbol = qrcode::QrCode::new(text.as_bytes()).unwrap().render::<image::Luma<u8>>().module_dimensions(5, 5).build();
    let mut png = std::io::Cursor::new(Vec::new());
    symbol.write_to(&mut png, image::ImageFormat::Png).unwrap();
    base64::engine::general_purpose::STANDARD.encode(png.into_inner())
}

#[tokio::test]
async fn a_photo_of_the_pairing_code_gives_the_server_and_the_code_and_others_are_told_apart() {
    use crate::photos::read_pairing_code_base64;
    let link = domain::pairing::PairingLink { server_url: "http://192.168.1.20:8080".into(), code: "48213377".into() };
    assert_eq!(read_pairing_code_base64(qr_png_base64(&link.to_uri())).await.unwrap(), link);

    let code_of = |error: ClientError| ApiError::from(&error).fields.first().map(|f| f.code.clone());
    let shop = read_pairing_code_base64(qr_png_base64("https://shop.example/corn")).await.unwrap_err();
    assert_eq!(code_of(shop).as_deref(), Some("not_a_pairing_code"));
    let blank = {
        use base64::Engine as _;
        let mut png = std::io::Cursor::new(Vec::new());
        image::GrayImage::from_pixel(200, 200, image::Luma([255])).write_to(&mut png, image::ImageFormat::Png).unwrap();
        base64::engine::general_purpose::STANDARD.encode(png.into_inner())
    };
    let nothing = read_pairing_code_base64(blank).await.unwrap_err();
    assert_eq!(code_of(nothing).as_deref(), Some("no_code_in_picture"));
    for garbage in ["not base64!".to_owned(), "aGVsbG8=".to_owned()] {
        let error = read_pairing_code_base64(garbage).await.unwrap_err();
        assert_eq!(code_of(error).as_deref(), Some("invalid_photo"));
    }
}
