//! The store's side of sync: the account, the cursor, acknowledging pushed entries, applying pulled
//! pages, and rebuilding the view.
//!
//! The view (the `listings`, `orders` and `quotas` tables the app reads) is always "the marketplace's
//! state as last pulled, plus this device's changes it has not applied yet". After a pull, every
//! entity the page changed or a pending change touches is recomputed from the server copies
//! (`server_*`) by replaying those pending changes with `domain::mutation::apply`, the same rules
//! the server uses. Changes the server has already applied (seq ≤ its `last_applied_seq`) are in the
//! server copy and are not replayed, so nothing counts twice while an acknowledgement is in flight.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;

use domain::access::Role;
use domain::error::Field;
use domain::ids::{CoopId, DeviceId, ListingId, MemberId, OrderId, PickupPointId};
use domain::listing::Listing;
use domain::money::Currency;
use domain::mutation::{self, Mutation, State};
use domain::order::Order;
use domain::quantity::Quantity;
use domain::sync::{EntryResult, PickupPointInfo, PullResponse, Verdict};
use domain::time::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use crate::change::{outbox_after, set_quota};
use crate::{Error, rows};

/// The pairing with a marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub server_url: String,
    pub token: String,
    pub device_id: DeviceId,
    /// What the device is called in the co-op's device list.
    pub device_name: String,
    pub member_id: MemberId,
    pub member_name: String,
    pub role: Role,
    pub coop_id: CoopId,
    pub coop_name: String,
    pub currency: Currency,
    pub paired_at: Timestamp,
}

/// Where sync stands in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncState {
    pub cursor: i64,
    pub last_applied_seq: u64,
    pub last_synced_at: Option<Timestamp>,
}

/// A change the marketplace refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub seq: u64,
    pub name: String,
    pub code: String,
    pub field: Option<Field>,
    pub message: String,
    pub at: Timestamp,
}

/// What acknowledging a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledged {
    /// Entries removed from the outbox (applied or refused).
    pub acked: u64,
    pub refused: Vec<Refusal>,
    /// Entries still in the outbox.
    pub pending: u64,
}

pub(crate) fn account(conn: &Connection) -> Result<Option<Account>, Error> {
    let row = conn
        .prepare_cached(
            "SELECT server_url, token, device_id, member_id, member_name, role, coop_id, coop_name, currency, paired_at, device_name
             FROM account WHERE id = 1",
        )?
        .query_row([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, i64>(9)?,
                r.get::<_, String>(10)?,
            ))
        })
        .optional()?;
    let Some((server_url, token, device_id, member_id, member_name, role, coop_id, coop_name, currency, paired_at, device_name)) = row else {
        return Ok(None);
    };
    Ok(Some(Account {
        server_url,
        token,
        device_id: DeviceId::parse(&device_id).ok_or_else(|| Error::corrupt("account.device_id"))?,
        device_name,
        member_id: MemberId::parse(&member_id).ok_or_else(|| Error::corrupt("account.member_id"))?,
        member_name,
        role: Role::parse(&role).ok_or_else(|| Error::corrupt("account.role"))?,
        coop_id: CoopId::parse(&coop_id).ok_or_else(|| Error::corrupt("account.coop_id"))?,
        coop_name,
        currency: Currency::parse(&currency).map_err(|_| Error::corrupt("account.currency"))?,
        paired_at: Timestamp(paired_at),
    }))
}

pub(crate) fn set_account(conn: &Connection, account: &Account) -> Result<(), Error> {
    conn.execute(
        "INSERT INTO account (id, server_url, token, device_id, member_id, member_name, role, coop_id, coop_name, currency, paired_at, device_name)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO UPDATE SET server_url = excluded.server_url, token = excluded.token,
             device_id = excluded.device_id, member_id = excluded.member_id, member_name = excluded.member_name,
             role = excluded.role, coop_id = excluded.coop_id, coop_name = excluded.coop_name,
             currency = excluded.currency, paired_at = excluded.paired_at, device_name = excluded.device_name",
        params![
            account.server_url,
            account.token,
            account.device_id.to_string(),
            account.member_id.to_string(),
            account.member_name,
            account.role.code(),
            account.coop_id.to_string(),
            account.coop_name,
            account.currency.code(),
            account.paired_at.millis(),
            account.device_name,
        ],
    )?;
    Ok(())
}

pub(crate) fn sync_state(conn: &Connection) -> Result<SyncState, Error> {
    Ok(conn.prepare_cached("SELECT cursor, last_applied_seq, last_synced_at FROM device WHERE id = 1")?.query_row([], |r| {
        Ok(SyncState {
            cursor: r.get(0)?,
            last_applied_seq: r.get::<_, i64>(1)? as u64,
            last_synced_at: r.get::<_, Option<i64>>(2)?.map(Timestamp),
        })
    })?)
}

pub(crate) fn set_last_synced_at(conn: &Connection, at: Timestamp) -> Result<(), Error> {
    conn.execute("UPDATE device SET last_synced_at = ?1 WHERE id = 1", [at.millis()])?;
    Ok(())
}

pub(crate) fn pickup_points(conn: &Connection) -> Result<Vec<PickupPointInfo>, Error> {
    let mut statement = conn.prepare_cached("SELECT id, name, address, active FROM pickup_points ORDER BY name, id")?;
    let rows = statement
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, bool>(3)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, name, address, active)| {
            Ok(PickupPointInfo { id: PickupPointId::parse(&id).ok_or_else(|| Error::corrupt("pickup_points.id"))?, name, address, active })
        })
        .collect()
}

pub(crate) fn refusals(conn: &Connection, limit: usize) -> Result<Vec<Refusal>, Error> {
    let mut statement =
        conn.prepare_cached("SELECT seq, name, code, field, message, at FROM refusals ORDER BY seq DESC LIMIT ?1")?;
    let rows = statement
        .query_map([limit as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?, r.get::<_, String>(4)?, r.get::<_, i64>(5)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(seq, name, code, field, message, at)| {
            let field = field.map(|f| sqlite_rows::decode(&f, "refusals.field")).transpose()?;
            Ok(Refusal { seq: seq as u64, name, code, field, message, at: Timestamp(at) })
        })
        .collect()
}

/// Removes the answered entries from the outbox and keeps the refusals, in one transaction.
pub(crate) fn acknowledge(conn: &mut Connection, results: &[EntryResult], at: Timestamp) -> Result<Acknowledged, Error> {
    let tx = conn.transaction()?;
    let mut acked = 0;
    let mut refused = Vec::new();
    let mut touched = Touched::default();
    for result in results {
        let entry = outbox_after(&tx, result.seq.saturating_sub(1), 1)?.into_iter().find(|e| e.seq == result.seq);
        let Some(entry) = entry else { continue };
        if entry.mutation_id != result.mutation_id {
            // Not the entry the server answered for: never drop an entry on someone else's word.
            return Err(Error::corrupt("a push answer names another mutation"));
        }
        tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?.execute([entry.seq as i64])?;
        acked += 1;
        if let Verdict::Refused { code, field, message } = &result.verdict {
            let field = *field;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO refusals (seq, mutation_id, name, code, field, message, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                entry.seq as i64,
                entry.mutation_id.to_string(),
                entry.mutation.name(),
                code,
                field.map(|f| sqlite_rows::code(&f)),
                message,
                at.millis()
            ])?;
            touched.add(&entry.mutation);
            refused.push(Refusal { seq: entry.seq, name: entry.mutation.name().into(), code: code.clone(), field, message: message.clone(), at });
        }
    }
    if !refused.is_empty() {
        // The refused change is no longer pending, so its optimistic effect leaves the view.
        rebuild(&tx, touched, at)?;
    }
    let pending: i64 = tx.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
    tx.commit()?;
    Ok(Acknowledged { acked, refused, pending: pending as u64 })
}

/// Applies one pull page: newer server copies, the cursor, then the rebuilt view.
pub(crate) fn apply_pull(conn: &mut Connection, page: &PullResponse, at: Timestamp) -> Result<(), Error> {
    let tx = conn.transaction()?;
    let mut touched = Touched::default();
    for version in &page.listings {
        let body = serde_json::to_string(&version.listing).expect("listings serialize");
        let changed = tx
            .prepare_cached(
                "INSERT INTO server_listings (id, version, farmer_id, code, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version, farmer_id = excluded.farmer_id,
                     code = excluded.code, body = excluded.body
                 WHERE excluded.version > server_listings.version",
            )?
            .execute(params![version.listing.id.to_string(), version.version, version.farmer_id.to_string(), version.code, body])?;
        if changed > 0 {
            touched.listings.insert(version.listing.id);
        }
    }
    for version in &page.orders {
        let body = serde_json::to_string(&version.order).expect("orders serialize");
        let changed = tx
            .prepare_cached(
                "INSERT INTO server_orders (id, version, farmer_id, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version, farmer_id = excluded.farmer_id, body = excluded.body
                 WHERE excluded.version > server_orders.version",
            )?
            .execute(params![version.order.id.to_string(), version.version, version.farmer_id.to_string(), body])?;
        if changed > 0 {
            touched.orders.insert(version.order.id);
        }
    }
    for quota in &page.quotas {
        let changed = tx
            .prepare_cached(
                "INSERT INTO server_quotas (listing_id, version, quantity_milli) VALUES (?1, ?2, ?3)
                 ON CONFLICT (listing_id) DO UPDATE SET version = excluded.version, quantity_milli = excluded.quantity_milli
                 WHERE excluded.version > server_quotas.version",
            )?
            .execute(params![quota.listing_id.to_string(), quota.version, quota.quantity.milli()])?;
        if changed > 0 {
            touched.quotas.insert(quota.listing_id);
        }
    }
    if !page.pickup_points.is_empty() {
        tx.execute("DELETE FROM pickup_points", [])?;
        for point in &page.pickup_points {
            tx.prepare_cached("INSERT INTO pickup_points (id, name, address, active) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![point.id.to_string(), point.name, point.address, point.active])?;
        }
    }
    // The cursor only moves forward: a late page from an earlier pull must not rewind it.
    tx.execute(
        "UPDATE device SET cursor = max(cursor, ?1), last_applied_seq = max(last_applied_seq, ?2) WHERE id = 1",
        params![page.cursor, page.last_applied_seq as i64],
    )?;
    rebuild(&tx, touched, at)?;
    tx.commit()?;
    Ok(())
}

/// Entities whose view must be recomputed.
#[derive(Default)]
struct Touched {
    listings: BTreeSet<ListingId>,
    orders: BTreeSet<OrderId>,
    quotas: BTreeSet<ListingId>,
}

impl Touched {
    /// Adds what a mutation may change: its target, and for a sale its listing and quota.
    fn add(&mut self, mutation: &Mutation) {
        match mutation {
            Mutation::OrderRecord { sale } => {
                self.orders.insert(sale.order_id);
                self.listings.insert(sale.listing_id);
                self.quotas.insert(sale.listing_id);
            }
            Mutation::OrderStep { order_id, .. } | Mutation::OrderPayment { order_id, .. } => {
                self.orders.insert(*order_id);
            }
            Mutation::QuotaRequest { listing_id, .. } | Mutation::QuotaReturn { listing_id, .. } => {
                self.listings.insert(*listing_id);
                self.quotas.insert(*listing_id);
            }
            Mutation::ListingCreate { listing_id, .. }
            | Mutation::ListingEdit { listing_id, .. }
            | Mutation::ListingStock { listing_id, .. }
            | Mutation::ListingPause { listing_id }
            | Mutation::ListingResume { listing_id }
            | Mutation::ListingPhoto { listing_id, .. } => {
                self.listings.insert(*listing_id);
            }
        }
    }
}

/// The server copies, loaded on demand, with the pending changes applied on top in memory.
struct Scratch<'c> {
    conn: &'c Connection,
    listings: HashMap<ListingId, Option<Listing>>,
    orders: HashMap<OrderId, Option<Order>>,
    quotas: HashMap<ListingId, Quantity>,
    failed: Option<Error>,
}

impl Scratch<'_> {
    fn load_listing(&mut self, id: ListingId) -> Option<Listing> {
        if let Some(found) = self.listings.get(&id) {
            return found.clone();
        }
        let found = server_body(self.conn, "server_listings", &id.to_string()).unwrap_or_else(|e| {
            self.failed.get_or_insert(e);
            None
        });
        self.listings.insert(id, found.clone());
        found
    }

    fn load_order(&mut self, id: OrderId) -> Option<Order> {
        if let Some(found) = self.orders.get(&id) {
            return found.clone();
        }
        let found = server_body(self.conn, "server_orders", &id.to_string()).unwrap_or_else(|e| {
            self.failed.get_or_insert(e);
            None
        });
        self.orders.insert(id, found.clone());
        found
    }

    fn load_quota(&mut self, id: ListingId) -> Quantity {
        if let Some(found) = self.quotas.get(&id) {
            return *found;
        }
        let found = server_quota(self.conn, id).unwrap_or_else(|e| {
            self.failed.get_or_insert(e);
            Quantity::ZERO
        });
        self.quotas.insert(id, found);
        found
    }
}

impl State for Scratch<'_> {
    type Error = Infallible;

    fn listing(&mut self, id: ListingId) -> Result<Option<Listing>, Infallible> {
        Ok(self.load_listing(id))
    }

    fn put_listing(&mut self, listing: &Listing) -> Result<(), Infallible> {
        self.listings.insert(listing.id, Some(listing.clone()));
        Ok(())
    }

    fn order(&mut self, id: OrderId) -> Result<Option<Order>, Infallible> {
        Ok(self.load_order(id))
    }

    fn put_order(&mut self, order: &Order) -> Result<(), Infallible> {
        self.orders.insert(order.id, Some(order.clone()));
        Ok(())
    }

    fn quota(&mut self, listing: ListingId) -> Result<Quantity, Infallible> {
        Ok(self.load_quota(listing))
    }

    fn set_quota(&mut self, listing: ListingId, quantity: Quantity) -> Result<(), Infallible> {
        self.quotas.insert(listing, quantity);
        Ok(())
    }
}

fn server_body<T: serde::de::DeserializeOwned>(conn: &Connection, table: &str, id: &str) -> Result<Option<T>, Error> {
    let body: Option<String> =
        conn.prepare_cached(&format!("SELECT body FROM {table} WHERE id = ?1"))?.query_row([id], |r| r.get(0)).optional()?;
    body.map(|body| serde_json::from_str(&body).map_err(|_| Error::corrupt(format!("{table}.body")))).transpose()
}

fn server_quota(conn: &Connection, listing: ListingId) -> Result<Quantity, Error> {
    let milli: Option<i64> = conn
        .prepare_cached("SELECT quantity_milli FROM server_quotas WHERE listing_id = ?1")?
        .query_row([listing.to_string()], |r| r.get(0))
        .optional()?;
    Ok(Quantity::from_milli(milli.unwrap_or(0)))
}

/// Recomputes the view of `touched` entities and of everything a still-pending change touches.
fn rebuild(conn: &Connection, mut touched: Touched, at: Timestamp) -> Result<(), Error> {
    let last_applied = sync_state(conn)?.last_applied_seq;
    let pending = outbox_after(conn, last_applied, usize::MAX)?;
    for entry in &pending {
        touched.add(&entry.mutation);
    }
    let mut scratch = Scratch { conn, listings: HashMap::new(), orders: HashMap::new(), quotas: HashMap::new(), failed: None };
    for entry in &pending {
        // A pending change the server will refuse simply has no effect here either.
        let _ = mutation::apply(&entry.mutation, &mut scratch, at);
    }
    if let Some(error) = scratch.failed.take() {
        return Err(error);
    }
    for id in touched.listings.iter().copied().chain(scratch.listings.keys().copied().collect::<Vec<_>>()) {
        match scratch.load_listing(id) {
            Some(listing) => {
                rows::put_listing(conn, &listing)?;
                conn.prepare_cached(
                    "UPDATE listings SET code = s.code, farmer_id = s.farmer_id FROM server_listings s
                     WHERE listings.id = ?1 AND s.id = ?1",
                )?
                .execute([id.to_string()])?;
            }
            None => {
                conn.prepare_cached("DELETE FROM listings WHERE id = ?1")?.execute([id.to_string()])?;
            }
        }
    }
    for id in touched.orders.iter().copied().chain(scratch.orders.keys().copied().collect::<Vec<_>>()) {
        match scratch.load_order(id) {
            Some(order) => {
                rows::put_order(conn, &order)?;
                conn.prepare_cached(
                    "UPDATE orders SET farmer_id = s.farmer_id FROM server_orders s WHERE orders.id = ?1 AND s.id = ?1",
                )?
                .execute([id.to_string()])?;
            }
            None => {
                conn.prepare_cached("DELETE FROM orders WHERE id = ?1")?.execute([id.to_string()])?;
            }
        }
    }
    for id in touched.quotas.iter().copied().chain(scratch.quotas.keys().copied().collect::<Vec<_>>()) {
        let quantity = scratch.load_quota(id);
        set_quota(conn, id, quantity)?;
    }
    if let Some(error) = scratch.failed {
        return Err(error);
    }
    Ok(())
}
