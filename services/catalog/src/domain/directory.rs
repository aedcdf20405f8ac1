//! Organisations, their roles, and who coordinates a dispute between two of them.

use govshare_runtime::{
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

impl Organisation {
    /// Is this the sharing authority of exactly `other`'s region (its same-level authority)?
    pub fn is_same_level_authority_of(&self, other: &Organisation) -> bool {
        self.kind == OrgKind::Authority && self.region == other.region && self.id != other.id
    }
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
///
/// The platform bootstraps the directory (authorities with their people, departments with
/// none): who acts for a department is for the department and its same-level authority to
/// say, never for the operators (issue 12).
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
    if matches!(actor, Actor::Platform) && cmd.kind == OrgKind::Department && cmd.roles != Roles::default() {
        return Err(CatalogError::PlatformSetsNoRoles);
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

/// An organisation manages its own roles, and its same-level authority (the one registered at
/// exactly its region) may too; an authority further up may not, nor may the platform: the
/// roles say who signs off for the organisation (Arts 13, 20).
pub fn decide_set_roles(actor: &Actor, org: &Organisation, roles: Roles) -> Result<RolesChanged, CatalogError> {
    match actor {
        Actor::Platform => Err(CatalogError::PlatformSetsNoRoles),
        Actor::Known(a) if a.id == org.id || a.is_same_level_authority_of(org) => {
            Ok(RolesChanged { org_id: org.id.clone(), roles, changed_by: a.id.clone() })
        }
        _ => Err(CatalogError::RolesNotAllowed),
    }
}

/// Art. 28: the region whose authority coordinates a dispute between two organisations.
pub fn coordinating_region(a: &Organisation, b: &Organisation, regions: &Regions) -> RegionCode {
    regions.coordinator(a.region, b.region).unwrap_or(RegionCode::NATIONAL)
}

/// An organisation with no people, for the domain tests.
#[cfg(test)]
pub(crate) fn org(id: &str, kind: OrgKind, region: &str) -> Organisation {
    Organisation {
        id: id.into(),
        name: id.into(),
        kind,
        region: RegionCode::parse(region).unwrap(),
        roles: Roles::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn people() -> Roles {
        Roles { head: vec!["wang".into()], administrators: vec!["li".into()], ..Roles::default() }
    }

    fn with_people(mut cmd: RegisterOrganisation) -> RegisterOrganisation {
        cmd.roles = people();
        cmd
    }

    #[test]
    fn the_platform_cannot_register_a_department_with_people_in_its_roles() {
        let regions = Regions::shipped();
        let cmd = with_people(register("gd-ga", OrgKind::Department, "440000"));
        assert_eq!(
            decide_register(&Actor::Platform, None, None, &regions, cmd),
            Err(CatalogError::PlatformSetsNoRoles)
        );
    }

    #[test]
    fn the_platform_bootstraps_an_authority_with_its_people() {
        let regions = Regions::shipped();
        let cmd = with_people(register("gd-auth", OrgKind::Authority, "440000"));
        let registered = decide_register(&Actor::Platform, None, None, &regions, cmd).unwrap();
        assert_eq!(registered.roles, people());
    }

    #[test]
    fn an_authority_registers_a_department_of_its_region_with_its_people() {
        let regions = Regions::shipped();
        let gd = Actor::Known(org("gd-auth", OrgKind::Authority, "440000"));
        let cmd = with_people(register("gz-ga", OrgKind::Department, "440100"));
        assert_eq!(decide_register(&gd, None, None, &regions, cmd).unwrap().roles, people());
    }

    #[test]
    fn the_platform_cannot_set_a_departments_roles() {
        let d = org("gz-ga", OrgKind::Department, "440100");
        assert_eq!(decide_set_roles(&Actor::Platform, &d, people()), Err(CatalogError::PlatformSetsNoRoles));
    }

    #[test]
    fn an_authority_above_the_departments_region_cannot_set_its_roles() {
        let d = org("gz-ga", OrgKind::Department, "440100");
        let province = Actor::Known(org("gd-auth", OrgKind::Authority, "440000"));
        assert_eq!(decide_set_roles(&province, &d, people()), Err(CatalogError::RolesNotAllowed));
    }

    #[test]
    fn the_same_level_authority_sets_a_departments_roles_and_is_named_as_the_changer() {
        let d = org("gz-ga", OrgKind::Department, "440100");
        let city = Actor::Known(org("gz-auth", OrgKind::Authority, "440100"));
        let changed = decide_set_roles(&city, &d, people()).unwrap();
        assert_eq!((changed.org_id.as_str(), changed.changed_by.as_str()), ("gz-ga", "gz-auth"));
        assert_eq!(changed.roles, people());
    }

    #[test]
    fn an_organisation_sets_its_own_roles() {
        let d = org("gz-ga", OrgKind::Department, "440100");
        let changed = decide_set_roles(&Actor::Known(d.clone()), &d, people()).unwrap();
        assert_eq!(changed.changed_by, "gz-ga");
    }

    #[test]
    fn another_department_of_the_same_region_cannot_set_a_departments_roles() {
        let d = org("gz-ga", OrgKind::Department, "440100");
        let other = Actor::Known(org("gz-ws", OrgKind::Department, "440100"));
        assert_eq!(decide_set_roles(&other, &d, people()), Err(CatalogError::RolesNotAllowed));
        let stranger = Actor::Unknown("nobody".into());
        assert_eq!(decide_set_roles(&stranger, &d, people()), Err(CatalogError::RolesNotAllowed));
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
