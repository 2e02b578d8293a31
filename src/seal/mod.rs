//! The d-NRW seal: PAdES baseline B-B signatures on the registry's PDFs.
//!
//! - [`Signer`] is what signs: a key that produces SHA-256 signatures and the certificate
//!   chain that goes with it. [`SoftwareSigner`] reads a PKCS#12 file; an HSM or a remote
//!   signing service implements the same trait.
//! - [`testca`] creates a local TEST CA and seal certificate when no key is configured, so
//!   the embedded mode works out of the box.
//! - [`cms`] builds and reads the detached CMS SignedData, [`pades`] writes the signature
//!   into the PDF as an incremental update, [`verify`] checks a sealed PDF.

pub mod cms;
pub mod pades;
pub mod qes;
pub mod testca;
pub mod tsa;
pub mod verify;

use std::path::Path;

use time::OffsetDateTime;

use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{Id, PKey, Private};
use openssl::x509::X509;

/// Why a seal could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("Siegelschlüssel: {0}")]
    Key(String),
    #[error("Siegel: {0}")]
    Sign(String),
    #[error("Zeitstempeldienst: {0}")]
    Tsa(String),
    #[error("PDF: {0}")]
    Pdf(String),
}

impl From<openssl::error::ErrorStack> for SealError {
    fn from(e: openssl::error::ErrorStack) -> SealError {
        SealError::Sign(e.to_string())
    }
}

/// The signature algorithm of a seal key (always with SHA-256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSASSA-PKCS1-v1_5
    Rsa,
    /// ECDSA (P-256, P-384)
    Ecdsa,
}

/// What seals: a private key that signs SHA-256 digests of data, and its certificates.
pub trait Signer: Send + Sync {
    /// DER certificates: the seal certificate first, then its issuers.
    fn chain(&self) -> &[Vec<u8>];
    fn algorithm(&self) -> KeyAlgorithm;
    /// Signs `data` (hashing it with SHA-256 first).
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SealError>;
}

/// A seal key held in memory, read from a PKCS#12 file.
pub struct SoftwareSigner {
    key: PKey<Private>,
    chain: Vec<Vec<u8>>,
    algorithm: KeyAlgorithm,
}

impl SoftwareSigner {
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<SoftwareSigner, SealError> {
        let parsed = Pkcs12::from_der(der)
            .and_then(|p| p.parse2(password))
            .map_err(|e| SealError::Key(format!("PKCS#12-Datei nicht lesbar: {e}")))?;
        let key = parsed
            .pkey
            .ok_or_else(|| SealError::Key("die PKCS#12-Datei enthält keinen Schlüssel".into()))?;
        let cert = parsed
            .cert
            .ok_or_else(|| SealError::Key("die PKCS#12-Datei enthält kein Zertifikat".into()))?;
        if !cert.public_key()?.public_eq(&key) {
            return Err(SealError::Key(
                "Schlüssel und Zertifikat der PKCS#12-Datei gehören nicht zusammen".into(),
            ));
        }
        let algorithm = match key.id() {
            Id::RSA => KeyAlgorithm::Rsa,
            Id::EC => KeyAlgorithm::Ecdsa,
            other => {
                return Err(SealError::Key(format!(
                    "Schlüsseltyp {other:?} wird nicht unterstützt (RSA oder ECDSA)"
                )))
            }
        };
        let mut chain = vec![cert.to_der()?];
        for ca in parsed.ca.into_iter().flatten() {
            chain.push(ca.to_der()?);
        }
        Ok(SoftwareSigner {
            key,
            chain,
            algorithm,
        })
    }

    pub fn from_pkcs12_file(path: &Path, password: &str) -> Result<SoftwareSigner, SealError> {
        let der =
            std::fs::read(path).map_err(|e| SealError::Key(format!("{}: {e}", path.display())))?;
        SoftwareSigner::from_pkcs12(&der, password)
    }

    /// The seal certificate's subject, e.g. for logs.
    pub fn subject(&self) -> String {
        subject_of(&self.chain[0])
    }
}

impl Signer for SoftwareSigner {
    fn chain(&self) -> &[Vec<u8>] {
        &self.chain
    }

    fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &self.key)?;
        signer.update(data)?;
        Ok(signer.sign_to_vec()?)
    }
}

/// "CN=…, O=…, C=DE" of a DER certificate ("?" if unreadable).
pub fn subject_of(der: &[u8]) -> String {
    X509::from_der(der)
        .map(|c| name_string(c.subject_name()))
        .unwrap_or_else(|_| "?".into())
}

pub(crate) fn name_string(name: &openssl::x509::X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The configured seal: a signer, the certificates `verify` trusts, and what the signature
/// dictionary says.
pub struct Sealer {
    signer: Box<dyn Signer>,
    trust: Vec<Vec<u8>>,
    reason: String,
    location: String,
    subject: String,
    tsa: Option<tsa::TsaClient>,
    /// Where people check a sealed document (the registry's `/pruefen` page), printed on
    /// every page of it.
    verify_url: Option<String>,
}

impl Sealer {
    pub fn new(
        signer: Box<dyn Signer>,
        extra_trust: Vec<Vec<u8>>,
        reason: String,
        location: String,
        tsa: Option<tsa::TsaClient>,
    ) -> Sealer {
        let mut trust = signer.chain().to_vec();
        trust.extend(extra_trust);
        let subject = signer
            .chain()
            .first()
            .map(|c| subject_of(c))
            .unwrap_or_default();
        Sealer {
            signer,
            trust,
            reason,
            location,
            subject,
            tsa,
            verify_url: None,
        }
    }

    /// The same sealer, naming `url` as the place to check its documents.
    pub fn with_verify_url(mut self, url: String) -> Sealer {
        self.verify_url = Some(url);
        self
    }

    pub fn verify_url(&self) -> Option<&str> {
        self.verify_url.as_deref()
    }

    /// From the configuration: the PKCS#12 file named there, or the TEST CA of the data
    /// folder (created on first start).
    pub fn from_config(config: &crate::config::Config) -> Result<Sealer, SealError> {
        Sealer::from_config_with(config, None)
    }

    /// As [`Sealer::from_config`]; without `seal_pkcs12`, the TEST seal is `shared` (its
    /// PKCS#12 and password, kept in the database for all instances) when given.
    pub fn from_config_with(
        config: &crate::config::Config,
        shared: Option<(&[u8], &str)>,
    ) -> Result<Sealer, SealError> {
        let signer = match (&config.seal_pkcs12, shared) {
            (Some(path), _) => SoftwareSigner::from_pkcs12_file(
                path,
                config.seal_pkcs12_password.as_deref().unwrap_or(""),
            )?,
            (None, Some((der, password))) => SoftwareSigner::from_pkcs12(der, password)?,
            (None, None) => {
                let files = testca::ensure(&config.data_dir.join("seal-test"))?;
                SoftwareSigner::from_pkcs12_file(&files.pkcs12, &files.password)?
            }
        };
        let mut extra = Vec::new();
        for path in &config.seal_trusted_certificates {
            let pem = std::fs::read(path)
                .map_err(|e| SealError::Key(format!("{}: {e}", path.display())))?;
            for cert in X509::stack_from_pem(&pem)? {
                extra.push(cert.to_der()?);
            }
        }
        let tsa = config
            .tsa_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .map(tsa::TsaClient::new)
            .transpose()?;
        Ok(Sealer::new(
            Box::new(signer),
            extra,
            config.seal_reason.clone(),
            config.seal_location.clone(),
            tsa,
        )
        .with_verify_url(format!("{}/pruefen", config.base_url.trim_end_matches('/'))))
    }

    /// Seals a PDF in the name of `name` at `time`.
    pub fn seal(&self, pdf: &[u8], name: &str, time: OffsetDateTime) -> Result<Vec<u8>, SealError> {
        let _timer = crate::metrics::METRICS.seal_duration.start_timer();
        let stamp = |s: &[u8]| self.stamp(s);
        let stamper: Option<cms::Stamper<'_>> =
            self.tsa.as_ref().map(|_| &stamp as cms::Stamper<'_>);
        pades::seal(pdf, self.signer.as_ref(), &self.info(name, time), stamper)
    }

    /// Saves and seals a document the registry rendered (no re-parsing).
    pub fn seal_document(
        &self,
        doc: &mut lopdf::Document,
        name: &str,
        time: OffsetDateTime,
    ) -> Result<Vec<u8>, SealError> {
        let _timer = crate::metrics::METRICS.seal_duration.start_timer();
        let stamp = |s: &[u8]| self.stamp(s);
        let stamper: Option<cms::Stamper<'_>> =
            self.tsa.as_ref().map(|_| &stamp as cms::Stamper<'_>);
        pades::seal_document(doc, self.signer.as_ref(), &self.info(name, time), stamper)
    }

    /// The TSA's token over a signature value (only called when a TSA is configured).
    fn stamp(&self, signature: &[u8]) -> Result<Vec<u8>, SealError> {
        match &self.tsa {
            Some(tsa) => tsa.stamp(signature),
            None => Err(SealError::Tsa("kein Zeitstempeldienst konfiguriert".into())),
        }
    }

    fn info(&self, name: &str, time: OffsetDateTime) -> pades::SealInfo {
        pades::SealInfo {
            time,
            name: name.to_string(),
            reason: self.reason.clone(),
            location: self.location.clone(),
        }
    }

    /// Checks the seal of a PDF against the registry's trust anchors.
    pub fn check(&self, pdf: &[u8]) -> verify::SealCheck {
        verify::check(pdf, &self.trust)
    }

    /// Subject of the seal certificate.
    pub fn subject(&self) -> String {
        self.subject.clone()
    }
}
