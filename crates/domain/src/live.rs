//! Live selling: a farmer's stream, the products it shows, and the one it features.
//!
//! A stream is planned with a title and the farmer's products, goes live when the camera connects
//! (the relay knows that, not the domain), and ends once, for good: a buyer's link to an ended
//! stream says it ended, and nobody can publish to it again.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Field, FieldError, Problems};
use crate::ids::ListingId;
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
