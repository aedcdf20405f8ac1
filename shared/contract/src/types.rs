//! Values with their bounds in the type: an id, a text of at most N characters, a list of
//! N to M elements, a count, a date govshare can count with. Each bound is written once, here,
//! and is both checked when a value is read (serde) and published in its JSON Schema, which
//! the services validate every call against. A service never checks a length by hand.
//!
//! New kinds of string (a classification code, an account id) are one line with
//! [`crate::pattern_string!`].

use std::{borrow::Cow, fmt, ops::Deref};

use chrono::{DateTime, NaiveDate, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

use crate::dates;

/// Characters no text may hold: NUL (PostgreSQL refuses it; a store would answer `unavailable`).
const FORBIDDEN: char = '\u{0}';

/// The pattern every [`Text`] matches: at least one visible character, and no NUL.
pub const TEXT_PATTERN: &str = r"^[^\u0000]*\S[^\u0000]*$";

/// A human text: trimmed, not blank, at most `MAX` characters, no NUL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text<const MAX: usize = 10_000>(String);

impl<const MAX: usize> Text<MAX> {
    /// Reads a text, or says what is wrong with it (in English; the schema says it to callers).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("must not be blank".into());
        }
        if trimmed.contains(FORBIDDEN) {
            return Err("must not contain NUL".into());
        }
        if trimmed.chars().count() > MAX {
            return Err(format!("must be at most {MAX} characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const MAX: usize> Deref for Text<MAX> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> From<Text<MAX>> for String {
    fn from(t: Text<MAX>) -> Self {
        t.0
    }
}

impl<const MAX: usize> Serialize for Text<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Cow::<str>::deserialize(d)?;
        Self::parse(&raw).map_err(D::Error::custom)
    }
}

impl<const MAX: usize> JsonSchema for Text<MAX> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("Text{MAX}").into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // maxLength counts the untrimmed text: a caller's padding is not worth a refusal, but
        // a bound is a bound, so the schema and the reader agree on the same number.
        json_schema!({"type": "string", "maxLength": MAX, "pattern": TEXT_PATTERN})
    }
}

/// Declares a string type bound by a pattern (which carries its length), e.g. an
/// organisation id. The reader and the schema use the same regular expression; the messages
/// say in both languages what the value must look like.
#[macro_export]
macro_rules! pattern_string {
    ($(#[$meta:meta])* $name:ident, $pattern:literal, $zh:literal, $en:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PATTERN: &'static str = $pattern;
            /// What a valid value looks like, in Chinese and in English.
            pub const RULE: (&'static str, &'static str) = ($zh, $en);

            pub fn parse(raw: &str) -> Result<Self, String> {
                static RE: std::sync::OnceLock<$crate::types::Regex> = std::sync::OnceLock::new();
                let re = RE.get_or_init(|| $crate::types::Regex::new($pattern).expect("a valid pattern"));
                if re.is_match(raw) { Ok(Self(raw.to_owned())) } else { Err(format!("{}: {raw:?}", $en)) }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> Self {
                v.0
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = std::borrow::Cow::<str>::deserialize(d)?;
                Self::parse(&raw).map_err(<D::Error as serde::de::Error>::custom)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": $en,
                    "x-description-zh": $zh,
                })
            }
        }
    };
}

#[doc(hidden)]
pub use regex::Regex;

crate::pattern_string!(
    /// An organisation's id (a department or an authority). It is a token of NATS subjects,
    /// so no dots, spaces or wildcards.
    OrgId,
    "^[A-Za-z0-9_-]{1,64}$",
    "只能包含字母、数字、-、_，长度 1 至 64",
    "letters, digits, - and _ only, 1 to 64 characters"
);

/// A list of `MIN` to `MAX` elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<T, const MIN: usize, const MAX: usize>(Vec<T>);

impl<T, const MIN: usize, const MAX: usize> List<T, MIN, MAX> {
    pub fn new(items: Vec<T>) -> Result<Self, String> {
        if items.len() < MIN {
            return Err(format!("must have at least {MIN} elements"));
        }
        if items.len() > MAX {
            return Err(format!("must have at most {MAX} elements"));
        }
        Ok(Self(items))
    }

    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MIN: usize, const MAX: usize> Deref for List<T, MIN, MAX> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T, const MIN: usize, const MAX: usize> IntoIterator for List<T, MIN, MAX> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T, const MIN: usize, const MAX: usize> IntoIterator for &'a List<T, MIN, MAX> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: Serialize, const MIN: usize, const MAX: usize> Serialize for List<T, MIN, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>, const MIN: usize, const MAX: usize> Deserialize<'de> for List<T, MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(Vec::<T>::deserialize(d)?).map_err(D::Error::custom)
    }
}

impl<T: JsonSchema, const MIN: usize, const MAX: usize> JsonSchema for List<T, MIN, MAX> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("List{MIN}to{MAX}_{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let items = generator.subschema_for::<T>();
        json_schema!({"type": "array", "items": items, "minItems": MIN, "maxItems": MAX})
    }
}

/// A whole number from `MIN` to `MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Count<const MIN: u32, const MAX: u32>(u32);

impl<const MIN: u32, const MAX: u32> Count<MIN, MAX> {
    pub fn new(n: u32) -> Result<Self, String> {
        if (MIN..=MAX).contains(&n) { Ok(Self(n)) } else { Err(format!("must be from {MIN} to {MAX}")) }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl<const MIN: u32, const MAX: u32> Serialize for Count<MIN, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'de, const MIN: u32, const MAX: u32> Deserialize<'de> for Count<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(u32::deserialize(d)?).map_err(D::Error::custom)
    }
}

impl<const MIN: u32, const MAX: u32> JsonSchema for Count<MIN, MAX> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("Count{MIN}to{MAX}").into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": MIN, "maximum": MAX})
    }
}

/// A page's cursor: the `next_after` of the page before, as the list answered it.
pub type Cursor = Text<512>;

/// Rows in one page. 200 is the most any list answers; a platform may set
/// `calls.max_page_size` lower, and a limit over it is then `out_of_range`.
pub type PageLimit = Count<1, 200>;

/// The years a date may fall in, as a pattern on its text: the calendar counts nothing else.
pub const YEAR_PATTERN: &str = "^(20[0-9]{2}|2100)-";

/// A calendar date (`YYYY-MM-DD`) in the years govshare accepts ([`dates`]: 2000 to 2100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Date(NaiveDate);

impl Date {
    pub fn new(date: NaiveDate) -> Result<Self, dates::OutOfRange> {
        dates::check_date(date).map(Self)
    }

    pub fn get(self) -> NaiveDate {
        self.0
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(NaiveDate::deserialize(d)?).map_err(D::Error::custom)
    }
}

impl JsonSchema for Date {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Date".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date", "pattern": YEAR_PATTERN})
    }
}

/// An instant (RFC 3339) in the years govshare accepts ([`dates`]: 2000 to 2100, in UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Instant(DateTime<Utc>);

impl Instant {
    pub fn new(at: DateTime<Utc>) -> Result<Self, dates::OutOfRange> {
        dates::check_instant(at).map(Self)
    }

    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(DateTime::<Utc>::deserialize(d)?).map_err(D::Error::custom)
    }
}

impl JsonSchema for Instant {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Instant".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date-time", "pattern": YEAR_PATTERN})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_trimmed_and_bounded_and_never_blank_or_nul() {
        assert_eq!(Text::<5>::parse("  abc ").unwrap().as_str(), "abc");
        assert!(Text::<5>::parse("   ").is_err());
        assert!(Text::<5>::parse("abcdef").is_err());
        assert!(Text::<5>::parse("a\u{0}b").is_err());
        assert_eq!(Text::<3>::parse("政务数").unwrap().as_str(), "政务数", "characters, not bytes");
    }

    #[test]
    fn an_org_id_is_a_subject_token() {
        assert!(OrgId::parse("gd-auth_1").is_ok());
        for bad in ["", "a.b", "*", ">", "a b", &"x".repeat(65)] {
            assert!(OrgId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(OrgId::parse(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn lists_counts_and_dates_carry_their_bounds() {
        assert!(serde_json::from_str::<List<u8, 1, 2>>("[]").is_err());
        assert!(serde_json::from_str::<List<u8, 1, 2>>("[1,2,3]").is_err());
        assert_eq!(serde_json::from_str::<List<u8, 1, 2>>("[1,2]").unwrap().len(), 2);
        assert!(serde_json::from_str::<Count<1, 10>>("0").is_err());
        assert!(serde_json::from_str::<Date>("\"1999-12-31\"").is_err());
        assert!(serde_json::from_str::<Date>("\"2026-12-01\"").is_ok());
        assert!(serde_json::from_str::<Instant>("\"2101-01-01T00:00:00Z\"").is_err());
    }
}
