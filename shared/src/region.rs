//! GB/T 2260 region codes: the pure code type, parsed at the edge and trusted after.
//!
//! A code says its own level and its ancestry by its digits alone (`440106` county ->
//! `440100` city -> `440000` province -> `000000` national). Which of those regions exist is
//! data (catalog's `Regions` table); which of them has a sharing authority is the
//! directory's. So [`RegionCode::ancestors`] yields every level the digits name, and the
//! caller skips the ones its data does not have (districts of Beijing sit directly under
//! `110000`: there is no `110100` authority).

use serde::{Deserialize, Serialize};

use crate::reply::Text;

/// A six-digit GB/T 2260 region code: digits 1-2 province, 3-4 city, 5-6 county;
/// `000000` stands for the national level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(u32);

impl TryFrom<String> for RegionCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).map_err(|t| t.en)
    }
}

impl From<RegionCode> for String {
    fn from(c: RegionCode) -> String {
        c.to_string()
    }
}

/// Administrative level of a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    National,
    Province,
    City,
    County,
}

impl RegionCode {
    pub const NATIONAL: RegionCode = RegionCode(0);

    pub fn parse(raw: &str) -> Result<Self, Text> {
        if raw.len() != 6 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Text::new("应为六位数字的行政区划代码", "expected a six-digit GB/T 2260 code"));
        }
        let code: u32 = raw.parse().expect("six digits");
        // Province codes run from 11 (Beijing) to 82 (Macao).
        if code != 0 && !(11..=82).contains(&(code / 10_000)) {
            return Err(Text::new("省级代码不存在", "no such province code"));
        }
        Ok(Self(code))
    }

    pub fn level(self) -> Level {
        match self.0 {
            0 => Level::National,
            c if c % 10_000 == 0 => Level::Province,
            c if c % 100 == 0 => Level::City,
            _ => Level::County,
        }
    }

    /// The code's own parent by its digits: county -> city, city -> province,
    /// province -> national; `None` above the national level. (A region tree may skip a
    /// level: catalog's `Regions::parent` skips the codes its table does not have.)
    pub fn digit_parent(self) -> Option<Self> {
        match self.level() {
            Level::National => None,
            Level::Province => Some(Self::NATIONAL),
            Level::City => Some(Self(self.0 / 10_000 * 10_000)),
            Level::County => Some(Self(self.0 / 100 * 100)),
        }
    }

    /// Every code strictly above this one by its digits, nearest first, ending with the
    /// national level: `440106` -> `440100`, `440000`, `000000`.
    pub fn ancestors(self) -> impl Iterator<Item = RegionCode> {
        std::iter::successors(self.digit_parent(), |c| c.digit_parent())
    }
}

impl std::fmt::Display for RegionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    fn ancestors(s: &str) -> Vec<String> {
        code(s).ancestors().map(|c| c.to_string()).collect()
    }

    #[test]
    fn region_codes_have_six_digits_and_a_level() {
        assert_eq!(code("000000").level(), Level::National);
        assert_eq!(code("440000").level(), Level::Province);
        assert_eq!(code("440100").level(), Level::City);
        assert_eq!(code("440106").level(), Level::County);
        assert!(RegionCode::parse("44010").is_err());
        assert!(RegionCode::parse("44010a").is_err());
        assert!(RegionCode::parse("990000").is_err());
        assert_eq!(code("110105").to_string(), "110105");
    }

    #[test]
    fn a_county_has_its_city_its_province_and_the_nation_above_it() {
        assert_eq!(ancestors("440106"), ["440100", "440000", "000000"]);
    }

    #[test]
    fn a_city_and_a_province_have_fewer_ancestors_and_the_nation_none() {
        assert_eq!(ancestors("440100"), ["440000", "000000"]);
        assert_eq!(ancestors("440000"), ["000000"]);
        assert!(ancestors("000000").is_empty());
    }

    #[test]
    fn a_municipal_district_names_the_city_level_its_digits_imply() {
        // The digits say 110100 even though Beijing has no city level: skipping it is the
        // caller's business, with the data it has.
        assert_eq!(ancestors("110105"), ["110100", "110000", "000000"]);
    }

    #[test]
    fn a_code_travels_as_its_six_digit_string() {
        assert_eq!(serde_json::to_string(&code("440106")).unwrap(), "\"440106\"");
        assert_eq!(serde_json::from_str::<RegionCode>("\"000000\"").unwrap(), RegionCode::NATIONAL);
        assert!(serde_json::from_str::<RegionCode>("\"4401\"").is_err());
    }
}
