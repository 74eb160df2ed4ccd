//! Who is asking: credentials, password hashing, access and refresh tokens,
//! and the viewer that resolvers guard on.

pub mod credentials;
pub mod password;
pub mod refresh;
pub mod throttle;
pub mod token;
pub mod viewer;

pub use credentials::{Email, Password};
pub use password::{PasswordHasher, Verification};
pub use token::TokenKeys;
pub use viewer::Viewer;
