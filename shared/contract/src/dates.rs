//! The range of dates govshare accepts from anyone: a caller's form, another service's
//! message. Statutory terms run days to years; nothing lawful falls outside 2000..=2100,
//! and everything inside it can be counted by the calendar without overflow.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};

use crate::reply::{Problem, Text};

/// The first and last years accepted.
pub const MIN_YEAR: i32 = 2000;
pub const MAX_YEAR: i32 = 2100;

/// A date outside the accepted years.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the date {0} is outside the accepted range ({MIN_YEAR} to {MAX_YEAR})")]
pub struct OutOfRange(pub String);

impl OutOfRange {
    /// The problem on `field`, in both languages.
    pub fn problem(&self, field: &str) -> Problem {
        Problem::new(
            field,
            "out_of_range",
            Text::new(
                format!("{field} 的日期 {} 超出可接受的范围（{MIN_YEAR} 年至 {MAX_YEAR} 年）", self.0),
                format!("{field}: {self}"),
            ),
        )
    }
}

/// Is `date` within the accepted years?
pub fn check_date(date: NaiveDate) -> Result<NaiveDate, OutOfRange> {
    if (MIN_YEAR..=MAX_YEAR).contains(&date.year()) { Ok(date) } else { Err(OutOfRange(date.to_string())) }
}

/// Is `at` within the accepted years (in UTC)?
pub fn check_instant(at: DateTime<Utc>) -> Result<DateTime<Utc>, OutOfRange> {
    if (MIN_YEAR..=MAX_YEAR).contains(&at.year()) { Ok(at) } else { Err(OutOfRange(at.to_rfc3339())) }
}

/// serde `deserialize_with` for an instant read from the bus: one outside the range is a
/// decoding error, so the consumer dead-letters the message as permanent, never counts with it.
pub fn instant<'de, D: Deserializer<'de>>(de: D) -> Result<DateTime<Utc>, D::Error> {
    let at = DateTime::<Utc>::deserialize(de)?;
    check_instant(at).map_err(serde::de::Error::custom)
}
