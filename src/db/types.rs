//! How the domain's enums are stored: as their `as_str()` text in a `TEXT` column (the
//! migrations hold the matching `CHECK (… IN (…))`), loaded back through `parse`.
//!
//! `domain/` stays free of Diesel: the impls are made here for the foreign types, with
//! Diesel's `foreign_derive` on a proxy for the expression side and `FromSql`/`ToSql`
//! for SQLite, PostgreSQL and the connection enum (which hands over to the first two).
//! A value in the database that the enum does not know fails the query (a 500 naming the
//! value), which the `CHECK` constraints make impossible short of manual edits.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use super::{MultiBackend, MultiRawValue};

use crate::domain::account::Role;
use crate::domain::golive::{TaskKind, TaskStatus};
use crate::domain::signing::Party;
use crate::domain::{AgreementKind, Direction, MunicipalityKind, Status, VersionStatus};

macro_rules! text_enum {
    ($($t:ident),* $(,)?) => {$(
        const _: () = {
            #[derive(diesel::AsExpression, diesel::FromSqlRow)]
            #[diesel(foreign_derive)]
            #[diesel(sql_type = Text)]
            #[expect(dead_code, reason = "a proxy: the derives make their impls for the enum inside")]
            struct Proxy($t);

            impl FromSql<Text, Sqlite> for $t {
                fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                    parse(<String as FromSql<Text, Sqlite>>::from_sql(bytes)?)
                }
            }
            impl FromSql<Text, Pg> for $t {
                fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                    parse(<String as FromSql<Text, Pg>>::from_sql(bytes)?)
                }
            }
            impl FromSql<Text, MultiBackend> for $t {
                fn from_sql(bytes: MultiRawValue<'_>) -> deserialize::Result<Self> {
                    bytes.from_sql::<Self, Text>()
                }
            }
            fn parse(s: String) -> deserialize::Result<$t> {
                $t::parse(&s).ok_or_else(|| format!("unknown {} {s:?}", stringify!($t)).into())
            }

            impl ToSql<Text, Sqlite> for $t {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                    <str as ToSql<Text, Sqlite>>::to_sql(self.as_str(), out)
                }
            }
            impl ToSql<Text, Pg> for $t {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                    <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
                }
            }
            impl ToSql<Text, MultiBackend> for $t {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                    <str as ToSql<Text, MultiBackend>>::to_sql(self.as_str(), out)
                }
            }
        };
    )*};
}

text_enum!(
    AgreementKind,
    Direction,
    Status,
    VersionStatus,
    Role,
    TaskKind,
    TaskStatus,
    MunicipalityKind,
    Party,
);
