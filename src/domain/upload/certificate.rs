//! DVDV certificates: PEM or DER, an X.509 certificate for encryption that is valid now;
//! a private key anywhere in the upload is refused.

use der::{Decode, Encode};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
use x509_cert::Certificate;

use super::*;

/// What the registry records of a DVDV certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    /// SHA-256 of the DER encoding, upper-case hex in pairs ("AB:CD:…").
    pub fingerprint_sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Key usages named in the certificate (RFC 5280 names).
    pub key_usage: Vec<String>,
    /// Why the DVDV may not accept it (self-signed, or not issued by the administration
    /// PKI); recorded with the certificate and shown on the agreement and its DVDV task.
    /// The upload is kept: the municipality may have nothing better yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pki_warning: Option<String>,
}

/// Words by which the issuer of a certificate from the administration PKI (the PKI-1-
/// Verwaltung of the BSI and its sub-CAs, the DOI-CAs of the Länder) names itself.
const ADMINISTRATION_PKI: [&str; 5] = ["verwaltung", "doi", "v-pki", "bsi", "pki-1"];

/// The warning for a certificate the DVDV will likely refuse: self-signed, or from an
/// issuer that is not recognisably part of the administration PKI.
pub fn pki_warning(subject: &str, issuer: &str) -> Option<String> {
    if subject == issuer {
        return Some(
            "Das Zertifikat ist selbst ausgestellt (Aussteller und Inhaber sind gleich). Das DVDV nimmt Verschlüsselungszertifikate nur aus der Verwaltungs-PKI (PKI-1-Verwaltung bzw. DOI-CA Ihres Landes) an; beantragen Sie dort eines und laden Sie es hier hoch.".into(),
        );
    }
    let lower = issuer.to_lowercase();
    (!ADMINISTRATION_PKI.iter().any(|w| lower.contains(w))).then(|| {
        format!(
            "Der Aussteller „{issuer}“ gehört erkennbar nicht zur Verwaltungs-PKI (PKI-1-Verwaltung bzw. DOI-CA Ihres Landes). Das DVDV nimmt solche Zertifikate in der Regel nicht an; prüfen Sie das mit Ihrem DVDV-Pflegenden."
        )
    })
}

/// Parses a certificate (PEM or DER) and checks it is usable for DVDV encryption at `now`.
/// Returns its details and its DER encoding.
pub fn check_dvdv_certificate(
    bytes: &[u8],
    now: OffsetDateTime,
) -> Result<(CertificateInfo, Vec<u8>), String> {
    if bytes.is_empty() {
        return Err("Die Datei ist leer.".into());
    }
    if bytes.len() > MAX_CERTIFICATE_BYTES {
        return Err(format!(
            "Die Zertifikatsdatei ist größer als {} KiB.",
            MAX_CERTIFICATE_BYTES / 1024
        ));
    }
    if bytes.windows(16).any(|w| w == b"PRIVATE KEY-----") {
        return Err(
            "Die Datei enthält einen privaten Schlüssel. Sie wurde nicht gespeichert. Bitte laden Sie nur das Zertifikat hoch. Der private Schlüssel hat damit Ihr Haus verlassen: Betrachten Sie ihn als kompromittiert, lassen Sie ein neues Schlüsselpaar mit Zertifikat ausstellen und das alte sperren.".into(),
        );
    }
    let der = if bytes.starts_with(b"-----BEGIN") || bytes.windows(11).any(|w| w == b"-----BEGIN ")
    {
        let text =
            std::str::from_utf8(bytes).map_err(|_| "Die PEM-Datei ist kein Text.".to_string())?;
        let (label, der) = pem_block(text)?;
        if label != "CERTIFICATE" && label != "X509 CERTIFICATE" {
            return Err(format!(
                "Die PEM-Datei enthält „{label}“, kein Zertifikat (CERTIFICATE). Bitte laden Sie nur das Zertifikat hoch, nie den privaten Schlüssel."
            ));
        }
        der
    } else {
        bytes.to_vec()
    };
    let cert = Certificate::from_der(&der)
        .map_err(|_| "Die Datei ist kein X.509-Zertifikat (PEM oder DER).".to_string())?;
    let tbs = &cert.tbs_certificate;
    let to_time = |t: x509_cert::time::Time| {
        OffsetDateTime::from_unix_timestamp(t.to_unix_duration().as_secs() as i64)
            .map_err(|_| "Die Gültigkeitsdaten des Zertifikats sind nicht lesbar.".to_string())
    };
    let not_before = to_time(tbs.validity.not_before)?;
    let not_after = to_time(tbs.validity.not_after)?;
    let day = time::macros::format_description!("[day].[month].[year]");
    let show = |t: OffsetDateTime| t.format(&day).unwrap_or_default();
    if not_after <= now {
        return Err(format!(
            "Das Zertifikat ist seit dem {} abgelaufen; bitte laden Sie ein gültiges hoch.",
            show(not_after)
        ));
    }
    if not_before > now {
        return Err(format!(
            "Das Zertifikat gilt erst ab dem {}.",
            show(not_before)
        ));
    }
    let mut usage = None;
    for ext in tbs.extensions.iter().flatten() {
        if ext.extn_id == <KeyUsage as der::oid::AssociatedOid>::OID {
            usage = Some(KeyUsage::from_der(ext.extn_value.as_bytes()).map_err(|_| {
                "Die Schlüsselverwendung des Zertifikats ist nicht lesbar.".to_string()
            })?);
        }
    }
    let names = [
        (KeyUsages::DigitalSignature, "digitalSignature"),
        (KeyUsages::NonRepudiation, "nonRepudiation"),
        (KeyUsages::KeyEncipherment, "keyEncipherment"),
        (KeyUsages::DataEncipherment, "dataEncipherment"),
        (KeyUsages::KeyAgreement, "keyAgreement"),
        (KeyUsages::KeyCertSign, "keyCertSign"),
        (KeyUsages::CRLSign, "cRLSign"),
    ];
    let key_usage: Vec<String> = usage
        .map(|u| {
            names
                .iter()
                .filter(|(flag, _)| u.0.contains(*flag))
                .map(|(_, n)| n.to_string())
                .collect()
        })
        .unwrap_or_default();
    let encrypts = key_usage.iter().any(|u| {
        matches!(
            u.as_str(),
            "keyEncipherment" | "dataEncipherment" | "keyAgreement"
        )
    });
    if !encrypts {
        return Err(
            "Das Zertifikat erlaubt keine Verschlüsselung (Schlüsselverwendung keyEncipherment, dataEncipherment oder keyAgreement fehlt); für das DVDV wird das Verschlüsselungszertifikat gebraucht.".into(),
        );
    }
    let der = cert
        .to_der()
        .map_err(|_| "Das Zertifikat ist nicht lesbar.".to_string())?;
    let fingerprint_sha256 = Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok((
        CertificateInfo {
            pki_warning: pki_warning(&tbs.subject.to_string(), &tbs.issuer.to_string()),
            subject: tbs.subject.to_string(),
            issuer: tbs.issuer.to_string(),
            serial: tbs.serial_number.to_string(),
            fingerprint_sha256,
            not_before,
            not_after,
            key_usage,
        },
        der,
    ))
}

/// The first PEM block of `text`: its label and decoded content.
pub(super) fn pem_block(text: &str) -> Result<(String, Vec<u8>), String> {
    let bad = || "Die PEM-Datei ist nicht lesbar.".to_string();
    let start = text.find("-----BEGIN ").ok_or_else(bad)?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----").ok_or_else(bad)?;
    let label = rest[..label_end].trim().to_string();
    let body = &rest[label_end + 5..];
    let end = body
        .find(&format!("-----END {label}-----"))
        .ok_or_else(bad)?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = openssl::base64::decode_block(&b64).map_err(|_| bad())?;
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use super::pki_warning;

    #[test]
    fn self_signed_and_foreign_certificates_are_warned_about_administration_pki_ones_not() {
        let own = "CN=Wohngeldstelle Köln,O=Stadt Köln,C=DE";
        assert!(pki_warning(own, own)
            .unwrap()
            .contains("selbst ausgestellt"));
        let foreign = pki_warning(own, "CN=Let's Encrypt R3,O=Let's Encrypt,C=US").unwrap();
        assert!(
            foreign.contains("„CN=Let's Encrypt R3,O=Let's Encrypt,C=US“"),
            "{foreign}"
        );
        for pki in [
            "CN=DOI-CA NRW 2024,O=IT.NRW,C=DE",
            "CN=PCA-1-Verwaltung-2023,O=PKI-1-Verwaltung,C=DE",
            "CN=Bundesamt für Sicherheit in der Informationstechnik,O=BSI,C=DE",
        ] {
            assert_eq!(pki_warning(own, pki), None, "{pki}");
        }
    }
}
