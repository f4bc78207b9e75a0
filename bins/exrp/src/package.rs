//! The archive EXRP uploads (pure core: synchronous `Read`/`Write`, no runtime): the recording
//! encrypted with the org's recording public key, and a JSON file with the GC metadata, in one
//! ZIP ("EXRP creates a ZIP archive, which contains one encrypted audio file and a JSON file
//! with the corresponding GC-metadata", the guide).
//!
//! Public: that the archive is a ZIP of one encrypted audio file and one JSON file; that the
//! key is the org's recording key (`GET /api/v2/recording/recordingkeys`, `keydataSummary`).
//! **Our design** (the EX recording-injection format is not public; see `bins/RECORDING.md`):
//!
//! - Encrypted audio entry `{audio file name}.enc`, stored (not deflated: ciphertext does not
//!   compress). Layout, all integers big-endian:
//!   `"EXRPENC1"` · `u16` wrapped-key length · RSA-OAEP (SHA-256, MGF1-SHA-256) of a fresh
//!   random 32-byte AES-256 key · 7-byte random nonce prefix · `u32` chunk size (65,536) ·
//!   chunks. Each chunk is at most chunk-size plaintext bytes sealed with AES-256-GCM (16-byte
//!   tag appended), nonce = prefix · `u32` chunk counter · `0x01` on the last chunk else
//!   `0x00`, AAD = `"EXRPENC1"` (the STREAM construction: a reordered, truncated or extended
//!   file fails to decrypt). An empty recording is one empty last chunk.
//! - `metadata.json`, deflated: [`ArchiveMetadata`].
//!
//! Memory is bounded by the chunk size whatever the recording's length: the audio is read,
//! sealed and written one chunk at a time ([`encrypt`], [`write_archive`]).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rsa::{
    OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey,
};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, Write};

/// The encrypted file's magic (and the AAD of every chunk).
pub const MAGIC: &[u8; 8] = b"EXRPENC1";
/// Plaintext bytes per sealed chunk.
pub const CHUNK_SIZE: usize = 64 * 1024;
const TAG_LEN: usize = 16;
const PREFIX_LEN: usize = 7;
/// The name of the metadata entry.
pub const METADATA_ENTRY: &str = "metadata.json";
/// The archive's content type.
pub const ARCHIVE_CONTENT_TYPE: &str = "application/zip";

/// What went wrong building or opening an archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// The recording key is not a usable RSA public key.
    #[error(
        "the org's recording key is not a usable RSA public key (base64 DER SubjectPublicKeyInfo): {0}"
    )]
    BadKey(String),
    /// Reading or writing failed.
    #[error("I/O while packaging: {0}")]
    Io(#[from] std::io::Error),
    /// The ZIP library failed.
    #[error("ZIP: {0}")]
    Zip(String),
    /// Encryption failed (should not happen with a valid key).
    #[error("encryption failed")]
    Crypto,
    /// The encrypted file or archive is not what we write (or was tampered with).
    #[error("not an EXRP archive: {0}")]
    Format(String),
}

impl From<zip::result::ZipError> for PackageError {
    fn from(e: zip::result::ZipError) -> Self {
        match e {
            zip::result::ZipError::Io(io) => PackageError::Io(io),
            other => PackageError::Zip(other.to_string()),
        }
    }
}

/// The org's recording public key, ready to wrap content keys.
pub struct RecordingKey {
    id: String,
    key: OaepPublicEncryptingKey,
}

impl std::fmt::Debug for RecordingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingKey")
            .field("id", &self.id)
            .field("bits", &self.key.key_size_bits())
            .finish()
    }
}

impl RecordingKey {
    /// From GC's `keydataSummary`: base64 of a DER SubjectPublicKeyInfo RSA key.
    pub fn from_base64_der(id: impl Into<String>, b64: &str) -> Result<RecordingKey, PackageError> {
        use base64::Engine;
        let cleaned: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(cleaned.as_bytes())
            .map_err(|e| PackageError::BadKey(format!("not base64: {e}")))?;
        let public =
            PublicEncryptingKey::from_der(&der).map_err(|e| PackageError::BadKey(e.to_string()))?;
        let key = OaepPublicEncryptingKey::new(public)
            .map_err(|e| PackageError::BadKey(e.to_string()))?;
        Ok(RecordingKey { id: id.into(), key })
    }

    /// The GC key id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The private half, for tests and for whoever decrypts (GC in production; the emulator's key
/// holder in tests). `Debug` shows no key material.
pub struct PrivateKey(OaepPrivateDecryptingKey);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl PrivateKey {
    /// From a PKCS#8 DER RSA private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<PrivateKey, PackageError> {
        let k = PrivateDecryptingKey::from_pkcs8(der)
            .map_err(|e| PackageError::BadKey(e.to_string()))?;
        Ok(PrivateKey(
            OaepPrivateDecryptingKey::new(k).map_err(|e| PackageError::BadKey(e.to_string()))?,
        ))
    }

    /// A fresh RSA-2048 key pair: the private key and the public key as GC's `keydataSummary`
    /// (base64 DER SubjectPublicKeyInfo). For tests and the demo.
    pub fn generate() -> Result<(PrivateKey, String), PackageError> {
        use aws_lc_rs::encoding::AsDer;
        use base64::Engine;
        let k = PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| PackageError::Crypto)?;
        let der = k.public_key().as_der().map_err(|_| PackageError::Crypto)?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        Ok((
            PrivateKey(OaepPrivateDecryptingKey::new(k).map_err(|_| PackageError::Crypto)?),
            b64,
        ))
    }
}

/// The GC metadata file of an archive (`metadata.json`; our design, camelCase).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ArchiveMetadata {
    /// GC conversation id.
    pub conversation_id: String,
    /// GC communication id.
    pub communication_id: String,
    /// Segment start, RFC 3339.
    pub start_time: String,
    /// Segment end, RFC 3339.
    pub end_time: String,
    /// The recording's original file name.
    pub file_name: String,
    /// The name of the encrypted audio entry.
    pub audio_entry: String,
    /// The audio's media type (`audio/opus`: MCP records opus, the guide).
    pub media_type: String,
    /// The encryption: scheme and the GC recording key id used.
    pub encryption: EncryptionInfo,
    /// Engage CallUUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_uuid: Option<String>,
    /// STA program and language; absent: no STA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sta: Option<crate::request::StaRequest>,
}

/// How the audio entry is encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EncryptionInfo {
    /// `EXRPENC1` (AES-256-GCM chunks, RSA-OAEP-SHA256 key wrap).
    pub scheme: String,
    /// The GC recording key id.
    pub key_id: String,
}

impl ArchiveMetadata {
    /// The metadata of a validated segment encrypted with `key`.
    pub fn for_segment(seg: &crate::request::Segment, key: &RecordingKey) -> ArchiveMetadata {
        use time::format_description::well_known::Rfc3339;
        let t = |v: time::OffsetDateTime| v.format(&Rfc3339).unwrap_or_default();
        ArchiveMetadata {
            conversation_id: seg.conversation_id.clone(),
            communication_id: seg.communication_id.clone(),
            start_time: t(seg.start),
            end_time: t(seg.end),
            file_name: seg.audio_name().to_string(),
            audio_entry: format!("{}.enc", seg.audio_name()),
            media_type: "audio/opus".into(),
            encryption: EncryptionInfo {
                scheme: "EXRPENC1".into(),
                key_id: key.id().to_string(),
            },
            call_uuid: seg.call_uuid.clone(),
            sta: seg.sta.clone(),
        }
    }
}

fn nonce(prefix: &[u8; PREFIX_LEN], counter: u32, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[..PREFIX_LEN].copy_from_slice(prefix);
    n[PREFIX_LEN..PREFIX_LEN + 4].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Encrypts `input` to `output` in the `EXRPENC1` format; returns the plaintext length.
pub fn encrypt(
    mut input: impl Read,
    mut output: impl Write,
    key: &RecordingKey,
) -> Result<u64, PackageError> {
    let mut content_key = [0u8; 32];
    let mut prefix = [0u8; PREFIX_LEN];
    aws_lc_rs::rand::fill(&mut content_key).map_err(|_| PackageError::Crypto)?;
    aws_lc_rs::rand::fill(&mut prefix).map_err(|_| PackageError::Crypto)?;
    let mut wrapped = vec![0u8; key.key.ciphertext_size()];
    let wrapped = key
        .key
        .encrypt(&OAEP_SHA256_MGF1SHA256, &content_key, &mut wrapped, None)
        .map_err(|_| PackageError::Crypto)?;
    let aead = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, &content_key).map_err(|_| PackageError::Crypto)?,
    );
    let wrapped_len = u16::try_from(wrapped.len()).map_err(|_| PackageError::Crypto)?;
    output.write_all(MAGIC)?;
    output.write_all(&wrapped_len.to_be_bytes())?;
    output.write_all(wrapped)?;
    output.write_all(&prefix)?;
    output.write_all(&(CHUNK_SIZE as u32).to_be_bytes())?;

    let mut current = vec![0u8; CHUNK_SIZE];
    let mut next = vec![0u8; CHUNK_SIZE];
    let mut len = read_full(&mut input, &mut current[..CHUNK_SIZE])?;
    let mut total = len as u64;
    let mut counter: u32 = 0;
    loop {
        let next_len = if len == CHUNK_SIZE {
            read_full(&mut input, &mut next[..CHUNK_SIZE])?
        } else {
            0
        };
        let last = next_len == 0;
        let tag = aead
            .seal_in_place_separate_tag(
                nonce(&prefix, counter, last),
                Aad::from(MAGIC),
                &mut current[..len],
            )
            .map_err(|_| PackageError::Crypto)?;
        output.write_all(&current[..len])?;
        output.write_all(tag.as_ref())?;
        if last {
            break;
        }
        counter = counter
            .checked_add(1)
            .ok_or_else(|| PackageError::Format("recording too large".into()))?;
        std::mem::swap(&mut current, &mut next);
        len = next_len;
        total += len as u64;
    }
    output.flush()?;
    Ok(total)
}

/// Decrypts an `EXRPENC1` file (tests, operators holding the private key).
pub fn decrypt(
    mut input: impl Read,
    mut output: impl Write,
    key: &PrivateKey,
) -> Result<u64, PackageError> {
    let bad = |m: &str| PackageError::Format(m.to_string());
    let mut magic = [0u8; 8];
    if read_full(&mut input, &mut magic)? != 8 || &magic != MAGIC {
        return Err(bad("wrong magic"));
    }
    let mut l = [0u8; 2];
    if read_full(&mut input, &mut l)? != 2 {
        return Err(bad("truncated header"));
    }
    let mut wrapped = vec![0u8; usize::from(u16::from_be_bytes(l))];
    if read_full(&mut input, &mut wrapped)? != wrapped.len() {
        return Err(bad("truncated key"));
    }
    let mut content_key = vec![0u8; key.0.min_output_size()];
    let content_key = key
        .0
        .decrypt(&OAEP_SHA256_MGF1SHA256, &wrapped, &mut content_key, None)
        .map_err(|_| bad("the content key does not unwrap with this private key"))?;
    let aead = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, content_key).map_err(|_| bad("bad content key"))?,
    );
    let mut prefix = [0u8; PREFIX_LEN];
    let mut cs = [0u8; 4];
    if read_full(&mut input, &mut prefix)? != PREFIX_LEN || read_full(&mut input, &mut cs)? != 4 {
        return Err(bad("truncated header"));
    }
    let chunk = u32::from_be_bytes(cs) as usize;
    if chunk == 0 || chunk > 16 * 1024 * 1024 {
        return Err(bad("bad chunk size"));
    }
    let block = chunk + TAG_LEN;
    let mut current = vec![0u8; block];
    let mut next = vec![0u8; block];
    let mut len = read_full(&mut input, &mut current)?;
    let mut counter: u32 = 0;
    let mut total = 0u64;
    loop {
        let next_len = if len == block {
            read_full(&mut input, &mut next)?
        } else {
            0
        };
        let last = next_len == 0;
        let plain = aead
            .open_in_place(
                nonce(&prefix, counter, last),
                Aad::from(MAGIC),
                &mut current[..len],
            )
            .map_err(|_| bad("a chunk does not authenticate (tampered, truncated or reordered)"))?;
        output.write_all(plain)?;
        total += plain.len() as u64;
        if last {
            break;
        }
        counter = counter
            .checked_add(1)
            .ok_or_else(|| bad("too many chunks"))?;
        std::mem::swap(&mut current, &mut next);
        len = next_len;
    }
    Ok(total)
}

/// Writes the archive: `audio` encrypted as [`ArchiveMetadata::audio_entry`] and the metadata
/// as [`METADATA_ENTRY`].
pub fn write_archive(
    audio: impl Read,
    metadata: &ArchiveMetadata,
    key: &RecordingKey,
    out: impl Write + Seek,
) -> Result<(), PackageError> {
    use zip::CompressionMethod;
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(out);
    let stored = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(true);
    zip.start_file(metadata.audio_entry.as_str(), stored)?;
    encrypt(audio, &mut zip, key)?;
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    zip.start_file(METADATA_ENTRY, deflated)?;
    let json = serde_json::to_vec_pretty(metadata).map_err(|e| PackageError::Zip(e.to_string()))?;
    zip.write_all(&json)?;
    let mut inner = zip.finish()?;
    inner.flush()?;
    Ok(())
}

/// Opens an archive: its metadata, and the decrypted audio written to `audio_out`.
pub fn read_archive(
    archive: impl Read + Seek,
    key: &PrivateKey,
    audio_out: impl Write,
) -> Result<ArchiveMetadata, PackageError> {
    let mut zip = zip::ZipArchive::new(archive)?;
    let metadata: ArchiveMetadata = {
        let entry = zip.by_name(METADATA_ENTRY)?;
        serde_json::from_reader(entry).map_err(|e| PackageError::Format(e.to_string()))?
    };
    let entry = zip.by_name(&metadata.audio_entry)?;
    decrypt(entry, audio_out, key)?;
    Ok(metadata)
}

/// The base64 MD5 of everything `r` yields (GC's `contentMd5`), read in chunks.
pub fn content_md5(mut r: impl Read) -> std::io::Result<String> {
    use base64::Engine;
    use md5::Digest;
    let mut h = md5::Md5::new();
    let mut buf = vec![0u8; CHUNK_SIZE];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::sync::OnceLock;

    fn keys() -> &'static (PrivateKey, String) {
        static K: OnceLock<(PrivateKey, String)> = OnceLock::new();
        K.get_or_init(|| PrivateKey::generate().unwrap())
    }

    fn public() -> RecordingKey {
        RecordingKey::from_base64_der("key-1", &keys().1).unwrap()
    }

    fn round_trip(plain: &[u8]) -> Vec<u8> {
        let mut enc = Vec::new();
        assert_eq!(
            encrypt(plain, &mut enc, &public()).unwrap(),
            plain.len() as u64
        );
        let mut dec = Vec::new();
        decrypt(&enc[..], &mut dec, &keys().0).unwrap();
        enc
    }

    #[test]
    fn encryption_round_trips_at_chunk_boundaries() {
        for len in [
            0,
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            3 * CHUNK_SIZE,
        ] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let enc = round_trip(&plain);
            let mut dec = Vec::new();
            decrypt(&enc[..], &mut dec, &keys().0).unwrap();
            assert_eq!(dec, plain, "len {len}");
            if len > 0 {
                assert_ne!(
                    &enc[enc.len() - TAG_LEN - len..enc.len() - TAG_LEN],
                    &plain[..]
                );
            }
        }
    }

    #[test]
    fn tampering_truncation_and_the_wrong_key_are_detected() {
        let plain = vec![7u8; 2 * CHUNK_SIZE + 10];
        let enc = round_trip(&plain);
        let mut flipped = enc.clone();
        let at = flipped.len() - 20;
        flipped[at] ^= 1;
        assert!(decrypt(&flipped[..], std::io::sink(), &keys().0).is_err());
        // Dropping the last chunk leaves a non-final chunk at the end.
        let header = 8 + 2 + 256 + 7 + 4;
        let truncated = &enc[..header + 2 * (CHUNK_SIZE + TAG_LEN)];
        assert!(decrypt(truncated, std::io::sink(), &keys().0).is_err());
        let (other, _) = PrivateKey::generate().unwrap();
        assert!(decrypt(&enc[..], std::io::sink(), &other).is_err());
        for junk in [&b""[..], b"EXRPENC1", b"nonsense nonsense"] {
            assert!(decrypt(junk, std::io::sink(), &keys().0).is_err());
        }
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(RecordingKey::from_base64_der("k", "not base64!").is_err());
        assert!(RecordingKey::from_base64_der("k", "AAAA").is_err());
        assert!(!format!("{:?}", keys().0).contains("MII"));
        // The emulator's default key is a valid RSA key.
        assert!(
            RecordingKey::from_base64_der("k", gcex::emulator::DEFAULT_RECORDING_PUBLIC_KEY)
                .is_ok()
        );
    }

    #[test]
    fn the_archive_holds_the_encrypted_audio_and_the_metadata() {
        let seg = crate::request::InteractionEnd::new(
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:03:12.25Z",
            "dir/call-1.opus",
        )
        .with_sta(crate::request::StaRequest::new(
            "00000000-0000-4000-8000-0000000000aa",
            "en-US",
        ))
        .validate()
        .unwrap();
        let key = public();
        let meta = ArchiveMetadata::for_segment(&seg, &key);
        assert_eq!(meta.audio_entry, "call-1.opus.enc");
        assert_eq!(meta.end_time, "2024-05-01T10:03:12.25Z");
        let audio: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
        let mut out = Cursor::new(Vec::new());
        write_archive(&audio[..], &meta, &key, &mut out).unwrap();
        let bytes = out.into_inner();
        let md5 = content_md5(&bytes[..]).unwrap();
        assert_eq!(md5, gcex::recordings::content_md5(&bytes));
        let mut back = Vec::new();
        let got = read_archive(Cursor::new(bytes), &keys().0, &mut back).unwrap();
        assert_eq!(got, meta);
        assert_eq!(back, audio);
    }
}
