//! Money as integer minor units of an ISO 4217 currency.
//!
//! No float ever holds an amount. Arithmetic is checked: an overflow is an [`Error::Overflow`], never
//! a wrapped number, and mixing currencies is an [`Error::CurrencyMismatch`].

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::decimal;
use crate::error::Error;
use crate::quantity::Quantity;

/// The currencies Fieldcast prices in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub enum Currency {
    /// Chinese yuan renminbi; the minor unit is the fen.
    CNY,
    EUR,
    USD,
}

impl Currency {
    pub const ALL: [Currency; 3] = [Currency::CNY, Currency::EUR, Currency::USD];

    /// The ISO 4217 code.
    pub fn code(self) -> &'static str {
        match self {
            Currency::CNY => "CNY",
            Currency::EUR => "EUR",
            Currency::USD => "USD",
        }
    }

    /// The number of decimal places of the minor unit (ISO 4217 "exponent").
    pub fn exponent(self) -> u32 {
        match self {
            Currency::CNY | Currency::EUR | Currency::USD => 2,
        }
    }

    pub fn parse(code: &str) -> Result<Currency, Error> {
        Currency::ALL.into_iter().find(|c| c.code() == code.trim()).ok_or(Error::UnknownCurrency)
    }
}

/// An amount of money: minor units (fen, cents) and their currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct Money {
    /// The amount in the currency's minor unit. Bounded by the domain's limits to well under 2^53,
    /// so it is exact as a JavaScript number.
    #[ts(type = "number")]
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// Parses a decimal amount such as "3.50" or "3,5" in `currency`.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, Error> {
        decimal::parse_scaled(text, currency.exponent()).map(|minor| Money { minor, currency })
    }

    pub fn checked_add(self, other: Money) -> Result<Money, Error> {
        let currency = self.same_currency(other)?;
        self.minor.checked_add(other.minor).map(|minor| Money { minor, currency }).ok_or(Error::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, Error> {
        let currency = self.same_currency(other)?;
        self.minor.checked_sub(other.minor).map(|minor| Money { minor, currency }).ok_or(Error::Overflow)
    }

    /// The price of `quantity` at `self` per unit, rounded half up to the minor unit.
    ///
    /// Quantities are thousandths of a unit, so 1.5 kg at 3.33 per kg is 4.995, which rounds to 5.00.
    /// The product is computed in 128 bits and refused if the result does not fit in 64.
    pub fn times(self, quantity: Quantity) -> Result<Money, Error> {
        let exact = i128::from(self.minor) * i128::from(quantity.milli());
        let per = i128::from(Quantity::MILLI_PER_UNIT);
        let rounded = (exact + exact.signum() * per / 2) / per;
        i64::try_from(rounded).map(|minor| Money { minor, currency: self.currency }).map_err(|_| Error::Overflow)
    }

    /// The amount as a plain decimal, e.g. "3.50", for CSV files and logs. The app formats money for
    /// people with the platform's locale rules instead.
    pub fn to_decimal_string(self) -> String {
        decimal::format_scaled(self.minor, self.currency.exponent(), self.currency.exponent())
    }

    fn same_currency(self, other: Money) -> Result<Currency, Error> {
        if self.currency == other.currency { Ok(self.currency) } else { Err(Error::CurrencyMismatch) }
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cny(minor: i64) -> Money {
        Money::new(minor, Currency::CNY)
    }

    #[test]
    fn currencies_round_trip_their_codes() {
        for currency in Currency::ALL {
            assert_eq!(Currency::parse(currency.code()), Ok(currency));
            assert_eq!(serde_json::to_string(&currency).unwrap(), format!("\"{}\"", currency.code()));
        }
        assert_eq!(Currency::parse("XYZ"), Err(Error::UnknownCurrency));
        assert_eq!(Currency::parse("cny"), Err(Error::UnknownCurrency));
        assert_eq!(Currency::parse(""), Err(Error::UnknownCurrency));
    }

    #[test]
    fn parses_and_prints_amounts() {
        assert_eq!(Money::parse("3.5", Currency::CNY), Ok(cny(350)));
        assert_eq!(Money::parse("3.505", Currency::EUR), Err(Error::TooManyDecimals { max: 2 }));
        assert_eq!(cny(350).to_string(), "3.50 CNY");
        assert_eq!(cny(5).to_decimal_string(), "0.05");
    }

    #[test]
    fn adding_checks_currency_and_overflow() {
        assert_eq!(cny(1).checked_add(cny(2)), Ok(cny(3)));
        assert_eq!(cny(1).checked_add(Money::new(1, Currency::EUR)), Err(Error::CurrencyMismatch));
        assert_eq!(cny(i64::MAX).checked_add(cny(1)), Err(Error::Overflow));
        assert_eq!(cny(i64::MIN).checked_sub(cny(1)), Err(Error::Overflow));
        assert_eq!(cny(5).checked_sub(cny(7)), Ok(cny(-2)));
    }

    #[test]
    fn multiplies_by_quantities_rounding_half_up() {
        assert_eq!(cny(333).times(Quantity::from_milli(1500)), Ok(cny(500)));
        assert_eq!(cny(350).times(Quantity::whole(3).unwrap()), Ok(cny(1050)));
        assert_eq!(cny(1).times(Quantity::from_milli(499)), Ok(cny(0)));
        assert_eq!(cny(1).times(Quantity::from_milli(500)), Ok(cny(1)));
        assert_eq!(cny(i64::MAX).times(Quantity::from_milli(2000)), Err(Error::Overflow));
        assert_eq!(cny(i64::MAX).times(Quantity::from_milli(1000)), Ok(cny(i64::MAX)));
    }

    proptest! {
        #[test]
        fn checked_add_matches_wide_arithmetic(a in any::<i64>(), b in any::<i64>()) {
            let wide = i128::from(a) + i128::from(b);
            match cny(a).checked_add(cny(b)) {
                Ok(sum) => prop_assert_eq!(i128::from(sum.minor), wide),
                Err(error) => {
                    prop_assert_eq!(error, Error::Overflow);
                    prop_assert!(wide > i128::from(i64::MAX) || wide < i128::from(i64::MIN));
                }
            }
        }

        #[test]
        fn times_is_exact_for_whole_quantities(price in any::<i64>(), units in -1_000_000i64..1_000_000) {
            let wide = i128::from(price) * i128::from(units);
            match cny(price).times(Quantity::whole(units).unwrap()) {
                Ok(total) => prop_assert_eq!(i128::from(total.minor), wide),
                Err(error) => {
                    prop_assert_eq!(error, Error::Overflow);
                    prop_assert!(i64::try_from(wide).is_err());
                }
            }
        }

        #[test]
        fn times_never_rounds_by_more_than_half_a_minor_unit(price in 0i64..100_000_000, milli in 0i64..1_000_000_000) {
            let total = cny(price).times(Quantity::from_milli(milli)).unwrap();
            let exact_times_1000 = i128::from(price) * i128::from(milli);
            let diff = (i128::from(total.minor) * 1000 - exact_times_1000).abs();
            prop_assert!(diff <= 500);
        }

        #[test]
        fn parse_never_panics_and_never_yields_negative(text in "\\PC{0,30}") {
            if let Ok(money) = Money::parse(&text, Currency::CNY) {
                prop_assert!(money.minor >= 0);
            }
        }
    }
}
