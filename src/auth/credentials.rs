//! Email addresses and passwords as types that can only hold valid values
//! (parse, don't validate): a resolver that has an `Email` cannot store an
//! invalid one.

use std::{collections::HashSet, fmt, sync::LazyLock};

use crate::{config::PASSWORD_MAX_LENGTH, error::AppError, secret::Secret};

const EMAIL_MAX_LENGTH: usize = 254;
const EMAIL_LOCAL_MAX_LENGTH: usize = 64;

/// A syntactically valid email address, trimmed and lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, AppError> {
        let email = input.trim().to_lowercase();
        if is_valid_email(&email) {
            Ok(Self(email))
        } else {
            Err(AppError::bad_input("email", "not a valid email address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The WHATWG "valid email address" grammar, with a dot required in the
/// domain and the lengths RFC 5321 allows.
fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= EMAIL_LOCAL_MAX_LENGTH
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c));
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    email.len() <= EMAIL_MAX_LENGTH
        && local_ok
        && domain.contains('.')
        && domain.split('.').all(label_ok)
}

/// The 19,640 most common passwords, lower-cased: the list Django maintains
/// for its `CommonPasswordValidator` (django/contrib/auth/common-passwords.txt.gz,
/// Django 5.2), embedded at build time.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common-passwords.txt").lines().collect());

/// Whether `password` is on the common-password list, ignoring case and
/// surrounding spaces as an attacker's list would.
pub fn is_common_password(password: &str) -> bool {
    COMMON_PASSWORDS.contains(password.trim().to_lowercase().as_str())
}

/// A password as typed: never trimmed or changed, and never printed.
#[derive(Clone)]
pub struct Password(Secret);

impl Password {
    /// A new password: length within the configured bounds, counted in
    /// characters, and not one of the most common passwords.
    pub fn parse_new(
        input: &str,
        field: &'static str,
        min_length: usize,
    ) -> Result<Self, AppError> {
        let length = input.chars().count();
        if length < min_length {
            return Err(AppError::bad_input(
                field,
                format!("password must be at least {min_length} characters long"),
            ));
        }
        let password = Self::parse_given(input, field)?;
        if is_common_password(input) {
            return Err(AppError::bad_input(
                field,
                "this is one of the most common passwords; choose another",
            ));
        }
        Ok(password)
    }

    /// A password offered to prove identity: only the upper bound applies, so
    /// over-long input is refused before any hashing, while a password set
    /// under an older minimum can still be used.
    pub fn parse_given(input: &str, field: &'static str) -> Result<Self, AppError> {
        if input.chars().count() > PASSWORD_MAX_LENGTH {
            return Err(AppError::bad_input(
                field,
                format!("password must be at most {PASSWORD_MAX_LENGTH} characters long"),
            ));
        }
        Ok(Self(Secret::new(input)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let email = Email::parse("  Ada.Lovelace+tasks@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "ada.lovelace+tasks@example.com");
    }

    #[test]
    fn invalid_emails_are_refused() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_total = format!("a@{}.com", "b.".repeat(130));
        let cases = [
            ("", "empty"),
            ("plainaddress", "no @"),
            ("@example.com", "no local part"),
            ("ada@", "no domain"),
            ("ada@localhost", "no dot in the domain"),
            ("ada@@example.com", "two @"),
            ("ada lovelace@example.com", "space"),
            ("ada@exa_mple.com", "underscore in domain"),
            ("ada@-example.com", "label starts with a hyphen"),
            ("ada@example..com", "empty label"),
            ("ada\n@example.com", "control character"),
            (long_local.as_str(), "local part over 64"),
            (long_total.as_str(), "address over 254"),
        ];
        for (input, why) in cases {
            assert!(
                Email::parse(input).is_err(),
                "{why}: {input:?} was accepted"
            );
        }
    }

    #[test]
    fn password_length_counts_characters_not_bytes() {
        assert!(
            Password::parse_new("ééééééé", "password", 8).is_err(),
            "7 characters"
        );
        assert!(
            Password::parse_new("éééééééé", "password", 8).is_ok(),
            "8 characters, 16 bytes"
        );
        let max = "é".repeat(PASSWORD_MAX_LENGTH);
        assert!(
            Password::parse_new(&max, "password", 8).is_ok(),
            "exactly 128"
        );
        let over = format!("{max}x");
        assert!(
            Password::parse_given(&over, "password").is_err(),
            "129 characters"
        );
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        assert!(COMMON_PASSWORDS.len() >= 10_000);
        for common in ["password", "PassWord1", "  qwertyuiop ", "iloveyou"] {
            let refused = Password::parse_new(common, "password", 8);
            assert!(refused.is_err(), "{common:?} was accepted");
        }
        assert!(Password::parse_new("correct horse battery staple", "password", 8).is_ok());
    }

    #[test]
    fn passwords_are_kept_exactly_and_never_printed() {
        let password = Password::parse_new("  spaced out  ", "password", 8).expect("valid");
        assert_eq!(password.expose(), "  spaced out  ");
        assert_eq!(format!("{password:?}"), "[redacted]");
    }
}
