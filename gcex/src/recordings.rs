//! Recording upload: `POST /api/v2/uploads/recordings` for a presigned URL, then the `PUT` of
//! the archive to it with exactly the returned headers; and the org's recording public key.
//!
//! The public key: `GET /api/v2/recording/recordingkeys` lists `EncryptionKey` objects whose
//! `keydataSummary` is the base64 public key; the newest (by `createDate`) is the one to
//! encrypt with. That this is the key the EX recording injection expects is UNVERIFIED (the
//! "EX Recording Injection" guide is not public); how an upload is bound to a conversation
//! is NOT FOUND, so callers carry the ids in the archive's metadata file and file name.

use crate::client::{GcClient, Retry};
use crate::error::{GcError, TransportKind};
use crate::page::{GcStream, collect_all};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// `UploadUrlRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadUrlRequest {
    /// File name (required).
    pub file_name: String,
    /// Base64 MD5 of the content; the upload must match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_md5: Option<String>,
    /// URL lifetime, 1–604800 s (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_url_timeout_seconds: Option<u32>,
    /// Content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `AES256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_encryption: Option<String>,
}

/// `UploadUrlResponse`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadUrlResponse {
    /// Presigned URL to PUT the file to.
    pub url: String,
    /// Key of the upload.
    pub upload_key: String,
    /// Headers the PUT must carry, exactly.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// `EncryptionKey` (the fields the connector reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionKey {
    /// Id.
    pub id: String,
    /// Creation time, ISO-8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_date: Option<String>,
    /// Base64 public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keydata_summary: Option<String>,
    /// `KmsSymmetric`, `LocalKeyManager`, `Native`, `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_configuration_type: Option<String>,
}

/// The base64 MD5 of `data`, as `contentMd5` wants it.
pub fn content_md5(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(md5(data))
}

// MD5 (RFC 1321), kept here so the client needs no extra crate for one checksum.
fn md5(input: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
        .collect();
    let (mut a0, mut b0, mut c0, mut d0) =
        (0x67452301u32, 0xefcdab89u32, 0x98badcfeu32, 0x10325476u32);
    let mut msg = input.to_vec();
    let bit_len = (input.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f2 = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f2.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&a0.to_le_bytes());
    out[4..8].copy_from_slice(&b0.to_le_bytes());
    out[8..12].copy_from_slice(&c0.to_le_bytes());
    out[12..].copy_from_slice(&d0.to_le_bytes());
    out
}

/// GC's rule for an upload's `fileName` (`UploadUrlRequest`, platform SDK docs): it "must not
/// start with a dot and not end with a forward slash", and whitespace and
/// ``\ { ^ } % ` ] " > [ ~ < # |`` are not allowed. `None` when `name` follows it, else why not.
/// (No length limit is published; EXRP's names are 77 characters.)
pub fn upload_file_name_problem(name: &str) -> Option<String> {
    const FORBIDDEN: &[char] = &[
        '\\', '{', '^', '}', '%', '`', ']', '"', '>', '[', '~', '<', '#', '|',
    ];
    if name.is_empty() {
        return Some("fileName is required".into());
    }
    if name.starts_with('.') {
        return Some(format!("fileName {name:?} must not start with a dot"));
    }
    if name.ends_with('/') {
        return Some(format!(
            "fileName {name:?} must not end with a forward slash"
        ));
    }
    name.chars()
        .find(|c| c.is_whitespace() || FORBIDDEN.contains(c))
        .map(|c| format!("fileName {name:?} contains {c:?}, which GC does not allow"))
}

impl GcClient {
    /// `POST /api/v2/uploads/recordings`: a presigned URL for one recording archive.
    pub async fn create_recording_upload(
        &self,
        body: &UploadUrlRequest,
    ) -> Result<UploadUrlResponse, GcError> {
        if let Some(why) = upload_file_name_problem(&body.file_name) {
            return Err(GcError::InvalidInput(format!("recording upload: {why}")));
        }
        // Asking twice only yields a second unused URL: safe to retry.
        self.send_json(
            Method::POST,
            "/api/v2/uploads/recordings",
            body,
            Retry::Safe,
        )
        .await
    }

    /// PUTs `data` to the presigned URL with exactly its headers (no bearer token), retrying
    /// 5xx and transport failures (a PUT of the same object is idempotent).
    pub async fn upload_to_presigned_url(
        &self,
        upload: &UploadUrlResponse,
        data: Vec<u8>,
    ) -> Result<(), GcError> {
        let policy = self.config().retry;
        let mut retries = 0u32;
        let mut waited = Duration::ZERO;
        loop {
            let mut rb = self
                .http()
                .put(&upload.url)
                .timeout(self.config().request_timeout);
            for (k, v) in &upload.headers {
                rb = rb.header(k.as_str(), v.as_str());
            }
            let err = match rb.body(data.clone()).send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body = r.bytes().await.unwrap_or_default();
                    let err = GcError::Api {
                        method: "PUT".into(),
                        path: "presigned recording upload".into(),
                        status,
                        body: serde_json::from_slice(&body).ok().map(Box::new),
                        correlation_id: None,
                        retry_after: None,
                    };
                    if !matches!(status, 429 | 500 | 502..=504) {
                        return Err(err);
                    }
                    err
                }
                // The presigned URL carries its signature: keep it out of the error.
                Err(source) => GcError::Transport {
                    method: "PUT".into(),
                    path: "presigned recording upload".into(),
                    kind: TransportKind::AfterSend,
                    source: source.without_url(),
                },
            };
            let wait = policy.backoff(retries);
            if retries >= policy.max_retries || waited + wait > policy.budget {
                return Err(GcError::GaveUp {
                    attempts: retries + 1,
                    elapsed: waited,
                    last: Box::new(err),
                });
            }
            retries += 1;
            waited += wait;
            tokio::time::sleep(wait).await;
        }
    }

    /// `GET /api/v2/recording/recordingkeys` (all pages).
    pub fn recording_keys(&self) -> GcStream<EncryptionKey> {
        self.paged("/api/v2/recording/recordingkeys".into(), Vec::new())
    }

    /// The newest recording key's base64 public key (`keydataSummary`), if the org has one.
    pub async fn recording_public_key(&self) -> Result<Option<String>, GcError> {
        let keys = collect_all(self.recording_keys()).await?;
        Ok(keys
            .into_iter()
            .filter(|k| k.keydata_summary.is_some())
            .max_by(|a, b| a.create_date.cmp(&b.create_date))
            .and_then(|k| k.keydata_summary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_file_names_follow_gcs_rules() {
        for ok in [
            "8f0c0b5e-1111-4000-8000-000000000001_9a0c0b5e-2222-4000-8000-000000000002.zip",
            "a.b-c_d(1)+x",
        ] {
            assert_eq!(upload_file_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "", ".hidden", "dir/", "a b", "a\tb", "a|b", "a#b", "a%b", "a\\b", "a{b", "a~b", "a\"b",
        ] {
            assert!(upload_file_name_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn md5_known_vectors() {
        let hex = |d: [u8; 16]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(hex(md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            hex(md5(b"The quick brown fox jumps over the lazy dog")),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(hex(md5(&long)), "cabe45dcc9ae5b66ba86600cca6b8ba8");
        assert_eq!(content_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }
}
