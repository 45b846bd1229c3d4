//! The changes a device records locally and later sends to the marketplace.
//!
//! Each local change is one [`Mutation`]. The store writes it to the outbox in the same transaction
//! as the change itself; sync sends it to the server, which applies it again under its own rules.
//! On the wire and in the outbox a mutation is a `name` and its `args` as JSON, e.g.
//! `{"name":"listing.create","args":{...}}`; names are stable, like error codes.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::ids::ListingId;
use crate::listing::ListingDetails;

/// One change made on a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(tag = "name", content = "args")]
pub enum Mutation {
    /// A new listing, on sale at once unless it has no stock.
    #[serde(rename = "listing.create")]
    ListingCreate { listing_id: ListingId, details: ListingDetails },
    /// The farmer changed a listing's text, price, stock or order rules.
    #[serde(rename = "listing.edit")]
    ListingEdit { listing_id: ListingId, details: ListingDetails },
}

impl Mutation {
    /// The stable name, as stored in the outbox's `name` column.
    pub fn name(&self) -> &'static str {
        match self {
            Mutation::ListingCreate { .. } => "listing.create",
            Mutation::ListingEdit { .. } => "listing.edit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::ListingInput;
    use uuid::Uuid;

    #[test]
    fn the_wire_form_is_name_and_args() {
        let details = ListingInput {
            title: "Eggs".into(),
            unit: "dozen".into(),
            currency: "CNY".into(),
            price: "12".into(),
            stock: "30".into(),
            ..Default::default()
        }
        .parse()
        .unwrap();
        let mutation = Mutation::ListingCreate { listing_id: ListingId(Uuid::from_u128(7)), details };
        let json = serde_json::to_value(&mutation).unwrap();
        assert_eq!(json["name"], mutation.name());
        assert_eq!(json["args"]["details"]["price"]["minor"], 1200);
        assert_eq!(json["args"]["details"]["stock"], 30_000);
        assert_eq!(serde_json::from_value::<Mutation>(json).unwrap(), mutation);
    }
}
