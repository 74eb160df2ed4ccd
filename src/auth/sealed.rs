//! Secrets kept at rest (second-factor secrets) sealed with AES-256-GCM
//! under the data key, bound to the account they belong to: a copy of the
//! database alone gives no second factor, and a sealed secret moved to
//! another account does not open.

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use super::random;
use crate::error::{AppError, AppResult};

const NONCE_BYTES: usize = 12;

/// The key that seals secrets at rest, and tags what must look the same
/// every time without revealing what it stands for.
#[derive(Clone)]
pub struct DataKey {
    cipher: Aes256Gcm,
    tags: Hmac<Sha256>,
}

impl DataKey {
    /// The key `TASKQL_DATA_KEY` holds (32 bytes or more, reduced with HKDF
    /// to the 32 AES-256 takes).
    pub fn from_secret(secret: &[u8]) -> Self {
        Self::derive(secret, b"taskql data key")
    }

    /// A key derived from the token signing secret, for deployments without
    /// `TASKQL_DATA_KEY`: it changes when that secret does.
    pub fn from_signing_secret(secret: &[u8]) -> Self {
        Self::derive(secret, b"taskql data key from the signing secret")
    }

    fn derive(secret: &[u8], info: &[u8]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(None, secret);
        let mut key = [0_u8; 32];
        hkdf.expand(info, &mut key)
            .expect("32 bytes is a valid HKDF-SHA-256 length");
        let mut tag_key = [0_u8; 32];
        hkdf.expand_multi_info(&[info, b" for tags"], &mut tag_key)
            .expect("32 bytes is a valid HKDF-SHA-256 length");
        Self {
            cipher: Aes256Gcm::new(&key.into()),
            tags: <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&tag_key)
                .expect("HMAC takes any key length"),
        }
    }

    /// A tag of `data` for `purpose`: the same for the same input under this
    /// key, and telling nothing of the input without it.
    pub fn tag(&self, purpose: &[u8], data: &[u8]) -> [u8; 32] {
        let mut mac = self.tags.clone();
        mac.update(purpose);
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// `secret` sealed for the account `owner`: the nonce, then the
    /// ciphertext with its tag.
    pub fn seal(&self, owner: Uuid, secret: &[u8]) -> AppResult<Vec<u8>> {
        let nonce = random::bytes::<NONCE_BYTES>()?;
        let payload = Payload {
            msg: secret,
            aad: owner.as_bytes(),
        };
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), payload)
            .map_err(|_| AppError::internal("cannot seal a secret"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The secret `sealed` holds, if it was sealed for `owner` under this key.
    pub fn open(&self, owner: Uuid, sealed: &[u8]) -> AppResult<Vec<u8>> {
        let (nonce, sealed) = sealed
            .split_at_checked(NONCE_BYTES)
            .ok_or_else(|| AppError::internal("a sealed secret too short"))?;
        let nonce: [u8; NONCE_BYTES] = nonce
            .try_into()
            .map_err(|_| AppError::internal("a sealed secret's nonce"))?;
        let payload = Payload {
            msg: sealed,
            aad: owner.as_bytes(),
        };
        self.cipher
            .decrypt(&Nonce::from(nonce), payload)
            .map_err(|_| AppError::internal("a sealed secret does not open with the data key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_for_its_owner_under_its_key_only() {
        let key = DataKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let owner = Uuid::now_v7();
        let sealed = key.seal(owner, b"the secret").expect("sealed");
        assert!(
            !sealed.windows(10).any(|w| w == b"the secret"),
            "not in the clear"
        );
        assert_eq!(key.open(owner, &sealed).expect("opens"), b"the secret");
        assert!(
            key.open(Uuid::now_v7(), &sealed).is_err(),
            "another account"
        );
        let other = DataKey::from_secret(b"another key, also 32 bytes long!");
        assert!(other.open(owner, &sealed).is_err(), "another key");
        let derived = DataKey::from_signing_secret(b"0123456789abcdef0123456789abcdef");
        assert!(derived.open(owner, &sealed).is_err(), "derived keys differ");
        let mut tampered = sealed.clone();
        *tampered.last_mut().expect("bytes") ^= 1;
        assert!(key.open(owner, &tampered).is_err(), "tampered");
        assert_ne!(
            key.seal(owner, b"the secret").expect("sealed"),
            sealed,
            "a nonce each"
        );
    }
}
