//! Sync on the server: binding a device's sync identity, applying pushed entries exactly once in
//! order, and paging changes out to devices.
//!
//! A pushed entry applies through `domain::mutation::apply`, the function the device used for its
//! own view, over [`ServerState`]: the marketplace's rows for one device, which enforces the
//! domain's owner rule (`domain::access`) on everything the entry touches. Each new entry runs in
//! its own savepoint together with its `applied` row, so it applies with its record or not at all.

use std::collections::HashMap;

use domain::access::{Actor, Owner, Role};
use domain::error::{Error as DomainError, Field, FieldError};
use domain::ids::{ClientId, DeviceId, ListingId, MemberId, OrderId};
use domain::listing::Listing;
use domain::mutation::{self, ApplyError, Mutation, State};
use domain::order::Order;
use domain::quantity::Quantity;
use domain::sync::{
    BatchError, EntryResult, ListingVersion, OrderVersion, PickupPointInfo, PullResponse, PushResponse, QuotaVersion, Verdict,
    check_batch,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use sqlite_rows::uuid;

use super::queries::{
    insert_order, listing_record, listing_select, member, next_version, order_record, orders_where, read_listing_record,
    save_listing, update_order,
};
use crate::storage::{ListingRecord, OrderRecord, Result, StorageError, SyncPull, SyncPush};
use crate::tokens;

/// Binds `client_id` to the device on its first sync; afterwards the device must keep using it, and
/// no other device may push under it.
pub fn bind_client(conn: &Connection, device_id: DeviceId, client_id: ClientId) -> Result<()> {
    let bound: Option<Option<String>> = conn
        .prepare_cached("SELECT client_id FROM devices WHERE id = ?1 AND revoked_at IS NULL")?
        .query_row([device_id.to_string()], |r| r.get(0))
        .optional()?;
    let Some(bound) = bound else { return Err(StorageError::NotFound) };
    let client = client_id.to_string();
    match bound {
        Some(existing) if existing == client => Ok(()),
        Some(_) => Err(StorageError::ClientMismatch),
        None => {
            let taken: bool = conn
                .prepare_cached("SELECT 1 FROM devices WHERE client_id = ?1 AND id != ?2 AND revoked_at IS NULL")?
                .exists(params![client, device_id.to_string()])?;
            if taken {
                return Err(StorageError::ClientMismatch);
            }
            conn.prepare_cached("UPDATE devices SET client_id = ?1 WHERE id = ?2")?.execute(params![client, device_id.to_string()])?;
            Ok(())
        }
    }
}

fn last_applied(conn: &Connection, client_id: ClientId) -> Result<u64> {
    let seq: Option<i64> =
        conn.prepare_cached("SELECT max(seq) FROM applied WHERE client_id = ?1")?.query_row([client_id.to_string()], |r| r.get(0))?;
    Ok(seq.unwrap_or(0) as u64)
}

pub fn push(conn: &Connection, push: SyncPush) -> Result<PushResponse> {
    bind_client(conn, push.device_id, push.client_id)?;
    let seqs: Vec<u64> = push.entries.iter().map(|e| e.seq).collect();
    let applied = last_applied(conn, push.client_id)?;
    let first_new = check_batch(&seqs, applied).map_err(|error| match error {
        BatchError::Empty => StorageError::BadBatch("empty"),
        BatchError::TooLarge => StorageError::BadBatch("too_large"),
        BatchError::NotConsecutive => StorageError::BadBatch("not_consecutive"),
        BatchError::Gap { last_applied_seq } => StorageError::SeqGap { last_applied_seq },
    })?;
    let client = push.client_id.to_string();
    let mut results = Vec::with_capacity(push.entries.len());
    for (index, entry) in push.entries.iter().enumerate() {
        let verdict = if index < first_new {
            stored_verdict(conn, &client, entry.seq, entry.mutation_id)?
        } else {
            conn.execute_batch("SAVEPOINT entry")?;
            let verdict = apply_entry(conn, &push, &entry.mutation);
            let kept = verdict.and_then(|verdict| {
                conn.prepare_cached("INSERT INTO applied (client_id, seq, mutation_id, verdict, applied_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
                    .execute(params![
                        client,
                        entry.seq as i64,
                        entry.mutation_id.to_string(),
                        serde_json::to_string(&verdict).expect("verdicts serialize"),
                        push.now.millis()
                    ])?;
                Ok(verdict)
            });
            match kept {
                Ok(verdict) => {
                    conn.execute_batch("RELEASE entry")?;
                    verdict
                }
                Err(error) => {
                    // A backend failure stops the batch here; the device retries from this entry.
                    conn.execute_batch("ROLLBACK TO entry; RELEASE entry")?;
                    if results.is_empty() {
                        return Err(error);
                    }
                    break;
                }
            }
        };
        results.push(EntryResult { seq: entry.seq, mutation_id: entry.mutation_id, verdict });
    }
    Ok(PushResponse { results, last_applied_seq: last_applied(conn, push.client_id)? })
}

/// The verdict stored for a replayed entry. A replay under a different mutation id is not the same
/// entry: the device's outbox does not match what it sent before, which only a forged or corrupted
/// device causes, so it gets a refusal instead of someone else's answer.
fn stored_verdict(conn: &Connection, client: &str, seq: u64, mutation_id: domain::ids::MutationId) -> Result<Verdict> {
    let (stored_id, verdict): (String, String) = conn
        .prepare_cached("SELECT mutation_id, verdict FROM applied WHERE client_id = ?1 AND seq = ?2")?
        .query_row(params![client, seq as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if stored_id != mutation_id.to_string() {
        return Ok(Verdict::Refused { code: "seq_reused".into(), field: None, message: "this seq was used by another change".into() });
    }
    serde_json::from_str(&verdict).map_err(|_| StorageError::Backend("applied.verdict".into()))
}

/// Applies one entry and says what became of it. Rule refusals and forbidden entities are verdicts;
/// only backend failures are errors.
fn apply_entry(conn: &Connection, push: &SyncPush, mutation: &Mutation) -> Result<Verdict> {
    let mut state = ServerState { conn, actor: push.actor, client_id: push.client_id, new_listing_farmer: None, new_order_token: HashMap::new() };
    if let Mutation::ListingCreate { farmer_id, .. } = mutation {
        match state.farmer_for_new_listing(*farmer_id) {
            Ok(farmer) => state.new_listing_farmer = Some(farmer),
            Err(verdict) => return Ok(verdict),
        }
    }
    match mutation::apply(mutation, &mut state, push.now) {
        Ok(outcome) => Ok(Verdict::Applied { moved: outcome.moved, shortfall: outcome.shortfall }),
        Err(ApplyError::Refused(fields)) => Ok(refusal(&fields)),
        Err(ApplyError::State(StorageError::Forbidden)) => Ok(forbidden()),
        Err(ApplyError::State(error)) => Err(error),
    }
}

fn refusal(fields: &[FieldError]) -> Verdict {
    let first = fields.first();
    Verdict::Refused {
        code: first.map_or("refused", |f| f.error.code()).to_owned(),
        field: first.map(|f| f.field),
        message: first.map_or_else(|| "refused".to_owned(), |f| f.error.to_string()),
    }
}

fn forbidden() -> Verdict {
    Verdict::Refused { code: "forbidden".into(), field: None, message: "this account may not change that".into() }
}

/// The marketplace's rows as one device's pushed entry sees them.
struct ServerState<'c> {
    conn: &'c Connection,
    actor: Actor,
    client_id: ClientId,
    /// The farmer a `listing.create` in progress is for.
    new_listing_farmer: Option<MemberId>,
    new_order_token: HashMap<OrderId, String>,
}

impl ServerState<'_> {
    /// Whose a new listing is: the farmer named (staff) or the actor (a farmer), who must be a
    /// farmer of the actor's co-op that the actor may manage.
    fn farmer_for_new_listing(&self, named: Option<MemberId>) -> std::result::Result<MemberId, Verdict> {
        let farmer_id = named.unwrap_or(self.actor.member_id);
        let farmer = member(self.conn, farmer_id).map_err(|_| refusal(&[FieldError::new(Field::Farmer, DomainError::Empty)]))?;
        if farmer.role != Role::Farmer || farmer.coop_id != self.actor.coop_id {
            return Err(refusal(&[FieldError::new(Field::Farmer, DomainError::Empty)]));
        }
        if !self.actor.may_manage(Owner { coop_id: farmer.coop_id, farmer_id }) {
            return Err(forbidden());
        }
        Ok(farmer_id)
    }

    fn check(&self, coop_id: domain::ids::CoopId, farmer_id: MemberId) -> Result<()> {
        if self.actor.may_manage(Owner { coop_id, farmer_id }) { Ok(()) } else { Err(StorageError::Forbidden) }
    }
}

impl State for ServerState<'_> {
    type Error = StorageError;

    fn listing(&mut self, id: ListingId) -> Result<Option<Listing>> {
        match listing_record(self.conn, id) {
            Ok(record) => {
                self.check(record.coop_id, record.farmer_id)?;
                Ok(Some(record.listing))
            }
            Err(StorageError::NotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn put_listing(&mut self, listing: &Listing) -> Result<()> {
        match listing_record(self.conn, listing.id) {
            Ok(mut record) => {
                self.check(record.coop_id, record.farmer_id)?;
                record.listing = listing.clone();
                save_listing(self.conn, &mut record)
            }
            Err(StorageError::NotFound) => {
                let farmer_id = self.new_listing_farmer.ok_or(StorageError::Forbidden)?;
                // A fresh link code; a collision (about one in 27 billion) is retried.
                for _ in 0..5 {
                    let mut record = ListingRecord { listing: listing.clone(), coop_id: self.actor.coop_id, farmer_id, code: tokens::link_code(), version: 0 };
                    match save_listing(self.conn, &mut record) {
                        Err(StorageError::Taken(_)) => continue,
                        other => return other,
                    }
                }
                Err(StorageError::Taken("listing_code"))
            }
            Err(error) => Err(error),
        }
    }

    fn order(&mut self, id: OrderId) -> Result<Option<Order>> {
        match order_record(self.conn, id) {
            Ok(record) => {
                self.check(record.coop_id, record.farmer_id)?;
                Ok(Some(record.order))
            }
            Err(StorageError::NotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn put_order(&mut self, order: &Order) -> Result<()> {
        match order_record(self.conn, order.id) {
            Ok(mut record) => {
                self.check(record.coop_id, record.farmer_id)?;
                record.order = order.clone();
                update_order(self.conn, &mut record)
            }
            Err(StorageError::NotFound) => {
                // A new offline sale belongs to the farmer of the listing it sold from.
                let listing_id = order.lines.first().map(|l| l.listing_id).ok_or(StorageError::Forbidden)?;
                let listing = listing_record(self.conn, listing_id)?;
                self.check(listing.coop_id, listing.farmer_id)?;
                let mut record = OrderRecord { order: order.clone(), coop_id: listing.coop_id, farmer_id: listing.farmer_id, version: 0 };
                // Offline sales have no buyer link; the column still holds an unguessable value.
                let token = self.new_order_token.entry(order.id).or_insert_with(tokens::device_token).clone();
                insert_order(self.conn, &mut record, &tokens::hash(&token))
            }
            Err(error) => Err(error),
        }
    }

    fn quota(&mut self, listing: ListingId) -> Result<Quantity> {
        let milli: Option<i64> = self
            .conn
            .prepare_cached("SELECT quantity_milli FROM quotas WHERE listing_id = ?1 AND client_id = ?2")?
            .query_row(params![listing.to_string(), self.client_id.to_string()], |r| r.get(0))
            .optional()?;
        Ok(Quantity::from_milli(milli.unwrap_or(0)))
    }

    fn set_quota(&mut self, listing: ListingId, quantity: Quantity) -> Result<()> {
        let version = next_version(self.conn)?;
        self.conn
            .prepare_cached(
                "INSERT INTO quotas (listing_id, client_id, quantity_milli, version) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (listing_id, client_id) DO UPDATE SET quantity_milli = excluded.quantity_milli, version = excluded.version",
            )?
            .execute(params![listing.to_string(), self.client_id.to_string(), quantity.milli(), version])?;
        Ok(())
    }
}

/// One page of changes in the actor's scope: a farmer's own listings and orders, or the co-op's for
/// staff, and this device's quotas, merged in version order.
pub fn pull(conn: &Connection, pull: &SyncPull) -> Result<PullResponse> {
    let limit = pull.limit.clamp(1, domain::sync::MAX_PULL_LIMIT);
    let fetch = (limit + 1) as i64;
    let farmer_only = pull.actor.role == Role::Farmer;
    let scope = if farmer_only { "coop_id = ?1 AND farmer_id = ?2" } else { "coop_id = ?1 AND ?2 = ?2" };
    let scope_params = [Value::from(pull.actor.coop_id.to_string()), Value::from(pull.actor.member_id.to_string())];

    let sql = format!("{} WHERE l.{} AND l.version > ?3 ORDER BY l.version LIMIT ?4", listing_select(), scope.replace("farmer_id", "l.farmer_id"));
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params![scope_params[0], scope_params[1], pull.cursor, fetch])?;
    let mut listings = Vec::new();
    while let Some(row) = rows.next()? {
        listings.push(read_listing_record(row)?);
    }
    let condition = format!("o.{} AND o.version > ?3", scope.replace("farmer_id", "o.farmer_id"));
    let orders = orders_where(
        conn,
        &condition,
        "ORDER BY o.version LIMIT ?4",
        vec![scope_params[0].clone(), scope_params[1].clone(), Value::from(pull.cursor), Value::from(fetch)],
    )?;
    let mut statement = conn.prepare_cached(
        "SELECT listing_id, quantity_milli, version FROM quotas WHERE client_id = ?1 AND version > ?2 ORDER BY version LIMIT ?3",
    )?;
    let quotas = statement
        .query_map(params![pull.client_id.to_string(), pull.cursor, fetch], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    // Merge by version and cut at `limit`: the cursor is the last version handed out, so nothing
    // after it is skipped, whichever table it is in.
    let mut versions: Vec<i64> = listings.iter().map(|l| l.version).chain(orders.iter().map(|o| o.version)).chain(quotas.iter().map(|q| q.2)).collect();
    versions.sort_unstable();
    let more = versions.len() > limit;
    let cursor = if more { versions[limit - 1] } else { versions.last().copied().unwrap_or(pull.cursor) };
    let listings = listings
        .into_iter()
        .filter(|l| l.version <= cursor)
        .map(|l| ListingVersion { listing: l.listing, farmer_id: l.farmer_id, code: l.code, version: l.version })
        .collect();
    let orders = orders
        .into_iter()
        .filter(|o| o.version <= cursor)
        .map(|o| OrderVersion { order: o.order, farmer_id: o.farmer_id, version: o.version })
        .collect();
    let quotas = quotas
        .into_iter()
        .filter(|q| q.2 <= cursor)
        .map(|(listing, milli, version)| {
            Ok(QuotaVersion { listing_id: ListingId(uuid(&listing, "quotas.listing_id")?), quantity: Quantity::from_milli(milli), version })
        })
        .collect::<Result<Vec<_>>>()?;
    let pickup_points = super::queries::pickup_points(conn, pull.actor.coop_id)?
        .into_iter()
        .map(|p| PickupPointInfo { id: p.id, name: p.name, address: p.address, active: p.active })
        .collect();
    Ok(PullResponse { listings, orders, quotas, pickup_points, last_applied_seq: last_applied(conn, pull.client_id)?, cursor, more })
}
