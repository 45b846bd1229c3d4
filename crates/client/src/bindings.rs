//! The TypeScript declarations of every type that crosses from Rust into the front end.
//!
//! `cargo xtask codegen` writes [`typescript`] to `ui/src/api/bindings.ts`, and the test command
//! checks that the committed file equals a fresh generation, so the front end can never drift from
//! the Rust types.

use domain::error::Field;
use domain::ids::{DeviceId, ListingId, MemberId, OrderId, PickupPointId, StreamId};
use domain::live::{LiveEvent, LiveSnapshot, LiveStatus, ProductCard, StockChange, StreamInput};
use domain::listing::{Listing, ListingDetails, ListingInput, ListingStatus, PhotoRef};
use domain::money::{Currency, Money};
use domain::pairing::PairingLink;
use domain::order::{Buyer, Channel, Fulfilment, Order, OrderAction, OrderLine, OrderStatus, PaymentMethod, StreamRef};
use domain::quantity::{OrderRules, Quantity, Unit};
use domain::report::{Bucket, Destination, Earnings, PackGroup, PackItem, PickRow, Today};
use domain::time::Timestamp;
use ts_rs::{Config, TS};

use domain::access::Role;
use domain::sync::PickupPointInfo;
use sync_engine::{Phase, Progress, Refusal};

use crate::calls::Call;
use crate::farmers::{DeviceInfo, MemberInfo, NewFarmer, PairingInfo};
use crate::live::LiveStream;
use crate::sync::OrderArrival;
use crate::reports::{BulkOutcome, BulkRefusal, PickList};
use crate::{AccountInfo, ApiError, DeviceStatus, FieldProblem, OrderItem, Produce, RefusalView, SaleInput, SalePreview};

/// The whole generated file.
pub fn typescript() -> String {
    let cfg = Config::default();
    let mut out = String::from(
        "// Generated from the Rust types by `cargo xtask codegen`. Do not edit by hand.\n\
         // Money is integer minor units; quantities are integer thousandths of a unit.\n",
    );
    let mut add = |docs: Option<String>, decl: String| {
        out.push('\n');
        out.push_str(&docs.unwrap_or_default());
        out.push_str("export ");
        out.push_str(&decl);
        out.push('\n');
    };
    macro_rules! declare {
        ($($ty:ty),* $(,)?) => { $( add(<$ty as TS>::docs(), <$ty as TS>::decl(&cfg)); )* };
    }
    declare!(
        Timestamp, ListingId, OrderId, PickupPointId, Currency, Money, Unit, Quantity, OrderRules,
        ListingInput, ListingDetails, ListingStatus, PhotoRef, Listing, OrderStatus, PaymentMethod,
        Channel, Fulfilment, Buyer, OrderLine, Order, OrderAction, Field, FieldProblem, ApiError, Role, AccountInfo,
        DeviceStatus, Produce, OrderItem, SaleInput, SalePreview, PickupPointInfo, RefusalView, Phase, Progress, Refusal,
        StreamId, StreamInput, LiveStatus, LiveStream, ProductCard, LiveSnapshot, StockChange, LiveEvent, Destination, PackItem, PackGroup, Today, Bucket, Earnings, PickRow,
        PickList, BulkRefusal, BulkOutcome, MemberId, DeviceId, MemberInfo, PairingInfo, NewFarmer, DeviceInfo, OrderArrival, PairingLink, StreamRef, Call,
    );
    out.push_str("\n/** Every code a domain rule can refuse with; each has a message in every language. */\n");
    out.push_str("export const DOMAIN_ERROR_CODES = [\n");
    for error in domain::error::Error::one_of_each() {
        out.push_str(&format!("  \"{}\",\n", error.code()));
    }
    out.push_str("] as const;\n");
    out
}
