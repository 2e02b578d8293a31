//! What every request handler can reach: the database, the staff token's hash, the
//! catalogue cache, the seal and the signing order.

use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::domain::signing::SigningOrder;
use crate::seal::Sealer;

/// What every request handler can reach.
pub struct AppState {
    pub db: Db,
    /// SHA-256 of the staff token; `None` means the API is read-only for everybody.
    pub staff_token_hash: Option<[u8; 32]>,
    /// The rendered public catalogue (see `actions::catalog`).
    pub catalog: std::sync::Arc<crate::actions::catalog::CatalogCache>,
    /// The roll-out kept in memory (see `actions::rollout::snapshot`).
    pub rollout: std::sync::Arc<crate::actions::rollout::snapshot::RolloutCache>,
    /// The Regierungsbezirke and Kreise of the municipality filters, kept until a
    /// municipality changes.
    pub districts: std::sync::Arc<
        crate::store::data_version::Versioned<crate::store::municipality::Districts, 1>,
    >,
    /// Every municipality's search key, for the staff list's name search.
    pub municipality_keys: std::sync::Arc<
        crate::store::data_version::Versioned<Vec<crate::store::municipality::SearchKey>, 1>,
    >,
    /// The services on offer with their operators' names (what a municipality can call),
    /// kept until a service or an organisation changes.
    pub offered_services: std::sync::Arc<crate::store::data_version::Versioned<Offered, 2>>,
    /// Every service with its operator's name (staff's list of services), kept the same
    /// way.
    pub all_services: std::sync::Arc<crate::store::data_version::Versioned<Offered, 2>>,
    /// Agreements by kind and status for the staff start page.
    pub counts: std::sync::Arc<crate::store::agreement::CountsCache>,
    /// The d-NRW seal for the final documents.
    pub sealer: std::sync::Arc<Sealer>,
    pub signing_order: SigningOrder,
    /// The registry's public address (`base_url` of the mail settings): links that
    /// leave the registry (the calendar feed's address) start with it.
    pub base_url: String,
    /// DER certificates of the QES trust anchors (`qes_trust_anchors`); may be empty.
    pub qes_anchors: std::sync::Arc<Vec<Vec<u8>>>,
    /// The public texts (Impressum, Datenschutz, Barrierefreiheit) and the contact.
    pub legal: std::sync::Arc<LegalTexts>,
    /// SHA-256 of `metrics_token`; `None`: `/metrics` only from this machine.
    pub metrics_token_hash: Option<[u8; 32]>,
    /// How mail leaves (`/health/ready` names it): `folder` or `smtp`.
    pub mail_transport: &'static str,
}

/// The services on offer, each with its operator's name.
pub type Offered = Vec<(crate::store::service::Service, Option<String>)>;

/// The public texts as configured (`legal_texts_dir`) or shipped (`templates/legal/`).
#[derive(Debug, Clone)]
pub struct LegalTexts {
    pub impressum: String,
    pub datenschutz: String,
    pub barrierefreiheit: String,
    pub contact_email: String,
}

impl LegalTexts {
    /// The shipped texts, each replaced by the file of the same name in `dir` if there is
    /// one; an unreadable file there stops the start with its name.
    pub fn load(dir: Option<&std::path::Path>, contact_email: &str) -> Result<LegalTexts, String> {
        let text = |name: &str, shipped: &str| -> Result<String, String> {
            match dir.map(|d| d.join(name)) {
                Some(path) if path.exists() => std::fs::read_to_string(&path)
                    .map_err(|e| format!("legal_texts_dir: {}: {e}", path.display())),
                _ => Ok(shipped.to_string()),
            }
        };
        Ok(LegalTexts {
            impressum: text(
                "impressum.md",
                include_str!("../../templates/legal/impressum.md"),
            )?,
            datenschutz: text(
                "datenschutz.md",
                include_str!("../../templates/legal/datenschutz.md"),
            )?,
            barrierefreiheit: text(
                "barrierefreiheit.md",
                include_str!("../../templates/legal/barrierefreiheit.md"),
            )?,
            contact_email: contact_email.to_string(),
        })
    }
}

/// SHA-256 of a token, as the staff token is kept and compared.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
