//! A write names the state it read (STYLE.md §11).
//!
//! Two commands on one record can arrive together, on one replica or two. Every aggregate
//! row carries a `revision`; [`save`] writes a row only if it still stands at the revision
//! the command's `decide` saw, and moves it one on. The loser writes nothing and learns it
//! with [`Conflict`]: a caller answers `conflict`, an event handler is redelivered and
//! decides again on the fresh state. Saved inside the transaction that records the outbox
//! rows, a lost write also rolls back every event the command would have sent.
//!
//! Under PostgreSQL's READ COMMITTED, the second `UPDATE ... WHERE revision = r` waits for
//! the first to commit and then finds the row at `r + 1`: zero rows, a conflict. SQLite has
//! one writer, so there the check only ever fails if the row changed between read and write.

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, Value, sea_query::OnConflict,
};

use crate::{ApiError, ErrorCode, inbox::HandleError};

/// The revision an aggregate was read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Not stored yet: the save is an insert, and a row with the same id is a conflict.
    New,
    /// Read at this revision: the save is an update conditional on it.
    At(i32),
}

/// Another command changed (or created) the record between this one's read and its write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {id} was changed by another command meanwhile")]
pub struct Conflict {
    pub what: &'static str,
    pub id: String,
}

/// A save's failure: lost to a concurrent write, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error(transparent)]
    Conflict(#[from] Conflict),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<Conflict> for ApiError {
    fn from(c: Conflict) -> Self {
        ApiError::with_text(
            ErrorCode::Conflict,
            format!("该记录（{}）已被并发修改，请重试", c.id),
            format!("the {} {} was changed by another command meanwhile; retry", c.what, c.id),
        )
    }
}

impl From<SaveError> for ApiError {
    fn from(e: SaveError) -> Self {
        match e {
            SaveError::Conflict(c) => c.into(),
            SaveError::Db(e) => e.into(),
        }
    }
}

/// For code that speaks `DbErr` (an event's effect): a lost write is a passing failure.
impl From<SaveError> for DbErr {
    fn from(e: SaveError) -> Self {
        match e {
            SaveError::Conflict(c) => DbErr::Custom(c.to_string()),
            SaveError::Db(e) => e,
        }
    }
}

/// An event handler that lost is redelivered and decides again on what the winner left.
impl From<SaveError> for HandleError {
    fn from(e: SaveError) -> Self {
        HandleError::Transient(e.to_string())
    }
}

/// Writes `row` as aggregate `what` `id` (as named in a conflict), conditional on `read`:
/// inserted at revision 0 if new (every column `Set`), else updated to `r + 1` (the columns
/// `Set`) only where it still stands at `r`. `key` are the primary-key columns, `Set` in
/// `row`. Nothing is written on a [`Conflict`].
pub async fn save<E>(
    db: &impl ConnectionTrait,
    what: &'static str,
    (key, revision_column): (&[E::Column], E::Column),
    id: &str,
    mut row: E::ActiveModel,
    read: Read,
) -> Result<(), SaveError>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
{
    let written = match read {
        Read::New => {
            row.set(revision_column, Value::from(0i32));
            E::insert(row)
                .on_conflict(OnConflict::columns(key.iter().copied()).do_nothing().to_owned())
                .exec_without_returning(db)
                .await?
        }
        Read::At(revision) => {
            let mut update = E::update_many().filter(revision_column.eq(revision));
            for column in key {
                let value = row.get(*column).into_value().expect("the key columns are set");
                update = update.filter(column.eq(value));
            }
            row.set(revision_column, Value::from(revision + 1));
            update.set(row).exec(db).await?.rows_affected
        }
    };
    if written == 1 { Ok(()) } else { Err(Conflict { what, id: id.to_owned() }.into()) }
}

/// The migration step that gives each of `tables` its `revision` column, 0 for the rows from
/// before: the same step in every service that adopts conditional saves.
pub async fn add_revision_columns(
    manager: &sea_orm_migration::SchemaManager<'_>,
    tables: &[&'static str],
) -> Result<(), DbErr> {
    use sea_orm_migration::{prelude::*, schema::integer};
    for table in tables {
        // One column per statement: SQLite alters a table one change at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new(*table))
                    .add_column(integer(Alias::new("revision")).default(0))
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveValue::Set, ConnectionTrait, Database, Schema};

    use super::*;

    mod thing {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "things")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub state: String,
            pub revision: i32,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    fn row(state: &str) -> thing::ActiveModel {
        thing::ActiveModel { id: Set("t1".into()), state: Set(state.into()), ..Default::default() }
    }

    const COLUMNS: (&[thing::Column], thing::Column) = (&[thing::Column::Id], thing::Column::Revision);

    async fn stored(db: &impl ConnectionTrait) -> (String, i32) {
        let m = thing::Entity::find_by_id("t1".to_owned()).one(db).await.unwrap().unwrap();
        (m.state, m.revision)
    }

    #[tokio::test]
    async fn the_second_of_two_writes_from_one_read_changes_nothing() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        let schema = Schema::new(db.get_database_backend());
        db.execute(&schema.create_table_from_entity(thing::Entity)).await.unwrap();

        save::<thing::Entity>(&db, "thing", COLUMNS, "t1", row("new"), Read::New).await.unwrap();
        let again = save::<thing::Entity>(&db, "thing", COLUMNS, "t1", row("twin"), Read::New).await;
        assert!(matches!(again, Err(SaveError::Conflict(_))), "a duplicate id is a conflict");

        save::<thing::Entity>(&db, "thing", COLUMNS, "t1", row("approved"), Read::At(0)).await.unwrap();
        let loser = save::<thing::Entity>(&db, "thing", COLUMNS, "t1", row("refused"), Read::At(0)).await;
        let Err(SaveError::Conflict(c)) = loser else { panic!("the loser conflicts: {loser:?}") };
        assert_eq!(ApiError::from(c).code, ErrorCode::Conflict);
        assert_eq!(stored(&db).await, ("approved".to_owned(), 1));
    }
}
