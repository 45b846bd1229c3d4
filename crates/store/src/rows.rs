//! Mapping between table rows and domain values.
//!
//! Enums are stored as their serde names (`"jin"`, `"ready_for_pickup"`), the same text the API and
//! the outbox use. Reading goes through a plain row struct first, then into the domain type, so a
//! value the domain refuses becomes [`Error::Corrupt`] instead of a panic.

use std::collections::HashMap;

use domain::ids::{ListingId, OrderId, PickupPointId};
use domain::listing::{Listing, ListingDetails, PhotoRef};
use domain::money::{Currency, Money};
use domain::order::{Buyer, Fulfilment, FulfilmentKind, Order, OrderLine};
use domain::quantity::{OrderRules, Quantity};
use domain::time::Timestamp;
use rusqlite::{Connection, Row, named_params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// The serde name of a unit-like enum variant, e.g. `Unit::Jin` → `"jin"`.
pub(crate) fn code<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => unreachable!("only unit-like enums are stored as codes, got {other:?}"),
    }
}

fn decode<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, Error> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| Error::corrupt(what))
}

fn uuid(text: &str, what: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::try_parse(text).map_err(|_| Error::corrupt(what))
}

const LISTING_COLUMNS: &str = "id, title, description, unit, currency, price_minor, stock_milli, step_milli, \
     minimum_milli, maximum_milli, photos, status, created_at, updated_at";

struct ListingRow {
    id: String,
    title: String,
    description: String,
    unit: String,
    currency: String,
    price_minor: i64,
    stock_milli: i64,
    step_milli: i64,
    minimum_milli: i64,
    maximum_milli: Option<i64>,
    photos: String,
    status: String,
    created_at: i64,
    updated_at: i64,
}

impl ListingRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<ListingRow> {
        Ok(ListingRow {
            id: row.get(0)?,
            title: row.get(1)?,
            description: row.get(2)?,
            unit: row.get(3)?,
            currency: row.get(4)?,
            price_minor: row.get(5)?,
            stock_milli: row.get(6)?,
            step_milli: row.get(7)?,
            minimum_milli: row.get(8)?,
            maximum_milli: row.get(9)?,
            photos: row.get(10)?,
            status: row.get(11)?,
            created_at: row.get(12)?,
            updated_at: row.get(13)?,
        })
    }

    fn into_listing(self) -> Result<Listing, Error> {
        let currency: Currency = decode(&self.currency, "listings.currency")?;
        let photos: Vec<PhotoRef> = serde_json::from_str(&self.photos).map_err(|_| Error::corrupt("listings.photos"))?;
        Ok(Listing {
            id: ListingId(uuid(&self.id, "listings.id")?),
            details: ListingDetails {
                title: self.title,
                description: self.description,
                unit: decode(&self.unit, "listings.unit")?,
                price: Money::new(self.price_minor, currency),
                stock: Quantity::from_milli(self.stock_milli),
                rules: OrderRules {
                    step: Quantity::from_milli(self.step_milli),
                    minimum: Quantity::from_milli(self.minimum_milli),
                    maximum: self.maximum_milli.map(Quantity::from_milli),
                },
            },
            photos,
            status: decode(&self.status, "listings.status")?,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
        })
    }
}

pub(crate) fn listings(conn: &Connection) -> Result<Vec<Listing>, Error> {
    let sql = format!("SELECT {LISTING_COLUMNS} FROM listings ORDER BY updated_at DESC, id");
    let rows = conn.prepare(&sql)?.query_map([], ListingRow::read)?.collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(ListingRow::into_listing).collect()
}

pub(crate) fn listing(conn: &Connection, id: ListingId) -> Result<Option<Listing>, Error> {
    let sql = format!("SELECT {LISTING_COLUMNS} FROM listings WHERE id = ?1");
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query_map([id.to_string()], ListingRow::read)?;
    rows.next().transpose()?.map(ListingRow::into_listing).transpose()
}

pub(crate) fn put_listing(conn: &Connection, listing: &Listing) -> Result<(), Error> {
    let details = &listing.details;
    conn.execute(
        "INSERT INTO listings (id, title, description, unit, currency, price_minor, stock_milli, step_milli,
             minimum_milli, maximum_milli, photos, status, created_at, updated_at)
         VALUES (:id, :title, :description, :unit, :currency, :price, :stock, :step, :minimum, :maximum,
             :photos, :status, :created_at, :updated_at)
         ON CONFLICT (id) DO UPDATE SET
             title = excluded.title, description = excluded.description, unit = excluded.unit,
             currency = excluded.currency, price_minor = excluded.price_minor,
             stock_milli = excluded.stock_milli, step_milli = excluded.step_milli,
             minimum_milli = excluded.minimum_milli, maximum_milli = excluded.maximum_milli,
             photos = excluded.photos, status = excluded.status, updated_at = excluded.updated_at",
        named_params! {
            ":id": listing.id.to_string(),
            ":title": details.title,
            ":description": details.description,
            ":unit": code(&details.unit),
            ":currency": code(&details.price.currency),
            ":price": details.price.minor,
            ":stock": details.stock.milli(),
            ":step": details.rules.step.milli(),
            ":minimum": details.rules.minimum.milli(),
            ":maximum": details.rules.maximum.map(Quantity::milli),
            ":photos": serde_json::to_string(&listing.photos).expect("photo refs serialize"),
            ":status": code(&listing.status),
            ":created_at": listing.created_at.millis(),
            ":updated_at": listing.updated_at.millis(),
        },
    )?;
    Ok(())
}

const ORDER_COLUMNS: &str = "id, status, channel, payment_method, buyer_name, buyer_phone, fulfilment, \
     pickup_point_id, delivery_address, currency, total_minor, paid_minor, note, created_at, updated_at";

struct OrderRow {
    id: String,
    status: String,
    channel: String,
    payment_method: String,
    buyer_name: String,
    buyer_phone: String,
    fulfilment: String,
    pickup_point_id: Option<String>,
    delivery_address: Option<String>,
    currency: String,
    total_minor: i64,
    paid_minor: i64,
    note: String,
    created_at: i64,
    updated_at: i64,
}

impl OrderRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<OrderRow> {
        Ok(OrderRow {
            id: row.get(0)?,
            status: row.get(1)?,
            channel: row.get(2)?,
            payment_method: row.get(3)?,
            buyer_name: row.get(4)?,
            buyer_phone: row.get(5)?,
            fulfilment: row.get(6)?,
            pickup_point_id: row.get(7)?,
            delivery_address: row.get(8)?,
            currency: row.get(9)?,
            total_minor: row.get(10)?,
            paid_minor: row.get(11)?,
            note: row.get(12)?,
            created_at: row.get(13)?,
            updated_at: row.get(14)?,
        })
    }

    fn into_order(self, lines: Vec<OrderLine>) -> Result<Order, Error> {
        let currency: Currency = decode(&self.currency, "orders.currency")?;
        let fulfilment = match (decode(&self.fulfilment, "orders.fulfilment")?, self.pickup_point_id, self.delivery_address) {
            (FulfilmentKind::Pickup, Some(point), None) => {
                Fulfilment::Pickup { point_id: PickupPointId(uuid(&point, "orders.pickup_point_id")?) }
            }
            (FulfilmentKind::Delivery, None, Some(address)) => Fulfilment::Delivery { address },
            _ => return Err(Error::corrupt("orders.fulfilment")),
        };
        Ok(Order {
            id: OrderId(uuid(&self.id, "orders.id")?),
            lines,
            total: Money::new(self.total_minor, currency),
            buyer: Buyer { name: self.buyer_name, phone: self.buyer_phone },
            fulfilment,
            payment_method: decode(&self.payment_method, "orders.payment_method")?,
            channel: decode(&self.channel, "orders.channel")?,
            status: decode(&self.status, "orders.status")?,
            paid: Money::new(self.paid_minor, currency),
            note: self.note,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
        })
    }
}

/// Lines of the orders selected by `filter` (an SQL condition on `order_lines`), grouped by order.
fn lines_by_order(conn: &Connection, filter: &str, params: &[&dyn rusqlite::ToSql]) -> Result<HashMap<String, Vec<OrderLine>>, Error> {
    let sql = format!(
        "SELECT l.order_id, l.listing_id, l.title, l.unit, l.quantity_milli, l.unit_price_minor, l.total_minor, o.currency
         FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE {filter} ORDER BY l.order_id, l.line_no"
    );
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query(params)?;
    let mut grouped: HashMap<String, Vec<OrderLine>> = HashMap::new();
    while let Some(row) = rows.next()? {
        let currency: Currency = decode(&row.get::<_, String>(7)?, "orders.currency")?;
        let line = OrderLine {
            listing_id: ListingId(uuid(&row.get::<_, String>(1)?, "order_lines.listing_id")?),
            title: row.get(2)?,
            unit: decode(&row.get::<_, String>(3)?, "order_lines.unit")?,
            quantity: Quantity::from_milli(row.get(4)?),
            unit_price: Money::new(row.get(5)?, currency),
            total: Money::new(row.get(6)?, currency),
        };
        grouped.entry(row.get(0)?).or_default().push(line);
    }
    Ok(grouped)
}

pub(crate) fn orders(conn: &Connection) -> Result<Vec<Order>, Error> {
    let mut lines = lines_by_order(conn, "1", &[])?;
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders ORDER BY created_at DESC, id");
    let rows = conn.prepare(&sql)?.query_map([], OrderRow::read)?.collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|row| {
            let order_lines = lines.remove(&row.id).unwrap_or_default();
            row.into_order(order_lines)
        })
        .collect()
}

pub(crate) fn order(conn: &Connection, id: OrderId) -> Result<Option<Order>, Error> {
    let id = id.to_string();
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1");
    let mut statement = conn.prepare(&sql)?;
    let Some(row) = statement.query_map([&id], OrderRow::read)?.next().transpose()? else {
        return Ok(None);
    };
    let lines = lines_by_order(conn, "l.order_id = ?1", &[&id])?.remove(&id).unwrap_or_default();
    row.into_order(lines).map(Some)
}

pub(crate) fn put_order(conn: &Connection, order: &Order) -> Result<(), Error> {
    let id = order.id.to_string();
    let (pickup_point_id, delivery_address) = match &order.fulfilment {
        Fulfilment::Pickup { point_id } => (Some(point_id.to_string()), None),
        Fulfilment::Delivery { address } => (None, Some(address.as_str())),
    };
    conn.execute(
        "INSERT INTO orders (id, status, channel, payment_method, buyer_name, buyer_phone, fulfilment,
             pickup_point_id, delivery_address, currency, total_minor, paid_minor, note, created_at, updated_at)
         VALUES (:id, :status, :channel, :payment_method, :buyer_name, :buyer_phone, :fulfilment,
             :pickup_point_id, :delivery_address, :currency, :total, :paid, :note, :created_at, :updated_at)
         ON CONFLICT (id) DO UPDATE SET
             status = excluded.status, payment_method = excluded.payment_method,
             buyer_name = excluded.buyer_name, buyer_phone = excluded.buyer_phone,
             fulfilment = excluded.fulfilment, pickup_point_id = excluded.pickup_point_id,
             delivery_address = excluded.delivery_address, total_minor = excluded.total_minor,
             paid_minor = excluded.paid_minor, note = excluded.note, updated_at = excluded.updated_at",
        named_params! {
            ":id": id,
            ":status": code(&order.status),
            ":channel": code(&order.channel),
            ":payment_method": code(&order.payment_method),
            ":buyer_name": order.buyer.name,
            ":buyer_phone": order.buyer.phone,
            ":fulfilment": code(&order.fulfilment.kind()),
            ":pickup_point_id": pickup_point_id,
            ":delivery_address": delivery_address,
            ":currency": code(&order.total.currency),
            ":total": order.total.minor,
            ":paid": order.paid.minor,
            ":note": order.note,
            ":created_at": order.created_at.millis(),
            ":updated_at": order.updated_at.millis(),
        },
    )?;
    conn.execute("DELETE FROM order_lines WHERE order_id = ?1", [&id])?;
    let mut insert = conn.prepare(
        "INSERT INTO order_lines (order_id, line_no, listing_id, title, unit, quantity_milli, unit_price_minor, total_minor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for (line_no, line) in order.lines.iter().enumerate() {
        insert.execute(rusqlite::params![
            id,
            line_no as i64,
            line.listing_id.to_string(),
            line.title,
            code(&line.unit),
            line.quantity.milli(),
            line.unit_price.minor,
            line.total.minor,
        ])?;
    }
    Ok(())
}
