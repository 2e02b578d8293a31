//! The domain enums as stored: every variant goes into the database as its text and comes
//! back as itself, on the backend under test; a text no variant has is an error, not a
//! default.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Text;
use nachnutzung::domain::account::Role;
use nachnutzung::domain::golive::{TaskKind, TaskStatus};
use nachnutzung::domain::signing::Party;
use nachnutzung::domain::{AgreementKind, Direction, MunicipalityKind, Status, VersionStatus};

use crate::common::TestApp;

/// Binds each value, reads it back both as text and as the enum.
macro_rules! round_trip {
    ($conn:expr, $t:ty, $values:expr) => {
        for value in $values {
            let stored: String = diesel::select(value.into_sql::<Text>())
                .get_result($conn)
                .unwrap();
            assert_eq!(stored, value.as_str());
            let loaded: $t = diesel::select(sql::<Text>(&format!("'{stored}'")))
                .get_result($conn)
                .unwrap();
            assert_eq!(loaded, value);
        }
    };
}

#[test]
fn every_stored_enum_round_trips_and_unknown_text_is_an_error() {
    let app = TestApp::new();
    let mut pooled = app.db().conn().unwrap();
    let c: &mut nachnutzung::db::DbConn = &mut pooled;
    round_trip!(c, AgreementKind, AgreementKind::ALL);
    round_trip!(c, Status, Status::ALL);
    round_trip!(c, VersionStatus, VersionStatus::ALL);
    round_trip!(c, Direction, [Direction::Inbound, Direction::Outbound]);
    round_trip!(c, Role, Role::ALL);
    round_trip!(c, TaskKind, TaskKind::ALL);
    round_trip!(c, TaskStatus, TaskStatus::ALL);
    round_trip!(
        c,
        MunicipalityKind,
        [
            MunicipalityKind::Gemeinde,
            MunicipalityKind::Stadt,
            MunicipalityKind::KreisfreieStadt,
            MunicipalityKind::Kreis,
        ]
    );
    round_trip!(c, Party, [Party::Partner, Party::Dnrw]);
    let unknown = diesel::select(sql::<Text>("'in_kraft'")).get_result::<Status>(c);
    let message = format!("{:?}", unknown.unwrap_err());
    assert!(
        message.contains(r#"unknown Status \"in_kraft\""#),
        "{message}"
    );
}
