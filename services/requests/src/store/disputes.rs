//! Disputes (Art. 28): the `disputes` table (one row per case: the columns it is found by, and
//! the case as JSON) and the queries on it.

use govshare_runtime::revision::{self, Read, SaveError};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::dispute::{ActiveModel, Column, Entity, Model};
use crate::domain::disputes::Dispute;

/// A dispute and the revision it was read at, for a step that will save it.
pub async fn dispute_at(db: &impl ConnectionTrait, id: &str) -> Result<Option<(Dispute, Read)>, DbErr> {
    let Some(row) = Entity::find_by_id(id.to_owned()).one(db).await? else { return Ok(None) };
    let d = serde_json::from_str(&row.state).map_err(|e| DbErr::Custom(format!("stored dispute: {e}")))?;
    Ok(Some((d, Read::At(row.revision))))
}

/// Writes a dispute as read at `read` ([`Read::New`]: a new one); a conflict when another
/// call changed it meanwhile.
pub async fn save_dispute(db: &impl ConnectionTrait, d: &Dispute, read: Read) -> Result<(), SaveError> {
    let step = serde_json::to_value(d.step()).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let row = ActiveModel {
        id: Set(d.id.clone()),
        claimant: Set(d.claimant.clone()),
        respondent: Set(d.respondent.clone()),
        handled_by: Set(d.handled_by.clone()),
        step: Set(step),
        closed: Set(d.is_closed()),
        opened_at: Set(d.opened.at),
        state: Set(serde_json::to_string(d).expect("disputes serialize")),
        revision: NotSet,
    };
    revision::save::<Entity>(db, "dispute", (&[Column::Id], Column::Revision), &d.id, row, read).await
}

/// A page of the disputes `org` is party to or handles, by id (oldest first), after `after`.
pub async fn of(db: &impl ConnectionTrait, org: &str, after: Option<&str>, fetch: u64) -> Result<Vec<Model>, DbErr> {
    let mut q = Entity::find().filter(
        Condition::any().add(Column::Claimant.eq(org)).add(Column::Respondent.eq(org)).add(Column::HandledBy.eq(org)),
    );
    if let Some(after) = after {
        q = q.filter(Column::Id.gt(after));
    }
    q.order_by_asc(Column::Id).limit(fetch).all(db).await
}
