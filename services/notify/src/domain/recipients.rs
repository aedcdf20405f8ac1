//! Who hears of an event. Pure: the handler loads the organisations concerned from the
//! directory copy and asks here. Duty events ([`super::DutyNotice`]):
//!
//! | event | recipients |
//! |---|---|
//! | reminded, breached | the holder's administrators and sharing office (head first) |
//! | escalated: sharing office | the holder's sharing-office head and sharing office |
//! | escalated: department head | the holder's head |
//! | escalated: same-level authority | the administrators of the authority at the holder's region |
//! | escalated: superior authority | the administrators of the nearest authority above it |
//! | unschedulable | the platform operators' inbox, and the holder's administrators |
//! | digest | the holder's administrators |
//!
//! Requests events ([`super::RequestNotice`]) reach a party's administrators, or its
//! administrators and sharing office ([`administrators_and_sharing_office`]), and the
//! authority an event names; the table is on [`super::RequestNotice::recipients`].
//!
//! Nothing goes unheard: an empty list falls back to the holder's administrators, and with
//! none of those to the holder's own inbox (the recipient is the organisation's id).

use govshare_runtime::{
    bus::PLATFORM_ORG,
    duty::EscalationStep,
    events::{OrgKind, catalog::Roles},
    region::RegionCode,
};

/// An organisation as notify's directory copy knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: String,
    pub name: String,
    /// Kind and region; `None` for an organisation recorded before notify kept them (it then
    /// knew administrators only). Such a holder still hears of everything, but an escalation
    /// to an authority cannot find one and falls back.
    pub place: Option<Place>,
    pub roles: Roles,
}

/// Where an organisation sits in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub kind: OrgKind,
    pub region: RegionCode,
}

impl Org {
    fn is_authority_at(&self, region: RegionCode) -> bool {
        self.place == Some(Place { kind: OrgKind::Authority, region })
    }
}

/// One inbox a notification goes to: an account, in the inbox of the organisation it acts for
/// (the one that reads it with `list_inbox`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Recipient {
    pub org: String,
    pub account: String,
}

impl Recipient {
    pub fn new(org: &str, account: &str) -> Self {
        Self { org: org.to_owned(), account: account.to_owned() }
    }
}

/// The regions whose authorities an escalation at `step` may reach, nearest first: the
/// holder's own for the same-level authority, every one above it for the superior
/// authority, none for the steps inside the holder. The handler loads the authorities
/// registered at these and passes them to [`escalated`].
pub fn authority_regions(step: EscalationStep, holder: &Org) -> Vec<RegionCode> {
    let Some(place) = holder.place else { return Vec::new() };
    match step {
        EscalationStep::SharingOffice | EscalationStep::DepartmentHead => Vec::new(),
        EscalationStep::SameLevelAuthority => vec![place.region],
        EscalationStep::SuperiorAuthority => place.region.ancestors().collect(),
    }
}

/// A reminder or a breach: the holder's administrators and its sharing office.
pub fn reminded_or_breached(holder: &Org) -> Vec<Recipient> {
    administrators_and_sharing_office(holder)
}

/// An organisation's administrators, then its sharing-office head and sharing office: who
/// must act on what happens to it (or its own inbox, with nobody on record).
pub fn administrators_and_sharing_office(org: &Org) -> Vec<Recipient> {
    let r = &org.roles;
    or_fallback(org, accounts(org, &[&r.administrators, &r.sharing_office_head, &r.sharing_office]))
}

/// An organisation's administrators (or its own inbox, with none on record).
pub fn administrators(org: &Org) -> Vec<Recipient> {
    or_fallback(org, Vec::new())
}

/// Several lists as one, in order, each recipient once.
pub fn each_once(lists: impl IntoIterator<Item = Vec<Recipient>>) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = Vec::new();
    for r in lists.into_iter().flatten() {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// An escalation: the people at `step` of the ladder. `authorities` are the authorities the
/// directory has at [`authority_regions`] (any others are ignored).
pub fn escalated(step: EscalationStep, holder: &Org, authorities: &[Org]) -> Vec<Recipient> {
    let r = &holder.roles;
    let found =
        match step {
            EscalationStep::SharingOffice => accounts(holder, &[&r.sharing_office_head, &r.sharing_office]),
            EscalationStep::DepartmentHead => accounts(holder, &[&r.head]),
            EscalationStep::SameLevelAuthority => same_level_authority(holder, authorities)
                .map_or_else(Vec::new, |a| accounts(a, &[&a.roles.administrators])),
            EscalationStep::SuperiorAuthority => superior_authority(holder, authorities)
                .map_or_else(Vec::new, |a| accounts(a, &[&a.roles.administrators])),
        };
    or_fallback(holder, found)
}

/// A duty whose term cannot be counted: the platform operators, who must add the missing
/// calendar year, and the holder's administrators, whose clock waits meanwhile.
pub fn unschedulable(holder: &Org) -> Vec<Recipient> {
    let mut out = vec![Recipient::new(PLATFORM_ORG, PLATFORM_ORG)];
    for r in or_fallback(holder, Vec::new()) {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// A digest of overdue duties: the holder's administrators, one notification each.
pub fn digest(holder: &Org) -> Vec<Recipient> {
    or_fallback(holder, Vec::new())
}

/// The authority at the holder's own level: the holder itself if it is one.
fn same_level_authority<'a>(holder: &'a Org, authorities: &'a [Org]) -> Option<&'a Org> {
    let place = holder.place?;
    if place.kind == OrgKind::Authority {
        return Some(holder);
    }
    authorities.iter().find(|a| a.is_authority_at(place.region))
}

/// The authority at the nearest region strictly above the holder's that has one (levels
/// without a registered authority are skipped: districts of Beijing sit under 110000).
fn superior_authority<'a>(holder: &Org, authorities: &'a [Org]) -> Option<&'a Org> {
    let place = holder.place?;
    place.region.ancestors().find_map(|region| authorities.iter().find(|a| a.is_authority_at(region)))
}

/// The accounts in `lists`, in order, each once, acting for `org`.
fn accounts(org: &Org, lists: &[&[String]]) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = Vec::new();
    for account in lists.iter().copied().flatten() {
        let r = Recipient::new(&org.id, account);
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// `found`, or else the holder's administrators, or else the holder's own inbox.
fn or_fallback(holder: &Org, found: Vec<Recipient>) -> Vec<Recipient> {
    if !found.is_empty() {
        return found;
    }
    let admins = accounts(holder, &[&holder.roles.administrators]);
    if !admins.is_empty() {
        return admins;
    }
    vec![Recipient::new(&holder.id, &holder.id)]
}

/// Bounds one event's fan-out (issue 13 item 6): an organisation with more than `max`
/// recipients of one event gets a single notification addressed to the organisation itself
/// (the recipient is its id, as when it has nobody), counting the recipients it stands for,
/// instead of one per person: ten thousand administrators must not make ten thousand rows,
/// events and emails in one transaction. Organisations at or under `max` keep one each.
/// Order is kept; each organisation's stand-in takes the place of its first recipient.
pub fn bounded(recipients: Vec<Recipient>, max: usize) -> Vec<(Recipient, Option<usize>)> {
    let mut per_org = std::collections::HashMap::<&str, usize>::new();
    for r in &recipients {
        *per_org.entry(r.org.as_str()).or_default() += 1;
    }
    let over: std::collections::HashMap<String, usize> =
        per_org.into_iter().filter(|(_, n)| *n > max).map(|(o, n)| (o.to_owned(), n)).collect();
    let mut done = std::collections::HashSet::new();
    let mut out = Vec::new();
    for r in recipients {
        match over.get(&r.org) {
            None => out.push((r, None)),
            Some(&n) if done.insert(r.org.clone()) => out.push((Recipient::new(&r.org, &r.org), Some(n))),
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_organisation_with_more_recipients_than_the_bound_gets_one_notification_counting_them() {
        let mut many: Vec<Recipient> = (0..10_000).map(|i| Recipient::new("big", &format!("admin{i}"))).collect();
        many.insert(0, Recipient::new("small", "a"));
        many.push(Recipient::new("small", "b"));
        let out = bounded(many, 1_000);
        assert_eq!(
            out,
            [
                (Recipient::new("small", "a"), None),
                (Recipient::new("big", "big"), Some(10_000)),
                (Recipient::new("small", "b"), None)
            ]
        );
        let exact: Vec<Recipient> = (0..3).map(|i| Recipient::new("o", &format!("p{i}"))).collect();
        assert_eq!(bounded(exact.clone(), 3).into_iter().map(|(r, _)| r).collect::<Vec<_>>(), exact);
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn org(id: &str, kind: OrgKind, region: &str) -> Org {
        Org {
            id: id.into(),
            name: id.into(),
            place: Some(Place { kind, region: RegionCode::parse(region).unwrap() }),
            roles: Roles::default(),
        }
    }

    fn department(id: &str, region: &str) -> Org {
        org(id, OrgKind::Department, region)
    }

    fn authority(id: &str, region: &str, admins: &[&str]) -> Org {
        org(id, OrgKind::Authority, region).with_admins(admins)
    }

    impl Org {
        fn with_admins(mut self, a: &[&str]) -> Self {
            self.roles.administrators = names(a);
            self
        }
        fn with_head(mut self, a: &[&str]) -> Self {
            self.roles.head = names(a);
            self
        }
        fn with_office(mut self, head: &[&str], staff: &[&str]) -> Self {
            self.roles.sharing_office_head = names(head);
            self.roles.sharing_office = names(staff);
            self
        }
    }

    /// Guangdong's authority, Guangzhou's, and the national one (no county authority).
    fn authorities() -> Vec<Org> {
        vec![
            authority("nat-auth", "000000", &["nina"]),
            authority("gd-auth", "440000", &["dora"]),
            authority("gz-auth", "440100", &["gina"]),
        ]
    }

    /// Who hears, as `org/account`.
    fn heard(list: Vec<Recipient>) -> Vec<String> {
        list.into_iter().map(|r| format!("{}/{}", r.org, r.account)).collect()
    }

    fn escalation(step: EscalationStep, holder: &Org) -> Vec<String> {
        // The handler passes what the directory has at the regions asked for.
        let wanted = authority_regions(step, holder);
        let known: Vec<Org> =
            authorities().into_iter().filter(|a| a.place.is_some_and(|p| wanted.contains(&p.region))).collect();
        heard(escalated(step, holder, &known))
    }

    #[test]
    fn a_reminder_reaches_the_administrators_and_the_sharing_office_each_once() {
        let holder = department("gz-ga", "440100").with_admins(&["alice", "lin"]).with_office(&["lin"], &["mo"]);
        assert_eq!(heard(reminded_or_breached(&holder)), ["gz-ga/alice", "gz-ga/lin", "gz-ga/mo"]);
    }

    #[test]
    fn lists_joined_keep_their_order_and_each_recipient_once() {
        let requester = department("weijian", "440000").with_admins(&["carol"]).with_office(&["zhao"], &[]);
        let provider = department("gongan", "440000").with_admins(&["alice", "bob"]);
        let joined = each_once([
            administrators_and_sharing_office(&requester),
            administrators(&provider),
            administrators(&requester),
        ]);
        assert_eq!(heard(joined), ["weijian/carol", "weijian/zhao", "gongan/alice", "gongan/bob"]);
    }

    #[test]
    fn a_holder_with_nobody_on_record_hears_in_its_own_inbox() {
        let holder = department("gz-ga", "440100");
        assert_eq!(heard(reminded_or_breached(&holder)), ["gz-ga/gz-ga"]);
        assert_eq!(heard(digest(&holder)), ["gz-ga/gz-ga"]);
    }

    #[test]
    fn the_first_rungs_reach_the_sharing_office_then_the_head() {
        let holder =
            department("gz-ga", "440100").with_admins(&["alice"]).with_office(&["lin"], &["mo"]).with_head(&["wang"]);
        assert_eq!(escalation(EscalationStep::SharingOffice, &holder), ["gz-ga/lin", "gz-ga/mo"]);
        assert_eq!(escalation(EscalationStep::DepartmentHead, &holder), ["gz-ga/wang"]);
    }

    #[test]
    fn a_rung_with_nobody_in_the_role_falls_back_to_the_administrators() {
        let holder = department("gz-ga", "440100").with_admins(&["alice"]);
        assert_eq!(escalation(EscalationStep::SharingOffice, &holder), ["gz-ga/alice"]);
        assert_eq!(escalation(EscalationStep::DepartmentHead, &holder), ["gz-ga/alice"]);
    }

    #[test]
    fn the_same_level_authority_of_a_city_department_is_the_citys() {
        let holder = department("gz-ga", "440100").with_admins(&["alice"]);
        assert_eq!(escalation(EscalationStep::SameLevelAuthority, &holder), ["gz-auth/gina"]);
    }

    #[test]
    fn the_superior_authority_of_a_city_department_is_the_provinces() {
        let holder = department("gz-ga", "440100").with_admins(&["alice"]);
        assert_eq!(escalation(EscalationStep::SuperiorAuthority, &holder), ["gd-auth/dora"]);
    }

    #[test]
    fn a_county_department_climbs_past_levels_without_an_authority() {
        // Given a Beijing district department: no 110105 or 110100 authority, Beijing's is registered
        let holder = department("hd-ga", "110105").with_admins(&["alice"]);
        let known = vec![authority("bj-auth", "110000", &["bei"]), authority("nat-auth", "000000", &["nina"])];
        // Then its same level falls back, and its superior is Beijing's
        assert_eq!(heard(escalated(EscalationStep::SameLevelAuthority, &holder, &known)), ["hd-ga/alice"]);
        assert_eq!(heard(escalated(EscalationStep::SuperiorAuthority, &holder, &known)), ["bj-auth/bei"]);
    }

    #[test]
    fn an_authority_is_its_own_same_level_and_the_next_one_up_its_superior() {
        let holder = authority("gz-auth", "440100", &["gina"]);
        assert_eq!(escalation(EscalationStep::SameLevelAuthority, &holder), ["gz-auth/gina"]);
        assert_eq!(escalation(EscalationStep::SuperiorAuthority, &holder), ["gd-auth/dora"]);
    }

    #[test]
    fn a_provincial_authority_escalates_to_the_national_one() {
        let holder = authority("gd-auth", "440000", &["dora"]);
        assert_eq!(escalation(EscalationStep::SuperiorAuthority, &holder), ["nat-auth/nina"]);
    }

    #[test]
    fn with_no_authority_above_the_escalation_stays_with_the_holder() {
        let holder = authority("nat-auth", "000000", &["nina"]);
        assert_eq!(escalation(EscalationStep::SuperiorAuthority, &holder), ["nat-auth/nina"]);
        let holder = department("zj-ga", "330100");
        assert_eq!(heard(escalated(EscalationStep::SuperiorAuthority, &holder, &[])), ["zj-ga/zj-ga"]);
    }

    #[test]
    fn a_department_in_a_province_without_authorities_reaches_the_national_one() {
        let holder = department("zj-ga", "330100").with_admins(&["zoe"]);
        assert_eq!(escalation(EscalationStep::SuperiorAuthority, &holder), ["nat-auth/nina"]);
    }

    #[test]
    fn an_authority_without_administrators_falls_back_to_the_holders() {
        let holder = department("gz-ga", "440100").with_admins(&["alice"]);
        let known = vec![authority("gd-auth", "440000", &[])];
        assert_eq!(heard(escalated(EscalationStep::SuperiorAuthority, &holder, &known)), ["gz-ga/alice"]);
    }

    #[test]
    fn a_holder_recorded_without_its_place_escalates_to_its_administrators() {
        let mut holder = department("gz-ga", "440100").with_admins(&["alice"]);
        holder.place = None;
        assert!(authority_regions(EscalationStep::SuperiorAuthority, &holder).is_empty());
        assert_eq!(heard(escalated(EscalationStep::SuperiorAuthority, &holder, &authorities())), ["gz-ga/alice"]);
    }

    #[test]
    fn only_the_authority_steps_ask_for_authorities() {
        let holder = department("gz-ws", "440106");
        let regions = |step| authority_regions(step, &holder).into_iter().map(|r| r.to_string()).collect::<Vec<_>>();
        assert!(regions(EscalationStep::SharingOffice).is_empty());
        assert!(regions(EscalationStep::DepartmentHead).is_empty());
        assert_eq!(regions(EscalationStep::SameLevelAuthority), ["440106"]);
        assert_eq!(regions(EscalationStep::SuperiorAuthority), ["440100", "440000", "000000"]);
    }

    #[test]
    fn an_unschedulable_duty_reaches_the_platform_and_the_holders_administrators() {
        let holder = department("gz-ga", "440100").with_admins(&["alice", "bob"]).with_office(&["lin"], &[]);
        assert_eq!(heard(unschedulable(&holder)), ["platform/platform", "gz-ga/alice", "gz-ga/bob"]);
        assert_eq!(heard(unschedulable(&department("gz-ws", "440106"))), ["platform/platform", "gz-ws/gz-ws"]);
    }

    #[test]
    fn a_digest_goes_to_each_administrator_once() {
        let holder = department("gz-ga", "440100").with_admins(&["alice", "bob", "alice"]).with_office(&["lin"], &[]);
        assert_eq!(heard(digest(&holder)), ["gz-ga/alice", "gz-ga/bob"]);
    }
}
