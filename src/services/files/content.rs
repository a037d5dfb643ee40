//! What an upload declares, checked: its filename and content type before anything is signed,
//! and its first bytes against the declared type once the object is stored.

use crate::error::FieldError;

use super::record::MAX_FILENAME;

/// How many leading bytes are read to recognise a type by its signature.
pub(super) const SNIFF_BYTES: usize = 8192;

/// A filename as given (any Unicode), refused when empty, too long, or holding control
/// characters (which would break headers and logs).
pub(super) fn check_filename(filename: &str) -> Result<(), FieldError> {
    if filename.trim().is_empty() {
        return Err(FieldError::new("filename", "required", "must not be empty"));
    }
    if filename.chars().count() > MAX_FILENAME {
        return Err(FieldError::new("filename", "too_long", format!("at most {MAX_FILENAME} characters")));
    }
    if filename.chars().any(char::is_control) {
        return Err(FieldError::new("filename", "invalid", "must not contain control characters"));
    }
    Ok(())
}

/// A bare media type (`image/png`), lower-cased; parameters such as `; charset=` are refused,
/// since the type is signed into the upload URL exactly as stored.
pub(super) fn normalize_type(content_type: &str) -> Result<String, FieldError> {
    let lowered = content_type.trim().to_ascii_lowercase();
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b));
    match lowered.split_once('/') {
        Some((family, subtype)) if lowered.len() <= 255 && token(family) && token(subtype) => Ok(lowered),
        _ => Err(FieldError::new(
            "content_type",
            "invalid",
            "must be a media type such as image/png, without parameters",
        )),
    }
}

/// Whether the first bytes of a file are of its declared type, for the types that have a
/// signature (PNG, JPEG, PDF, ZIP, MP4, …): an "image/png" that is HTML is not. Types without
/// one (text, JSON, CSV, `application/octet-stream`) take any bytes; they are never shown inline.
pub(super) fn matches_declared(declared: &str, first_bytes: &[u8]) -> bool {
    // `application/octet-stream` is what infer calls EOT fonts too; it names no signature.
    if declared == "application/octet-stream" || !infer::is_mime_supported(declared) {
        return true;
    }
    match infer::get(first_bytes) {
        Some(found) if found.mime_type() == declared => true,
        // Office documents, EPUBs and JARs are ZIP archives.
        Some(found) if declared == "application/zip" => {
            matches!(
                found.matcher_type(),
                infer::MatcherType::Archive | infer::MatcherType::Doc | infer::MatcherType::Book
            )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

    #[test]
    fn signatures_decide_for_types_that_have_one() {
        assert!(matches_declared("image/png", PNG));
        assert!(!matches_declared("image/png", b"<html><script>alert(1)</script></html>"));
        assert!(!matches_declared("image/jpeg", PNG));
        assert!(!matches_declared("image/png", b""));
        assert!(matches_declared("text/plain", b"<html>"));
        assert!(matches_declared("application/octet-stream", b"anything"));
    }

    #[test]
    fn names_and_types_are_bounded() {
        assert!(check_filename("Grüße 🌍.png").is_ok());
        assert!(check_filename(&"é".repeat(255)).is_ok());
        assert!(check_filename(&"é".repeat(256)).is_err());
        assert!(check_filename("a\nb").is_err() && check_filename(" ").is_err());
        assert_eq!(normalize_type(" Image/PNG ").unwrap(), "image/png");
        for bad in ["image", "image/png; charset=utf-8", "/png", "image/", "ima ge/png"] {
            assert!(normalize_type(bad).is_err(), "{bad}");
        }
    }
}
