//! Envelope encryption of provider keys.
//!
//! Every secret gets its own random data key; the secret is sealed under the data key and the
//! data key is sealed ("wrapped") under the master key, both with XChaCha20-Poly1305 and the
//! record's id as associated data, so a sealed value moved onto another record fails to open.
//! Rotating the master key re-wraps data keys without touching any secret.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
/// Associated data of the master-key check value, so it cannot pass for a record's data key.
const CHECK_AAD: &[u8] = b"modelgate master key check v1";
const CHECK_PLAINTEXT: &[u8] = b"modelgate";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("a sealed value failed to open: wrong key, or the value was altered or moved")]
    Open,
    #[error("the system random source failed: {0}")]
    Random(String),
    #[error("a master key must be 32 bytes, base64-encoded")]
    BadMasterKey,
}

/// The key that wraps every data key. Zeroed when dropped; never printed.
pub struct MasterKey(Zeroizing<[u8; KEY_BYTES]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    pub fn generate() -> Result<MasterKey, CryptoError> {
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        fill_random(key.as_mut())?;
        Ok(MasterKey(key))
    }

    pub fn from_base64(text: &str) -> Result<MasterKey, CryptoError> {
        let bytes = Zeroizing::new(
            B64.decode(text.trim())
                .map_err(|_| CryptoError::BadMasterKey)?,
        );
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        if bytes.len() != KEY_BYTES {
            return Err(CryptoError::BadMasterKey);
        }
        key.copy_from_slice(&bytes);
        Ok(MasterKey(key))
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(B64.encode(self.0.as_ref()))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(self.0.as_ref()))
    }

    /// A value only this key opens, kept in the store to tell a wrong master key at start-up.
    pub fn check_value(&self) -> Result<Sealed, CryptoError> {
        Sealed::seal(&self.cipher(), CHECK_PLAINTEXT, CHECK_AAD)
    }

    pub fn opens(&self, check: &Sealed) -> bool {
        check
            .open(&self.cipher(), CHECK_AAD)
            .is_ok_and(|p| p.as_slice() == CHECK_PLAINTEXT)
    }
}

/// A nonce and the ciphertext (with its tag) it produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    #[serde(with = "b64")]
    nonce: Vec<u8>,
    #[serde(with = "b64")]
    ciphertext: Vec<u8>,
}

impl Sealed {
    fn seal(
        cipher: &XChaCha20Poly1305,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Sealed, CryptoError> {
        let mut nonce = [0u8; NONCE_BYTES];
        fill_random(&mut nonce)?;
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            // Encryption fails only for inputs of absurd length.
            .map_err(|_| CryptoError::Open)?;
        Ok(Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    fn open(
        &self,
        cipher: &XChaCha20Poly1305,
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if self.nonce.len() != NONCE_BYTES {
            return Err(CryptoError::Open);
        }
        cipher
            .decrypt(
                XNonce::from_slice(&self.nonce),
                Payload {
                    msg: &self.ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Open)
    }
}

/// A secret sealed under its own data key, and that data key wrapped by the master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    wrapped_key: Sealed,
    secret: Sealed,
}

impl Envelope {
    /// Seals `plaintext` for the record `binding` (its id): only that record can open it.
    pub fn seal(
        master: &MasterKey,
        binding: &[u8],
        plaintext: &[u8],
    ) -> Result<Envelope, CryptoError> {
        let mut data_key = Zeroizing::new([0u8; KEY_BYTES]);
        fill_random(data_key.as_mut())?;
        let secret = Sealed::seal(
            &XChaCha20Poly1305::new(Key::from_slice(data_key.as_ref())),
            plaintext,
            binding,
        )?;
        let wrapped_key = Sealed::seal(&master.cipher(), data_key.as_ref(), binding)?;
        Ok(Envelope {
            wrapped_key,
            secret,
        })
    }

    pub fn open(
        &self,
        master: &MasterKey,
        binding: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let data_key = self.wrapped_key.open(&master.cipher(), binding)?;
        if data_key.len() != KEY_BYTES {
            return Err(CryptoError::Open);
        }
        self.secret
            .open(&XChaCha20Poly1305::new(Key::from_slice(&data_key)), binding)
    }

    /// The same secret with its data key wrapped by `new` instead of `old`.
    pub fn rewrap(
        &self,
        old: &MasterKey,
        new: &MasterKey,
        binding: &[u8],
    ) -> Result<Envelope, CryptoError> {
        let data_key = self.wrapped_key.open(&old.cipher(), binding)?;
        Ok(Envelope {
            wrapped_key: Sealed::seal(&new.cipher(), &data_key, binding)?,
            secret: self.secret.clone(),
        })
    }
}

fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|e| CryptoError::Random(e.to_string()))
}

mod b64 {
    use super::{B64, Engine};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        B64.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_master_key_and_its_own_record() {
        let master = MasterKey::generate().unwrap();
        let other = MasterKey::generate().unwrap();
        let envelope = Envelope::seal(&master, b"record-1", b"sk-live-123").unwrap();
        assert_eq!(
            envelope.open(&master, b"record-1").unwrap().as_slice(),
            b"sk-live-123"
        );
        assert!(envelope.open(&other, b"record-1").is_err());
        assert!(
            envelope.open(&master, b"record-2").is_err(),
            "moved onto another record"
        );
    }

    #[test]
    fn rewrapping_moves_a_secret_to_the_new_master_key() {
        let old = MasterKey::generate().unwrap();
        let new = MasterKey::generate().unwrap();
        let envelope = Envelope::seal(&old, b"r", b"secret").unwrap();
        let moved = envelope.rewrap(&old, &new, b"r").unwrap();
        assert_eq!(moved.open(&new, b"r").unwrap().as_slice(), b"secret");
        assert!(moved.open(&old, b"r").is_err());
    }

    #[test]
    fn the_check_value_tells_the_right_master_key_from_a_wrong_one() {
        let master = MasterKey::generate().unwrap();
        let check = master.check_value().unwrap();
        assert!(master.opens(&check));
        assert!(!MasterKey::generate().unwrap().opens(&check));
        let again = MasterKey::from_base64(&master.to_base64()).unwrap();
        assert!(again.opens(&check));
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert_eq!(format!("{master:?}"), "MasterKey(<redacted>)");
    }
}
