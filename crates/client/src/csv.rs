//! Orders as CSV for spreadsheets: RFC 4180 (CRLF line ends, quoted fields where needed) in UTF-8
//! with a byte order mark, without which spreadsheet programs show Chinese names as garbage.

use domain::order::{Fulfilment, Order};
use domain::sync::PickupPointInfo;

const HEADER: [&str; 17] = [
    "order_id",
    "created_at",
    "status",
    "channel",
    "buyer_name",
    "buyer_phone",
    "pickup_point",
    "delivery_address",
    "payment_method",
    "product",
    "quantity",
    "unit",
    "unit_price",
    "line_total",
    "currency",
    "paid",
    "shortfall",
];

/// One row per order line.
pub fn orders(orders: &[Order], points: &[PickupPointInfo]) -> String {
    let mut out = String::from("\u{feff}");
    row(&mut out, HEADER.iter().map(|h| h.to_string()));
    for order in orders {
        let (point, address) = match &order.fulfilment {
            Fulfilment::Pickup { point_id } => {
                (points.iter().find(|p| p.id == *point_id).map_or_else(|| point_id.to_string(), |p| p.name.clone()), String::new())
            }
            Fulfilment::Delivery { address } => (String::new(), address.clone()),
        };
        for line in &order.lines {
            row(
                &mut out,
                [
                    order.id.to_string(),
                    order.created_at.to_rfc3339(),
                    sqlite_code(&order.status),
                    sqlite_code(&order.channel),
                    order.buyer.name.clone(),
                    order.buyer.phone.clone(),
                    point.clone(),
                    address.clone(),
                    sqlite_code(&order.payment_method),
                    line.title.clone(),
                    line.quantity.to_decimal_string(),
                    sqlite_code(&line.unit),
                    line.unit_price.to_decimal_string(),
                    line.total.to_decimal_string(),
                    line.total.currency.code().to_owned(),
                    order.paid.to_decimal_string(),
                    order.shortfall.to_decimal_string(),
                ]
                .into_iter(),
            );
        }
    }
    out
}

const PICK_HEADER: [&str; 11] =
    ["pickup_point", "date", "buyer_name", "buyer_phone", "product", "quantity", "unit", "status", "to_collect", "currency", "order_id"];

/// A pick list, one row per product per buyer. "To collect" repeats on each line of an order: it
/// is what the buyer owes for the whole order.
pub fn pick_list(list: &crate::reports::PickList) -> String {
    let mut out = String::from("\u{feff}");
    row(&mut out, PICK_HEADER.iter().map(|h| h.to_string()));
    for line in &list.rows {
        row(
            &mut out,
            [
                list.point_name.clone(),
                list.date.clone(),
                line.buyer.name.clone(),
                line.buyer.phone.clone(),
                line.title.clone(),
                line.quantity.to_decimal_string(),
                sqlite_code(&line.unit),
                sqlite_code(&line.status),
                line.to_collect.to_decimal_string(),
                line.to_collect.currency.code().to_owned(),
                line.order_id.to_string(),
            ]
            .into_iter(),
        );
    }
    out
}

/// The serde name of a unit-like enum.
fn sqlite_code<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => format!("{other:?}"),
    }
}

fn row(out: &mut String, fields: impl Iterator<Item = String>) {
    let fields: Vec<String> = fields.map(|f| field(&f)).collect();
    out.push_str(&fields.join(","));
    out.push_str("\r\n");
}

/// Quotes a field when it holds a comma, a quote or a line break, doubling inner quotes. A field
/// starting with `=`, `+`, `-` or `@` gets a leading apostrophe, so a spreadsheet never runs a
/// buyer's name as a formula.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) && text.parse::<f64>().is_err() { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\r', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it_and_defuses_formulas() {
        assert_eq!(field("王芳"), "王芳");
        assert_eq!(field("Rossi, Anna"), "\"Rossi, Anna\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-3"), "-3", "negative numbers stay numbers");
        assert_eq!(field("+86 138"), "'+86 138");
    }

    #[test]
    fn starts_with_a_bom_and_ends_rows_with_crlf() {
        let text = orders(&[], &[]);
        assert!(text.starts_with('\u{feff}'));
        assert!(text.ends_with("shortfall\r\n"));
    }
}
