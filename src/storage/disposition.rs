//! `Content-Disposition` of downloads (RFC 6266, with RFC 5987's `filename*` for any Unicode
//! name): `attachment` unless the type is one a browser shows without running script, so a
//! stored file can never run script on the store's origin.

/// Types shown `inline`: images, audio and video formats browsers render without script, and
/// PDF (rendered in the browser's sandboxed viewer). Never HTML, SVG, XML or JavaScript.
const INLINE: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "video/mp4",
    "video/webm",
    "audio/mpeg",
    "audio/ogg",
    "audio/wav",
    "application/pdf",
];

/// Whether files of `content_type` are shown inline rather than downloaded.
pub fn shows_inline(content_type: &str) -> bool {
    INLINE.contains(&content_type)
}

/// `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf` (or `inline; …`). The
/// quoted `filename` is an ASCII stand-in for old clients (anything else becomes `_`); the
/// `filename*` form carries the real name, percent-encoded.
pub fn content_disposition(filename: &str, content_type: &str) -> String {
    let kind = if shows_inline(content_type) { "inline" } else { "attachment" };
    let fallback: String = filename
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::with_capacity(filename.len() * 3);
    for byte in filename.bytes() {
        // RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_names_are_encoded_and_quotes_cannot_break_out() {
        assert_eq!(
            content_disposition("Grüße \"2026\".txt", "text/plain"),
            "attachment; filename=\"Gr__e _2026_.txt\"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%222026%22.txt"
        );
        assert_eq!(content_disposition("a.png", "image/png"), "inline; filename=\"a.png\"; filename*=UTF-8''a.png");
        let header = content_disposition("x\r\nSet-Cookie: a=b;.html", "text/html");
        assert!(header.starts_with("attachment;") && !header.contains('\r') && !header.contains('\n'));
    }

    #[test]
    fn script_capable_types_are_never_inline() {
        for t in ["text/html", "image/svg+xml", "application/xml", "text/javascript", "application/xhtml+xml"] {
            assert!(!shows_inline(t), "{t}");
        }
    }
}
