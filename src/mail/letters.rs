//! The words of each kind of mail, in plain text and HTML, from the
//! templates in `src/mail/templates/` (askama: checked when the server is
//! built, HTML escaped by the template engine). A token mail carries a
//! token and, when configured, a link made from it; a notice tells the
//! account's owner what happened to it.

use std::time::Duration;

use askama::Template;

use super::Mail;
use crate::error::{AppError, AppResult};

/// What a token mail says, beyond its token and link.
pub struct TokenWords {
    subject: &'static str,
    intro: &'static str,
    /// What the link does, after "Open this link to".
    action: &'static str,
    /// The link's text in HTML.
    button: &'static str,
    token_name: &'static str,
    /// What using it does; may be empty.
    effect: &'static str,
    /// What to do when it was not you.
    otherwise: &'static str,
}

pub const PASSWORD_RESET: TokenWords = TokenWords {
    subject: "Reset your taskql password",
    intro: "Someone asked to reset the password of your taskql account.",
    action: "choose a new password",
    button: "Choose a new password",
    token_name: "reset token",
    effect: "Resetting ends every session of the account.",
    otherwise: "If you did not ask for this, ignore this mail: your password stays as it is.",
};

pub const VERIFY_EMAIL: TokenWords = TokenWords {
    subject: "Confirm your taskql address",
    intro: "Confirm that this address belongs to your taskql account.",
    action: "confirm your address",
    button: "Confirm your address",
    token_name: "verification token",
    effect: "",
    otherwise: "If you did not sign up for taskql, ignore this mail.",
};

pub const INVITATION: TokenWords = TokenWords {
    subject: "You are invited to a taskql list",
    intro: "",
    action: "join the list",
    button: "Join the list",
    token_name: "invitation token",
    effect: "Sign in with this address, verified, to join.",
    otherwise: "If you do not know the sender, ignore this mail: nothing happens.",
};

pub const CHANGE_EMAIL: TokenWords = TokenWords {
    subject: "Confirm the new address of your taskql account",
    intro: "Someone asked to make this the address of a taskql account.",
    action: "confirm the new address",
    button: "Confirm the new address",
    token_name: "confirmation token",
    effect: "The account's address changes once it is used.",
    otherwise: "If you did not ask for this, ignore this mail: nothing changes.",
};

#[derive(Template)]
#[template(path = "token.txt")]
struct TokenText<'a> {
    words: &'a TokenWords,
    intro: &'a str,
    token: &'a str,
    link: Option<&'a str>,
    validity: &'a str,
}

#[derive(Template)]
#[template(path = "token.html")]
struct TokenHtml<'a> {
    words: &'a TokenWords,
    intro: &'a str,
    token: &'a str,
    link: Option<&'a str>,
    validity: &'a str,
}

/// A mail that carries `token`, valid for `ttl`, and its link when there is
/// one.
pub fn token(
    words: &TokenWords,
    to: String,
    token: &str,
    link: Option<&str>,
    ttl: Duration,
) -> AppResult<Mail> {
    token_saying(words, words.intro, to, token, link, ttl)
}

/// An invitation to a list, from `inviter`, to take up with `token`.
pub fn invitation(
    inviter: &str,
    list: &str,
    role: &str,
    to: String,
    token: &str,
    link: Option<&str>,
    ttl: Duration,
) -> AppResult<Mail> {
    let intro =
        format!("{inviter} invited you to the taskql list \u{201c}{list}\u{201d} as {role}.");
    token_saying(&INVITATION, &intro, to, token, link, ttl)
}

fn token_saying(
    words: &TokenWords,
    intro: &str,
    to: String,
    token: &str,
    link: Option<&str>,
    ttl: Duration,
) -> AppResult<Mail> {
    let validity = &humane(ttl);
    Ok(Mail {
        to,
        subject: words.subject.into(),
        text: render(&TokenText {
            words,
            intro,
            token,
            link,
            validity,
        })?,
        html: render(&TokenHtml {
            words,
            intro,
            token,
            link,
            validity,
        })?,
    })
}

#[derive(Template)]
#[template(path = "notice.txt")]
struct NoticeText<'a> {
    what: &'a str,
    advice: &'a str,
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticeHtml<'a> {
    what: &'a str,
    advice: &'a str,
}

/// A notice to the owner of an account: what happened, and what to do if
/// it was not them.
pub fn notice(to: String, subject: &str, what: &str) -> AppResult<Mail> {
    let advice = "If this was you, there is nothing to do. If it was not, reset your \
                  password now and end the sessions you do not know.";
    Ok(Mail {
        to,
        subject: subject.into(),
        text: render(&NoticeText { what, advice })?,
        html: render(&NoticeHtml { what, advice })?,
    })
}

/// `30 minutes`, `24 hours`, `1 hour`.
fn humane(ttl: Duration) -> String {
    let minutes = ttl.as_secs().div_ceil(60);
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if minutes >= 2 * 1440 && minutes.is_multiple_of(1440) {
        plural(minutes / 1440, "day")
    } else if minutes >= 120 && minutes.is_multiple_of(60) {
        plural(minutes / 60, "hour")
    } else {
        plural(minutes, "minute")
    }
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
        let mail = token(
            &PASSWORD_RESET,
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
        let plain = token(
            &PASSWORD_RESET,
            "ada@example.com".into(),
            "abc",
            None,
            Duration::from_secs(60),
        )
        .expect("renders");
        assert!(!plain.text.contains("http") && plain.html.contains("<code>abc</code>"));
        assert!(plain.text.contains("Use this reset token") && plain.text.contains("1 minute."));
    }

    #[test]
    fn notices_escape_what_they_say() {
        let mail = notice("ada@example.com".into(), "Subject", "<b>changed</b>").expect("renders");
        assert!(mail.text.starts_with("<b>changed</b>"));
        assert!(!mail.html.contains("<b>changed</b>"), "{}", mail.html);
        assert_eq!(humane(Duration::from_secs(86_400)), "24 hours");
        assert_eq!(humane(Duration::from_secs(3600)), "60 minutes");
    }
}

#[derive(Template)]
#[template(path = "reminder.txt")]
struct ReminderText<'a> {
    title: &'a str,
    list: &'a str,
    due: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "reminder.html")]
struct ReminderHtml<'a> {
    title: &'a str,
    list: &'a str,
    due: Option<&'a str>,
}

/// A task's reminder, to the person whose task it is; `due` as the task's
/// zone writes it.
pub fn reminder(to: String, title: &str, list: &str, due: Option<&str>) -> AppResult<Mail> {
    Ok(Mail {
        to,
        subject: format!("Reminder: {title}"),
        text: render(&ReminderText { title, list, due })?,
        html: render(&ReminderHtml { title, list, due })?,
    })
}
