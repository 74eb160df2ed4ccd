//! A software WebAuthn authenticator with a P-256 key, speaking the browser
//! API's JSON form: it answers the options of `startPasskeyRegistration`
//! and `startPasskeyLogin` with what `PublicKeyCredential.toJSON()` gives a
//! page, signing as a platform authenticator with user verification would
//! (attestation `none`, a signature counter). Its origin, relying party id
//! and counter can be set wrong, to be refused.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// User present, user verified.
const FLAGS_UP_UV: u8 = 0x01 | 0x04;
/// Attested credential data follows.
const FLAG_AT: u8 = 0x40;

#[derive(Clone)]
pub struct Authenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    /// The signature counter; each assertion adds one first.
    pub counter: u32,
    /// The page origin the browser would put in the client data.
    pub origin: String,
    /// The relying party id to sign for, when not the one the options ask.
    pub rp_id: Option<String>,
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("random bytes");
    bytes
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A CBOR head: major type and length (all lengths here fit in 16 bits).
fn head(major: u8, length: usize, out: &mut Vec<u8>) {
    let major = major << 5;
    match length {
        0..=23 => out.push(major | u8::try_from(length).expect("small")),
        24..=255 => out.extend([major | 24, u8::try_from(length).expect("byte")]),
        _ => {
            out.push(major | 25);
            out.extend(u16::try_from(length).expect("16 bits").to_be_bytes());
        }
    }
}

fn text(value: &str, out: &mut Vec<u8>) {
    head(3, value.len(), out);
    out.extend(value.as_bytes());
}

fn bytes(value: &[u8], out: &mut Vec<u8>) {
    head(2, value.len(), out);
    out.extend(value);
}

impl Authenticator {
    pub fn new() -> Self {
        Self {
            key: SigningKey::from_slice(&random::<32>()).expect("a P-256 key"),
            credential_id: random::<32>().to_vec(),
            user_handle: Vec::new(),
            counter: 0,
            origin: "http://localhost:8000".to_owned(),
            rp_id: None,
        }
    }

    /// The credential id, base64url, as `allowCredentials` names it.
    pub fn credential_id(&self) -> String {
        b64(&self.credential_id)
    }

    fn rp_id_hash(&self, asked: &str) -> [u8; 32] {
        Sha256::digest(self.rp_id.as_deref().unwrap_or(asked).as_bytes()).into()
    }

    fn client_data(&self, kind: &str, options: &Value) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": options["challenge"],
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    /// The COSE_Key of the public key (EC2, P-256, ES256).
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_sec1_point(false);
        let point = point.as_bytes();
        let mut out = Vec::new();
        head(5, 5, &mut out);
        out.extend([0x01, 0x02]); // kty: EC2
        out.extend([0x03, 0x26]); // alg: -7 (ES256)
        out.extend([0x20, 0x01]); // crv: P-256
        out.push(0x21); // x
        bytes(&point[1..33], &mut out);
        out.push(0x22); // y
        bytes(&point[33..65], &mut out);
        out
    }

    /// Answers creation options: a new credential for the user they name.
    pub fn register(&mut self, options: &Value) -> Value {
        self.user_handle = URL_SAFE_NO_PAD
            .decode(options["user"]["id"].as_str().expect("user.id"))
            .expect("base64url user id");
        let rp_id = options["rp"]["id"].as_str().expect("rp.id");
        let mut auth_data = self.rp_id_hash(rp_id).to_vec();
        auth_data.push(FLAGS_UP_UV | FLAG_AT);
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID
        let length = u16::try_from(self.credential_id.len()).expect("short id");
        auth_data.extend(length.to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut attestation = Vec::new();
        head(5, 3, &mut attestation);
        text("fmt", &mut attestation);
        text("none", &mut attestation);
        text("attStmt", &mut attestation);
        head(5, 0, &mut attestation);
        text("authData", &mut attestation);
        bytes(&auth_data, &mut attestation);
        json!({
            "id": self.credential_id(),
            "rawId": self.credential_id(),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64(&self.client_data("webauthn.create", options)),
                "attestationObject": b64(&attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// Answers request options: an assertion signed with the key, the
    /// counter one higher.
    pub fn assert(&mut self, options: &Value) -> Value {
        self.counter += 1;
        let rp_id = options["rpId"].as_str().expect("rpId");
        let mut auth_data = self.rp_id_hash(rp_id).to_vec();
        auth_data.push(FLAGS_UP_UV);
        auth_data.extend(self.counter.to_be_bytes());
        let client_data = self.client_data("webauthn.get", options);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": self.credential_id(),
            "rawId": self.credential_id(),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(&signature.to_der().to_bytes()),
                "userHandle": b64(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
    }
}
