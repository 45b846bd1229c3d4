//! An order as a row in `orders` plus its rows in `order_lines`.

use std::collections::HashMap;

use domain::ids::{ListingId, OrderId, PickupPointId, StreamId};
use domain::money::{Currency, Money};
use domain::order::{Buyer, Fulfilment, FulfilmentKind, Order, OrderLine, StreamRef};
use domain::quantity::Quantity;
use domain::time::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, Row, ToSql};

use crate::{Error, Extra, code, decode, uuid};

/// The core columns of `orders`, in the order [`values`] and [`read`] use.
pub const COLUMNS: [&str; 18] = [
    "id",
    "status",
    "channel",
    "payment_method",
    "buyer_name",
    "buyer_phone",
    "fulfilment",
    "pickup_point_id",
    "delivery_address",
    "currency",
    "total_minor",
    "paid_minor",
    "note",
    "shortfall_milli",
    "created_at",
    "updated_at",
    "stream_id",
    "stream_title",
];

/// The core columns for a `SELECT`, with a table alias prefix such as `"o."` (or `""`).
pub fn select(prefix: &str) -> String {
    COLUMNS.iter().map(|c| format!("{prefix}{c}")).collect::<Vec<_>>().join(", ")
}

pub fn values(order: &Order) -> Vec<Value> {
    let (pickup_point_id, delivery_address) = match &order.fulfilment {
        Fulfilment::Pickup { point_id } => (Some(point_id.to_string()), None),
        Fulfilment::Delivery { address } => (None, Some(address.clone())),
    };
    vec![
        order.id.to_string().into(),
        code(&order.status).into(),
        code(&order.channel).into(),
        code(&order.payment_method).into(),
        order.buyer.name.clone().into(),
        order.buyer.phone.clone().into(),
        code(&order.fulfilment.kind()).into(),
        pickup_point_id.into(),
        delivery_address.into(),
        code(&order.total.currency).into(),
        order.total.minor.into(),
        order.paid.minor.into(),
        order.note.clone().into(),
        order.shortfall.milli().into(),
        order.created_at.millis().into(),
        order.updated_at.millis().into(),
        order.stream.as_ref().map(|s| s.id.to_string()).into(),
        order.stream.as_ref().map(|s| s.title.clone()).into(),
    ]
}

/// Columns that never change after an order is placed.
const FIXED: [&str; 6] = ["id", "created_at", "channel", "currency", "stream_id", "stream_title"];

/// Inserts or updates `order` in `orders` (with `extra` columns; those in `keep` are written on
/// insert only) and replaces its lines in `order_lines`.
pub fn upsert(conn: &Connection, order: &Order, extra: Extra<'_>, keep: &[&str]) -> Result<(), Error> {
    let keep: Vec<&str> = FIXED.into_iter().chain(keep.iter().copied()).collect();
    crate::upsert(conn, "orders", &COLUMNS, values(order), extra, &keep)?;
    replace_lines(conn, order)
}

/// Updates an existing order (its columns and `extra` ones, never those in `keep`) and its lines.
/// Unlike [`upsert`], it needs no value for insert-only columns. Returns whether the order existed.
pub fn update(conn: &Connection, order: &Order, extra: Extra<'_>, keep: &[&str]) -> Result<bool, Error> {
    let keep: Vec<&str> = FIXED.into_iter().chain(keep.iter().copied()).collect();
    if !crate::update(conn, "orders", &COLUMNS, values(order), extra, &keep)? {
        return Ok(false);
    }
    replace_lines(conn, order)?;
    Ok(true)
}

fn replace_lines(conn: &Connection, order: &Order) -> Result<(), Error> {
    let id = order.id.to_string();
    conn.prepare_cached("DELETE FROM order_lines WHERE order_id = ?1")?.execute([&id])?;
    let mut insert = conn.prepare_cached(
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

/// Reads the core columns starting at column index `at`; `lines` come from [`lines`].
pub fn read(row: &Row<'_>, at: usize, lines: Vec<OrderLine>) -> Result<Order, Error> {
    let text = |i: usize| row.get::<_, String>(at + i);
    let int = |i: usize| row.get::<_, i64>(at + i);
    let currency: Currency = decode(&text(9)?, "orders.currency")?;
    let pickup: Option<String> = row.get(at + 7)?;
    let address: Option<String> = row.get(at + 8)?;
    let fulfilment = match (decode(&text(6)?, "orders.fulfilment")?, pickup, address) {
        (FulfilmentKind::Pickup, Some(point), None) => {
            Fulfilment::Pickup { point_id: PickupPointId(uuid(&point, "orders.pickup_point_id")?) }
        }
        (FulfilmentKind::Delivery, None, Some(address)) => Fulfilment::Delivery { address },
        _ => return Err(Error::corrupt("orders.fulfilment")),
    };
    let stream = match (row.get::<_, Option<String>>(at + 16)?, row.get::<_, Option<String>>(at + 17)?) {
        (Some(id), Some(title)) => Some(StreamRef { id: StreamId(uuid(&id, "orders.stream_id")?), title }),
        (None, None) => None,
        _ => return Err(Error::corrupt("orders.stream_id")),
    };
    Ok(Order {
        id: OrderId(uuid(&text(0)?, "orders.id")?),
        lines,
        total: Money::new(int(10)?, currency),
        buyer: Buyer { name: text(4)?, phone: text(5)? },
        fulfilment,
        payment_method: decode(&text(3)?, "orders.payment_method")?,
        channel: decode(&text(2)?, "orders.channel")?,
        status: decode(&text(1)?, "orders.status")?,
        paid: Money::new(int(11)?, currency),
        note: text(12)?,
        shortfall: Quantity::from_milli(int(13)?),
        created_at: Timestamp(int(14)?),
        updated_at: Timestamp(int(15)?),
        stream,
    })
}

/// The lines of the orders that `filter` selects (an SQL condition on `order_lines l` joined with
/// `orders o`), grouped by order id.
pub fn lines(conn: &Connection, filter: &str, params: &[&dyn ToSql]) -> Result<HashMap<String, Vec<OrderLine>>, Error> {
    let sql = format!(
        "SELECT l.order_id, l.listing_id, l.title, l.unit, l.quantity_milli, l.unit_price_minor, l.total_minor, o.currency
         FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE {filter} ORDER BY l.order_id, l.line_no"
    );
    let mut statement = conn.prepare_cached(&sql)?;
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
