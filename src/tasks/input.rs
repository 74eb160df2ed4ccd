//! Task fields as types that can only hold valid values, and the input
//! rules of SPEC §4: a title of 1–200 characters after trimming, a
//! description of at most 10,000.

use crate::error::{AppError, AppResult};

pub const TITLE_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
pub const SEARCH_MAX_CHARS: usize = 200;
/// The most labels a filter's `labelIds` may name: each is one more
/// condition of the statement, and past a few hundred SQLite refuses it
/// (its expression tree is too deep).
pub const FILTER_MAX_LABELS: usize = 50;

/// A trimmed, non-empty title of at most 200 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub fn parse(input: &str) -> AppResult<Self> {
        let title = input.trim();
        if title.is_empty() {
            return Err(AppError::bad_input("title", "title must not be empty"));
        }
        if title.chars().count() > TITLE_MAX_CHARS {
            return Err(AppError::bad_input(
                "title",
                format!("title must be at most {TITLE_MAX_CHARS} characters long"),
            ));
        }
        Ok(Self(title.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A description of at most 10,000 characters, kept as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub fn parse(input: &str) -> AppResult<Self> {
        if input.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(AppError::bad_input(
                "description",
                format!("description must be at most {DESCRIPTION_MAX_CHARS} characters long"),
            ));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The text search runs on: title and description in lower case, apart by a
/// character no search can contain.
pub fn search_text(title: &str, description: Option<&str>) -> String {
    let mut text = title.to_lowercase();
    if let Some(description) = description {
        text.push('\n');
        text.push_str(&description.to_lowercase());
    }
    text
}

/// The labels a filter asks every task to carry: at most
/// [`FILTER_MAX_LABELS`] of them, each once.
pub fn filter_labels(mut labels: Vec<uuid::Uuid>) -> AppResult<Vec<uuid::Uuid>> {
    labels.sort_unstable();
    labels.dedup();
    if labels.len() > FILTER_MAX_LABELS {
        return Err(AppError::bad_input(
            "labelIds",
            format!("labelIds must name at most {FILTER_MAX_LABELS} labels"),
        ));
    }
    Ok(labels)
}

/// A `LIKE` pattern matching `search` anywhere, case-insensitively against
/// [`search_text`], with `%`, `_` and `\` taken literally (escape `\`).
pub fn search_pattern(search: &str) -> AppResult<String> {
    if search.chars().count() > SEARCH_MAX_CHARS {
        return Err(AppError::bad_input(
            "search",
            format!("search must be at most {SEARCH_MAX_CHARS} characters long"),
        ));
    }
    if search.contains('\n') {
        return Err(AppError::bad_input(
            "search",
            "search must be a single line",
        ));
    }
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Ok(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded_in_characters() {
        assert_eq!(
            TaskTitle::parse("  Buy milk \n")
                .expect("valid")
                .into_inner(),
            "Buy milk"
        );
        assert!(TaskTitle::parse(&"é".repeat(200)).is_ok(), "200 characters");
        for (input, why) in [
            ("", "empty"),
            ("   \t", "blank"),
            (&"é".repeat(201) as &str, "201 characters"),
        ] {
            assert!(TaskTitle::parse(input).is_err(), "{why}");
        }
    }

    #[test]
    fn descriptions_are_bounded_in_characters() {
        assert!(Description::parse(&"é".repeat(10_000)).is_ok());
        assert!(Description::parse(&"x".repeat(10_001)).is_err());
    }

    #[test]
    fn search_patterns_take_wildcards_literally() {
        assert_eq!(
            search_pattern("50%_Off\\").expect("valid"),
            "%50\\%\\_off\\\\%"
        );
        assert_eq!(search_pattern("ÜBER").expect("valid"), "%über%");
        assert!(search_pattern(&"x".repeat(201)).is_err());
    }
}
