//! Random bytes and tokens from the operating system's generator: the one
//! place secrets, salts and opaque tokens are drawn, and the digest under
//! which an opaque token is stored.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// `N` random bytes.
pub fn bytes<const N: usize>() -> AppResult<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|error| AppError::internal(format!("no randomness: {error}")))?;
    Ok(bytes)
}

/// An opaque token of 256 random bits, URL-safe base64 without padding.
pub fn token() -> AppResult<String> {
    Ok(URL_SAFE_NO_PAD.encode(bytes::<32>()?))
}

/// What is stored of an opaque token: its SHA-256 digest. The token has 256
/// random bits, so the digest needs no salt and no slow hash.
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// [`digest`] as text, for a text column.
pub fn digest_text(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(token))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_carry_256_bits_and_differ() {
        let (a, b) = (super::token().expect("a"), super::token().expect("b"));
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
