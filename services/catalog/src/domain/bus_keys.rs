//! The bus identities in the directory: the public part of each organisation's NATS user
//! nkeys (issue 12). The platform issues credentials and records the public key here; an
//! organisation rotates its own by adding the new key while the old one still works, then
//! revoking the old. The secret part never reaches the catalog.

use chrono::{DateTime, Utc};
use govshare_runtime::{
    events::catalog::{BusKeyAdded, BusKeyRevoked},
    reply::Text,
};

use super::{Actor, CatalogError, Organisation};

/// Active keys one organisation may hold at once: room for a rotation on a few systems,
/// few enough that every key is someone's to answer for.
pub const MAX_ACTIVE_KEYS: usize = 5;

/// A NATS user public key: a checksummed ed25519 nkey whose prefix says "user" (`U...`).
/// Account, operator and server keys, seeds and typos are refused at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserPublicKey(String);

impl UserPublicKey {
    pub fn parse(raw: &str) -> Result<Self, Text> {
        if raw.starts_with('U') && nkeys::KeyPair::from_public_key(raw).is_ok() {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Text::new(
                "应为 NATS 用户公钥（以 U 开头、带校验的 nkey；不是种子，也不是账户或服务器公钥）",
                "expected a NATS user public key (a checksummed nkey starting with U; not a seed, nor an account or server key)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One of an organisation's keys, as the directory holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusKey {
    pub public_key: String,
    pub revoked: bool,
}

/// The platform (which issues credentials) and the organisation itself manage its keys;
/// nobody else, not even its authority: a key is the power to act in its name.
pub fn authorize(actor: &Actor, org_id: &str) -> Result<(), CatalogError> {
    match actor {
        Actor::Platform => Ok(()),
        a if a.id() == org_id => Ok(()),
        _ => Err(CatalogError::BusKeyNotAllowed),
    }
}

/// Adds `key` to `org`'s keys (`keys`, revoked ones included). `held_elsewhere`: the key is
/// already another organisation's, active or revoked. `None`: the key is already active here,
/// nothing changes.
pub fn decide_add(
    actor: &Actor,
    org: &Organisation,
    keys: &[BusKey],
    held_elsewhere: bool,
    key: UserPublicKey,
    now: DateTime<Utc>,
) -> Result<Option<BusKeyAdded>, CatalogError> {
    authorize(actor, &org.id)?;
    match keys.iter().find(|k| k.public_key == key.0) {
        Some(k) if k.revoked => return Err(CatalogError::BusKeyRevoked(key.0)),
        Some(_) => return Ok(None),
        None => {}
    }
    // One key, one identity: the bus could not tell two holders apart.
    if held_elsewhere {
        return Err(CatalogError::BusKeyTaken(key.0));
    }
    if keys.iter().filter(|k| !k.revoked).count() >= MAX_ACTIVE_KEYS {
        return Err(CatalogError::TooManyBusKeys { org: org.id.clone(), max: MAX_ACTIVE_KEYS });
    }
    Ok(Some(BusKeyAdded { org_id: org.id.clone(), public_key: key.0, added_by: actor.id(), at: now }))
}

/// Revokes one of `org`'s keys. `None`: it was already revoked, nothing changes.
pub fn decide_revoke(
    actor: &Actor,
    org: &Organisation,
    keys: &[BusKey],
    key: UserPublicKey,
    now: DateTime<Utc>,
) -> Result<Option<BusKeyRevoked>, CatalogError> {
    authorize(actor, &org.id)?;
    match keys.iter().find(|k| k.public_key == key.0) {
        None => Err(CatalogError::UnknownBusKey(key.0)),
        Some(k) if k.revoked => Ok(None),
        Some(_) => {
            Ok(Some(BusKeyRevoked { org_id: org.id.clone(), public_key: key.0, revoked_by: actor.id(), at: now }))
        }
    }
}

#[cfg(test)]
mod tests {
    use govshare_runtime::events::OrgKind;
    use nkeys::{KeyPair, KeyPairType};

    use super::*;
    use crate::domain::directory::org;

    fn gongan() -> Organisation {
        org("gd-gongan", OrgKind::Department, "440000")
    }

    /// The `n`-th user key, the same on every run.
    fn user_key(n: u8) -> UserPublicKey {
        let kp = KeyPair::new_from_raw(KeyPairType::User, [n; 32]).unwrap();
        UserPublicKey::parse(&kp.public_key()).unwrap()
    }

    fn active(n: u8) -> BusKey {
        BusKey { public_key: user_key(n).0, revoked: false }
    }

    fn revoked(n: u8) -> BusKey {
        BusKey { public_key: user_key(n).0, revoked: true }
    }

    fn now() -> DateTime<Utc> {
        "2026-12-01T02:00:00Z".parse().unwrap()
    }

    #[test]
    fn only_a_checksummed_user_public_key_is_a_bus_key() {
        let user = KeyPair::new_from_raw(KeyPairType::User, [7; 32]).unwrap();
        assert!(UserPublicKey::parse(&user.public_key()).is_ok());
        let account = KeyPair::new_from_raw(KeyPairType::Account, [7; 32]).unwrap();
        assert!(UserPublicKey::parse(&account.public_key()).is_err(), "an account key");
        assert!(UserPublicKey::parse(&user.seed().unwrap()).is_err(), "a seed, the secret part");
        let mut typo = user.public_key().into_bytes();
        typo[20] = if typo[20] == b'A' { b'B' } else { b'A' };
        assert!(UserPublicKey::parse(&String::from_utf8(typo).unwrap()).is_err(), "a checksum mismatch");
        assert!(UserPublicKey::parse("U").is_err());
    }

    #[test]
    fn the_platform_issues_a_key_and_is_named_as_its_issuer() {
        let added = decide_add(&Actor::Platform, &gongan(), &[], false, user_key(1), now()).unwrap().unwrap();
        assert_eq!((added.org_id.as_str(), added.added_by.as_str()), ("gd-gongan", "platform"));
        assert_eq!(added.public_key, user_key(1).0);
    }

    #[test]
    fn an_organisation_rotates_by_adding_its_new_key_while_the_old_one_is_valid() {
        let me = Actor::Known(gongan());
        let added = decide_add(&me, &gongan(), &[active(1)], false, user_key(2), now()).unwrap().unwrap();
        assert_eq!(added.added_by, "gd-gongan");
        let gone = decide_revoke(&me, &gongan(), &[active(1), active(2)], user_key(1), now()).unwrap().unwrap();
        assert_eq!((gone.public_key, gone.revoked_by.as_str()), (user_key(1).0, "gd-gongan"));
    }

    #[test]
    fn neither_another_department_nor_its_authority_manages_an_organisations_keys() {
        for actor in [
            Actor::Known(org("gd-weijian", OrgKind::Department, "440000")),
            Actor::Known(org("gd-auth", OrgKind::Authority, "440000")),
            Actor::Unknown("stranger".into()),
        ] {
            assert_eq!(
                decide_add(&actor, &gongan(), &[], false, user_key(1), now()),
                Err(CatalogError::BusKeyNotAllowed)
            );
            assert_eq!(
                decide_revoke(&actor, &gongan(), &[active(1)], user_key(1), now()),
                Err(CatalogError::BusKeyNotAllowed)
            );
        }
    }

    #[test]
    fn adding_an_active_key_again_changes_nothing() {
        assert_eq!(decide_add(&Actor::Platform, &gongan(), &[active(1)], false, user_key(1), now()), Ok(None));
    }

    #[test]
    fn a_revoked_key_never_comes_back() {
        assert_eq!(
            decide_add(&Actor::Platform, &gongan(), &[revoked(1)], false, user_key(1), now()),
            Err(CatalogError::BusKeyRevoked(user_key(1).0))
        );
    }

    #[test]
    fn a_sixth_active_key_is_refused_but_revoked_keys_do_not_count() {
        let five: Vec<BusKey> = (1..=5).map(active).collect();
        assert_eq!(
            decide_add(&Actor::Platform, &gongan(), &five, false, user_key(6), now()),
            Err(CatalogError::TooManyBusKeys { org: "gd-gongan".into(), max: 5 })
        );
        let mut rotated = five;
        rotated[0].revoked = true;
        assert!(decide_add(&Actor::Platform, &gongan(), &rotated, false, user_key(6), now()).unwrap().is_some());
    }

    #[test]
    fn a_key_of_another_organisation_is_refused() {
        assert_eq!(
            decide_add(&Actor::Platform, &gongan(), &[], true, user_key(1), now()),
            Err(CatalogError::BusKeyTaken(user_key(1).0))
        );
    }

    #[test]
    fn revoking_an_unknown_key_is_not_found_and_revoking_twice_changes_nothing() {
        assert_eq!(
            decide_revoke(&Actor::Platform, &gongan(), &[active(1)], user_key(2), now()),
            Err(CatalogError::UnknownBusKey(user_key(2).0))
        );
        assert_eq!(decide_revoke(&Actor::Platform, &gongan(), &[revoked(1)], user_key(1), now()), Ok(None));
    }
}
