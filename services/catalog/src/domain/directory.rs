//! Organisations, their roles, and who coordinates a dispute between two of them.

use govshare_shared::{
    bus::PLATFORM_ORG,
    events::{
        OrgKind,
        catalog::{OrganisationRegistered, Roles, RolesChanged},
    },
};
use serde::{Deserialize, Serialize};

use super::{CatalogError, RegionCode, Regions};

/// An organisation as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub region: RegionCode,
    pub roles: Roles,
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

    /// The id as the events record it.
    pub fn id(&self) -> String {
        match self {
            Actor::Platform => PLATFORM_ORG.to_owned(),
            Actor::Known(o) => o.id.clone(),
            Actor::Unknown(id) => id.clone(),
        }
    }

    /// Is this the sharing authority of `region` or of a region above it?
    pub fn is_authority_over(&self, region: RegionCode, regions: &Regions) -> bool {
        match self {
            Actor::Known(o) if o.kind == OrgKind::Authority => regions.ancestry(region).contains(&o.region),
            _ => false,
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
    pub roles: Roles,
}

/// The platform registers anyone; an authority registers organisations in its own region
/// or below. A region with a government has exactly one sharing authority.
pub fn decide_register(
    actor: &Actor,
    existing: Option<&Organisation>,
    authority_of_region: Option<&str>,
    regions: &Regions,
    cmd: RegisterOrganisation,
) -> Result<OrganisationRegistered, CatalogError> {
    if !(matches!(actor, Actor::Platform) || actor.is_authority_over(cmd.region, regions)) {
        return Err(CatalogError::RegistrarNotAllowed);
    }
    if existing.is_some() {
        return Err(CatalogError::AlreadyRegistered(cmd.id));
    }
    if let (OrgKind::Authority, Some(other)) = (cmd.kind, authority_of_region) {
        return Err(CatalogError::AuthorityExists { region: cmd.region.to_string(), existing: other.to_owned() });
    }
    Ok(OrganisationRegistered {
        org_id: cmd.id,
        name: cmd.name,
        kind: cmd.kind,
        region: cmd.region.to_string(),
        roles: cmd.roles,
    })
}

/// An organisation manages its own roles; its region's authority and the platform may too.
pub fn decide_set_roles(
    actor: &Actor,
    org: &Organisation,
    roles: Roles,
    regions: &Regions,
) -> Result<RolesChanged, CatalogError> {
    let allowed = match actor {
        Actor::Platform => true,
        Actor::Known(a) if a.id == org.id => true,
        a => a.is_authority_over(org.region, regions),
    };
    if !allowed {
        return Err(CatalogError::RolesNotAllowed);
    }
    Ok(RolesChanged { org_id: org.id.clone(), roles })
}

/// Art. 28: the region whose authority coordinates a dispute between two organisations.
pub fn coordinating_region(a: &Organisation, b: &Organisation, regions: &Regions) -> RegionCode {
    regions.coordinator(a.region, b.region).unwrap_or(RegionCode::NATIONAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str, kind: OrgKind, region: &str) -> Organisation {
        Organisation {
            id: id.into(),
            name: id.into(),
            kind,
            region: RegionCode::parse(region).unwrap(),
            roles: Roles::default(),
        }
    }

    fn register(id: &str, kind: OrgKind, region: &str) -> RegisterOrganisation {
        RegisterOrganisation {
            id: id.into(),
            name: id.into(),
            kind,
            region: RegionCode::parse(region).unwrap(),
            roles: Roles::default(),
        }
    }

    #[test]
    fn the_platform_registers_anyone_and_an_authority_only_within_its_region() {
        let regions = Regions::shipped();
        let gd = Actor::Known(org("gd-auth", OrgKind::Authority, "440000"));
        assert!(
            decide_register(&Actor::Platform, None, None, &regions, register("d", OrgKind::Department, "330000"))
                .is_ok()
        );
        assert!(decide_register(&gd, None, None, &regions, register("d", OrgKind::Department, "440106")).is_ok());
        assert_eq!(
            decide_register(&gd, None, None, &regions, register("d", OrgKind::Department, "330100")),
            Err(CatalogError::RegistrarNotAllowed)
        );
        let dept = Actor::Known(org("d0", OrgKind::Department, "440000"));
        assert_eq!(
            decide_register(&dept, None, None, &regions, register("d", OrgKind::Department, "440000")),
            Err(CatalogError::RegistrarNotAllowed)
        );
    }

    #[test]
    fn a_region_has_exactly_one_authority() {
        let regions = Regions::shipped();
        let second = register("gz-auth-2", OrgKind::Authority, "440100");
        assert_eq!(
            decide_register(&Actor::Platform, None, Some("gz-auth"), &regions, second),
            Err(CatalogError::AuthorityExists { region: "440100".into(), existing: "gz-auth".into() })
        );
        let dept = register("gz-dept", OrgKind::Department, "440100");
        assert!(decide_register(&Actor::Platform, None, Some("gz-auth"), &regions, dept).is_ok());
    }

    #[test]
    fn an_organisation_is_registered_once() {
        let regions = Regions::shipped();
        let existing = org("d1", OrgKind::Department, "440000");
        assert_eq!(
            decide_register(
                &Actor::Platform,
                Some(&existing),
                None,
                &regions,
                register("d1", OrgKind::Department, "440000")
            ),
            Err(CatalogError::AlreadyRegistered("d1".into()))
        );
    }

    #[test]
    fn roles_are_set_by_the_organisation_its_authority_or_the_platform() {
        let regions = Regions::shipped();
        let d = org("gz-ga", OrgKind::Department, "440100");
        let roles = Roles { head: vec!["wang".into()], ..Roles::default() };
        assert!(decide_set_roles(&Actor::Known(d.clone()), &d, roles.clone(), &regions).is_ok());
        assert!(
            decide_set_roles(&Actor::Known(org("gd", OrgKind::Authority, "440000")), &d, roles.clone(), &regions)
                .is_ok()
        );
        assert_eq!(
            decide_set_roles(&Actor::Known(org("x", OrgKind::Department, "440100")), &d, roles, &regions),
            Err(CatalogError::RolesNotAllowed)
        );
    }

    #[test]
    fn two_departments_of_one_city_are_coordinated_by_that_city() {
        let regions = Regions::shipped();
        let a = org("a", OrgKind::Department, "440100");
        let b = org("b", OrgKind::Department, "440100");
        assert_eq!(coordinating_region(&a, &b, &regions).to_string(), "440100");
        let c = org("c", OrgKind::Department, "330100");
        assert_eq!(coordinating_region(&a, &c, &regions).to_string(), "000000");
    }
}

/// Art. 19: an authority names the source department of a data item collected by several
/// departments in its region (the department must be in that region or below it).
pub fn decide_designate(
    actor: &Actor,
    region: RegionCode,
    department: &Organisation,
    regions: &Regions,
) -> Result<(), CatalogError> {
    match actor {
        Actor::Known(a) if a.kind == OrgKind::Authority && a.region == region => {}
        _ => return Err(CatalogError::NotTheReviewer(region.to_string())),
    }
    if department.kind != OrgKind::Department {
        return Err(CatalogError::ProviderNotDepartment(department.id.clone()));
    }
    if !regions.ancestry(department.region).contains(&region) {
        return Err(CatalogError::OutsideRegion { org: department.id.clone(), region: region.to_string() });
    }
    Ok(())
}

#[cfg(test)]
mod designate_tests {
    use super::*;

    fn org(id: &str, kind: OrgKind, region: &str) -> Organisation {
        Organisation {
            id: id.into(),
            name: id.into(),
            kind,
            region: RegionCode::parse(region).unwrap(),
            roles: Roles::default(),
        }
    }

    #[test]
    fn the_authority_names_a_source_department_within_its_region() {
        let regions = Regions::shipped();
        let gz = RegionCode::parse("440100").unwrap();
        let auth = Actor::Known(org("gz-auth", OrgKind::Authority, "440100"));
        assert!(decide_designate(&auth, gz, &org("gz-ga", OrgKind::Department, "440106"), &regions).is_ok());
        assert_eq!(
            decide_designate(&auth, gz, &org("sz-ga", OrgKind::Department, "440300"), &regions),
            Err(CatalogError::OutsideRegion { org: "sz-ga".into(), region: "440100".into() })
        );
        let dept = Actor::Known(org("gz-ga", OrgKind::Department, "440100"));
        assert!(decide_designate(&dept, gz, &org("gz-ws", OrgKind::Department, "440100"), &regions).is_err());
    }
}
