//! Reports over orders for the people who act on them: the farmer's Today screen, the earnings
//! charts and the co-op's pick lists.
//!
//! Pure functions of the orders, the current time and the UTC offset the person lives in (the
//! shells read the clock and the time zone). A day is a calendar day at that offset, because
//! "today's orders" means the farmer's today, not UTC's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::ids::{MemberId, OrderId, PickupPointId};
use crate::money::{Currency, Money};
use crate::order::{Buyer, Channel, Fulfilment, Order, OrderStatus};
use crate::quantity::{Quantity, Unit};
use crate::time::Timestamp;

/// What the farmer's Today screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Today {
    /// The calendar day it is for.
    pub date: String,
    /// Orders placed and not yet confirmed or declined: each one waits for the farmer.
    pub waiting: u32,
    /// Orders placed today (any status).
    pub placed_today: u32,
    /// Confirmed orders still to pack, grouped by where they go.
    pub to_pack: Vec<PackGroup>,
    /// What buyers still owe on orders that are not cancelled or declined, in the co-op currency.
    pub money_due: Money,
    /// Sales today (orders placed today that still stand), in the co-op currency.
    pub sales_today: Money,
}

/// Where a group of packed goods goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Destination {
    Pickup { point_id: PickupPointId },
    Delivery,
}

/// The goods for one destination, summed per product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PackGroup {
    pub destination: Destination,
    pub orders: u32,
    pub items: Vec<PackItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PackItem {
    pub title: String,
    pub unit: Unit,
    pub quantity: Quantity,
}

/// Whether an order counts as a sale: cancelled and declined ones do not.
fn is_sale(order: &Order) -> bool {
    order.status.holds_stock()
}

/// Quantities per product (title and unit) within one destination.
type ItemSums = BTreeMap<(String, Unit), Quantity>;

/// The Today screen for `orders` at `now`.
pub fn today(orders: &[Order], currency: Currency, now: Timestamp, offset_minutes: i32) -> Today {
    let date = now.local_date(offset_minutes);
    let mut groups: BTreeMap<Destination, (u32, ItemSums)> = BTreeMap::new();
    let (mut waiting, mut placed_today, mut due, mut sales) = (0, 0, 0i64, 0i64);
    for order in orders {
        let is_today = order.created_at.local_date(offset_minutes) == date;
        placed_today += u32::from(is_today);
        waiting += u32::from(order.status == OrderStatus::Placed);
        if order.total.currency == currency && is_sale(order) {
            due += order.total.minor - order.paid.minor;
            if is_today {
                sales += order.total.minor;
            }
        }
        if order.status == OrderStatus::Confirmed {
            let destination = match &order.fulfilment {
                Fulfilment::Pickup { point_id } => Destination::Pickup { point_id: *point_id },
                Fulfilment::Delivery { .. } => Destination::Delivery,
            };
            let (count, items) = groups.entry(destination).or_default();
            *count += 1;
            for line in &order.lines {
                let sum = items.entry((line.title.clone(), line.unit)).or_insert(Quantity::ZERO);
                // Quantities are bounded far below overflow; saturate rather than fail a report.
                *sum = sum.checked_add(line.quantity).unwrap_or(Quantity::MAX);
            }
        }
    }
    let to_pack = groups
        .into_iter()
        .map(|(destination, (orders, items))| PackGroup {
            destination,
            orders,
            items: items.into_iter().map(|((title, unit), quantity)| PackItem { title, unit, quantity }).collect(),
        })
        .collect();
    Today { date, waiting, placed_today, to_pack, money_due: Money::new(due, currency), sales_today: Money::new(sales, currency) }
}

/// Sales by day, by product and by channel, for the earnings charts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Earnings {
    pub total: Money,
    /// What buyers have paid of `total`.
    pub paid: Money,
    pub orders: u32,
    /// One bucket per calendar day, oldest first, including days without sales.
    pub by_day: Vec<Bucket>,
    /// Largest first.
    pub by_product: Vec<Bucket>,
    /// Largest first; keys are channel codes (`live`, `order_link`, `phone`, `in_person`).
    pub by_channel: Vec<Bucket>,
    /// Largest first; keys are farmers' member ids, or [`UNKNOWN_FARMER`] for orders whose farmer
    /// the device does not know yet. The labels are the keys: names live with the marketplace.
    pub by_farmer: Vec<Bucket>,
    /// Largest first; keys are stream ids, labels the streams' titles. Only orders placed from
    /// a live stream count here.
    pub by_stream: Vec<Bucket>,
    /// Orders in another currency than the co-op's, left out of every figure.
    pub skipped_other_currency: u32,
}

/// One bar of a chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Bucket {
    /// A stable key: the date, the listing id or the channel code.
    pub key: String,
    /// What to show: the date, the product's title or the channel code.
    pub label: String,
    pub amount: Money,
    pub orders: u32,
}

/// Earnings over the `days` calendar days that end today.
/// The key of [`Earnings::by_farmer`]'s bucket for orders whose farmer is not known yet.
pub const UNKNOWN_FARMER: &str = "unknown";

/// Sales over the last `days` local days up to `now`; `farmer_of` says whose each order is, where
/// known.
pub fn earnings(orders: &[Order], farmer_of: impl Fn(OrderId) -> Option<MemberId>, currency: Currency, now: Timestamp, offset_minutes: i32, days: u32) -> Earnings {
    const DAY_MS: i64 = 86_400_000;
    let day_keys: Vec<String> = (0..i64::from(days)).rev().map(|back| Timestamp(now.0 - back * DAY_MS).local_date(offset_minutes)).collect();
    let mut by_day: BTreeMap<String, (i64, u32)> = day_keys.iter().map(|d| (d.clone(), (0, 0))).collect();
    let mut by_product: BTreeMap<String, (String, i64, u32)> = BTreeMap::new();
    let mut by_channel: BTreeMap<&'static str, (i64, u32)> = BTreeMap::new();
    let mut by_farmer: BTreeMap<String, (i64, u32)> = BTreeMap::new();
    let mut by_stream: BTreeMap<String, (String, i64, u32)> = BTreeMap::new();
    let (mut total, mut paid, mut count, mut skipped) = (0i64, 0i64, 0u32, 0u32);
    for order in orders.iter().filter(|o| is_sale(o)) {
        if order.total.currency != currency {
            skipped += 1;
            continue;
        }
        let Some(day) = by_day.get_mut(&order.created_at.local_date(offset_minutes)) else { continue };
        day.0 += order.total.minor;
        day.1 += 1;
        total += order.total.minor;
        paid += order.paid.minor;
        count += 1;
        for line in &order.lines {
            let entry = by_product.entry(line.listing_id.to_string()).or_insert_with(|| (line.title.clone(), 0, 0));
            entry.1 += line.total.minor;
            entry.2 += 1;
        }
        let channel = by_channel.entry(channel_code(order.channel)).or_default();
        channel.0 += order.total.minor;
        channel.1 += 1;
        let farmer = by_farmer.entry(farmer_of(order.id).map_or_else(|| UNKNOWN_FARMER.to_owned(), |id| id.to_string())).or_default();
        farmer.0 += order.total.minor;
        farmer.1 += 1;
        if let Some(stream) = &order.stream {
            let entry = by_stream.entry(stream.id.to_string()).or_insert_with(|| (stream.title.clone(), 0, 0));
            entry.1 += order.total.minor;
            entry.2 += 1;
        }
    }
    let money = |minor| Money::new(minor, currency);
    let labelled = |buckets: BTreeMap<String, (String, i64, u32)>| {
        let mut ranked: Vec<Bucket> =
            buckets.into_iter().map(|(key, (label, minor, orders))| Bucket { key, label, amount: money(minor), orders }).collect();
        ranked.sort_by(|a, b| b.amount.minor.cmp(&a.amount.minor).then_with(|| a.key.cmp(&b.key)));
        ranked
    };
    let ranked = |buckets: BTreeMap<String, (i64, u32)>| {
        let mut ranked: Vec<Bucket> =
            buckets.into_iter().map(|(key, (minor, orders))| Bucket { label: key.clone(), key, amount: money(minor), orders }).collect();
        ranked.sort_by(|a, b| b.amount.minor.cmp(&a.amount.minor).then_with(|| a.key.cmp(&b.key)));
        ranked
    };
    let channels = ranked(by_channel.into_iter().map(|(key, value)| (key.to_owned(), value)).collect());
    Earnings {
        total: money(total),
        paid: money(paid),
        orders: count,
        by_day: by_day.into_iter().map(|(key, (minor, orders))| Bucket { label: key.clone(), key, amount: money(minor), orders }).collect(),
        by_product: labelled(by_product),
        by_channel: channels,
        by_farmer: ranked(by_farmer),
        by_stream: labelled(by_stream),
        skipped_other_currency: skipped,
    }
}

fn channel_code(channel: Channel) -> &'static str {
    match channel {
        Channel::Live => "live",
        Channel::OrderLink => "order_link",
        Channel::Phone => "phone",
        Channel::InPerson => "in_person",
    }
}

/// One line of a pick list: one product of one order to hand to one buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PickRow {
    pub order_id: OrderId,
    pub buyer: Buyer,
    pub title: String,
    pub unit: Unit,
    pub quantity: Quantity,
    pub status: OrderStatus,
    /// What the buyer still owes on the whole order (cash at pickup is collected here).
    pub to_collect: Money,
}

/// What to hand over at `point` on `date`: every order for that point placed on or before that
/// day that is confirmed, packed or ready, one row per line, in order of buyer and product.
/// Orders still waiting for the farmer are left out: nothing is promised for them yet.
pub fn pick_list(orders: &[Order], point: PickupPointId, date: &str, offset_minutes: i32) -> Vec<PickRow> {
    let mut rows: Vec<PickRow> = orders
        .iter()
        .filter(|o| matches!(o.fulfilment, Fulfilment::Pickup { point_id } if point_id == point))
        .filter(|o| matches!(o.status, OrderStatus::Confirmed | OrderStatus::Packed | OrderStatus::ReadyForPickup))
        .filter(|o| o.created_at.local_date(offset_minutes).as_str() <= date)
        .flat_map(|o| {
            o.lines.iter().map(move |line| PickRow {
                order_id: o.id,
                buyer: o.buyer.clone(),
                title: line.title.clone(),
                unit: line.unit,
                quantity: line.quantity,
                status: o.status,
                to_collect: Money::new(o.total.minor - o.paid.minor, o.total.currency),
            })
        })
        .collect();
    rows.sort_by(|a, b| a.buyer.name.cmp(&b.buyer.name).then_with(|| a.order_id.to_string().cmp(&b.order_id.to_string())).then_with(|| a.title.cmp(&b.title)));
    rows
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::ids::ListingId;
    use crate::order::{OrderLine, PaymentMethod};

    const HOUR: i64 = 3_600_000;
    /// 2026-11-21T00:00:00Z.
    const DAY0: i64 = 1_795_219_200_000;

    fn order(n: u128, status: OrderStatus, at: i64, point: Option<u128>, lines: &[(u128, &str, i64, i64)]) -> Order {
        let lines: Vec<OrderLine> = lines
            .iter()
            .map(|&(listing, title, milli, minor)| OrderLine {
                listing_id: ListingId(Uuid::from_u128(listing)),
                title: title.into(),
                unit: Unit::Kg,
                quantity: Quantity::from_milli(milli),
                unit_price: Money::new(minor, Currency::CNY),
                total: Money::new(minor * milli / 1000, Currency::CNY),
            })
            .collect();
        let total = lines.iter().map(|l| l.total.minor).sum();
        Order {
            id: OrderId(Uuid::from_u128(n)),
            lines,
            total: Money::new(total, Currency::CNY),
            buyer: Buyer { name: format!("buyer {n}"), phone: "+8613800000000".into() },
            fulfilment: match point {
                Some(p) => Fulfilment::Pickup { point_id: PickupPointId(Uuid::from_u128(p)) },
                None => Fulfilment::Delivery { address: "village road 1".into() },
            },
            payment_method: PaymentMethod::CashAtPickup,
            channel: if n.is_multiple_of(2) { Channel::Live } else { Channel::OrderLink },
            status,
            paid: Money::zero(Currency::CNY),
            note: String::new(),
            shortfall: Quantity::ZERO,
            created_at: Timestamp(at),
            updated_at: Timestamp(at),
            stream: None,
        }
    }

    #[test]
    fn today_counts_waiting_orders_packs_by_destination_and_sums_what_is_due() {
        let now = Timestamp(DAY0 + 10 * HOUR);
        let orders = [
            order(1, OrderStatus::Placed, DAY0 + HOUR, Some(7), &[(1, "corn", 2000, 300)]),
            order(2, OrderStatus::Confirmed, DAY0 + 2 * HOUR, Some(7), &[(1, "corn", 3000, 300), (2, "eggs", 1000, 1500)]),
            order(3, OrderStatus::Confirmed, DAY0 - 20 * HOUR, Some(7), &[(1, "corn", 1500, 300)]),
            order(4, OrderStatus::Confirmed, DAY0 - 30 * HOUR, None, &[(2, "eggs", 2000, 1500)]),
            order(5, OrderStatus::Declined, DAY0 + HOUR, Some(7), &[(1, "corn", 9000, 300)]),
        ];
        let today = today(&orders, Currency::CNY, now, 0);
        assert_eq!(today.date, "2026-11-21");
        assert_eq!(today.waiting, 1);
        assert_eq!(today.placed_today, 3, "the declined order was placed today too");
        // Corn 4.5 kg and eggs 1 kg to the pickup point from two orders; eggs 2 kg for delivery.
        assert_eq!(today.to_pack.len(), 2);
        let pickup = &today.to_pack[0];
        assert_eq!(pickup.destination, Destination::Pickup { point_id: PickupPointId(Uuid::from_u128(7)) });
        assert_eq!(pickup.orders, 2);
        assert_eq!(pickup.items.iter().map(|i| (i.title.as_str(), i.quantity.milli())).collect::<Vec<_>>(), [("corn", 4500), ("eggs", 1000)]);
        assert_eq!(today.to_pack[1].destination, Destination::Delivery);
        // Due: 600 + 2400 + 450 + 3000; the declined 2700 is not owed.
        assert_eq!(today.money_due, Money::new(6450, Currency::CNY));
        assert_eq!(today.sales_today, Money::new(3000, Currency::CNY));
    }

    #[test]
    fn the_day_is_the_farmers_day() {
        // 20:00 UTC on the 21st is 04:00 on the 22nd in Shandong: an order at 15:00 UTC (23:00
        // there) was placed "yesterday" for the farmer, though on the same UTC day.
        let orders = [order(1, OrderStatus::Placed, DAY0 + 15 * HOUR, Some(7), &[(1, "corn", 1000, 300)])];
        let now = Timestamp(DAY0 + 20 * HOUR);
        assert_eq!(today(&orders, Currency::CNY, now, 0).placed_today, 1);
        assert_eq!(today(&orders, Currency::CNY, now, 480).placed_today, 0);
    }

    #[test]
    fn earnings_fill_every_day_and_rank_products_and_channels() {
        let now = Timestamp(DAY0 + 10 * HOUR);
        let orders = [
            order(1, OrderStatus::Delivered, DAY0 + HOUR, Some(7), &[(1, "corn", 2000, 300)]),
            order(2, OrderStatus::Placed, DAY0 - 40 * HOUR, Some(7), &[(2, "eggs", 1000, 1500)]),
            order(3, OrderStatus::Cancelled, DAY0 + HOUR, Some(7), &[(2, "eggs", 5000, 1500)]),
            order(4, OrderStatus::Confirmed, DAY0 - 10 * 24 * HOUR, Some(7), &[(2, "eggs", 1000, 1500)]),
        ];
        // Orders 1 and 4 are farmer 5's, 2 and 3 farmer 6's; none is unknown.
        let farmer = |id: OrderId| Some(MemberId(Uuid::from_u128(if id == OrderId(Uuid::from_u128(1)) || id == OrderId(Uuid::from_u128(4)) { 5 } else { 6 })));
        let earnings = earnings(&orders, farmer, Currency::CNY, now, 0, 7);
        assert_eq!(earnings.by_day.len(), 7);
        assert_eq!(earnings.by_day.first().unwrap().key, "2026-11-15");
        assert_eq!(earnings.by_day.last().unwrap().amount.minor, 600);
        assert_eq!(earnings.by_day[4].key, "2026-11-19");
        assert_eq!(earnings.by_day[4].amount.minor, 1500);
        assert_eq!(earnings.by_day.iter().map(|b| b.amount.minor).sum::<i64>(), earnings.total.minor);
        assert_eq!(earnings.total.minor, 2100, "cancelled and older orders are left out");
        assert_eq!(earnings.orders, 2);
        assert_eq!(earnings.by_product.iter().map(|b| (b.label.as_str(), b.amount.minor)).collect::<Vec<_>>(), [("eggs", 1500), ("corn", 600)]);
        assert_eq!(earnings.by_channel.iter().map(|b| (b.key.as_str(), b.amount.minor)).collect::<Vec<_>>(), [("live", 1500), ("order_link", 600)]);
        let farmers: Vec<(String, i64, u32)> = earnings.by_farmer.iter().map(|b| (b.key.clone(), b.amount.minor, b.orders)).collect();
        assert_eq!(farmers, [(MemberId(Uuid::from_u128(6)).to_string(), 1500, 1), (MemberId(Uuid::from_u128(5)).to_string(), 600, 1)]);
    }

    #[test]
    fn sales_per_stream_count_the_orders_placed_from_each_stream_and_nothing_else() {
        use crate::ids::StreamId;
        use crate::order::StreamRef;
        let stream = |n: u128, title: &str| Some(StreamRef { id: StreamId(Uuid::from_u128(n)), title: title.into() });
        let mut orders = [
            order(2, OrderStatus::Placed, DAY0, Some(7), &[(1, "corn", 2000, 300)]),
            order(4, OrderStatus::Delivered, DAY0, Some(7), &[(2, "eggs", 1000, 1500)]),
            order(6, OrderStatus::Confirmed, DAY0, Some(7), &[(1, "corn", 1000, 300)]),
            order(8, OrderStatus::Declined, DAY0, Some(7), &[(1, "corn", 9000, 300)]),
            order(1, OrderStatus::Placed, DAY0, Some(7), &[(1, "corn", 1000, 300)]),
        ];
        orders[0].stream = stream(10, "Corn harvest");
        orders[1].stream = stream(11, "Eggs at dawn");
        orders[2].stream = stream(10, "Corn harvest");
        orders[3].stream = stream(10, "Corn harvest");
        let earnings = earnings(&orders, |_| None, Currency::CNY, Timestamp(DAY0), 0, 1);
        let streams: Vec<(&str, i64, u32)> = earnings.by_stream.iter().map(|b| (b.label.as_str(), b.amount.minor, b.orders)).collect();
        assert_eq!(streams, [("Eggs at dawn", 1500, 1), ("Corn harvest", 900, 2)], "declined and stream-less orders are left out");
        assert_eq!(earnings.by_stream[1].key, StreamId(Uuid::from_u128(10)).to_string());
    }

    #[test]
    fn orders_of_a_farmer_not_known_yet_are_counted_apart() {
        let orders = [order(1, OrderStatus::Placed, DAY0, Some(7), &[(1, "corn", 1000, 300)])];
        let earnings = earnings(&orders, |_| None, Currency::CNY, Timestamp(DAY0), 0, 1);
        assert_eq!(earnings.by_farmer.iter().map(|b| (b.key.as_str(), b.amount.minor)).collect::<Vec<_>>(), [(UNKNOWN_FARMER, 300)]);
    }

    #[test]
    fn other_currencies_are_counted_as_skipped_not_added() {
        let mut euro = order(1, OrderStatus::Placed, DAY0, Some(7), &[(1, "corn", 1000, 300)]);
        euro.total.currency = Currency::EUR;
        let earnings = earnings(&[euro], |_| None, Currency::CNY, Timestamp(DAY0), 0, 1);
        assert_eq!((earnings.total.minor, earnings.skipped_other_currency), (0, 1));
    }

    #[test]
    fn pick_lists_hold_promised_orders_for_the_point_up_to_the_day() {
        let orders = [
            order(1, OrderStatus::Placed, DAY0, Some(7), &[(1, "corn", 1000, 300)]),
            order(2, OrderStatus::Confirmed, DAY0, Some(7), &[(1, "corn", 2000, 300), (2, "eggs", 1000, 1500)]),
            order(3, OrderStatus::ReadyForPickup, DAY0 - 30 * HOUR, Some(7), &[(2, "eggs", 1000, 1500)]),
            order(4, OrderStatus::Packed, DAY0, Some(8), &[(2, "eggs", 1000, 1500)]),
            order(5, OrderStatus::Delivered, DAY0, Some(7), &[(2, "eggs", 1000, 1500)]),
            order(6, OrderStatus::Packed, DAY0 + 30 * HOUR, Some(7), &[(2, "eggs", 1000, 1500)]),
        ];
        let rows = pick_list(&orders, PickupPointId(Uuid::from_u128(7)), "2026-11-21", 0);
        let seen: Vec<(u128, &str)> = rows.iter().map(|r| (r.order_id.0.as_u128(), r.title.as_str())).collect();
        assert_eq!(seen, [(2, "corn"), (2, "eggs"), (3, "eggs")]);
        assert_eq!(rows[0].to_collect.minor, 2100);
    }
}
