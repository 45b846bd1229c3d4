//! Live selling: a farmer's stream, the products it shows, and the one it features.
//!
//! A stream is planned with a title and the farmer's products, goes live when the camera connects
//! (the relay knows that, not the domain), and ends once, for good: a buyer's link to an ended
//! stream says it ended, and nobody can publish to it again.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Field, FieldError, Problems};
use crate::ids::{ListingId, StreamId};
use crate::money::Money;
use crate::quantity::Unit;
use crate::text::{self, Lines};

pub const MAX_TITLE_CHARS: usize = 80;
/// Products one stream may show: a farmer's day in the field, not a catalogue.
pub const MAX_PRODUCTS: usize = 20;

/// A stream as the farmer plans it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct StreamInput {
    pub title: String,
    /// The products to show, in the order to show them.
    pub listing_ids: Vec<ListingId>,
    /// The product on the card when the stream starts; the first one if absent.
    #[serde(default)]
    #[ts(optional)]
    pub featured: Option<ListingId>,
}

/// A checked [`StreamInput`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPlan {
    pub title: String,
    pub listing_ids: Vec<ListingId>,
    pub featured: ListingId,
}

impl StreamInput {
    /// Checks the plan, reporting every problem at once.
    pub fn validate(&self) -> Result<StreamPlan, Vec<FieldError>> {
        let mut problems = Problems::default();
        let title = problems.check(Field::Title, text::clean(&self.title, MAX_TITLE_CHARS, Lines::One));
        let listings = self.listing_ids.clone();
        if listings.is_empty() {
            problems.push(Field::Listings, Error::Empty);
        } else if listings.len() > MAX_PRODUCTS {
            problems.push(Field::Listings, Error::TooLarge);
        } else if (1..listings.len()).any(|i| listings[..i].contains(&listings[i])) {
            problems.push(Field::Listings, Error::Duplicate);
        }
        let featured = self.featured.or_else(|| listings.first().copied());
        if let Some(featured) = self.featured
            && !listings.contains(&featured)
        {
            problems.push(Field::Featured, Error::NotInStream);
        }
        problems.into_result(|| StreamPlan {
            title: title.unwrap_or_default(),
            listing_ids: listings,
            featured: featured.expect("a non-empty list has a first product"),
        })
    }
}

/// Where a stream is in its life. Whether its camera is connected right now is the relay's to
/// know; this is what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamStatus {
    /// Created; the farmer may publish (and publish again after a dropped connection).
    Open,
    /// Over, for good.
    Ended,
}

impl StreamStatus {
    pub fn code(self) -> &'static str {
        match self {
            StreamStatus::Open => "open",
            StreamStatus::Ended => "ended",
        }
    }

    pub fn parse(code: &str) -> Option<StreamStatus> {
        [StreamStatus::Open, StreamStatus::Ended].into_iter().find(|s| s.code() == code)
    }
}

/// The farmer's camera as the relay sees it right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Camera {
    /// Not connected.
    Off,
    /// Connected, and its media arrives.
    Sending,
    /// Connected, but no media has arrived for a while: the farmer's uplink is weak or cut.
    Silent,
}

/// What a buyer sees: the stored status joined with the camera's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveStatus {
    /// Open, but no camera connected yet (or it dropped and may come back).
    Waiting,
    Live,
    /// Live, but the picture stopped on the farmer's side; viewers keep their connection to play
    /// on when it comes back.
    Interrupted,
    Ended,
}

impl LiveStatus {
    pub fn of(status: StreamStatus, camera: Camera) -> LiveStatus {
        match (status, camera) {
            (StreamStatus::Ended, _) => LiveStatus::Ended,
            (StreamStatus::Open, Camera::Off) => LiveStatus::Waiting,
            (StreamStatus::Open, Camera::Sending) => LiveStatus::Live,
            (StreamStatus::Open, Camera::Silent) => LiveStatus::Interrupted,
        }
    }

    /// A camera is connected: buyers' players stay connected.
    pub fn on_air(self) -> bool {
        matches!(self, LiveStatus::Live | LiveStatus::Interrupted)
    }
}

/// The product on a buyer's card, with its texts in the viewer's language (the server words them;
/// pages and the app show them as they are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct ProductCard {
    pub listing_id: ListingId,
    pub title: String,
    pub photo_url: Option<String>,
    pub unit: Unit,
    pub price: Money,
    /// The stock left as a decimal in the unit, e.g. "12.5".
    pub stock: String,
    pub on_sale: bool,
    /// "¥3.50 / jin", in the requested language.
    pub price_text: String,
    /// "120 jin left" or "Sold out", in the requested language.
    pub stock_text: String,
    /// The order sheet for this product, opened from the live page.
    pub order_url: String,
}

/// Everything about a stream at once: the first event of every connection to its live events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct LiveSnapshot {
    pub stream_id: StreamId,
    pub title: String,
    pub farmer_name: String,
    pub status: LiveStatus,
    pub featured: Option<ProductCard>,
    #[ts(type = "number")]
    pub viewers: u64,
    #[ts(type = "number")]
    pub orders: u64,
}

/// The featured product's stock moved (an order landed, or the farmer changed it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct StockChange {
    pub listing_id: ListingId,
    /// As in [`ProductCard::stock`].
    pub stock: String,
    pub stock_text: String,
    pub on_sale: bool,
}

/// One of a stream's live events. On the wire (Server-Sent Events) `event` is the event's name and
/// `data` its JSON, so the buyer's page, the farmer's screen and the server share one definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum LiveEvent {
    /// Always first: the state a late viewer needs before any change.
    State(LiveSnapshot),
    Status {
        status: LiveStatus,
    },
    /// Another product on the card (or none).
    Featured {
        featured: Option<ProductCard>,
    },
    Stock(StockChange),
    Viewers {
        #[ts(type = "number")]
        count: u64,
    },
    Orders {
        #[ts(type = "number")]
        count: u64,
    },
    /// Sent when nothing else has been for a while, so that a client can tell a quiet stream from
    /// a dead connection: a phone that loses coverage keeps its half of the connection open, and
    /// hears nothing more even after coverage returns, unless it opens a new one.
    Heartbeat,
}

impl LiveEvent {
    /// The Server-Sent Events name: the same as the `event` tag.
    pub fn name(&self) -> &'static str {
        match self {
            LiveEvent::State(_) => "state",
            LiveEvent::Status { .. } => "status",
            LiveEvent::Featured { .. } => "featured",
            LiveEvent::Stock(_) => "stock",
            LiveEvent::Viewers { .. } => "viewers",
            LiveEvent::Orders { .. } => "orders",
            LiveEvent::Heartbeat => "heartbeat",
        }
    }
}

/// Checks that a stream may feature `listing` now.
pub fn check_feature(status: StreamStatus, products: &[ListingId], listing: ListingId) -> Result<(), FieldError> {
    if status == StreamStatus::Ended {
        return Err(FieldError::new(Field::Status, Error::StreamEnded));
    }
    if !products.contains(&listing) {
        return Err(FieldError::new(Field::Featured, Error::NotInStream));
    }
    Ok(())
}

/// Checks that a stream may be published to (or ended) now.
pub fn check_open(status: StreamStatus) -> Result<(), FieldError> {
    match status {
        StreamStatus::Open => Ok(()),
        StreamStatus::Ended => Err(FieldError::new(Field::Status, Error::StreamEnded)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn id(n: u128) -> ListingId {
        ListingId(Uuid::from_u128(n))
    }

    fn input(title: &str, listings: &[u128], featured: Option<u128>) -> StreamInput {
        StreamInput { title: title.into(), listing_ids: listings.iter().map(|n| id(*n)).collect(), featured: featured.map(id) }
    }

    #[test]
    fn a_plan_features_the_first_product_unless_told_otherwise() {
        let plan = input("  Corn harvest  ", &[1, 2], None).validate().unwrap();
        assert_eq!(plan.title, "Corn harvest");
        assert_eq!(plan.featured, id(1));
        assert_eq!(input("Corn", &[1, 2], Some(2)).validate().unwrap().featured, id(2));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let problems = input("", &[], Some(3)).validate().unwrap_err();
        let fields: Vec<Field> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, vec![Field::Title, Field::Listings, Field::Featured]);
        let too_many: Vec<u128> = (0..=MAX_PRODUCTS as u128).collect();
        assert_eq!(input("Corn", &too_many, None).validate().unwrap_err()[0].error, Error::TooLarge);
        assert_eq!(input("Corn", &[1, 2, 1], None).validate().unwrap_err()[0].error, Error::Duplicate);
        assert_eq!(input(&"x".repeat(81), &[1], None).validate().unwrap_err()[0].error, Error::TooLong { max: 80 });
        assert_eq!(input("a\u{7}b", &[1], None).validate().unwrap_err()[0].error, Error::ControlCharacters);
    }

    #[test]
    fn a_live_event_is_named_on_the_wire_as_it_is_tagged() {
        let card = ProductCard {
            listing_id: id(1),
            title: "Corn".into(),
            photo_url: None,
            unit: Unit::Jin,
            price: Money::new(350, crate::money::Currency::CNY),
            stock: "12".into(),
            on_sale: true,
            price_text: "¥3.50 / jin".into(),
            stock_text: "12 jin left".into(),
            order_url: "/l/x".into(),
        };
        let snapshot = LiveSnapshot {
            stream_id: StreamId(Uuid::from_u128(9)),
            title: "Harvest".into(),
            farmer_name: "Zhang".into(),
            status: LiveStatus::Interrupted,
            featured: Some(card.clone()),
            viewers: 3,
            orders: 1,
        };
        let stock = StockChange { listing_id: id(1), stock: "11".into(), stock_text: "11 jin left".into(), on_sale: true };
        let events = [
            LiveEvent::State(snapshot),
            LiveEvent::Status { status: LiveStatus::Live },
            LiveEvent::Featured { featured: Some(card) },
            LiveEvent::Stock(stock),
            LiveEvent::Viewers { count: 2 },
            LiveEvent::Orders { count: 5 },
            LiveEvent::Heartbeat,
        ];
        for event in events {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["event"], event.name(), "{json}");
            assert_eq!(serde_json::from_value::<LiveEvent>(json).unwrap(), event);
        }
        let status = serde_json::to_value(LiveEvent::Status { status: LiveStatus::Interrupted }).unwrap();
        assert_eq!(status["data"], serde_json::json!({ "status": "interrupted" }));
    }

    #[test]
    fn an_ended_stream_features_nothing_and_takes_no_camera() {
        assert_eq!(check_feature(StreamStatus::Open, &[id(1)], id(1)), Ok(()));
        assert_eq!(check_feature(StreamStatus::Open, &[id(1)], id(2)).unwrap_err().error, Error::NotInStream);
        assert_eq!(check_feature(StreamStatus::Ended, &[id(1)], id(1)).unwrap_err().error, Error::StreamEnded);
        assert_eq!(check_open(StreamStatus::Ended).unwrap_err().error, Error::StreamEnded);
        assert_eq!(LiveStatus::of(StreamStatus::Ended, Camera::Sending), LiveStatus::Ended);
        assert_eq!(LiveStatus::of(StreamStatus::Ended, Camera::Silent), LiveStatus::Ended);
        assert_eq!(LiveStatus::of(StreamStatus::Open, Camera::Off), LiveStatus::Waiting);
        assert_eq!(LiveStatus::of(StreamStatus::Open, Camera::Sending), LiveStatus::Live);
        assert_eq!(LiveStatus::of(StreamStatus::Open, Camera::Silent), LiveStatus::Interrupted);
        assert!(LiveStatus::Interrupted.on_air() && LiveStatus::Live.on_air());
        assert!(!LiveStatus::Waiting.on_air() && !LiveStatus::Ended.on_air());
    }
}
