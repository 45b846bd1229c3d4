//! The figures the app's overview screens show (Today, Earnings, the co-op's pick lists), computed
//! by `domain::report` from the orders on this device, so they work offline and show what the
//! person has just done before it syncs.
//!
//! The front end passes its UTC offset: a day is the person's calendar day.

use domain::error::{Error as DomainError, Field, FieldError};
use domain::ids::{OrderId, PickupPointId};
use domain::money::Currency;
use domain::order::OrderAction;
use domain::report::{self, Earnings, PickRow, Today};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{Client, ClientError, csv};

/// The longest earnings window, in days: beyond a season the chart stops being readable.
pub const MAX_DAYS: u32 = 366;
/// The most orders changed in one bulk step.
pub const MAX_BULK: usize = 500;

/// The result of a bulk status change: each order is changed on its own, so one that cannot take
/// the step (already delivered, say) does not stop the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct BulkOutcome {
    pub changed: Vec<OrderId>,
    pub refused: Vec<BulkRefusal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct BulkRefusal {
    pub order_id: OrderId,
    /// The error code, as for a single change.
    pub code: String,
}

/// A pick list for a pickup point and day, with its CSV for spreadsheets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PickList {
    pub point_id: PickupPointId,
    pub point_name: String,
    pub date: String,
    pub rows: Vec<PickRow>,
}

impl Client {
    /// The co-op's currency; every figure is in it.
    fn currency(&self) -> Result<Currency, ClientError> {
        Ok(self.account()?.ok_or(ClientError::NotPaired)?.currency)
    }

    pub fn today(&self, offset_minutes: i32) -> Result<Today, ClientError> {
        let orders = self.orders()?;
        Ok(report::today(&orders, self.currency()?, self.now(), check_offset(offset_minutes)?))
    }

    pub fn earnings(&self, offset_minutes: i32, days: u32) -> Result<Earnings, ClientError> {
        if days == 0 {
            return Err(ClientError::Invalid(vec![FieldError::new(Field::Range, DomainError::MustBePositive)]));
        }
        if days > MAX_DAYS {
            return Err(out_of_range());
        }
        let orders = self.orders()?;
        let farmers = self.store().order_farmers()?;
        Ok(report::earnings(&orders, |id| farmers.get(&id).copied(), self.currency()?, self.now(), check_offset(offset_minutes)?, days))
    }

    /// What to hand over at `point` on `date` (`YYYY-MM-DD`).
    pub fn pick_list(&self, point: PickupPointId, date: &str, offset_minutes: i32) -> Result<PickList, ClientError> {
        let point_name = self.pickup_points()?.into_iter().find(|p| p.id == point).ok_or(ClientError::NotFound)?.name;
        let date = check_date(date)?;
        let rows = report::pick_list(&self.orders()?, point, &date, check_offset(offset_minutes)?);
        Ok(PickList { point_id: point, point_name, date, rows })
    }

    /// The pick list as CSV (RFC 4180, UTF-8 with a byte order mark).
    pub fn pick_list_csv(&self, point: PickupPointId, date: &str, offset_minutes: i32) -> Result<String, ClientError> {
        Ok(csv::pick_list(&self.pick_list(point, date, offset_minutes)?))
    }

    /// Takes the same step on many orders, each in its own change.
    pub fn step_orders(&self, ids: &[OrderId], action: OrderAction) -> Result<BulkOutcome, ClientError> {
        if ids.is_empty() || ids.len() > MAX_BULK {
            return Err(out_of_range());
        }
        let mut outcome = BulkOutcome { changed: Vec::new(), refused: Vec::new() };
        for &id in ids {
            match self.step_order(id, action, None) {
                Ok(_) => outcome.changed.push(id),
                Err(ClientError::Invalid(fields)) => {
                    let code = fields.first().map_or("invalid", |f| f.error.code()).to_owned();
                    outcome.refused.push(BulkRefusal { order_id: id, code });
                }
                Err(ClientError::NotFound) => outcome.refused.push(BulkRefusal { order_id: id, code: "not_found".into() }),
                Err(other) => return Err(other),
            }
        }
        Ok(outcome)
    }
}

/// UTC offsets on Earth run from −12:00 to +14:00.
fn check_offset(offset_minutes: i32) -> Result<i32, ClientError> {
    if (-12 * 60..=14 * 60).contains(&offset_minutes) {
        Ok(offset_minutes)
    } else {
        Err(out_of_range())
    }
}

/// A calendar date as `YYYY-MM-DD`, checked so that text comparison orders dates.
fn check_date(date: &str) -> Result<String, ClientError> {
    let bytes = date.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes.iter().enumerate().all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    let month: u32 = date.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(0);
    let day: u32 = date.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(0);
    if shaped && (1..=12).contains(&month) && (1..=31).contains(&day) {
        Ok(date.to_owned())
    } else {
        Err(ClientError::Invalid(vec![FieldError::new(Field::Date, DomainError::InvalidDate)]))
    }
}

fn out_of_range() -> ClientError {
    ClientError::Invalid(vec![FieldError::new(Field::Range, DomainError::TooLarge)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_offsets_are_checked() {
        assert_eq!(check_date("2026-11-21").unwrap(), "2026-11-21");
        for bad in ["2026-13-01", "2026-1-01", "21/11/2026", "2026-11-00", "２０２６-11-21", ""] {
            assert!(check_date(bad).is_err(), "{bad}");
        }
        assert!(check_offset(480).is_ok());
        assert!(check_offset(-720).is_ok());
        assert!(check_offset(15 * 60).is_err());
    }
}
