//! Identifiers of the things Fieldcast stores.
//!
//! Each is a UUID in its own type so that an order id can never be passed where a listing id is
//! expected. The domain never makes one: the shell generates UUIDv7s (time-ordered, so indexes stay
//! compact) and hands them in.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
        #[serde(transparent)]
        #[ts(type = "string")]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Parses the hyphenated text form.
            pub fn parse(text: &str) -> Option<Self> {
                Uuid::try_parse(text).ok().map($name)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, uuid::Error> {
                Uuid::try_parse(text).map($name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

id_type!(
    /// A produce listing.
    ListingId
);
id_type!(
    /// A buyer's or a farmer's order.
    OrderId
);
id_type!(
    /// A pickup point where buyers collect orders.
    PickupPointId
);
id_type!(
    /// One local change queued for sync; the server uses it to recognise a retry.
    MutationId
);
id_type!(
    /// A village co-op: the unit that owns farmers, staff, pickup points and their data.
    CoopId
);
id_type!(
    /// A person in a co-op: an admin, a staff member or a farmer.
    MemberId
);
id_type!(
    /// A paired phone or laptop; each holds its own token.
    DeviceId
);
id_type!(
    /// A device's identity in sync: made once by its local store, it names the device's sequence
    /// of changes. The server binds it to the device that first pushes with it.
    ClientId
);
id_type!(
    /// A live stream: a farmer selling on camera.
    StreamId
);
