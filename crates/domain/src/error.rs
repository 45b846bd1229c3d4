//! The reasons the domain refuses an input or an action.
//!
//! Every variant has a stable snake_case [`Error::code`]. Codes are the contract: the HTTP layer puts
//! them in `{"error":{"code"}}`, the app shows a translated message per code, and tests match on them.
//! The `Display` text is an English fallback for logs and scripts, never something to match on.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::order::{OrderAction, OrderStatus};

/// A refusal by a domain rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("this is required")]
    Empty,
    #[error("at most {max} characters")]
    TooLong { max: usize },
    #[error("control characters are not allowed")]
    ControlCharacters,
    #[error("not a number")]
    NotANumber,
    #[error("must not be negative")]
    Negative,
    #[error("must be greater than zero")]
    MustBePositive,
    #[error("at most {max} decimal places")]
    TooManyDecimals { max: u32 },
    #[error("too large")]
    TooLarge,
    #[error("this unit is sold in whole numbers")]
    NotWhole,
    #[error("must be a multiple of the order step")]
    NotStepMultiple,
    #[error("below the minimum order")]
    BelowMinimum,
    #[error("above the maximum order")]
    AboveMaximum,
    #[error("the maximum is below the minimum")]
    MaximumBelowMinimum,
    #[error("unknown unit")]
    UnknownUnit,
    #[error("unknown currency")]
    UnknownCurrency,
    #[error("the amounts are in different currencies")]
    CurrencyMismatch,
    #[error("the result does not fit")]
    Overflow,
    #[error("these units cannot be converted into each other")]
    IncompatibleUnits,
    #[error("the conversion is not exact")]
    InexactConversion,
    #[error("not a valid phone number")]
    InvalidPhone,
    #[error("an order needs at least one line")]
    NoLines,
    #[error("this payment method does not fit the way the order is handed over")]
    PaymentMethodUnavailable,
    #[error("this product is not for sale now")]
    NotForSale,
    #[error("sold out")]
    SoldOut,
    #[error("not enough stock left")]
    InsufficientStock,
    #[error("an order cannot go from {from:?} by {action:?}")]
    InvalidTransition { from: OrderStatus, action: OrderAction },
    #[error("a listing cannot go from {from:?} to {to:?}")]
    InvalidListingStatus { from: crate::listing::ListingStatus, to: crate::listing::ListingStatus },
    #[error("the payment is more than what is owed")]
    Overpaid,
    #[error("this order cannot take a payment")]
    NotPayable,
    #[error("listed twice")]
    Duplicate,
    #[error("this product is not part of the stream")]
    NotInStream,
    #[error("the stream has ended")]
    StreamEnded,
    #[error("not a valid date")]
    InvalidDate,
    #[error("not a valid photo")]
    InvalidPhoto,
    #[error("no code could be read in this picture")]
    NoCodeInPicture,
    #[error("this is not a Fieldcast pairing code")]
    NotAPairingCode,
}

impl Error {
    /// The stable machine-readable code of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Empty => "empty",
            Error::TooLong { .. } => "too_long",
            Error::ControlCharacters => "control_characters",
            Error::NotANumber => "not_a_number",
            Error::Negative => "negative",
            Error::MustBePositive => "must_be_positive",
            Error::TooManyDecimals { .. } => "too_many_decimals",
            Error::TooLarge => "too_large",
            Error::NotWhole => "not_whole",
            Error::NotStepMultiple => "not_step_multiple",
            Error::BelowMinimum => "below_minimum",
            Error::AboveMaximum => "above_maximum",
            Error::MaximumBelowMinimum => "maximum_below_minimum",
            Error::UnknownUnit => "unknown_unit",
            Error::UnknownCurrency => "unknown_currency",
            Error::CurrencyMismatch => "currency_mismatch",
            Error::Overflow => "overflow",
            Error::IncompatibleUnits => "incompatible_units",
            Error::InexactConversion => "inexact_conversion",
            Error::InvalidPhone => "invalid_phone",
            Error::NoLines => "no_lines",
            Error::PaymentMethodUnavailable => "payment_method_unavailable",
            Error::NotForSale => "not_for_sale",
            Error::SoldOut => "sold_out",
            Error::InsufficientStock => "insufficient_stock",
            Error::InvalidTransition { .. } => "invalid_transition",
            Error::InvalidListingStatus { .. } => "invalid_listing_status",
            Error::Overpaid => "overpaid",
            Error::NotPayable => "not_payable",
            Error::Duplicate => "duplicate",
            Error::NotInStream => "not_in_stream",
            Error::StreamEnded => "stream_ended",
            Error::InvalidDate => "invalid_date",
            Error::InvalidPhoto => "invalid_photo",
            Error::NoCodeInPicture => "no_code_in_picture",
            Error::NotAPairingCode => "not_a_pairing_code",
        }
    }
}

impl Error {
    /// The largest allowed value a refusal mentions (characters or decimal places), if any, so a
    /// translated message can say "at most 120 characters".
    pub fn limit(&self) -> Option<u64> {
        match self {
            Error::TooLong { max } => Some(*max as u64),
            Error::TooManyDecimals { max } => Some(u64::from(*max)),
            _ => None,
        }
    }

    /// One refusal of each kind. The front end's list of codes is generated from this, and a test
    /// there checks that every code has a message in every language.
    pub fn one_of_each() -> Vec<Error> {
        use crate::listing::ListingStatus as L;
        use crate::order::{OrderAction as A, OrderStatus as S};
        vec![
            Error::Empty,
            Error::TooLong { max: 1 },
            Error::ControlCharacters,
            Error::NotANumber,
            Error::Negative,
            Error::MustBePositive,
            Error::TooManyDecimals { max: 1 },
            Error::TooLarge,
            Error::NotWhole,
            Error::NotStepMultiple,
            Error::BelowMinimum,
            Error::AboveMaximum,
            Error::MaximumBelowMinimum,
            Error::UnknownUnit,
            Error::UnknownCurrency,
            Error::CurrencyMismatch,
            Error::Overflow,
            Error::IncompatibleUnits,
            Error::InexactConversion,
            Error::InvalidPhone,
            Error::NoLines,
            Error::PaymentMethodUnavailable,
            Error::NotForSale,
            Error::SoldOut,
            Error::InsufficientStock,
            Error::InvalidTransition { from: S::Placed, action: A::Ship },
            Error::InvalidListingStatus { from: L::Draft, to: L::Paused },
            Error::Overpaid,
            Error::NotPayable,
            Error::Duplicate,
            Error::NotInStream,
            Error::StreamEnded,
            Error::InvalidDate,
            Error::InvalidPhoto,
            Error::NoCodeInPicture,
            Error::NotAPairingCode,
        ]
    }
}

/// The input field a refusal is about, so that a form can show the message next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Title,
    Description,
    Unit,
    Currency,
    Price,
    Stock,
    Step,
    Minimum,
    Maximum,
    Quantity,
    BuyerName,
    BuyerPhone,
    Address,
    Lines,
    PaymentMethod,
    Note,
    Status,
    Photos,
    Name,
    Phone,
    PickupPoint,
    Code,
    Farmer,
    Channel,
    IdempotencyKey,
    Listings,
    Featured,
    Date,
    /// A setting of a report or a bulk change: the day count, the UTC offset, the orders chosen.
    Range,
}

/// One refusal tied to one field. Validation reports all of them at once, so a person fixes a form in
/// one pass instead of one error at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    pub field: Field,
    pub error: Error,
}

impl FieldError {
    pub fn new(field: Field, error: Error) -> Self {
        FieldError { field, error }
    }
}

/// Collects field errors while validating a whole form.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<FieldError>);

impl Problems {
    /// Records the error of `result`, if any, against `field`, and hands back the value.
    pub(crate) fn check<T>(&mut self, field: Field, result: Result<T, Error>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(FieldError::new(field, error));
                None
            }
        }
    }

    pub(crate) fn push(&mut self, field: Field, error: Error) {
        self.0.push(FieldError::new(field, error));
    }

    pub(crate) fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() { Ok(value()) } else { Err(self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_cover_every_variant() {
        let codes: Vec<&str> = Error::one_of_each().iter().map(Error::code).collect();
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), codes.len(), "duplicate codes in {codes:?}");
        assert!(codes.iter().all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')));
        // `code` is an exhaustive match, so a new variant must get a code; this count makes the
        // author add it to `one_of_each` too (and so to the front end's translations).
        assert_eq!(codes.len(), 36);
    }
}
