//! The sync protocol's messages and its ordering rules.
//!
//! Push: a device sends its outbox entries in `seq` order; the server applies each new one exactly
//! once and answers each with its verdict, replaying stored verdicts for entries it has seen. An
//! entry after a gap is refused until the gap is filled, so changes apply in the order they were
//! made. Pull: the device asks for everything in its scope changed after its cursor (a server-wide
//! version number) and gets entity versions, its last applied `seq` and a new cursor, a page at a
//! time.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::Field;
use crate::ids::{ClientId, ListingId, MemberId, MutationId, PickupPointId};
use crate::listing::Listing;
use crate::mutation::Mutation;
use crate::order::Order;
use crate::quantity::Quantity;
use crate::time::Timestamp;

/// The most entries in one push; bounds the work and the body of one request.
pub const MAX_PUSH_ENTRIES: usize = 500;
/// The most entities in one pull page.
pub const MAX_PULL_LIMIT: usize = 1000;

/// One outbox entry on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct PushEntry {
    pub seq: u64,
    pub mutation_id: MutationId,
    #[serde(flatten)]
    pub mutation: Mutation,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct PushRequest {
    pub client_id: ClientId,
    pub entries: Vec<PushEntry>,
}

/// What became of one pushed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Verdict {
    Applied {
        /// For quota requests and returns: how much moved.
        moved: Option<Quantity>,
        /// For offline sales: what neither the quota nor the stock covered.
        shortfall: Option<Quantity>,
    },
    /// A rule refused it; the person who made the change is told why. Later entries still apply.
    Refused { code: String, field: Option<Field>, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct EntryResult {
    pub seq: u64,
    pub mutation_id: MutationId,
    #[serde(flatten)]
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct PushResponse {
    /// One per entry sent, in order.
    pub results: Vec<EntryResult>,
    /// The highest `seq` the server has applied for this device.
    pub last_applied_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct ListingVersion {
    #[serde(flatten)]
    pub listing: Listing,
    pub farmer_id: MemberId,
    /// The order link's code.
    pub code: String,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct OrderVersion {
    #[serde(flatten)]
    pub order: Order,
    pub farmer_id: MemberId,
    pub version: i64,
}

/// The stock this device holds of a listing for offline sales.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct QuotaVersion {
    pub listing_id: ListingId,
    pub quantity: Quantity,
    pub version: i64,
}

/// A co-op's pickup point, for recording phone orders on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct PickupPointInfo {
    pub id: PickupPointId,
    pub name: String,
    pub address: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct PullResponse {
    pub listings: Vec<ListingVersion>,
    pub orders: Vec<OrderVersion>,
    pub quotas: Vec<QuotaVersion>,
    /// All of the co-op's pickup points, on every page: a short list that rarely changes.
    pub pickup_points: Vec<PickupPointInfo>,
    pub last_applied_seq: u64,
    /// Pass as `cursor` next time.
    pub cursor: i64,
    /// More changes wait after this page.
    pub more: bool,
}

/// Why a push batch cannot be taken as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchError {
    Empty,
    TooLarge,
    /// The seqs are not consecutive and increasing (or start at zero).
    NotConsecutive,
    /// The first new entry is not the one after `last_applied_seq`.
    Gap { last_applied_seq: u64 },
}

/// Checks a push batch against what the server has applied; returns the index of the first entry
/// not applied yet (entries before it are replays, answered from stored verdicts).
pub fn check_batch(seqs: &[u64], last_applied_seq: u64) -> Result<usize, BatchError> {
    let (&first, _) = seqs.split_first().ok_or(BatchError::Empty)?;
    if seqs.len() > MAX_PUSH_ENTRIES {
        return Err(BatchError::TooLarge);
    }
    if first == 0 || seqs.windows(2).any(|pair| pair[1] != pair[0] + 1) {
        return Err(BatchError::NotConsecutive);
    }
    if first > last_applied_seq + 1 {
        return Err(BatchError::Gap { last_applied_seq });
    }
    Ok(usize::try_from(last_applied_seq + 1 - first).unwrap_or(usize::MAX).min(seqs.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_into_replays_and_new_entries() {
        assert_eq!(check_batch(&[1, 2, 3], 0), Ok(0));
        assert_eq!(check_batch(&[1, 2, 3], 2), Ok(2));
        assert_eq!(check_batch(&[1, 2, 3], 3), Ok(3), "all replays");
        assert_eq!(check_batch(&[1, 2, 3], 9), Ok(3), "all replays, long ago");
        assert_eq!(check_batch(&[4, 5], 3), Ok(0));
    }

    #[test]
    fn bad_batches_are_refused_whole() {
        assert_eq!(check_batch(&[], 0), Err(BatchError::Empty));
        assert_eq!(check_batch(&[5, 6], 3), Err(BatchError::Gap { last_applied_seq: 3 }));
        assert_eq!(check_batch(&[1, 3], 0), Err(BatchError::NotConsecutive));
        assert_eq!(check_batch(&[2, 1], 0), Err(BatchError::NotConsecutive));
        assert_eq!(check_batch(&[0, 1], 0), Err(BatchError::NotConsecutive));
        assert_eq!(check_batch(&[1, 1], 0), Err(BatchError::NotConsecutive));
        let big: Vec<u64> = (1..=(MAX_PUSH_ENTRIES as u64 + 1)).collect();
        assert_eq!(check_batch(&big, 0), Err(BatchError::TooLarge));
        assert_eq!(check_batch(&[u64::MAX], 0), Err(BatchError::Gap { last_applied_seq: 0 }));
    }

    proptest::proptest! {
        #[test]
        fn a_split_point_is_always_within_the_batch(first in 1u64..1000, len in 1usize..50, applied in 0u64..1100) {
            let seqs: Vec<u64> = (first..first + len as u64).collect();
            if let Ok(split) = check_batch(&seqs, applied) {
                proptest::prop_assert!(split <= seqs.len());
                if split < seqs.len() {
                    proptest::prop_assert_eq!(seqs[split], applied + 1);
                }
            }
        }
    }
}
