//! Signatures: one row per party and version (who, in which function, when, from where,
//! how authenticated), and the name of the organisation that signs as a party. Signing
//! itself is `actions::sign`.

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use super::agreement::Agreement;
use super::municipality::Municipality;
use super::organisation::Organisation;
use crate::db::schema::{agreement_versions, signatures};
use crate::db::DbConn;
use crate::domain::signing::Party;
use crate::error::AppResult;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = signatures)]
pub struct Signature {
    pub id: String,
    pub agreement_id: String,
    pub version_no: i32,
    /// `partner` or `dnrw`
    pub party: Party,
    /// 1 for the first signature of the version, 2 for the second.
    pub position: i32,
    /// The contact person whose signature staff recorded …
    pub contact_id: Option<String>,
    pub signer_name: String,
    pub signer_function: Option<String>,
    pub organisation_name: String,
    #[serde(with = "super::ts")]
    pub signed_at: PrimitiveDateTime,
    pub actor: String,
    pub auth_method: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// … or the user who signed as themselves.
    pub user_id: Option<String>,
    /// What the signatory confirmed when signing in the registry.
    pub declaration: Option<String>,
}

impl Signature {
    /// The latest signature a user gave on an agreement (any version), if any.
    pub fn latest_of_user(
        conn: &mut DbConn,
        agreement_id: &str,
        user_id: &str,
    ) -> AppResult<Option<Signature>> {
        Ok(signatures::table
            .filter(signatures::agreement_id.eq(agreement_id))
            .filter(signatures::user_id.eq(user_id))
            .select(Signature::as_select())
            .order((signatures::version_no.desc(), signatures::signed_at.desc()))
            .first(conn)
            .optional()?)
    }

    /// Whether `party` has signed version `no` of an agreement.
    pub fn has_signed(
        conn: &mut DbConn,
        agreement_id: &str,
        no: i32,
        party: Party,
    ) -> AppResult<bool> {
        Ok(Signature::of_version(conn, agreement_id, no)?
            .iter()
            .any(|s| s.party == party))
    }

    pub fn of_version(conn: &mut DbConn, agreement_id: &str, no: i32) -> AppResult<Vec<Signature>> {
        Ok(signatures::table
            .filter(signatures::agreement_id.eq(agreement_id))
            .filter(signatures::version_no.eq(no))
            .select(Signature::as_select())
            .order(signatures::position)
            .load(conn)?)
    }
}

/// Of these agreements, the versions the partner has signed, as (agreement, version):
/// one statement, from the flag `actions::sign` keeps on each version.
pub fn partner_signed(
    conn: &mut DbConn,
    agreement_ids: &[String],
) -> AppResult<std::collections::HashSet<(String, i32)>> {
    if agreement_ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(agreement_versions::table
        .filter(agreement_versions::agreement_id.eq_any(agreement_ids))
        .filter(agreement_versions::partner_signed.eq(true))
        .select((
            agreement_versions::agreement_id,
            agreement_versions::version_no,
        ))
        .load::<(String, i32)>(conn)?
        .into_iter()
        .collect())
}

/// The name of the organisation that signs as `party`.
pub fn party_name(conn: &mut DbConn, a: &Agreement, party: Party) -> AppResult<String> {
    Ok(match party {
        Party::Dnrw => Organisation::kommunalvertreter(conn)?.name,
        Party::Partner => match (&a.municipality_id, &a.counterparty_id) {
            (Some(m), _) => Municipality::find(conn, m)?.display_name(),
            (None, Some(o)) => Organisation::find(conn, o)?.name,
            (None, None) => a.external_party_name.clone().unwrap_or_default(),
        },
    })
}
