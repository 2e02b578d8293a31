//! Another Land's intermediary asks to re-use an NRW service: an Einzelkooperations-
//! vereinbarung (EKV) is drafted for d-NRW to complete and put to signature, and d-NRW's
//! staff are mailed. The draft goes through the same creation as d-NRW's own, so it needs
//! the intermediary's IÖV in force and is refused while another EKV for the service is
//! active.

use crate::actions::agreement::{AvvSource, NewAgreement};
use crate::db::DbConn;
use crate::domain::text::{Checked, Inspect, Kind, TextCheck};
use crate::domain::{policy, Availability};
use crate::error::{AppError, AppResult};
use crate::store::agreement::Agreement;
use crate::store::service::Service;
use crate::store::Scope;

/// The request: the service, and what the person asking wants d-NRW to know.
#[derive(Debug, Clone, Default)]
pub struct ReuseRequest {
    pub service_id: String,
    pub note: String,
}

impl Inspect for ReuseRequest {
    fn inspect(&mut self, t: &mut TextCheck) {
        t.text("service_id", Kind::Code, &mut self.service_id);
        t.text("note", Kind::Note, &mut self.note);
    }
}

impl Checked<ReuseRequest> {
    /// Drafts the EKV for the intermediary of `scope` (`actor` and `requester` name the
    /// person asking) and tells d-NRW's staff. Refused, with the reason in German, for
    /// anyone else, for a service that is not NRW's or is withdrawn, without the IÖV in
    /// force, and when an EKV for the service is already active.
    pub fn draft(
        self,
        conn: &mut DbConn,
        scope: &Scope,
        actor: &str,
        requester: &str,
    ) -> AppResult<Agreement> {
        let organisation = policy::request_reuse(scope).map_err(AppError::forbidden)?;
        let request = self.into_inner();
        let service = Service::find(conn, &request.service_id)?;
        if !service.is_nrw_service() {
            return Err(AppError::field(
                "service_id",
                format!(
                    "„{}“ ist kein Dienst aus NRW: Dienste anderer Länder fragen Sie bei dem Land an, das sie bereitstellt.",
                    service.name
                ),
            ));
        }
        if service.availability()? == Availability::Withdrawn {
            return Err(AppError::field(
                "service_id",
                format!("„{}“ wird nicht mehr angeboten.", service.name),
            ));
        }
        let note = request.note.trim().to_string();
        let draft = Checked::new(NewAgreement {
            kind: "ekv".into(),
            counterparty_id: Some(organisation.to_string()),
            service_id: Some(service.id.clone()),
            // NRW's service to another Land, also when the intermediary runs it.
            direction: Some("outbound".into()),
            notes: (!note.is_empty()).then(|| note.clone()),
            ..NewAgreement::default()
        })?
        .create(conn, actor, AvvSource::AsGiven)?;
        crate::actions::notify::ekv_requested(
            conn,
            &draft,
            requester,
            (!note.is_empty()).then_some(note.as_str()),
        )?;
        Ok(draft)
    }
}
