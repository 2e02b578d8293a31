//! A local TEST CA and seal certificate for the embedded mode.
//!
//! When no PKCS#12 file is configured, the application creates, once, in
//! `<data_dir>/seal-test/`:
//! - `test-ca.pem`: the TEST CA's certificate (give it to a validator as trust anchor),
//! - `seal-test.p12` and `seal-test.password`: the seal key with its certificate and the CA.
//!
//! On PostgreSQL, where several instances share one database, the TEST seal is kept in
//! the database instead (`store::test_seal`): created once by the first instance, its
//! PKCS#12 under a password derived from the instances' shared secret key, so a document
//! sealed by one instance verifies on every other.
//!
//! Both subjects say TEST. The seal certificate has the key usages digitalSignature and
//! nonRepudiation (critical). RSA-3072, SHA-256.

use std::fs;
use std::path::{Path, PathBuf};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::stack::Stack;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Name, X509NameBuilder, X509};
use rand::distributions::{Alphanumeric, DistString};

use super::SealError;

/// Where the generated files live.
pub struct TestCaFiles {
    pub ca_pem: PathBuf,
    pub pkcs12: PathBuf,
    pub password: String,
}

fn name(common_name: &str) -> Result<X509Name, SealError> {
    let mut b = X509NameBuilder::new()?;
    b.append_entry_by_text("C", "DE")?;
    b.append_entry_by_text("O", "d-NRW AöR (TEST)")?;
    b.append_entry_by_text("OU", "Nachnutzungsregister – nur für Tests")?;
    b.append_entry_by_text("CN", common_name)?;
    Ok(b.build())
}

fn serial() -> Result<Asn1Integer, SealError> {
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false)?;
    Ok(bn.to_asn1_integer()?)
}

fn rsa_key() -> Result<PKey<Private>, SealError> {
    Ok(PKey::from_rsa(Rsa::generate(3072)?)?)
}

/// Creates a CA certificate and a seal certificate issued by it.
pub fn generate() -> Result<(PKey<Private>, X509, X509), SealError> {
    let ca_key = rsa_key()?;
    let ca_name = name("TEST-CA Nachnutzungsregister")?;
    let mut ca = X509::builder()?;
    ca.set_version(2)?;
    let ca_serial = serial()?;
    ca.set_serial_number(&ca_serial)?;
    ca.set_subject_name(&ca_name)?;
    ca.set_issuer_name(&ca_name)?;
    ca.set_pubkey(&ca_key)?;
    let (from, ca_until) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(3650)?);
    ca.set_not_before(&from)?;
    ca.set_not_after(&ca_until)?;
    ca.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    ca.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&ca.x509v3_context(None, None))?;
    ca.append_extension(ski)?;
    ca.sign(&ca_key, MessageDigest::sha256())?;
    let ca = ca.build();

    let key = rsa_key()?;
    let mut cert = X509::builder()?;
    cert.set_version(2)?;
    let seal_serial = serial()?;
    cert.set_serial_number(&seal_serial)?;
    let subject = name("TEST-Siegel d-NRW Nachnutzungsregister")?;
    cert.set_subject_name(&subject)?;
    cert.set_issuer_name(ca.subject_name())?;
    cert.set_pubkey(&key)?;
    let until = Asn1Time::days_from_now(3 * 365)?;
    cert.set_not_before(&from)?;
    cert.set_not_after(&until)?;
    cert.append_extension(BasicConstraints::new().critical().build()?)?;
    cert.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .non_repudiation()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&cert.x509v3_context(Some(&ca), None))?;
    cert.append_extension(ski)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&cert.x509v3_context(Some(&ca), None))?;
    cert.append_extension(aki)?;
    cert.sign(&ca_key, MessageDigest::sha256())?;
    Ok((key, cert.build(), ca))
}

/// A new TEST CA and seal, the seal's key and chain as PKCS#12 under `password`.
pub struct Built {
    pub pkcs12: Vec<u8>,
    pub ca_pem: String,
}

pub fn build(password: &str) -> Result<Built, SealError> {
    let (key, cert, ca) = generate()?;
    let mut cas = Stack::new()?;
    cas.push(ca.clone())?;
    let p12 = Pkcs12::builder()
        .name("TEST-Siegel d-NRW Nachnutzungsregister")
        .pkey(&key)
        .cert(&cert)
        .ca(cas)
        .build2(password)?;
    Ok(Built {
        pkcs12: p12.to_der()?,
        ca_pem: String::from_utf8_lossy(&ca.to_pem()?).into_owned(),
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SealError> {
    crate::config::write_private_file(path, bytes)
        .map_err(|e| SealError::Key(format!("{}: {e}", path.display())))
}

/// The TEST CA files in `dir`, created on first use. Several processes may start at
/// once: each builds the files in a folder of its own and renames it to `dir`; the first
/// rename wins and the others use its files.
pub fn ensure(dir: &Path) -> Result<TestCaFiles, SealError> {
    let files = TestCaFiles {
        ca_pem: dir.join("test-ca.pem"),
        pkcs12: dir.join("seal-test.p12"),
        password: String::new(),
    };
    let password_file = dir.join("seal-test.password");
    if !password_file.exists() {
        let fail = |e: std::io::Error| SealError::Key(format!("{}: {e}", dir.display()));
        let parent = dir.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(fail)?;
        let tmp = parent.join(format!(".seal-test-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir(&tmp).map_err(fail)?;
        let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
        let built = build(&password)?;
        fs::write(tmp.join("test-ca.pem"), &built.ca_pem).map_err(fail)?;
        write_private(&tmp.join("seal-test.p12"), &built.pkcs12)?;
        write_private(&tmp.join("seal-test.password"), password.as_bytes())?;
        if fs::rename(&tmp, dir).is_err() {
            // Another process was first (or `dir` exists but is incomplete: say so).
            let _ = fs::remove_dir_all(&tmp);
            if !password_file.exists() {
                return Err(SealError::Key(format!(
                    "{} existiert, enthält aber keine TEST-CA; bitte entfernen",
                    dir.display()
                )));
            }
        }
    }
    let password = fs::read_to_string(&password_file)
        .map_err(|e| SealError::Key(format!("{}: {e}", password_file.display())))?;
    Ok(TestCaFiles {
        password: password.trim().to_string(),
        ..files
    })
}
