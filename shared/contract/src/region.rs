//! GB/T 2260 region codes: the pure code type, parsed at the edge and trusted after.
//!
//! A code says its own level and its ancestry by its digits alone (`440106` county ->
//! `440100` city -> `440000` province -> `000000` national). Which of those regions exist is
//! data (catalog's `Regions` table); which of them has a sharing authority is the
//! directory's. So [`RegionCode::ancestors`] yields every level the digits name, and the
//! caller skips the ones its data does not have (districts of Beijing sit directly under
//! `110000`: there is no `110100` authority).
//!
//! One rule of the standard is in the digits themselves: prefecture digits `90` group the
//! county-level divisions a province administers directly (`429004` 仙桃市, `469001`
//! 五指山市, `419001` 济源市, `659001` 石河子市). `429000` is no region, so the parent of
//! `429004` is `420000`.

use serde::{Deserialize, Serialize};

use crate::reply::Text;

/// A six-digit GB/T 2260 region code: digits 1-2 province, 3-4 city, 5-6 county;
/// `000000` stands for the national level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
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

/// Prefecture digits reserved for county-level divisions under the province (GB/T 2260).
const PROVINCE_ADMINISTERED: u32 = 90;

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

    /// Prefecture digits `90`: a county-level division administered directly by its
    /// province (省直辖县级行政区划), such as `429004` 仙桃市.
    pub fn is_province_administered(self) -> bool {
        self.level() == Level::County && self.0 / 100 % 100 == PROVINCE_ADMINISTERED
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
    /// province -> national; `None` above the national level. A county-level division
    /// under prefecture digits `90` has its province as parent (`429004` -> `420000`).
    /// (A region tree may skip a level: catalog's `Regions::parent` skips the codes its
    /// table does not have.)
    pub fn digit_parent(self) -> Option<Self> {
        match self.level() {
            Level::National => None,
            Level::Province => Some(Self::NATIONAL),
            Level::City => Some(Self(self.0 / 10_000 * 10_000)),
            Level::County if self.is_province_administered() => Some(Self(self.0 / 10_000 * 10_000)),
            Level::County => Some(Self(self.0 / 100 * 100)),
        }
    }

    /// Every code strictly above this one by its digits, nearest first, ending with the
    /// national level: `440106` -> `440100`, `440000`, `000000`.
    pub fn ancestors(self) -> impl Iterator<Item = RegionCode> {
        std::iter::successors(self.digit_parent(), |c| c.digit_parent())
    }

    /// The lowest code containing both by their digits (Art. 28: whose authority
    /// coordinates): the same code, their city, their province, or the national level.
    pub fn lowest_common(self, other: RegionCode) -> RegionCode {
        let theirs: Vec<_> = std::iter::once(other).chain(other.ancestors()).collect();
        std::iter::once(self).chain(self.ancestors()).find(|c| theirs.contains(c)).unwrap_or(Self::NATIONAL)
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
    fn a_county_level_city_under_its_province_has_the_province_as_parent() {
        // Given 仙桃市, under prefecture digits 90 (省直辖县级行政区划, not a city)
        let xiantao = code("429004");
        // Then its ancestry skips 429000
        assert!(xiantao.is_province_administered());
        assert_eq!(ancestors("429004"), ["420000", "000000"]);
        assert_eq!(ancestors("469001"), ["460000", "000000"], "五指山市");
        assert_eq!(ancestors("419001"), ["410000", "000000"], "济源市");
        // And an ordinary county still has its city
        assert!(!code("440106").is_province_administered());
        assert!(!code("429000").is_province_administered(), "a city-level code is not a county");
    }

    fn common(a: &str, b: &str) -> String {
        code(a).lowest_common(code(b)).to_string()
    }

    #[test]
    fn a_county_level_city_under_a_province_meets_another_province_at_the_national_level() {
        // Given 仙桃市 (Hubei, directly under the province) and 南宁市 (Guangxi)
        // When their common region is sought
        // Then it is the national level
        assert_eq!(common("429004", "450100"), "000000");
    }

    #[test]
    fn a_county_level_city_under_a_province_meets_a_city_of_its_province_at_the_province() {
        assert_eq!(common("429004", "420100"), "420000", "仙桃市 and 武汉市");
        assert_eq!(common("429004", "429005"), "420000", "仙桃市 and 潜江市: 429000 is no region");
        assert_eq!(common("429004", "420000"), "420000", "仙桃市 and 湖北省");
        assert_eq!(common("429004", "429004"), "429004");
    }

    #[test]
    fn counties_of_two_provinces_meet_at_the_national_level_and_a_district_meets_its_city_at_the_city() {
        assert_eq!(common("440106", "330106"), "000000", "天河区 and 西湖区");
        assert_eq!(common("440106", "440100"), "440100", "天河区 and 广州市");
        assert_eq!(common("440106", "440304"), "440000", "天河区 and 福田区");
    }

    #[test]
    fn a_code_travels_as_its_six_digit_string() {
        assert_eq!(serde_json::to_string(&code("440106")).unwrap(), "\"440106\"");
        assert_eq!(serde_json::from_str::<RegionCode>("\"000000\"").unwrap(), RegionCode::NATIONAL);
        assert!(serde_json::from_str::<RegionCode>("\"4401\"").is_err());
    }
}
