//! Money and quantities as text on the buyer pages, in the page's language. No floats: the domain's
//! exact decimal strings get a currency sign and the local decimal separator.

use domain::money::{Currency, Money};
use domain::quantity::{Quantity, Unit};

use super::texts::Lang;

pub fn money(money: Money, lang: Lang) -> String {
    let amount = local_decimal(&money.to_decimal_string(), lang);
    let sign = match money.currency {
        Currency::CNY => "¥",
        Currency::EUR => "€",
        Currency::USD => "$",
    };
    // Italian writes the sign after the amount; Chinese and English before it.
    if lang == Lang::It { format!("{amount}\u{a0}{sign}") } else { format!("{sign}{amount}") }
}

pub fn quantity(quantity: Quantity, unit: Unit, lang: Lang) -> String {
    let number = local_decimal(&quantity.to_decimal_string(), lang);
    let unit = lang.texts().unit(unit);
    // Chinese measure words follow the number without a space: 3斤.
    if lang == Lang::ZhCn { format!("{number}{unit}") } else { format!("{number}\u{a0}{unit}") }
}

fn local_decimal(text: &str, lang: Lang) -> String {
    if lang.decimal_comma() { text.replace('.', ",") } else { text.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_per_language() {
        let price = Money::new(350, Currency::CNY);
        assert_eq!(money(price, Lang::ZhCn), "¥3.50");
        assert_eq!(money(Money::new(1999, Currency::EUR), Lang::It), "19,99\u{a0}€");
        assert_eq!(quantity(Quantity::from_milli(2500), Unit::Kg, Lang::It), "2,5\u{a0}kg");
        assert_eq!(quantity(Quantity::whole(3).unwrap(), Unit::Jin, Lang::ZhCn), "3斤");
    }
}
