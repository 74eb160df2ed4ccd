//! Time-based one-time passwords (RFC 6238): HMAC-SHA-1, 6 digits, 30-second
//! steps, on the `hmac` and `sha1` crates; the `otpauth://` URI that
//! authenticator apps read, and that URI as an SVG QR code.

use std::time::{SystemTime, UNIX_EPOCH};

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use super::random;
use crate::error::{AppError, AppResult};

/// Seconds one code lasts.
pub const STEP_SECONDS: u64 = 30;
/// Bytes of a secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;
const DIGITS: u32 = 6;
/// The issuer authenticator apps show.
const ISSUER: &str = "taskql";

/// A new random secret.
pub fn new_secret() -> AppResult<[u8; SECRET_BYTES]> {
    random::bytes::<SECRET_BYTES>()
}

/// The step `time` falls in.
pub fn step_at(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() / STEP_SECONDS)
}

/// The code of `step` for `secret`, `digits` long (RFC 4226 §5.3).
fn code_with(secret: &[u8], step: u64, digits: u32) -> String {
    let mut mac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    let code = binary % 10_u32.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// The 6-digit code of `step` for `secret`.
pub fn code(secret: &[u8], step: u64) -> String {
    code_with(secret, step, DIGITS)
}

/// The step within one of `now` (before, now, after: clocks drift and
/// people type slowly) whose code `given` is, if any. Compared in constant
/// time.
pub fn matching_step(secret: &[u8], given: &str, now: u64) -> Option<u64> {
    use subtle::ConstantTimeEq;
    let given = given.trim().replace(' ', "");
    if given.len() != DIGITS as usize || !given.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .find(|&step| bool::from(code(secret, step).as_bytes().ct_eq(given.as_bytes())))
}

/// The secret as authenticator apps take it typed in: base32, no padding.
pub fn encode_secret(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// The `otpauth://totp/…` URI of `secret` for the account `email`.
pub fn otpauth_uri(secret: &[u8], email: &str) -> String {
    let label = format!("{ISSUER}:{email}");
    format!(
        "otpauth://totp/{}?secret={}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        percent_encode(&label),
        encode_secret(secret)
    )
}

/// `uri` as an SVG QR code that a page can show as it is.
pub fn qr_code_svg(uri: &str) -> AppResult<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(AppError::internal)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

/// `text` with everything but unreserved characters percent-encoded
/// (RFC 3986), as the key URI format asks of a label.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, Appendix B: the SHA-1 rows, 8 digits, secret
    /// "12345678901234567890".
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59_u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(
                code_with(secret, time / STEP_SECONDS, 8),
                expected,
                "T = {time}"
            );
            assert_eq!(
                code(secret, time / STEP_SECONDS),
                expected[2..],
                "6 digits, T = {time}"
            );
        }
    }

    #[test]
    fn a_code_matches_its_step_and_the_ones_either_side_only() {
        let secret = new_secret().expect("random");
        let now = 1_000_000;
        for (step, expected) in [
            (now - 1, Some(now - 1)),
            (now, Some(now)),
            (now + 1, Some(now + 1)),
        ] {
            assert_eq!(matching_step(&secret, &code(&secret, step), now), expected);
        }
        for step in [now - 2, now + 2] {
            let code = code(&secret, step);
            // A different step may share the code by chance (1 in a million).
            if ![now - 1, now, now + 1]
                .iter()
                .any(|&s| super::code(&secret, s) == code)
            {
                assert_eq!(matching_step(&secret, &code, now), None, "step {step}");
            }
        }
        assert_eq!(matching_step(&secret, "12345", now), None, "too short");
        assert_eq!(matching_step(&secret, "abcdef", now), None, "not digits");
    }

    #[test]
    fn the_uri_names_the_issuer_and_the_account() {
        let uri = otpauth_uri(b"12345678901234567890", "ada+tasks@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/taskql:ada%2Btasks%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=taskql&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_code_svg(&uri).expect("renders");
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
    }
}
