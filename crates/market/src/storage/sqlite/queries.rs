//! The SQL behind each storage operation, as plain functions on a connection. Writes run on the
//! writer (inside a savepoint), reads on a pooled reader; the functions do not care which.

use domain::access::Role;
use domain::checkout;
use domain::error::{Error as DomainError, Field, FieldError};
use domain::ids::{CoopId, DeviceId, ListingId, MemberId, OrderId, PickupPointId};
use domain::listing::ListingChange;
use domain::money::Money;
use domain::order::OrderAction;
use domain::time::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};
use sqlite_rows::{code, listing, order, uuid};

use crate::storage::{
    Coop, Device, ListingFilter, ListingRecord, Member, NewDevice, OrderCursor, OrderFilter, OrderRecord, Page, PairingCode,
    PickupPoint, PlaceOrder, Placed, Result, StorageError,
};

fn backend(error: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(error.to_string())
}

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> Self {
        match &error {
            rusqlite::Error::QueryReturnedNoRows => StorageError::NotFound,
            rusqlite::Error::SqliteFailure(failure, Some(message))
                if failure.code == rusqlite::ErrorCode::ConstraintViolation && message.contains("UNIQUE") =>
            {
                if message.contains("farm_slug") {
                    StorageError::Taken("farm_slug")
                } else if message.contains("listings.code") {
                    StorageError::Taken("listing_code")
                } else {
                    backend(error)
                }
            }
            _ => backend(error),
        }
    }
}

impl From<sqlite_rows::Error> for StorageError {
    fn from(error: sqlite_rows::Error) -> Self {
        match error {
            sqlite_rows::Error::Sqlite(error) => error.into(),
            corrupt @ sqlite_rows::Error::Corrupt(_) => backend(corrupt),
        }
    }
}

/// The next server-wide change number.
pub(super) fn next_version(conn: &Connection) -> Result<i64> {
    Ok(conn.prepare_cached("UPDATE counters SET value = value + 1 WHERE name = 'version' RETURNING value")?.query_row([], |r| r.get(0))?)
}

// --- Co-ops and members -------------------------------------------------------------------

pub fn create_coop(conn: &Connection, coop: &Coop, admin: &Member) -> Result<()> {
    conn.execute(
        "INSERT INTO coops (id, name, currency, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![coop.id.to_string(), coop.name, coop.currency.code(), coop.created_at.millis()],
    )?;
    create_member(conn, admin)
}

pub fn coop(conn: &Connection, id: CoopId) -> Result<Coop> {
    let (name, currency, created_at): (String, String, i64) = conn
        .prepare_cached("SELECT name, currency, created_at FROM coops WHERE id = ?1")?
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let currency = domain::money::Currency::parse(&currency).map_err(|_| backend("coops.currency"))?;
    Ok(Coop { id, name, currency, created_at: Timestamp(created_at) })
}

pub fn create_member(conn: &Connection, member: &Member) -> Result<()> {
    conn.execute(
        "INSERT INTO members (id, coop_id, role, name, farm_slug, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            member.id.to_string(),
            member.coop_id.to_string(),
            member.role.code(),
            member.name,
            member.farm_slug,
            member.created_at.millis()
        ],
    )?;
    Ok(())
}

const MEMBER_COLUMNS: &str = "m.id, m.coop_id, m.role, m.name, m.farm_slug, m.created_at";

fn read_member(row: &Row<'_>, at: usize) -> Result<Member> {
    let role: String = row.get(at + 2)?;
    Ok(Member {
        id: MemberId(uuid(&row.get::<_, String>(at)?, "members.id")?),
        coop_id: CoopId(uuid(&row.get::<_, String>(at + 1)?, "members.coop_id")?),
        role: Role::parse(&role).ok_or_else(|| backend("members.role"))?,
        name: row.get(at + 3)?,
        farm_slug: row.get(at + 4)?,
        created_at: Timestamp(row.get(at + 5)?),
    })
}

fn members_where(conn: &Connection, condition: &str, param: &dyn ToSql) -> Result<Vec<Member>> {
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM members m WHERE {condition} ORDER BY m.created_at, m.id");
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([param])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(read_member(row, 0)?);
    }
    Ok(found)
}

pub fn member(conn: &Connection, id: MemberId) -> Result<Member> {
    members_where(conn, "m.id = ?1", &id.to_string())?.pop().ok_or(StorageError::NotFound)
}

pub fn members(conn: &Connection, coop_id: CoopId) -> Result<Vec<Member>> {
    members_where(conn, "m.coop_id = ?1", &coop_id.to_string())
}

pub fn farmer_by_slug(conn: &Connection, slug: &str) -> Result<Member> {
    members_where(conn, "m.farm_slug = ?1 AND m.role = 'farmer'", &slug)?.pop().ok_or(StorageError::NotFound)
}

// --- Pairing and devices ------------------------------------------------------------------

pub fn add_pairing_code(conn: &Connection, code: &PairingCode) -> Result<()> {
    conn.execute(
        "INSERT INTO pairing_codes (code_hash, member_id, expires_at) VALUES (?1, ?2, ?3)",
        params![code.code_hash, code.member_id.to_string(), code.expires_at.millis()],
    )?;
    Ok(())
}

pub fn redeem_pairing_code(conn: &Connection, code_hash: &str, device: &NewDevice, token_hash: &str) -> Result<(Device, Member)> {
    let now = device.created_at;
    let member_id: Option<String> = conn
        .prepare_cached(
            "UPDATE pairing_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2
             RETURNING member_id",
        )?
        .query_row(params![code_hash, now.millis()], |r| r.get(0))
        .optional()?;
    let member_id = MemberId(uuid(&member_id.ok_or(StorageError::PairingRefused)?, "pairing_codes.member_id")?);
    conn.execute(
        "INSERT INTO devices (id, member_id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![device.id.to_string(), member_id.to_string(), device.name, token_hash, now.millis()],
    )?;
    let paired = Device { id: device.id, member_id, name: device.name.clone(), created_at: now, revoked_at: None };
    Ok((paired, member(conn, member_id)?))
}

const DEVICE_COLUMNS: &str = "d.id, d.member_id, d.name, d.created_at, d.revoked_at";

fn read_device(row: &Row<'_>) -> Result<Device> {
    Ok(Device {
        id: DeviceId(uuid(&row.get::<_, String>(0)?, "devices.id")?),
        member_id: MemberId(uuid(&row.get::<_, String>(1)?, "devices.member_id")?),
        name: row.get(2)?,
        created_at: Timestamp(row.get(3)?),
        revoked_at: row.get::<_, Option<i64>>(4)?.map(Timestamp),
    })
}

pub fn device_by_token(conn: &Connection, token_hash: &str) -> Result<(Device, Member)> {
    let sql = format!(
        "SELECT {DEVICE_COLUMNS}, {MEMBER_COLUMNS} FROM devices d JOIN members m ON m.id = d.member_id
         WHERE d.token_hash = ?1 AND d.revoked_at IS NULL"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([token_hash])?;
    let row = rows.next()?.ok_or(StorageError::NotFound)?;
    Ok((read_device(row)?, read_member(row, 5)?))
}

pub fn devices(conn: &Connection, coop_id: CoopId) -> Result<Vec<(Device, Member)>> {
    let sql = format!(
        "SELECT {DEVICE_COLUMNS}, {MEMBER_COLUMNS} FROM devices d JOIN members m ON m.id = d.member_id
         WHERE m.coop_id = ?1 ORDER BY d.created_at, d.id"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([coop_id.to_string()])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push((read_device(row)?, read_member(row, 5)?));
    }
    Ok(found)
}

pub fn rename_device(conn: &Connection, id: DeviceId, name: &str) -> Result<()> {
    let changed = conn.execute("UPDATE devices SET name = ?2 WHERE id = ?1", params![id.to_string(), name])?;
    if changed == 0 { Err(StorageError::NotFound) } else { Ok(()) }
}

pub fn revoke_device(conn: &Connection, id: DeviceId, now: Timestamp) -> Result<()> {
    let changed = conn.execute(
        "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
        params![id.to_string(), now.millis()],
    )?;
    if changed == 0 { Err(StorageError::NotFound) } else { Ok(()) }
}

// --- Pickup points ------------------------------------------------------------------------

pub fn put_pickup_point(conn: &Connection, point: &PickupPoint) -> Result<()> {
    conn.execute(
        "INSERT INTO pickup_points (id, coop_id, name, address, active, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, address = excluded.address, active = excluded.active",
        params![
            point.id.to_string(),
            point.coop_id.to_string(),
            point.name,
            point.address,
            point.active,
            point.created_at.millis()
        ],
    )?;
    Ok(())
}

fn pickup_points_where(conn: &Connection, condition: &str, param: String) -> Result<Vec<PickupPoint>> {
    let sql = format!(
        "SELECT id, coop_id, name, address, active, created_at FROM pickup_points WHERE {condition} ORDER BY name, id"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([param])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(PickupPoint {
            id: PickupPointId(uuid(&row.get::<_, String>(0)?, "pickup_points.id")?),
            coop_id: CoopId(uuid(&row.get::<_, String>(1)?, "pickup_points.coop_id")?),
            name: row.get(2)?,
            address: row.get(3)?,
            active: row.get(4)?,
            created_at: Timestamp(row.get(5)?),
        });
    }
    Ok(found)
}

pub fn pickup_point(conn: &Connection, id: PickupPointId) -> Result<PickupPoint> {
    pickup_points_where(conn, "id = ?1", id.to_string())?.pop().ok_or(StorageError::NotFound)
}

pub fn pickup_points(conn: &Connection, coop_id: CoopId) -> Result<Vec<PickupPoint>> {
    pickup_points_where(conn, "coop_id = ?1", coop_id.to_string())
}

// --- Listings -----------------------------------------------------------------------------

pub(super) fn listing_select() -> String {
    format!("SELECT {}, l.coop_id, l.farmer_id, l.code, l.version FROM listings l", listing::select("l."))
}

pub(super) fn read_listing_record(row: &Row<'_>) -> Result<ListingRecord> {
    let at = listing::COLUMNS.len();
    Ok(ListingRecord {
        listing: listing::read(row, 0)?,
        coop_id: CoopId(uuid(&row.get::<_, String>(at)?, "listings.coop_id")?),
        farmer_id: MemberId(uuid(&row.get::<_, String>(at + 1)?, "listings.farmer_id")?),
        code: row.get(at + 2)?,
        version: row.get(at + 3)?,
    })
}

pub(super) fn save_listing(conn: &Connection, record: &mut ListingRecord) -> Result<()> {
    record.version = next_version(conn)?;
    let extra = [
        ("coop_id", Value::from(record.coop_id.to_string())),
        ("farmer_id", Value::from(record.farmer_id.to_string())),
        ("code", Value::from(record.code.clone())),
        ("version", Value::from(record.version)),
    ];
    listing::upsert(conn, "listings", &record.listing, &extra, &["coop_id", "farmer_id", "code"])?;
    Ok(())
}

pub fn create_listing(conn: &Connection, mut record: ListingRecord) -> Result<ListingRecord> {
    let exists: bool = conn.prepare_cached("SELECT 1 FROM listings WHERE id = ?1")?.exists([record.listing.id.to_string()])?;
    if exists {
        return Err(StorageError::Taken("listing_id"));
    }
    save_listing(conn, &mut record)?;
    Ok(record)
}

pub fn listing_record(conn: &Connection, id: ListingId) -> Result<ListingRecord> {
    let sql = format!("{} WHERE l.id = ?1", listing_select());
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([id.to_string()])?;
    read_listing_record(rows.next()?.ok_or(StorageError::NotFound)?)
}

pub fn listing_by_code(conn: &Connection, code: &str) -> Result<ListingRecord> {
    let sql = format!("{} WHERE l.code = ?1", listing_select());
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([code])?;
    read_listing_record(rows.next()?.ok_or(StorageError::NotFound)?)
}

pub fn listings(conn: &Connection, filter: &ListingFilter) -> Result<Vec<ListingRecord>> {
    let mut conditions = vec!["1".to_owned()];
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |condition: &str, value: Value| {
        values.push(value);
        conditions.push(condition.replace('?', &format!("?{}", values.len())));
    };
    if let Some(coop_id) = filter.coop_id {
        bind("l.coop_id = ?", coop_id.to_string().into());
    }
    if let Some(farmer_id) = filter.farmer_id {
        bind("l.farmer_id = ?", farmer_id.to_string().into());
    }
    if let Some(status) = filter.status {
        bind("l.status = ?", code(&status).into());
    }
    let sql = format!("{} WHERE {} ORDER BY l.updated_at DESC, l.id", listing_select(), conditions.join(" AND "));
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(values))?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(read_listing_record(row)?);
    }
    Ok(found)
}

pub fn change_listing(conn: &Connection, id: ListingId, change: ListingChange, now: Timestamp) -> Result<ListingRecord> {
    let mut record = listing_record(conn, id)?;
    record.listing.change(change, now).map_err(StorageError::Refused)?;
    save_listing(conn, &mut record)?;
    Ok(record)
}

// --- Orders -------------------------------------------------------------------------------

fn order_select() -> String {
    format!("SELECT {}, o.coop_id, o.farmer_id, o.version FROM orders o", order::select("o."))
}

fn read_order_record(row: &Row<'_>, lines: Vec<domain::order::OrderLine>) -> Result<OrderRecord> {
    let at = order::COLUMNS.len();
    Ok(OrderRecord {
        order: order::read(row, 0, lines)?,
        coop_id: CoopId(uuid(&row.get::<_, String>(at)?, "orders.coop_id")?),
        farmer_id: MemberId(uuid(&row.get::<_, String>(at + 1)?, "orders.farmer_id")?),
        version: row.get(at + 2)?,
    })
}

/// The orders `condition` selects, in the given order, each with its lines.
pub(super) fn orders_where(conn: &Connection, condition: &str, tail: &str, values: Vec<Value>) -> Result<Vec<OrderRecord>> {
    let sql = format!("{} WHERE {condition} {tail}", order_select());
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(values.iter()))?;
    let mut heads = Vec::new();
    let mut ids = Vec::new();
    while let Some(row) = rows.next()? {
        ids.push(row.get::<_, String>(0)?);
        heads.push(read_order_record(row, Vec::new())?);
    }
    if heads.is_empty() {
        return Ok(heads);
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("?{i}")).collect();
    let id_params: Vec<&dyn ToSql> = ids.iter().map(|id| id as &dyn ToSql).collect();
    let mut lines = order::lines(conn, &format!("l.order_id IN ({})", placeholders.join(", ")), &id_params)?;
    for head in &mut heads {
        head.order.lines = lines.remove(&head.order.id.to_string()).unwrap_or_default();
    }
    Ok(heads)
}

pub fn order_record(conn: &Connection, id: OrderId) -> Result<OrderRecord> {
    orders_where(conn, "o.id = ?1", "", vec![id.to_string().into()])?.pop().ok_or(StorageError::NotFound)
}

pub fn order_by_status_token(conn: &Connection, token_hash: &str) -> Result<OrderRecord> {
    orders_where(conn, "o.status_token_hash = ?1", "", vec![token_hash.to_owned().into()])?.pop().ok_or(StorageError::NotFound)
}

/// Stores a new order with its buyer's status-link hash.
pub(super) fn insert_order(conn: &Connection, record: &mut OrderRecord, status_token_hash: &str) -> Result<()> {
    record.version = next_version(conn)?;
    let extra = [
        ("coop_id", Value::from(record.coop_id.to_string())),
        ("farmer_id", Value::from(record.farmer_id.to_string())),
        ("version", Value::from(record.version)),
        ("status_token_hash", Value::from(status_token_hash.to_owned())),
    ];
    order::upsert(conn, &record.order, &extra, &["coop_id", "farmer_id", "status_token_hash"])?;
    Ok(())
}

/// Stores a change to an existing order under a new version.
pub(super) fn update_order(conn: &Connection, record: &mut OrderRecord) -> Result<()> {
    record.version = next_version(conn)?;
    let extra = [("version", Value::from(record.version))];
    if !order::update(conn, &record.order, &extra, &[])? {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

pub fn place_order(conn: &Connection, place: PlaceOrder) -> Result<Placed> {
    let earlier: Option<(String, String)> = conn
        .prepare_cached("SELECT fingerprint, order_id FROM idempotency_keys WHERE key = ?1")?
        .query_row([&place.idempotency_key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((fingerprint, order_id)) = earlier {
        if fingerprint != place.fingerprint {
            return Err(StorageError::IdempotencyKeyReused);
        }
        let record = order_record(conn, OrderId(uuid(&order_id, "idempotency_keys.order_id")?))?;
        return Ok(Placed { record, replayed: true });
    }
    let mut listing = listing_record(conn, place.listing_id)?;
    let order = checkout::place(&mut listing.listing, place.request, place.now).map_err(StorageError::Refused)?;
    save_listing(conn, &mut listing)?;
    let mut record = OrderRecord { order, coop_id: listing.coop_id, farmer_id: listing.farmer_id, version: 0 };
    insert_order(conn, &mut record, &place.status_token_hash)?;
    conn.prepare_cached("INSERT INTO idempotency_keys (key, fingerprint, order_id, created_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![place.idempotency_key, place.fingerprint, record.order.id.to_string(), place.now.millis()])?;
    Ok(Placed { record, replayed: false })
}

pub fn step_order(conn: &Connection, id: OrderId, action: OrderAction, reason: Option<&str>, now: Timestamp) -> Result<OrderRecord> {
    let mut record = order_record(conn, id)?;
    let mut load_error = None;
    let released = checkout::step(&mut record.order, action, reason, now, |line| match listing_record(conn, line.listing_id) {
        Ok(found) => Some(found.listing),
        Err(StorageError::NotFound) => None,
        Err(error) => {
            load_error = Some(error);
            None
        }
    })
    .map_err(|error| StorageError::Refused(vec![FieldError::new(Field::Status, error)]))?;
    if let Some(error) = load_error {
        return Err(error);
    }
    for listing in released {
        let mut listing_record = listing_record(conn, listing.id)?;
        listing_record.listing = listing;
        save_listing(conn, &mut listing_record)?;
    }
    update_order(conn, &mut record)?;
    Ok(record)
}

pub fn record_payment(conn: &Connection, id: OrderId, amount: Money, now: Timestamp) -> Result<OrderRecord> {
    let mut record = order_record(conn, id)?;
    record.order.record_payment(amount, now).map_err(|e: DomainError| StorageError::Refused(vec![FieldError::new(Field::Price, e)]))?;
    update_order(conn, &mut record)?;
    conn.prepare_cached("INSERT INTO payments (order_id, amount_minor, recorded_at) VALUES (?1, ?2, ?3)")?
        .execute(params![id.to_string(), amount.minor, now.millis()])?;
    Ok(record)
}

pub fn orders(conn: &Connection, filter: &OrderFilter) -> Result<Page<OrderRecord>> {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |condition: &str, bound: &[Value]| {
        let mut condition = condition.to_owned();
        for value in bound {
            values.push(value.clone());
            condition = condition.replacen("??", &format!("?{}", values.len()), 1);
        }
        conditions.push(condition);
    };
    bind("o.coop_id = ??", &[filter.coop_id.to_string().into()]);
    if let Some(farmer_id) = filter.farmer_id {
        bind("o.farmer_id = ??", &[farmer_id.to_string().into()]);
    }
    if let Some(status) = filter.status {
        bind("o.status = ??", &[code(&status).into()]);
    }
    if let Some(channel) = filter.channel {
        bind("o.channel = ??", &[code(&channel).into()]);
    }
    if let Some(point) = filter.pickup_point_id {
        bind("o.pickup_point_id = ??", &[point.to_string().into()]);
    }
    if let Some(from) = filter.created_from {
        bind("o.created_at >= ??", &[from.millis().into()]);
    }
    if let Some(before) = filter.created_before {
        bind("o.created_at < ??", &[before.millis().into()]);
    }
    if let Some(search) = filter.search.as_deref().map(str::to_lowercase) {
        // instr() instead of LIKE: no wildcard characters to escape in what the person typed.
        bind("(instr(lower(o.buyer_name), ??) > 0 OR instr(o.buyer_phone, ??) > 0)", &[search.clone().into(), search.into()]);
    }
    if let Some(OrderCursor { created_at, id }) = filter.after {
        bind(
            "(o.created_at < ?? OR (o.created_at = ?? AND o.id < ??))",
            &[created_at.millis().into(), created_at.millis().into(), id.to_string().into()],
        );
    }
    let limit = filter.limit.clamp(1, 500);
    let tail = format!("ORDER BY o.created_at DESC, o.id DESC LIMIT {}", limit + 1);
    let mut items = orders_where(conn, &conditions.join(" AND "), &tail, values)?;
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| OrderCursor { created_at: last.order.created_at, id: last.order.id })
    } else {
        None
    };
    Ok(Page { items, next })
}

