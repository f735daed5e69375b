//! Column and index shapes every migration uses, so each table reads as a list of fields.
//! Only types SQLite and PostgreSQL share: text, 64-bit integers (timestamps are µs), doubles,
//! booleans, and ids as 36-character UUID text.

use sea_orm_migration::prelude::*;

/// A UUID primary key.
pub(super) fn id(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .string_len(36)
        .not_null()
        .primary_key()
        .to_owned()
}
/// A nullable reference to another row's UUID.
pub(super) fn fk(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).string_len(36).null().to_owned()
}
/// Required text.
pub(super) fn text(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().not_null().to_owned()
}
/// Nullable text.
pub(super) fn text_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().null().to_owned()
}
/// A required 64-bit integer.
pub(super) fn big(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}
/// A nullable 64-bit integer.
pub(super) fn big_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).big_integer().null().to_owned()
}
/// A nullable double.
pub(super) fn double_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).double().null().to_owned()
}
/// A required boolean with a default.
pub(super) fn boolean(name: &'static str, default: bool) -> ColumnDef {
    ColumnDef::new(name)
        .boolean()
        .not_null()
        .default(default)
        .to_owned()
}
/// A (non-unique) index.
pub(super) fn index(
    table: &'static str,
    name: &'static str,
    cols: &[&'static str],
) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table).if_not_exists();
    for c in cols {
        i.col(*c);
    }
    i.to_owned()
}
