//! Pure catalog rules: no I/O, no clock. `decide_*` turns a command and the current state
//! into the event to record, or the reason it is refused.

use chrono::{DateTime, Utc};
use govshare_shared::{
    ApiError, ErrorCode,
    bus::PLATFORM_ORG,
    events::{
        OrgKind, ShareType,
        catalog::{EntryPublished, OrganisationRegistered},
    },
    reply::Text,
};

/// A six-digit GB/T 2260 region code: digits 1-2 province, 3-4 city, 5-6 county;
/// `000000` stands for the national level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode(u32);

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
}

impl std::fmt::Display for RegionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// An organisation as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub region: RegionCode,
    pub administrators: Vec<String>,
}

/// Who is acting: the organisation in the call subject, as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The platform operators (bootstrap of the directory).
    Platform,
    Known(Organisation),
    Unknown(String),
}

impl Actor {
    pub fn resolve(org_id: &str, known: Option<Organisation>) -> Self {
        match known {
            _ if org_id == PLATFORM_ORG => Actor::Platform,
            Some(org) => Actor::Known(org),
            None => Actor::Unknown(org_id.to_owned()),
        }
    }
}

/// Register an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOrganisation {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub region: RegionCode,
    pub administrators: Vec<String>,
}

/// Publish a minimal catalog entry. (The backbone's path; review by the authority comes
/// with the full lifecycle.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishEntry {
    pub name: String,
    pub provider: String,
    pub share_type: ShareType,
}

/// Why the catalog refuses a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("only the platform or a sharing authority may register organisations")]
    RegistrarNotAllowed,
    #[error("organisation {0} is already registered")]
    AlreadyRegistered(String),
    #[error("provider {0} is not a registered organisation")]
    UnknownProvider(String),
    #[error("provider {0} is not a department")]
    ProviderNotDepartment(String),
    #[error("only the provider itself may publish its entries")]
    NotTheProvider,
}

impl From<CatalogError> for ApiError {
    fn from(err: CatalogError) -> Self {
        let en = err.to_string();
        match &err {
            CatalogError::RegistrarNotAllowed => {
                ApiError::with_text(ErrorCode::Forbidden, "只有平台或共享主管部门可以登记组织", en)
            }
            CatalogError::AlreadyRegistered(id) => {
                ApiError::with_text(ErrorCode::Conflict, format!("组织 {id} 已登记"), en)
            }
            CatalogError::UnknownProvider(id) => {
                ApiError::with_text(ErrorCode::NotFound, format!("提供部门 {id} 未登记"), en)
            }
            CatalogError::ProviderNotDepartment(id) => {
                ApiError::with_text(ErrorCode::NotAllowed, format!("{id} 不是政府部门，不能提供目录"), en)
            }
            CatalogError::NotTheProvider => {
                ApiError::with_text(ErrorCode::Forbidden, "只有提供部门本身可以发布其目录", en)
            }
        }
    }
}

pub fn decide_register(
    actor: &Actor,
    existing: Option<&Organisation>,
    cmd: RegisterOrganisation,
) -> Result<OrganisationRegistered, CatalogError> {
    match actor {
        Actor::Platform => {}
        Actor::Known(org) if org.kind == OrgKind::Authority => {}
        _ => return Err(CatalogError::RegistrarNotAllowed),
    }
    if existing.is_some() {
        return Err(CatalogError::AlreadyRegistered(cmd.id));
    }
    Ok(OrganisationRegistered {
        org_id: cmd.id,
        name: cmd.name,
        kind: cmd.kind,
        region: cmd.region.to_string(),
        administrators: cmd.administrators,
    })
}

pub fn decide_publish(
    actor: &Actor,
    provider: Option<&Organisation>,
    cmd: PublishEntry,
    entry_id: String,
    now: DateTime<Utc>,
) -> Result<EntryPublished, CatalogError> {
    let provider = provider.ok_or_else(|| CatalogError::UnknownProvider(cmd.provider.clone()))?;
    if provider.kind != OrgKind::Department {
        return Err(CatalogError::ProviderNotDepartment(provider.id.clone()));
    }
    match actor {
        Actor::Known(org) if org.id == provider.id => {}
        _ => return Err(CatalogError::NotTheProvider),
    }
    Ok(EntryPublished {
        entry_id,
        version: 1,
        name: cmd.name,
        provider: provider.id.clone(),
        share_type: cmd.share_type,
        published_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(id: &str) -> Organisation {
        Organisation {
            id: id.into(),
            name: "公安厅".into(),
            kind: OrgKind::Department,
            region: RegionCode::parse("440000").unwrap(),
            administrators: vec!["alice".into()],
        }
    }

    fn authority(id: &str) -> Organisation {
        Organisation { kind: OrgKind::Authority, ..dept(id) }
    }

    fn register(id: &str) -> RegisterOrganisation {
        RegisterOrganisation {
            id: id.into(),
            name: "卫健委".into(),
            kind: OrgKind::Department,
            region: RegionCode::parse("440100").unwrap(),
            administrators: vec![],
        }
    }

    fn publish(provider: &str) -> PublishEntry {
        PublishEntry {
            name: "出生医学证明".into(), provider: provider.into(), share_type: ShareType::Conditional
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T02:00:00Z".parse().unwrap()
    }

    #[test]
    fn region_codes_have_six_digits_and_a_level() {
        assert_eq!(RegionCode::parse("000000").unwrap().level(), Level::National);
        assert_eq!(RegionCode::parse("440000").unwrap().level(), Level::Province);
        assert_eq!(RegionCode::parse("440100").unwrap().level(), Level::City);
        assert_eq!(RegionCode::parse("440106").unwrap().level(), Level::County);
        assert!(RegionCode::parse("44010").is_err());
        assert!(RegionCode::parse("44010a").is_err());
        assert!(RegionCode::parse("990000").is_err());
        assert_eq!(RegionCode::parse("110105").unwrap().to_string(), "110105");
    }

    #[test]
    fn the_platform_and_authorities_register_organisations_and_departments_do_not() {
        assert!(decide_register(&Actor::Platform, None, register("d1")).is_ok());
        assert!(decide_register(&Actor::Known(authority("a1")), None, register("d1")).is_ok());
        assert_eq!(
            decide_register(&Actor::Known(dept("d0")), None, register("d1")),
            Err(CatalogError::RegistrarNotAllowed)
        );
        assert_eq!(
            decide_register(&Actor::Unknown("x".into()), None, register("d1")),
            Err(CatalogError::RegistrarNotAllowed)
        );
    }

    #[test]
    fn an_organisation_is_registered_once() {
        let existing = dept("d1");
        assert_eq!(
            decide_register(&Actor::Platform, Some(&existing), register("d1")),
            Err(CatalogError::AlreadyRegistered("d1".into()))
        );
    }

    #[test]
    fn a_department_publishes_its_own_entry_as_version_one() {
        let p = dept("d1");
        let event = decide_publish(&Actor::Known(p.clone()), Some(&p), publish("d1"), "e1".into(), now()).unwrap();
        assert_eq!(event.version, 1);
        assert_eq!(event.provider, "d1");
        assert_eq!(event.share_type, ShareType::Conditional);
        assert_eq!(event.published_at, now());
    }

    #[test]
    fn nobody_publishes_for_another_department_or_an_unknown_one() {
        let p = dept("d1");
        assert_eq!(
            decide_publish(&Actor::Known(dept("d2")), Some(&p), publish("d1"), "e1".into(), now()),
            Err(CatalogError::NotTheProvider)
        );
        assert_eq!(
            decide_publish(&Actor::Platform, None, publish("zz"), "e1".into(), now()),
            Err(CatalogError::UnknownProvider("zz".into()))
        );
        let a = authority("a1");
        assert_eq!(
            decide_publish(&Actor::Known(a.clone()), Some(&a), publish("a1"), "e1".into(), now()),
            Err(CatalogError::ProviderNotDepartment("a1".into()))
        );
    }
}
