//! The detached CMS SignedData of a PAdES B-B signature (ETSI EN 319 142-1, RFC 5652).
//!
//! Signed attributes: content-type (id-data), message-digest (SHA-256 of the signed byte
//! ranges) and ESS signing-certificate-v2 (RFC 5035) naming the seal certificate. There is
//! deliberately no signing-time attribute: PAdES puts the time in the signature
//! dictionary's `/M`.

use der::asn1::{Any, Null, ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, Encode, Sequence};
use sha2::{Digest, Sha256};
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use ::cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use ::cms::content_info::{CmsVersion, ContentInfo};
use ::cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};

use super::{KeyAlgorithm, SealError, Signer};

pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
pub const CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
pub const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
pub const SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
pub const SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
pub const TIMESTAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
pub const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// Turns a signature value into an RFC 3161 timestamp token (DER).
pub type Stamper<'a> = &'a dyn Fn(&[u8]) -> Result<Vec<u8>, SealError>;

/// RFC 5035: `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, … }`
#[derive(Clone, Debug, Sequence)]
pub struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
}

/// `ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash, issuerSerial }`.
/// The hash algorithm is SHA-256, the default, so DER leaves it out.
#[derive(Clone, Debug, Sequence)]
pub struct EssCertIdV2 {
    pub cert_hash: OctetString,
    pub issuer_serial: IssuerSerial,
}

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }`
#[derive(Clone, Debug, Sequence)]
pub struct IssuerSerial {
    pub issuer: Vec<GeneralName>,
    pub serial_number: SerialNumber,
}

fn sha256_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: SHA256,
        parameters: None,
    }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, SealError> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).map_err(der_err)?,
    })
}

fn der_err(e: der::Error) -> SealError {
    SealError::Sign(format!("ASN.1: {e}"))
}

/// The signed attributes for a digest of the document and the seal certificate.
fn signed_attributes(
    digest: &[u8],
    cert: &Certificate,
    cert_der: &[u8],
) -> Result<SetOfVec<Attribute>, SealError> {
    let ess = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(Sha256::digest(cert_der).to_vec()).map_err(der_err)?,
            issuer_serial: IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(
                    cert.tbs_certificate.issuer.clone(),
                )],
                serial_number: cert.tbs_certificate.serial_number.clone(),
            },
        }],
    };
    let attrs = vec![
        attribute(CONTENT_TYPE, Any::encode_from(&ID_DATA).map_err(der_err)?)?,
        attribute(
            MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest.to_vec()).map_err(der_err)?)
                .map_err(der_err)?,
        )?,
        attribute(
            SIGNING_CERTIFICATE_V2,
            Any::encode_from(&ess).map_err(der_err)?,
        )?,
    ];
    SetOfVec::try_from(attrs).map_err(der_err)
}

/// A detached CMS SignedData (DER) over `digest`, the SHA-256 of the signed byte ranges.
/// `timestamp` turns the signature value into an RFC 3161 token (B-T) when given.
pub fn sign(
    digest: &[u8],
    signer: &dyn Signer,
    timestamp: Option<Stamper<'_>>,
) -> Result<Vec<u8>, SealError> {
    let chain = signer.chain();
    let cert_der = chain
        .first()
        .ok_or_else(|| SealError::Key("kein Siegelzertifikat".into()))?;
    let cert = Certificate::from_der(cert_der).map_err(der_err)?;
    let signed_attrs = signed_attributes(digest, &cert, cert_der)?;
    let signature = signer.sign(&signed_attrs.to_der().map_err(der_err)?)?;
    let signature_algorithm = match signer.algorithm() {
        KeyAlgorithm::Rsa => AlgorithmIdentifierOwned {
            oid: RSA_ENCRYPTION,
            parameters: Some(Any::encode_from(&Null).map_err(der_err)?),
        },
        KeyAlgorithm::Ecdsa => AlgorithmIdentifierOwned {
            oid: ECDSA_WITH_SHA256,
            parameters: None,
        },
    };
    let unsigned_attrs = match timestamp {
        Some(stamp) => {
            let token = stamp(&signature)?;
            Some(
                SetOfVec::try_from(vec![attribute(
                    TIMESTAMP_TOKEN,
                    Any::from_der(&token).map_err(der_err)?,
                )?])
                .map_err(der_err)?,
            )
        }
        None => None,
    };
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha256_alg(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm,
        signature: OctetString::new(signature).map_err(der_err)?,
        unsigned_attrs,
    };
    let mut certs = Vec::with_capacity(chain.len());
    for der in chain {
        certs.push(CertificateChoices::Certificate(
            Certificate::from_der(der).map_err(der_err)?,
        ));
    }
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha256_alg()]).map_err(der_err)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(certs).map_err(der_err)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).map_err(der_err)?),
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data).map_err(der_err)?,
    }
    .to_der()
    .map_err(der_err)
}

/// What a CMS signature says, read back for verification.
#[derive(Debug)]
pub struct ParsedSignature {
    /// DER of the certificate the SignerInfo names, if it is included.
    pub signer_cert: Option<Vec<u8>>,
    /// DER of every included certificate.
    pub certificates: Vec<Vec<u8>>,
    pub message_digest: Option<Vec<u8>>,
    pub content_type_is_data: bool,
    pub has_signing_time: bool,
    /// certHash of the first ESSCertIDv2, if the attribute is there.
    pub ess_cert_hash: Option<Vec<u8>>,
    /// DER of the signed attributes (SET OF), what the signature covers.
    pub signed_attrs_der: Vec<u8>,
    pub signature: Vec<u8>,
    pub digest_is_sha256: bool,
    /// The digest algorithm of the SignerInfo.
    pub digest_oid: ObjectIdentifier,
    /// The signature algorithm of the SignerInfo (rsaEncryption, sha256WithRSA, ECDSA, PSS…).
    pub signature_oid: ObjectIdentifier,
    pub has_timestamp: bool,
}

/// Reads a CMS SignedData with one SignerInfo. `der` may carry trailing zero padding, as
/// the `/Contents` of a PDF signature does.
pub fn parse(der: &[u8]) -> Result<ParsedSignature, SealError> {
    let bad = |e: der::Error| SealError::Pdf(format!("CMS-Signatur nicht lesbar: {e}"));
    let len = der_length(der).ok_or_else(|| SealError::Pdf("CMS-Signatur nicht lesbar".into()))?;
    let info = ContentInfo::from_der(&der[..len]).map_err(bad)?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(SealError::Pdf(
            "die Signatur ist kein CMS SignedData".into(),
        ));
    }
    let sd: SignedData = info.content.decode_as().map_err(bad)?;
    let signer = sd
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or_else(|| SealError::Pdf("die Signatur enthält keinen Unterzeichner".into()))?;
    let mut certificates = Vec::new();
    let mut signer_cert = None;
    for choice in sd.certificates.iter().flat_map(|c| c.0.iter()) {
        if let CertificateChoices::Certificate(cert) = choice {
            let der = cert.to_der().map_err(bad)?;
            if let SignerIdentifier::IssuerAndSerialNumber(ias) = &signer.sid {
                if ias.issuer == cert.tbs_certificate.issuer
                    && ias.serial_number == cert.tbs_certificate.serial_number
                {
                    signer_cert = Some(der.clone());
                }
            }
            certificates.push(der);
        }
    }
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| SealError::Pdf("die Signatur hat keine signierten Attribute".into()))?;
    let value = |oid: ObjectIdentifier| {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next().cloned())
    };
    let message_digest = value(MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .map(|o| o.as_bytes().to_vec());
    let content_type_is_data =
        value(CONTENT_TYPE).and_then(|v| v.decode_as::<ObjectIdentifier>().ok()) == Some(ID_DATA);
    let ess_cert_hash = value(SIGNING_CERTIFICATE_V2)
        .and_then(|v| v.decode_as::<SigningCertificateV2>().ok())
        .and_then(|s| s.certs.into_iter().next())
        .map(|c| c.cert_hash.as_bytes().to_vec());
    Ok(ParsedSignature {
        signer_cert,
        certificates,
        message_digest,
        content_type_is_data,
        has_signing_time: value(SIGNING_TIME).is_some(),
        ess_cert_hash,
        signed_attrs_der: attrs.to_der().map_err(bad)?,
        signature: signer.signature.as_bytes().to_vec(),
        digest_is_sha256: signer.digest_alg.oid == SHA256,
        digest_oid: signer.digest_alg.oid,
        signature_oid: signer.signature_algorithm.oid,
        has_timestamp: signer
            .unsigned_attrs
            .as_ref()
            .is_some_and(|u| u.iter().any(|a| a.oid == TIMESTAMP_TOKEN)),
    })
}

/// The length of the DER element at the start of `bytes` (tag, length and content).
fn der_length(bytes: &[u8]) -> Option<usize> {
    let first = *bytes.get(1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *bytes.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let total = header.checked_add(len)?;
    (total <= bytes.len()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_length_reads_short_and_long_forms_and_refuses_overruns() {
        assert_eq!(der_length(&[0x30, 0x02, 1, 2, 0, 0]), Some(4));
        let mut long = vec![0x30, 0x82, 0x01, 0x00];
        long.extend(std::iter::repeat_n(0u8, 0x100 + 10));
        assert_eq!(der_length(&long), Some(0x104));
        assert_eq!(der_length(&[0x30, 0x82, 0x01]), None);
        assert_eq!(der_length(&[0x30, 0x05, 1]), None);
    }
}
