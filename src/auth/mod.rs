//! Who is asking, without any notion of a request: credentials, password
//! hashing on a bounded pool, access and refresh tokens, random tokens and
//! the windowed counters that limits use.

pub mod counter;
pub mod credentials;
pub mod oidc;
pub mod password;
pub mod random;
pub mod refresh;
pub mod sealed;
pub mod token;
pub mod totp;

pub use credentials::{Email, Password};
pub use password::{PasswordHasher, Verification};
pub use token::{Claimed, TokenKeys};
