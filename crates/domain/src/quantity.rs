//! Units of sale and exact quantities.
//!
//! A quantity is a whole number of thousandths of its unit: 2.5 kg is 2,500, three dozen eggs is
//! 3,000. That is exact for every amount a scale or a person produces, and needs no float. Countable
//! units (pieces, bunches, boxes, dozens) are sold in whole numbers only; a farmer who sells half
//! dozens lists eggs by the piece with an order step of six.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::decimal;
use crate::error::Error;

/// A unit a listing is sold by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Kg,
    G,
    /// 斤, the Chinese market pound: exactly 500 g.
    Jin,
    Piece,
    Bunch,
    Box,
    Dozen,
    Litre,
}

/// What a unit measures; only units of the same dimension convert into each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dimension {
    Mass,
    Volume,
    Count,
    /// A bunch or a box has no fixed content, so it converts into nothing but itself.
    Opaque(Unit),
}

impl Unit {
    pub const ALL: [Unit; 8] =
        [Unit::Kg, Unit::G, Unit::Jin, Unit::Piece, Unit::Bunch, Unit::Box, Unit::Dozen, Unit::Litre];

    /// The stable code, as in JSON and in the database.
    pub fn code(self) -> &'static str {
        match self {
            Unit::Kg => "kg",
            Unit::G => "g",
            Unit::Jin => "jin",
            Unit::Piece => "piece",
            Unit::Bunch => "bunch",
            Unit::Box => "box",
            Unit::Dozen => "dozen",
            Unit::Litre => "litre",
        }
    }

    pub fn parse(code: &str) -> Result<Unit, Error> {
        Unit::ALL.into_iter().find(|u| u.code() == code.trim()).ok_or(Error::UnknownUnit)
    }

    /// Whether the unit counts things, which are sold whole.
    pub fn is_countable(self) -> bool {
        matches!(self.dimension(), Dimension::Count | Dimension::Opaque(_))
    }

    /// The dimension and how many of its base units (gram, litre, piece) one of `self` is.
    fn base(self) -> (Dimension, i64) {
        match self {
            Unit::Kg => (Dimension::Mass, 1000),
            Unit::G => (Dimension::Mass, 1),
            Unit::Jin => (Dimension::Mass, 500),
            Unit::Litre => (Dimension::Volume, 1),
            Unit::Piece => (Dimension::Count, 1),
            Unit::Dozen => (Dimension::Count, 12),
            Unit::Bunch | Unit::Box => (Dimension::Opaque(self), 1),
        }
    }

    fn dimension(self) -> Dimension {
        self.base().0
    }
}

/// An exact quantity in thousandths of some unit (which unit is the listing's or the line's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(transparent)]
#[ts(type = "number")]
#[schema(value_type = i64)]
pub struct Quantity(i64);

impl Quantity {
    pub const MILLI_PER_UNIT: i64 = 1000;
    pub const ZERO: Quantity = Quantity(0);
    /// The largest stock or order quantity: one million units. Far above any farm's stock, and small
    /// enough that quantity times price stays exact in a JavaScript number.
    pub const MAX: Quantity = Quantity(1_000_000 * Self::MILLI_PER_UNIT);

    pub fn from_milli(milli: i64) -> Quantity {
        Quantity(milli)
    }

    /// `units` whole units, or an overflow.
    pub fn whole(units: i64) -> Result<Quantity, Error> {
        units.checked_mul(Self::MILLI_PER_UNIT).map(Quantity).ok_or(Error::Overflow)
    }

    pub fn milli(self) -> i64 {
        self.0
    }

    /// Parses "2.5" or "2,5" as a quantity of `unit`. Countable units take whole numbers only.
    pub fn parse(text: &str, unit: Unit) -> Result<Quantity, Error> {
        let quantity = Quantity(decimal::parse_scaled(text, 3)?);
        if unit.is_countable() && quantity.0 % Self::MILLI_PER_UNIT != 0 {
            return Err(Error::NotWhole);
        }
        Ok(quantity)
    }

    pub fn checked_add(self, other: Quantity) -> Result<Quantity, Error> {
        self.0.checked_add(other.0).map(Quantity).ok_or(Error::Overflow)
    }

    pub fn checked_sub(self, other: Quantity) -> Result<Quantity, Error> {
        self.0.checked_sub(other.0).map(Quantity).ok_or(Error::Overflow)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Whether `self` is a whole number of `step`s. A non-positive step divides nothing.
    pub fn is_multiple_of(self, step: Quantity) -> bool {
        step.0 > 0 && self.0 % step.0 == 0
    }

    /// The same amount expressed in another unit, when that is exact: 3 jin is 1.5 kg, 2 dozen is 24
    /// pieces, but a box is not a number of kilograms.
    pub fn convert(self, from: Unit, to: Unit) -> Result<Quantity, Error> {
        let ((from_dim, from_factor), (to_dim, to_factor)) = (from.base(), to.base());
        if from_dim != to_dim {
            return Err(Error::IncompatibleUnits);
        }
        let base = self.0.checked_mul(from_factor).ok_or(Error::Overflow)?;
        if base % to_factor != 0 {
            return Err(Error::InexactConversion);
        }
        Ok(Quantity(base / to_factor))
    }

    /// A plain decimal such as "2.5", for CSV files and logs.
    pub fn to_decimal_string(self) -> String {
        decimal::format_scaled(self.0, 3, 0)
    }
}

/// How much of a listing one order may take: multiples of `step`, at least `minimum`, at most
/// `maximum` when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct OrderRules {
    pub step: Quantity,
    pub minimum: Quantity,
    pub maximum: Option<Quantity>,
}

impl OrderRules {
    /// One unit at a time, no maximum.
    pub fn per_unit() -> OrderRules {
        let one = Quantity(Quantity::MILLI_PER_UNIT);
        OrderRules { step: one, minimum: one, maximum: None }
    }

    /// Checks that an order of `quantity` follows the rules.
    pub fn check(&self, quantity: Quantity) -> Result<(), Error> {
        if !quantity.is_positive() {
            return Err(Error::MustBePositive);
        }
        if quantity > Quantity::MAX {
            return Err(Error::TooLarge);
        }
        if !quantity.is_multiple_of(self.step) {
            return Err(Error::NotStepMultiple);
        }
        if quantity < self.minimum {
            return Err(Error::BelowMinimum);
        }
        if self.maximum.is_some_and(|max| quantity > max) {
            return Err(Error::AboveMaximum);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(milli: i64) -> Quantity {
        Quantity::from_milli(milli)
    }

    #[test]
    fn units_round_trip_their_codes() {
        for unit in Unit::ALL {
            assert_eq!(Unit::parse(unit.code()), Ok(unit));
            assert_eq!(serde_json::to_string(&unit).unwrap(), format!("\"{}\"", unit.code()));
        }
        assert_eq!(Unit::parse("pound"), Err(Error::UnknownUnit));
        assert_eq!(Unit::parse("KG"), Err(Error::UnknownUnit));
    }

    #[test]
    fn countable_units_take_whole_numbers() {
        assert_eq!(Quantity::parse("2.5", Unit::Kg), Ok(q(2500)));
        assert_eq!(Quantity::parse("0.001", Unit::G), Ok(q(1)));
        assert_eq!(Quantity::parse("0.0001", Unit::Kg), Err(Error::TooManyDecimals { max: 3 }));
        assert_eq!(Quantity::parse("3", Unit::Dozen), Ok(q(3000)));
        for unit in [Unit::Piece, Unit::Bunch, Unit::Box, Unit::Dozen] {
            assert_eq!(Quantity::parse("1.5", unit), Err(Error::NotWhole), "{unit:?}");
        }
        assert_eq!(Quantity::parse("-1", Unit::Kg), Err(Error::Negative));
    }

    #[test]
    fn converts_exactly_within_a_dimension() {
        assert_eq!(q(3000).convert(Unit::Jin, Unit::Kg), Ok(q(1500)));
        assert_eq!(q(1000).convert(Unit::Kg, Unit::Jin), Ok(q(2000)));
        assert_eq!(q(1000).convert(Unit::Kg, Unit::G), Ok(q(1_000_000)));
        assert_eq!(q(2000).convert(Unit::Dozen, Unit::Piece), Ok(q(24_000)));
        assert_eq!(q(1).convert(Unit::Piece, Unit::Dozen), Err(Error::InexactConversion));
        assert_eq!(q(1000).convert(Unit::Kg, Unit::Litre), Err(Error::IncompatibleUnits));
        assert_eq!(q(1000).convert(Unit::Box, Unit::Bunch), Err(Error::IncompatibleUnits));
        assert_eq!(q(1000).convert(Unit::Box, Unit::Box), Ok(q(1000)));
        assert_eq!(q(i64::MAX).convert(Unit::Kg, Unit::G), Err(Error::Overflow));
    }

    #[test]
    fn order_rules_check_each_limit() {
        let rules = OrderRules { step: q(500), minimum: q(1000), maximum: Some(q(5000)) };
        assert_eq!(rules.check(q(1500)), Ok(()));
        assert_eq!(rules.check(q(0)), Err(Error::MustBePositive));
        assert_eq!(rules.check(q(-500)), Err(Error::MustBePositive));
        assert_eq!(rules.check(q(1200)), Err(Error::NotStepMultiple));
        assert_eq!(rules.check(q(500)), Err(Error::BelowMinimum));
        assert_eq!(rules.check(q(5500)), Err(Error::AboveMaximum));
        assert_eq!(rules.check(q(i64::MAX)), Err(Error::TooLarge));
        assert_eq!(OrderRules::per_unit().check(q(7000)), Ok(()));
    }

    #[test]
    fn checked_arithmetic_refuses_overflow() {
        assert_eq!(q(i64::MAX).checked_add(q(1)), Err(Error::Overflow));
        assert_eq!(q(i64::MIN).checked_sub(q(1)), Err(Error::Overflow));
        assert_eq!(Quantity::whole(i64::MAX), Err(Error::Overflow));
        assert!(!q(10).is_multiple_of(q(0)));
        assert!(!q(10).is_multiple_of(q(-5)));
    }

    proptest! {
        #[test]
        fn conversion_round_trips_when_exact(milli in 0i64..1_000_000_000_000, from in 0usize..8, to in 0usize..8) {
            let (from, to) = (Unit::ALL[from], Unit::ALL[to]);
            if let Ok(converted) = q(milli).convert(from, to) {
                prop_assert_eq!(converted.convert(to, from), Ok(q(milli)));
            }
        }

        #[test]
        fn checked_add_matches_wide_arithmetic(a in any::<i64>(), b in any::<i64>()) {
            let wide = i128::from(a) + i128::from(b);
            match q(a).checked_add(q(b)) {
                Ok(sum) => prop_assert_eq!(i128::from(sum.milli()), wide),
                Err(_) => prop_assert!(i64::try_from(wide).is_err()),
            }
        }

        #[test]
        fn a_checked_quantity_is_a_positive_step_multiple(milli in any::<i64>(), step in 1i64..10_000) {
            let rules = OrderRules { step: q(step), minimum: q(step), maximum: None };
            if rules.check(q(milli)).is_ok() {
                prop_assert!(milli > 0 && milli % step == 0 && milli <= Quantity::MAX.milli());
            }
        }
    }
}
