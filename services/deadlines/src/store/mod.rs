//! The deadlines service's own database: one row per duty clock, indexed by due time.

pub mod entities;
mod m20261123_300001_create_clocks;

use govshare_shared::duty::About;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, sea_query::OnConflict};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

use crate::domain::{DutyClock, State};

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut m = govshare_shared::store::shared_migrations();
        m.push(Box::new(m20261123_300001_create_clocks::Migration));
        m
    }
}

pub fn to_domain(row: entities::clock::Model) -> Result<DutyClock, DbErr> {
    Ok(DutyClock {
        state: State::parse(&row.state).ok_or_else(|| DbErr::Custom(format!("stored state {}", row.state)))?,
        about: About { kind: row.about_kind, id: row.about_id },
        remaining_days: row.remaining_days.map(|d| d as u32),
        duty_id: row.duty_id,
        article: u16::try_from(row.article).map_err(|_| DbErr::Custom(format!("stored article {}", row.article)))?,
        holder: row.holder,
        title: serde_json::from_str(&row.title).map_err(|e| DbErr::Custom(format!("stored title: {e}")))?,
        opened_at: row.opened_at,
        due_at: row.due_at,
        breached_at: row.breached_at,
        closed_at: row.closed_at,
        closure: row.closure,
    })
}

pub async fn clock(db: &impl ConnectionTrait, duty_id: &str) -> Result<Option<DutyClock>, DbErr> {
    entities::clock::Entity::find_by_id(duty_id.to_owned()).one(db).await?.map(to_domain).transpose()
}

/// evolve: writes a clock's new state.
pub async fn save(db: &impl ConnectionTrait, c: &DutyClock) -> Result<(), DbErr> {
    use entities::clock::{ActiveModel, Column, Entity};
    let row = ActiveModel {
        duty_id: Set(c.duty_id.clone()),
        article: Set(i32::from(c.article)),
        holder: Set(c.holder.clone()),
        about_kind: Set(c.about.kind.clone()),
        about_id: Set(c.about.id.clone()),
        title: Set(serde_json::to_string(&c.title).expect("text serializes")),
        state: Set(c.state.name().to_owned()),
        opened_at: Set(c.opened_at),
        due_at: Set(c.due_at),
        remaining_days: Set(c.remaining_days.map(|d| d as i32)),
        breached_at: Set(c.breached_at),
        closed_at: Set(c.closed_at),
        closure: Set(c.closure.clone()),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::DutyId)
                .update_columns([
                    Column::State,
                    Column::DueAt,
                    Column::RemainingDays,
                    Column::BreachedAt,
                    Column::ClosedAt,
                    Column::Closure,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
