//! The words of each kind of mail, in plain text and HTML, from the
//! templates in `src/mail/templates/` (askama: checked when the server is
//! built, HTML escaped by the template engine).

use std::time::Duration;

use askama::Template;

use super::Mail;
use crate::error::{AppError, AppResult};

#[derive(Template)]
#[template(path = "password_reset.txt")]
struct PasswordResetText<'a> {
    token: &'a str,
    link: Option<&'a str>,
    minutes: u64,
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct PasswordResetHtml<'a> {
    token: &'a str,
    link: Option<&'a str>,
    minutes: u64,
}

/// The mail that carries a reset token, and its link when there is one.
pub fn password_reset(
    to: String,
    token: &str,
    link: Option<&str>,
    ttl: Duration,
) -> AppResult<Mail> {
    let minutes = ttl.as_secs().div_ceil(60);
    Ok(Mail {
        to,
        subject: "Reset your taskql password".into(),
        text: render(&PasswordResetText {
            token,
            link,
            minutes,
        })?,
        html: render(&PasswordResetHtml {
            token,
            link,
            minutes,
        })?,
    })
}

fn render(template: &impl Template) -> AppResult<String> {
    template.render().map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reset_mail_carries_the_token_and_the_escaped_link() {
        let link = "https://app.example.com/reset?token=abc&from=mail";
        let mail = password_reset(
            "ada@example.com".into(),
            "abc",
            Some(link),
            Duration::from_secs(1800),
        )
        .expect("renders");
        assert!(
            mail.text.contains(link) && mail.text.contains("\n\nabc\n\n"),
            "{}",
            mail.text
        );
        assert!(mail.text.contains("within 30 minutes"));
        assert!(
            mail.html
                .contains("href=\"https://app.example.com/reset?token=abc&#38;from=mail\"")
                || mail
                    .html
                    .contains("href=\"https://app.example.com/reset?token=abc&amp;from=mail\""),
            "{}",
            mail.html
        );
        let plain = password_reset(
            "ada@example.com".into(),
            "abc",
            None,
            Duration::from_secs(60),
        )
        .expect("renders");
        assert!(!plain.text.contains("http") && plain.html.contains("<code>abc</code>"));
        assert!(
            plain.text.starts_with("Someone asked") && plain.text.contains("Use this reset token")
        );
    }
}
