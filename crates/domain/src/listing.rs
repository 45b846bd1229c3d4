//! Produce listings: what is for sale, at what price, how much is left, and whether it can be bought.
//!
//! A listing's [`ListingDetails`] are what the farmer types; they come from a form as text
//! ([`ListingInput::parse`]) or from the network as structured data ([`ListingDetails::check`]), and
//! both paths go through the same rules. Stock only moves through [`Listing::take`] and
//! [`Listing::put_back`], which keep it between zero and the limit and keep the status in step.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Field, FieldError, Problems};
use crate::ids::ListingId;
use crate::money::{Currency, Money};
use crate::quantity::{OrderRules, Quantity, Unit};
use crate::text::{self, Lines};
use crate::time::Timestamp;

pub const MAX_TITLE_CHARS: usize = 120;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// The highest price per unit, in minor units: 1,000,000.00. Anything above is a typo.
pub const MAX_UNIT_PRICE_MINOR: i64 = 100_000_000;

/// The produce form as a person filled it in: every number is still text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct ListingInput {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// A [`Unit`] code; kept as text so that an unknown unit is a field error, not a decoding failure.
    #[ts(type = "Unit")]
    pub unit: String,
    /// A [`Currency`] code, kept as text for the same reason.
    #[ts(type = "Currency")]
    pub currency: String,
    /// Price per unit as a decimal, e.g. "3.50".
    pub price: String,
    pub stock: String,
    /// The order step; empty means one unit.
    #[serde(default)]
    pub step: String,
    /// The smallest order; empty means one step.
    #[serde(default)]
    pub minimum: String,
    /// The largest order; empty means no limit.
    #[serde(default)]
    pub maximum: String,
}

/// The validated content of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct ListingDetails {
    pub title: String,
    pub description: String,
    pub unit: Unit,
    /// Price per one `unit`.
    pub price: Money,
    /// What is left to sell, in thousandths of `unit`.
    pub stock: Quantity,
    pub rules: OrderRules,
}

impl ListingInput {
    /// Parses and validates the form, reporting every problem at once.
    pub fn parse(&self) -> Result<ListingDetails, Vec<FieldError>> {
        let mut problems = Problems::default();
        let title = problems.check(Field::Title, text::clean(&self.title, MAX_TITLE_CHARS, Lines::One));
        let description = problems.check(
            Field::Description,
            text::clean_optional(&self.description, MAX_DESCRIPTION_CHARS, Lines::Many),
        );
        let unit = problems.check(Field::Unit, Unit::parse(&self.unit));
        let currency = problems.check(Field::Currency, Currency::parse(&self.currency));
        let price = currency.and_then(|c| problems.check(Field::Price, Money::parse(&self.price, c)));
        // Without a known unit, numbers are still checked as numbers; the whole-unit rule waits.
        let quantity_unit = unit.unwrap_or(Unit::Kg);
        let mut quantity = |field, text: &str| problems.check(field, Quantity::parse(text, quantity_unit));
        let stock = quantity(Field::Stock, &self.stock);
        let step = if self.step.trim().is_empty() { Some(OrderRules::per_unit().step) } else { quantity(Field::Step, &self.step) };
        let minimum = if self.minimum.trim().is_empty() { step } else { quantity(Field::Minimum, &self.minimum) };
        let maximum = if self.maximum.trim().is_empty() { Some(None) } else { quantity(Field::Maximum, &self.maximum).map(Some) };

        if let (Some(unit), Some(price), Some(stock), Some(step), Some(minimum), Some(maximum)) =
            (unit, price, stock, step, minimum, maximum)
        {
            let rules = OrderRules { step, minimum, maximum };
            check_numbers(unit, price, stock, rules, &mut problems);
            if let (Some(title), Some(description)) = (title, description) {
                return problems.into_result(|| ListingDetails { title, description, unit, price, stock, rules });
            }
        }
        Err(problems.into_result(|| ()).expect_err("a field failed to parse, so a problem was recorded"))
    }
}

impl ListingDetails {
    /// Checks details that arrived already structured (over the API or sync), with the same rules as
    /// the form. Text must already be in its cleaned form.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut problems = Problems::default();
        let cleaned = |text: &str, max, lines| {
            text::clean_optional(text, max, lines).and_then(|clean| if clean == text { Ok(()) } else { Err(Error::ControlCharacters) })
        };
        if self.title.trim().is_empty() {
            problems.push(Field::Title, Error::Empty);
        } else {
            problems.check(Field::Title, cleaned(&self.title, MAX_TITLE_CHARS, Lines::One));
        }
        problems.check(Field::Description, cleaned(&self.description, MAX_DESCRIPTION_CHARS, Lines::Many));
        check_numbers(self.unit, self.price, self.stock, self.rules, &mut problems);
        problems.into_result(|| ())
    }
}

/// The rules that tie price, stock and order limits together.
fn check_numbers(unit: Unit, price: Money, stock: Quantity, rules: OrderRules, problems: &mut Problems) {
    if price.minor <= 0 {
        problems.push(Field::Price, Error::MustBePositive);
    } else if price.minor > MAX_UNIT_PRICE_MINOR {
        problems.push(Field::Price, Error::TooLarge);
    }
    let whole = |q: Quantity| !unit.is_countable() || q.is_multiple_of(Quantity::from_milli(Quantity::MILLI_PER_UNIT));
    let step_ok = check_quantity(Field::Step, rules.step, problems, |q| {
        if !q.is_positive() {
            Err(Error::MustBePositive)
        } else if !whole(q) {
            Err(Error::NotWhole)
        } else {
            Ok(())
        }
    });
    let on_step = |q: Quantity| if !step_ok || q.is_multiple_of(rules.step) { Ok(()) } else { Err(Error::NotStepMultiple) };
    // The minimum defaults to the step, so a bad step would be reported twice; say it once.
    if step_ok {
        check_quantity(Field::Minimum, rules.minimum, problems, |q| {
            if !q.is_positive() { Err(Error::MustBePositive) } else { on_step(q) }
        });
    }
    if let Some(maximum) = rules.maximum {
        check_quantity(Field::Maximum, maximum, problems, |q| {
            if q < rules.minimum { Err(Error::MaximumBelowMinimum) } else { on_step(q) }
        });
    }
    check_quantity(Field::Stock, stock, problems, |q| {
        if q < Quantity::ZERO {
            Err(Error::Negative)
        } else if !whole(q) {
            Err(Error::NotWhole)
        } else {
            on_step(q)
        }
    });
}

/// Applies the range limit every quantity shares, then `rule`; records a failure against `field`.
fn check_quantity(
    field: Field,
    quantity: Quantity,
    problems: &mut Problems,
    rule: impl FnOnce(Quantity) -> Result<(), Error>,
) -> bool {
    let result = if quantity > Quantity::MAX { Err(Error::TooLarge) } else { rule(quantity) };
    problems.check(field, result).is_some()
}

/// Where a listing stands for buyers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListingStatus {
    /// Not yet shown to buyers.
    Draft,
    Active,
    /// Hidden from buyers by the farmer, stock kept.
    Paused,
    /// Active, but no stock left; it becomes active again when stock is added.
    SoldOut,
}

impl ListingStatus {
    pub const ALL: [ListingStatus; 4] =
        [ListingStatus::Draft, ListingStatus::Active, ListingStatus::Paused, ListingStatus::SoldOut];

    pub fn code(self) -> &'static str {
        match self {
            ListingStatus::Draft => "draft",
            ListingStatus::Active => "active",
            ListingStatus::Paused => "paused",
            ListingStatus::SoldOut => "sold_out",
        }
    }

    pub fn parse(code: &str) -> Option<ListingStatus> {
        ListingStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The status that selling or restocking leads to: only active listings flip with their stock.
    fn with_stock(self, stock: Quantity) -> ListingStatus {
        match self {
            ListingStatus::Active | ListingStatus::SoldOut if stock.is_positive() => ListingStatus::Active,
            ListingStatus::Active | ListingStatus::SoldOut => ListingStatus::SoldOut,
            other => other,
        }
    }
}

/// A reference to a listing photo by its content hash; the photo pipeline fills these in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct PhotoRef {
    /// Hex SHA-256 of the encoded JPEG.
    pub sha256: String,
}

impl PhotoRef {
    /// 64 lowercase hex digits. The hash names files on the device and the server, so nothing
    /// else (no `/`, no `..`) may pass.
    pub fn check(&self) -> Result<(), Error> {
        let hex = self.sha256.len() == 64 && self.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if hex { Ok(()) } else { Err(Error::InvalidPhoto) }
    }
}

/// A listing of produce for sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct Listing {
    pub id: ListingId,
    pub details: ListingDetails,
    pub photos: Vec<PhotoRef>,
    pub status: ListingStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A change the owner or the co-op makes to an existing listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingChange {
    /// New text, price, stock or order rules (already validated by [`ListingInput::parse`]).
    Edit(ListingDetails),
    Pause,
    Resume,
    /// A new stock count, e.g. after the morning's harvest.
    SetStock(Quantity),
    AddPhoto(PhotoRef),
}

/// The most photos a listing keeps.
pub const MAX_PHOTOS: usize = 8;

impl Listing {
    /// Applies `change`; on a refusal the listing is unchanged.
    pub fn change(&mut self, change: ListingChange, now: Timestamp) -> Result<(), Vec<FieldError>> {
        let one = |field, error| vec![FieldError::new(field, error)];
        match change {
            ListingChange::Edit(details) => {
                details.check()?;
                self.edit(details, now);
            }
            ListingChange::Pause => self.pause(now).map_err(|e| one(Field::Status, e))?,
            ListingChange::Resume => self.resume(now).map_err(|e| one(Field::Status, e))?,
            ListingChange::SetStock(stock) => {
                let details = ListingDetails { stock, ..self.details.clone() };
                details.check()?;
                self.edit(details, now);
            }
            ListingChange::AddPhoto(photo) => {
                if self.photos.contains(&photo) {
                    return Ok(());
                }
                if self.photos.len() >= MAX_PHOTOS {
                    return Err(one(Field::Photos, Error::TooLarge));
                }
                self.photos.push(photo);
                self.updated_at = now;
            }
        }
        Ok(())
    }

    /// A new listing, on sale at once (or sold out when it has no stock).
    pub fn new(id: ListingId, details: ListingDetails, now: Timestamp) -> Listing {
        let status = ListingStatus::Active.with_stock(details.stock);
        Listing { id, details, photos: Vec::new(), status, created_at: now, updated_at: now }
    }

    /// Replaces what the farmer typed. A paused or draft listing stays so.
    pub fn edit(&mut self, details: ListingDetails, now: Timestamp) {
        self.status = self.status.with_stock(details.stock);
        self.details = details;
        self.updated_at = now;
    }

    /// Hides the listing from buyers.
    pub fn pause(&mut self, now: Timestamp) -> Result<(), Error> {
        match self.status {
            ListingStatus::Active | ListingStatus::SoldOut => self.set_status(ListingStatus::Paused, now),
            from => Err(Error::InvalidListingStatus { from, to: ListingStatus::Paused }),
        }
    }

    /// Shows a paused or draft listing to buyers again.
    pub fn resume(&mut self, now: Timestamp) -> Result<(), Error> {
        match self.status {
            ListingStatus::Paused | ListingStatus::Draft => {
                self.set_status(ListingStatus::Active.with_stock(self.details.stock), now)
            }
            from => Err(Error::InvalidListingStatus { from, to: ListingStatus::Active }),
        }
    }

    /// Takes `quantity` out of stock for an order. Refused unless the listing is on sale, the
    /// quantity follows the order rules and that much stock is left.
    pub fn take(&mut self, quantity: Quantity, now: Timestamp) -> Result<(), Error> {
        match self.status {
            ListingStatus::Active => {}
            ListingStatus::SoldOut => return Err(Error::SoldOut),
            ListingStatus::Draft | ListingStatus::Paused => return Err(Error::NotForSale),
        }
        self.details.rules.check(quantity)?;
        if quantity > self.details.stock {
            return Err(Error::InsufficientStock);
        }
        self.details.stock = self.details.stock.checked_sub(quantity)?;
        debug_assert!(self.details.stock >= Quantity::ZERO);
        self.status = self.status.with_stock(self.details.stock);
        self.updated_at = now;
        Ok(())
    }

    /// Sets the stock without the buyer rules (offline sales, quotas): the status follows the stock.
    pub(crate) fn set_stock_unchecked(&mut self, stock: Quantity, now: Timestamp) {
        debug_assert!(stock >= Quantity::ZERO);
        self.details.stock = stock;
        self.status = self.status.with_stock(stock);
        self.updated_at = now;
    }

    /// Returns `quantity` to stock, when an order that took it is cancelled or declined.
    pub fn put_back(&mut self, quantity: Quantity, now: Timestamp) -> Result<(), Error> {
        if !quantity.is_positive() {
            return Err(Error::MustBePositive);
        }
        self.details.stock = self.details.stock.checked_add(quantity)?;
        self.status = self.status.with_stock(self.details.stock);
        self.updated_at = now;
        Ok(())
    }

    fn set_status(&mut self, status: ListingStatus, now: Timestamp) -> Result<(), Error> {
        self.status = status;
        self.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn corn_input() -> ListingInput {
        ListingInput {
            title: "Sweet corn 甜玉米".into(),
            unit: "jin".into(),
            currency: "CNY".into(),
            price: "3.50".into(),
            stock: "50".into(),
            ..ListingInput::default()
        }
    }

    fn errors(input: ListingInput) -> Vec<(Field, Error)> {
        input.parse().expect_err("the input should be refused").into_iter().map(|e| (e.field, e.error)).collect()
    }

    fn corn() -> Listing {
        Listing::new(ListingId(Uuid::from_u128(1)), corn_input().parse().unwrap(), Timestamp(1))
    }

    #[test]
    fn a_good_form_parses() {
        let details = corn_input().parse().unwrap();
        assert_eq!(details.title, "Sweet corn 甜玉米");
        assert_eq!(details.unit, Unit::Jin);
        assert_eq!(details.price, Money::new(350, Currency::CNY));
        assert_eq!(details.stock, Quantity::whole(50).unwrap());
        assert_eq!(details.rules, OrderRules::per_unit());
        assert_eq!(details.check(), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        let case = |f: fn(&mut ListingInput)| {
            let mut input = corn_input();
            f(&mut input);
            errors(input)
        };
        assert_eq!(case(|i| i.title = "  ".into()), [(Field::Title, Error::Empty)]);
        assert_eq!(case(|i| i.title = "x".repeat(500)), [(Field::Title, Error::TooLong { max: 120 })]);
        assert_eq!(case(|i| i.price = "-1".into()), [(Field::Price, Error::Negative)]);
        assert_eq!(case(|i| i.price = "0".into()), [(Field::Price, Error::MustBePositive)]);
        assert_eq!(case(|i| i.price = "99999999999999999999".into()), [(Field::Price, Error::TooLarge)]);
        assert_eq!(case(|i| i.price = "1000000.01".into()), [(Field::Price, Error::TooLarge)]);
        assert_eq!(case(|i| i.price = "".into()), [(Field::Price, Error::Empty)]);
        assert_eq!(case(|i| i.unit = "pound".into()), [(Field::Unit, Error::UnknownUnit)]);
        assert_eq!(case(|i| i.currency = "XBT".into()), [(Field::Currency, Error::UnknownCurrency)]);
        assert_eq!(case(|i| i.step = "3".into()), [(Field::Stock, Error::NotStepMultiple)]);
        assert_eq!(case(|i| i.stock = "-5".into()), [(Field::Stock, Error::Negative)]);
        assert_eq!(case(|i| i.stock = "2000000".into()), [(Field::Stock, Error::TooLarge)]);
        assert_eq!(case(|i| i.step = "0".into()), [(Field::Step, Error::MustBePositive)]);
        assert_eq!(case(|i| i.minimum = "1.5".into()), [(Field::Minimum, Error::NotStepMultiple)]);
        assert_eq!(case(|i| {
            i.minimum = "5".into();
            i.maximum = "2".into();
        }), [(Field::Maximum, Error::MaximumBelowMinimum)]);
        assert_eq!(case(|i| {
            i.unit = "dozen".into();
            i.stock = "2.5".into();
        }), [(Field::Stock, Error::NotWhole)]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let input = ListingInput { title: "".into(), unit: "pound".into(), currency: "CNY".into(), price: "abc".into(), stock: "x".into(), ..Default::default() };
        assert_eq!(errors(input), [
            (Field::Title, Error::Empty),
            (Field::Unit, Error::UnknownUnit),
            (Field::Price, Error::NotANumber),
            (Field::Stock, Error::NotANumber),
        ]);
    }

    #[test]
    fn structured_details_follow_the_same_rules() {
        let mut details = corn_input().parse().unwrap();
        details.price = Money::new(-1, Currency::CNY);
        details.stock = Quantity::from_milli(1500);
        details.title = " padded ".into();
        let fields: Vec<_> = details.check().unwrap_err().into_iter().map(|e| (e.field, e.error)).collect();
        assert_eq!(fields, [
            (Field::Title, Error::ControlCharacters),
            (Field::Price, Error::MustBePositive),
            (Field::Stock, Error::NotStepMultiple),
        ]);
    }

    #[test]
    fn selling_everything_marks_it_sold_out_and_restock_reopens_it() {
        let mut listing = corn();
        listing.take(Quantity::whole(50).unwrap(), Timestamp(2)).unwrap();
        assert_eq!(listing.status, ListingStatus::SoldOut);
        assert_eq!(listing.take(Quantity::whole(1).unwrap(), Timestamp(3)), Err(Error::SoldOut));
        listing.put_back(Quantity::whole(2).unwrap(), Timestamp(4)).unwrap();
        assert_eq!(listing.status, ListingStatus::Active);
        assert_eq!(listing.details.stock, Quantity::whole(2).unwrap());
        assert_eq!(listing.updated_at, Timestamp(4));
    }

    #[test]
    fn taking_follows_rules_and_never_goes_below_zero() {
        let mut listing = corn();
        assert_eq!(listing.take(Quantity::whole(51).unwrap(), Timestamp(2)), Err(Error::InsufficientStock));
        assert_eq!(listing.take(Quantity::from_milli(500), Timestamp(2)), Err(Error::NotStepMultiple));
        assert_eq!(listing.take(Quantity::ZERO, Timestamp(2)), Err(Error::MustBePositive));
        assert_eq!(listing.details.stock, Quantity::whole(50).unwrap());
        assert_eq!(listing.updated_at, Timestamp(1));
    }

    #[test]
    fn paused_listings_do_not_sell_and_keep_their_state_through_edits() {
        let mut listing = corn();
        listing.pause(Timestamp(2)).unwrap();
        assert_eq!(listing.take(Quantity::whole(1).unwrap(), Timestamp(3)), Err(Error::NotForSale));
        let mut details = listing.details.clone();
        details.stock = Quantity::ZERO;
        listing.edit(details, Timestamp(4));
        assert_eq!(listing.status, ListingStatus::Paused);
        assert_eq!(
            listing.pause(Timestamp(5)),
            Err(Error::InvalidListingStatus { from: ListingStatus::Paused, to: ListingStatus::Paused })
        );
        listing.resume(Timestamp(6)).unwrap();
        assert_eq!(listing.status, ListingStatus::SoldOut);
        assert!(listing.resume(Timestamp(7)).is_err());
    }

    #[test]
    fn changes_validate_before_they_apply() {
        let mut listing = corn();
        let before = listing.clone();
        let refused = listing.change(ListingChange::SetStock(Quantity::from_milli(-1000)), Timestamp(2)).unwrap_err();
        assert_eq!(refused, [FieldError::new(Field::Stock, Error::Negative)]);
        let mut bad = listing.details.clone();
        bad.price = Money::new(0, Currency::CNY);
        assert!(listing.change(ListingChange::Edit(bad), Timestamp(2)).is_err());
        assert_eq!(listing, before);
        listing.change(ListingChange::SetStock(Quantity::ZERO), Timestamp(3)).unwrap();
        assert_eq!(listing.status, ListingStatus::SoldOut);
        listing.change(ListingChange::Pause, Timestamp(4)).unwrap();
        assert_eq!(listing.change(ListingChange::Pause, Timestamp(5)).unwrap_err()[0].field, Field::Status);
    }

    #[test]
    fn photos_are_kept_once_and_bounded() {
        let mut listing = corn();
        let photo = |n: usize| PhotoRef { sha256: format!("{n:064x}") };
        listing.change(ListingChange::AddPhoto(photo(0)), Timestamp(2)).unwrap();
        listing.change(ListingChange::AddPhoto(photo(0)), Timestamp(3)).unwrap();
        assert_eq!(listing.photos.len(), 1);
        for n in 1..MAX_PHOTOS {
            listing.change(ListingChange::AddPhoto(photo(n)), Timestamp(4)).unwrap();
        }
        assert_eq!(listing.change(ListingChange::AddPhoto(photo(99)), Timestamp(5)).unwrap_err()[0].error, Error::TooLarge);
    }

    #[test]
    fn a_new_listing_without_stock_is_sold_out() {
        let mut input = corn_input();
        input.stock = "0".into();
        let listing = Listing::new(ListingId(Uuid::from_u128(2)), input.parse().unwrap(), Timestamp(1));
        assert_eq!(listing.status, ListingStatus::SoldOut);
    }

    proptest::proptest! {
        #[test]
        fn stock_never_goes_negative(takes in proptest::collection::vec(-3_000i64..80_000, 0..40)) {
            let mut listing = corn();
            for (i, milli) in takes.into_iter().enumerate() {
                let before = listing.details.stock;
                let result = listing.take(Quantity::from_milli(milli), Timestamp(i as i64));
                proptest::prop_assert!(listing.details.stock >= Quantity::ZERO);
                if result.is_err() {
                    proptest::prop_assert_eq!(listing.details.stock, before);
                }
            }
        }
    }
}
