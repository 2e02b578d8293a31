//! RFC 3161 timestamps for PAdES B-T. The signature value's SHA-256 goes to the configured
//! timestamp authority; its token is added to the CMS as the unsigned attribute
//! signature-time-stamp-token. Every failure (unreachable, refused, a token for another
//! hash or nonce) is an error: a seal that should carry a timestamp is not made without.

use std::time::Duration;

use der::asn1::{ObjectIdentifier, OctetString, Uint};
use der::{Decode, Encode, Reader, Sequence, SliceReader, Tag};
use rand::RngCore;
use sha2::{Digest, Sha256};
use x509_cert::spki::AlgorithmIdentifierOwned;

use ::cms::content_info::ContentInfo;
use ::cms::signed_data::SignedData;

use super::cms::{ID_SIGNED_DATA, SHA256};
use super::SealError;

/// id-ct-TSTInfo
const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// Largest answer read from a TSA.
const MAX_RESPONSE: u64 = 256 * 1024;

#[derive(Clone, Debug, Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

/// `TimeStampReq` with the fields we send (no policy, no extensions).
#[derive(Clone, Debug, Sequence)]
struct TimeStampReq {
    version: u8,
    message_imprint: MessageImprint,
    nonce: Uint,
    /// DEFAULT FALSE; we always ask for the TSA's certificate.
    cert_req: bool,
}

/// A client of one timestamp authority.
pub struct TsaClient {
    url: String,
    agent: ureq::Agent,
}

fn tsa_err(message: impl Into<String>) -> SealError {
    SealError::Tsa(message.into())
}

impl TsaClient {
    pub fn new(url: &str) -> Result<TsaClient, SealError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(SealError::Key(format!(
                "tsa_url „{url}“ ist keine http(s)-Adresse"
            )));
        }
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(15)))
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .provider(ureq::tls::TlsProvider::NativeTls)
                    .build(),
            )
            .build();
        Ok(TsaClient {
            url: url.to_string(),
            agent: ureq::Agent::new_with_config(config),
        })
    }

    /// The timestamp token (a DER ContentInfo) over SHA-256 of `signature`.
    pub fn stamp(&self, signature: &[u8]) -> Result<Vec<u8>, SealError> {
        let digest = Sha256::digest(signature).to_vec();
        let mut nonce = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut nonce);
        nonce[0] &= 0x7f;
        let request = TimeStampReq {
            version: 1,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifierOwned {
                    oid: SHA256,
                    parameters: None,
                },
                hashed_message: OctetString::new(digest.clone())
                    .map_err(|e| tsa_err(e.to_string()))?,
            },
            nonce: Uint::new(&nonce).map_err(|e| tsa_err(e.to_string()))?,
            cert_req: true,
        }
        .to_der()
        .map_err(|e| tsa_err(e.to_string()))?;
        let mut response = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/timestamp-query")
            .send(&request[..])
            .map_err(|e| tsa_err(format!("{} antwortet nicht: {e}", self.url)))?;
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .map_err(|e| tsa_err(format!("{}: Antwort unlesbar: {e}", self.url)))?;
        token_from_response(&body, &digest, &nonce)
            .map_err(|e| tsa_err(format!("{}: {e}", self.url)))
    }
}

/// Checks a `TimeStampResp` and returns its token: status granted, a SignedData whose
/// TSTInfo names our digest (SHA-256) and our nonce.
fn token_from_response(body: &[u8], digest: &[u8], nonce: &[u8]) -> Result<Vec<u8>, String> {
    let bad = |e: der::Error| format!("Antwort ist kein RFC-3161-Zeitstempel: {e}");
    let mut r = SliceReader::new(body).map_err(bad)?;
    let token = r
        .sequence(|r| {
            // PKIStatusInfo: status, then optional text and failure bits.
            let status = r.sequence(|r| {
                let status = u8::decode(r)?;
                while !r.is_finished() {
                    der::Any::decode(r)?;
                }
                Ok(status)
            })?;
            if status > 1 {
                return Ok(Err(format!("der Dienst lehnt ab (PKIStatus {status})")));
            }
            let token = der::Any::decode(r)?;
            Ok(Ok(token.to_der()?))
        })
        .map_err(bad)??;
    let info = ContentInfo::from_der(&token).map_err(bad)?;
    if info.content_type != ID_SIGNED_DATA {
        return Err("das Token ist kein SignedData".into());
    }
    let signed: SignedData = info.content.decode_as().map_err(bad)?;
    if signed.encap_content_info.econtent_type != TST_INFO {
        return Err("das Token enthält kein TSTInfo".into());
    }
    let content = signed
        .encap_content_info
        .econtent
        .ok_or("das Token ist leer")?;
    let tst = content.decode_as::<OctetString>().map_err(bad)?;
    let (imprint, tst_nonce) = read_tst_info(tst.as_bytes()).map_err(bad)?;
    if imprint.hash_algorithm.oid != SHA256 || imprint.hashed_message.as_bytes() != digest {
        return Err("der Zeitstempel gilt einem anderen Hashwert".into());
    }
    let strip = |b: &[u8]| -> Vec<u8> { b.iter().copied().skip_while(|x| *x == 0).collect() };
    if tst_nonce.map(|n| strip(n.as_bytes())) != Some(strip(nonce)) {
        return Err("der Zeitstempel trägt eine andere Nonce".into());
    }
    Ok(token)
}

/// messageImprint and nonce of a TSTInfo (RFC 3161 § 2.4.2).
fn read_tst_info(der: &[u8]) -> der::Result<(MessageImprint, Option<Uint>)> {
    let mut r = SliceReader::new(der)?;
    r.sequence(|r| {
        u8::decode(r)?; // version
        ObjectIdentifier::decode(r)?; // policy
        let imprint = MessageImprint::decode(r)?;
        Uint::decode(r)?; // serialNumber
                          // genTime: a GeneralizedTime, possibly with fractions of a second (RFC 3161
                          // allows them, der's GeneralizedTime does not), so read it as any element.
        let gen_time = der::Any::decode(r)?;
        if der::Tagged::tag(&gen_time) != Tag::GeneralizedTime {
            return Err(der::Tag::GeneralizedTime.value_error());
        }
        let mut nonce = None;
        while !r.is_finished() {
            match r.peek_tag()? {
                Tag::Integer => nonce = Some(Uint::decode(r)?),
                _ => {
                    der::Any::decode(r)?;
                }
            }
        }
        Ok((imprint, nonce))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_and_garbage_are_errors_not_tokens() {
        // PKIStatus 2 (rejection) with no token.
        let rejection = [0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02];
        let err = token_from_response(&rejection, &[0; 32], &[1]).unwrap_err();
        assert!(err.contains("lehnt ab"), "{err}");
        assert!(token_from_response(b"<html>502</html>", &[0; 32], &[1]).is_err());
        assert!(TsaClient::new("ftp://tsa.example").is_err());
    }
}
