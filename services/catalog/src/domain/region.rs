//! Regions by GB/T 2260 code, the region tree, and who coordinates a dispute (Art. 28).
//!
//! The code table is data: a versioned CSV the deployment provides (a default ships in
//! `data/regions.csv`: every current province-, prefecture- and county-level code and the
//! codes retired since 2010; its source and date are in `data/README.md`). Retired codes
//! stay in the table as retired and are never reused.
//! The code type itself ([`RegionCode`], [`Level`]) lives in `govshare_runtime::region`, so
//! other services read codes the same way.

use std::collections::BTreeMap;

use govshare_runtime::reply::Text;

pub use govshare_runtime::region::{Level, RegionCode};

/// One row of the code table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub code: RegionCode,
    pub name: String,
    pub retired_in: Option<u16>,
}

impl Region {
    pub fn is_active(&self) -> bool {
        self.retired_in.is_none()
    }
}

/// The code table, with its dataset version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Regions {
    pub version: String,
    by_code: BTreeMap<RegionCode, Region>,
}

/// The code table shipped with govshare.
pub const DEFAULT_REGIONS: &str = include_str!("../../data/regions.csv");

impl Regions {
    /// Parses the CSV: `# version: X` comment, header `code,name,status,retired_in`.
    pub fn parse(csv: &str) -> Result<Self, String> {
        let mut version = String::new();
        let mut by_code = BTreeMap::new();
        let mut header_seen = false;
        for (n, line) in csv.lines().enumerate() {
            let line = line.trim();
            if let Some(v) = line.strip_prefix("# version:") {
                version = v.trim().to_owned();
                continue;
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if !header_seen {
                header_seen = true;
                if line.starts_with("code,") {
                    continue;
                }
            }
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            let [code, name, status, retired_in] = cols[..] else {
                return Err(format!("line {}: expected 4 columns", n + 1));
            };
            let code = RegionCode::parse(code).map_err(|e| format!("line {}: {}", n + 1, e.en))?;
            let retired_in = match status {
                "active" => None,
                "retired" => Some(retired_in.parse().map_err(|_| format!("line {}: retired needs a year", n + 1))?),
                other => return Err(format!("line {}: unknown status {other}", n + 1)),
            };
            if by_code.insert(code, Region { code, name: name.to_owned(), retired_in }).is_some() {
                return Err(format!("line {}: duplicate code {code}", n + 1));
            }
        }
        if version.is_empty() {
            return Err("missing `# version:` line".into());
        }
        Ok(Self { version, by_code })
    }

    pub fn shipped() -> Self {
        Self::parse(DEFAULT_REGIONS).expect("the shipped region table parses")
    }

    pub fn get(&self, code: RegionCode) -> Option<&Region> {
        self.by_code.get(&code)
    }

    /// A known, active region: what a new organisation or entry may name.
    pub fn active(&self, code: RegionCode) -> Result<&Region, Text> {
        match self.get(code) {
            None if code == RegionCode::NATIONAL => Err(Text::new("全国级无需区划", "national level")),
            None => Err(Text::new(format!("区划代码 {code} 不存在"), format!("unknown region code {code}"))),
            Some(r) if !r.is_active() => Err(Text::new(
                format!("区划代码 {code} 已于 {} 年撤销", r.retired_in.unwrap_or_default()),
                format!("region code {code} was retired in {}", r.retired_in.unwrap_or_default()),
            )),
            Some(r) => Ok(r),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Region> {
        self.by_code.values()
    }

    /// The parent in the tree: the nearest region in force above it that the table has
    /// (districts of Beijing sit directly under 110000; 仙桃市 429004 under 420000, as
    /// prefecture digits 90 are no city), or the national level.
    pub fn parent(&self, code: RegionCode) -> Option<RegionCode> {
        let mut up = code.digit_parent()?;
        while up != RegionCode::NATIONAL && !self.get(up).is_some_and(Region::is_active) {
            up = up.digit_parent()?;
        }
        Some(up)
    }

    /// `code`, its parent, ... up to the national level.
    pub fn ancestry(&self, code: RegionCode) -> Vec<RegionCode> {
        let mut chain = vec![code];
        while let Some(p) = self.parent(*chain.last().expect("non-empty")) {
            chain.push(p);
        }
        chain
    }

    /// Art. 28: the region whose sharing authority coordinates a dispute between parties in
    /// regions `a` and `b`: the lowest region that contains both (the region itself when both
    /// are in the same one; `000000`, the national authority, across provinces).
    pub fn coordinator(&self, a: RegionCode, b: RegionCode) -> Result<RegionCode, Text> {
        for code in [a, b] {
            if code != RegionCode::NATIONAL && self.get(code).is_none() {
                return Err(Text::new(format!("区划代码 {code} 不存在"), format!("unknown region code {code}")));
            }
        }
        let above_a = self.ancestry(a);
        let common = self.ancestry(b).into_iter().find(|c| above_a.contains(c));
        Ok(common.unwrap_or(RegionCode::NATIONAL))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    fn coordinator(a: &str, b: &str) -> String {
        Regions::shipped().coordinator(code(a), code(b)).unwrap().to_string()
    }

    #[test]
    fn the_same_region_coordinates_its_own_departments() {
        assert_eq!(coordinator("440100", "440100"), "440100");
        assert_eq!(coordinator("440000", "440000"), "440000");
    }

    #[test]
    fn sibling_cities_go_to_their_province() {
        assert_eq!(coordinator("440100", "440300"), "440000");
    }

    #[test]
    fn a_county_and_its_own_city_go_to_the_city() {
        assert_eq!(coordinator("440106", "440100"), "440100");
        assert_eq!(coordinator("440106", "440104"), "440100", "two counties of one city");
    }

    #[test]
    fn a_county_and_another_citys_county_go_to_the_province() {
        assert_eq!(coordinator("440106", "440304"), "440000");
    }

    #[test]
    fn across_provinces_the_national_authority_coordinates() {
        assert_eq!(coordinator("440106", "330106"), "000000");
        assert_eq!(coordinator("110000", "310000"), "000000");
    }

    #[test]
    fn a_national_party_is_coordinated_nationally() {
        assert_eq!(coordinator("000000", "440106"), "000000");
    }

    #[test]
    fn a_municipal_district_sits_directly_under_its_municipality() {
        let regions = Regions::shipped();
        assert_eq!(regions.parent(code("110105")), Some(code("110000")));
        assert_eq!(coordinator("110105", "110108"), "110000");
    }

    #[test]
    fn an_unknown_code_is_an_error() {
        assert!(Regions::shipped().coordinator(code("449900"), code("440100")).is_err());
    }

    #[test]
    fn retired_codes_are_kept_but_not_usable() {
        let regions = Regions::shipped();
        let retired = regions.get(code("110103")).unwrap();
        assert_eq!(retired.retired_in, Some(2010));
        assert!(regions.active(code("110103")).is_err());
        assert!(regions.active(code("110101")).is_ok());
    }

    #[test]
    fn the_shipped_table_has_every_region_of_china_in_force() {
        let regions = Regions::shipped();
        let active = |level| regions.iter().filter(|r| r.is_active() && r.code.level() == level).count();
        assert_eq!(active(Level::Province), 34);
        assert_eq!(active(Level::City), 333, "prefecture level, 2023");
        assert_eq!(active(Level::County), 2844, "county level, 2023");
        assert_eq!(regions.version, "2023.06");
        for (raw, name) in [
            ("429004", "仙桃市"),
            ("429005", "潜江市"),
            ("429006", "天门市"),
            ("429021", "神农架林区"),
            ("469001", "五指山市"),
            ("419001", "济源市"),
            ("659012", "白杨市"),
        ] {
            assert_eq!(regions.active(code(raw)).map(|r| r.name.as_str()), Ok(name));
        }
        for placeholder in ["429000", "469000", "110100", "500200"] {
            assert!(regions.get(code(placeholder)).is_none(), "{placeholder} groups codes but is no region");
        }
    }

    #[test]
    fn every_region_in_force_hangs_under_a_region_in_force() {
        let regions = Regions::shipped();
        for r in regions.iter().filter(|r| r.is_active()) {
            let parent = regions.parent(r.code).unwrap();
            assert!(parent == RegionCode::NATIONAL || regions.active(parent).is_ok(), "{} under {parent}", r.code);
            assert_eq!(parent.level() == Level::National, r.code.level() == Level::Province, "{}", r.code);
        }
    }

    #[test]
    fn codes_retired_since_2010_are_kept_with_their_year() {
        let regions = Regions::shipped();
        for (code_, year) in [("110103", 2010), ("469003", 2015), ("371200", 2020), ("330103", 2021), ("540422", 2023)]
        {
            let r = regions.get(code(code_)).unwrap();
            assert_eq!(r.retired_in, Some(year), "{code_} {}", r.name);
        }
        assert!(regions.iter().filter(|r| !r.is_active()).count() > 300);
    }

    #[test]
    fn a_county_level_city_under_its_province_sits_under_the_province() {
        // Given 仙桃市, administered directly by 湖北省 (prefecture digits 90)
        let regions = Regions::shipped();
        // Then its parent is the province
        assert_eq!(regions.parent(code("429004")), Some(code("420000")));
        assert_eq!(regions.ancestry(code("469001")), [code("469001"), code("460000"), RegionCode::NATIONAL]);
    }

    #[test]
    fn a_county_level_city_under_a_province_and_a_city_of_another_province_go_to_the_nation() {
        // Given 仙桃市 (湖北) and 南宁市 (广西) When a dispute between them is routed
        // Then the national authority coordinates
        assert_eq!(coordinator("429004", "450100"), "000000");
    }

    #[test]
    fn a_county_level_city_under_a_province_and_a_city_of_its_province_go_to_the_province() {
        assert_eq!(coordinator("429004", "420100"), "420000", "仙桃市 and 武汉市");
        assert_eq!(coordinator("429004", "429006"), "420000", "仙桃市 and 天门市");
        assert_eq!(coordinator("429004", "420102"), "420000", "仙桃市 and 江岸区");
        assert_eq!(coordinator("419001", "410100"), "410000", "济源市 and 郑州市");
    }

    #[test]
    fn two_counties_of_different_provinces_go_to_the_nation() {
        assert_eq!(coordinator("510182", "659001"), "000000", "彭州市 and 石河子市");
        assert_eq!(coordinator("130521", "440106"), "000000", "a retired county still routes");
    }

    #[test]
    fn a_district_and_its_own_city_go_to_the_city() {
        assert_eq!(coordinator("440106", "440100"), "440100", "天河区 and 广州市");
        assert_eq!(coordinator("500229", "500101"), "500000", "城口县 and 万州区 under 重庆市");
    }

    #[test]
    fn a_malformed_table_is_refused() {
        assert!(Regions::parse("code,name,status,retired_in\n440000,广东省,active,\n").is_err(), "no version");
        assert!(Regions::parse("# version: 1\n440000,广东省,gone,\n").is_err());
        assert!(Regions::parse("# version: 1\n440000,广东省,active,\n440000,广东省,active,\n").is_err());
    }
}
