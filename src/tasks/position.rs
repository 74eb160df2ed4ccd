//! Position keys of the manual order: strings that sort by byte, in the
//! format of the fractional-indexing algorithm (rocicorp/fractional-indexing,
//! David Greenspan's "Implementing Fractional Indexing"), so that a client
//! offline can make the keys the server would, with the library of its
//! language.
//!
//! A key is an integer part and a fraction, in base-62 digits (`0-9A-Za-z`).
//! The integer part's first character says how long it is: `a` two
//! characters, `b` three, … `z` twenty-seven; `Z` two, `Y` three, … `A`
//! twenty-seven, for the integers below zero. The fraction never ends in
//! `0`. Between any two keys there is another, so a task moves by taking a
//! key between its new neighbours' and no other task is ever renumbered.

use std::fmt;

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ZERO: u8 = b'0';
const LAST: u8 = b'z';
/// The smallest integer part there is; no key may be it, so that there is
/// always room before a key.
const SMALLEST_INTEGER: &[u8] = b"A00000000000000000000000000";

/// Why no key was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// A bound is not a key of this format.
    Invalid(String),
    /// The lower bound is not below the upper one.
    OutOfOrder,
    /// Beyond the largest or the smallest integer part (after some 10^48
    /// moves to one end).
    Exhausted,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(key) => write!(f, "invalid order key: {key}"),
            Self::OutOfOrder => f.write_str("the lower key is not below the upper one"),
            Self::Exhausted => f.write_str("no key left at this end"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A key that sorts after `lower` and before `upper`; `None` for either
/// end: `between(None, None)` is the first key of an empty list.
pub fn between(lower: Option<&str>, upper: Option<&str>) -> Result<String, KeyError> {
    let lower = lower.map(str::as_bytes);
    let upper = upper.map(str::as_bytes);
    for key in [lower, upper].into_iter().flatten() {
        validate(key)?;
    }
    let key = match (lower, upper) {
        (None, None) => b"a0".to_vec(),
        (Some(a), Some(b)) if a >= b => return Err(KeyError::OutOfOrder),
        (None, Some(b)) => {
            let (int_b, frac_b) = b.split_at(integer_length(b[0])?);
            if int_b == SMALLEST_INTEGER {
                [int_b, &midpoint(b"", Some(frac_b))?].concat()
            } else if !frac_b.is_empty() {
                int_b.to_vec()
            } else {
                decrement(int_b)?.ok_or(KeyError::Exhausted)?
            }
        }
        (Some(a), None) => {
            let (int_a, frac_a) = a.split_at(integer_length(a[0])?);
            match increment(int_a)? {
                Some(next) => next,
                None => [int_a, &midpoint(frac_a, None)?].concat(),
            }
        }
        (Some(a), Some(b)) => {
            let (int_a, frac_a) = a.split_at(integer_length(a[0])?);
            let (int_b, frac_b) = b.split_at(integer_length(b[0])?);
            if int_a == int_b {
                [int_a, &midpoint(frac_a, Some(frac_b))?].concat()
            } else {
                let next = increment(int_a)?.ok_or(KeyError::Exhausted)?;
                if next.as_slice() < b {
                    next
                } else {
                    [int_a, &midpoint(frac_a, None)?].concat()
                }
            }
        }
    };
    Ok(String::from_utf8(key).expect("keys are ASCII"))
}

/// Whether `key` is a key of this format.
pub fn is_key(key: &str) -> bool {
    validate(key.as_bytes()).is_ok()
}

fn invalid(key: &[u8]) -> KeyError {
    KeyError::Invalid(String::from_utf8_lossy(key).into_owned())
}

fn digit(c: u8) -> Option<usize> {
    DIGITS.iter().position(|&d| d == c)
}

/// How long the integer part that starts with `head` is.
fn integer_length(head: u8) -> Result<usize, KeyError> {
    match head {
        b'a'..=b'z' => Ok(usize::from(head - b'a') + 2),
        b'A'..=b'Z' => Ok(usize::from(b'Z' - head) + 2),
        _ => Err(invalid(&[head])),
    }
}

fn validate(key: &[u8]) -> Result<(), KeyError> {
    let Some(&head) = key.first() else {
        return Err(invalid(key));
    };
    let length = integer_length(head).map_err(|_| invalid(key))?;
    if length > key.len()
        || key == SMALLEST_INTEGER
        || key.last() == Some(&ZERO) && key.len() > length
        || key[1..].iter().any(|&c| digit(c).is_none())
    {
        return Err(invalid(key));
    }
    Ok(())
}

/// A fraction between fractions `a` and `b` (`None`: 1), neither of which
/// ends in zero.
fn midpoint(a: &[u8], b: Option<&[u8]>) -> Result<Vec<u8>, KeyError> {
    if let Some(b) = b {
        if a >= b {
            return Err(KeyError::OutOfOrder);
        }
        // The common prefix, reading `a` as padded with zeros.
        let common = (0..b.len())
            .take_while(|&n| a.get(n).copied().unwrap_or(ZERO) == b[n])
            .count();
        if common > 0 {
            let rest = midpoint(a.get(common..).unwrap_or_default(), Some(&b[common..]))?;
            return Ok([&b[..common], &rest].concat());
        }
    }
    let digit_a = a
        .first()
        .map_or(Some(0), |&c| digit(c))
        .ok_or_else(|| invalid(a))?;
    let digit_b = match b {
        Some(b) => digit(b[0]).ok_or_else(|| invalid(b))?,
        None => DIGITS.len(),
    };
    if digit_b - digit_a > 1 {
        // Halfway, rounding up.
        Ok(vec![DIGITS[(digit_a + digit_b).div_ceil(2)]])
    } else if let Some(b) = b.filter(|b| b.len() > 1) {
        Ok(vec![b[0]])
    } else {
        let rest = midpoint(a.get(1..).unwrap_or_default(), None)?;
        Ok([&[DIGITS[digit_a]], rest.as_slice()].concat())
    }
}

/// The integer part after `int`; `None` after the largest.
fn increment(int: &[u8]) -> Result<Option<Vec<u8>>, KeyError> {
    step(int, 1)
}

/// The integer part before `int`; `None` before the smallest.
fn decrement(int: &[u8]) -> Result<Option<Vec<u8>>, KeyError> {
    step(int, -1)
}

/// The integer part one `by` (1 or -1) from `int`: its digits counted on,
/// carrying into the head, which lengthens or shortens the digits.
fn step(int: &[u8], by: isize) -> Result<Option<Vec<u8>>, KeyError> {
    let head = int[0];
    if int.len() != integer_length(head)? {
        return Err(invalid(int));
    }
    let (wrap_from, wrap_to) = if by > 0 { (LAST, ZERO) } else { (ZERO, LAST) };
    let mut digits = int[1..].to_vec();
    for at in (0..digits.len()).rev() {
        if digits[at] == wrap_from {
            digits[at] = wrap_to;
        } else {
            let value = digit(digits[at]).ok_or_else(|| invalid(int))?;
            digits[at] = DIGITS[value.checked_add_signed(by).expect("not at the wrap")];
            return Ok(Some([&[head], digits.as_slice()].concat()));
        }
    }
    // Carried out of every digit: the next head.
    let next = match (head, by > 0) {
        (b'z', true) | (b'A', false) => return Ok(None),
        (b'Z', true) => b'a',
        (b'a', false) => b'Z',
        (head, true) => head + 1,
        (head, false) => head - 1,
    };
    let length = integer_length(next)?;
    digits.resize(length - 1, wrap_to);
    Ok(Some([&[next], digits.as_slice()].concat()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference implementation's own cases.
    #[test]
    fn the_reference_cases() {
        let cases: &[(Option<&str>, Option<&str>, &str)] = &[
            (None, None, "a0"),
            (None, Some("a0"), "Zz"),
            (None, Some("Zz"), "Zy"),
            (Some("a0"), None, "a1"),
            (Some("a1"), None, "a2"),
            (Some("a0"), Some("a1"), "a0V"),
            (Some("a1"), Some("a2"), "a1V"),
            (Some("a0V"), Some("a1"), "a0l"),
            (Some("Zz"), Some("a0"), "ZzV"),
            (Some("Zz"), Some("a1"), "a0"),
            (None, Some("Y00"), "Xzzz"),
            (Some("bzz"), None, "c000"),
            (Some("a0"), Some("a0V"), "a0G"),
            (Some("a0"), Some("a0G"), "a08"),
            (Some("b125"), Some("b129"), "b127"),
            (Some("a0"), Some("a1V"), "a1"),
            (Some("Zz"), Some("a01"), "a0"),
            (None, Some("a0V"), "a0"),
            (None, Some("b999"), "b99"),
            (
                None,
                Some("A000000000000000000000000001"),
                "A000000000000000000000000000V",
            ),
            (
                Some("zzzzzzzzzzzzzzzzzzzzzzzzzzy"),
                None,
                "zzzzzzzzzzzzzzzzzzzzzzzzzzz",
            ),
            (
                Some("zzzzzzzzzzzzzzzzzzzzzzzzzzz"),
                None,
                "zzzzzzzzzzzzzzzzzzzzzzzzzzzV",
            ),
        ];
        for &(lower, upper, expected) in cases {
            assert_eq!(
                between(lower, upper).as_deref(),
                Ok(expected),
                "between {lower:?} and {upper:?}"
            );
        }
    }

    #[test]
    fn what_the_reference_refuses() {
        for (lower, upper) in [
            (None, Some("A00000000000000000000000000")),
            (Some("a00"), None),
            (Some("a00"), Some("a1")),
            (Some("0"), Some("1")),
            (Some(""), None),
            (Some("a0!"), None),
        ] {
            assert!(
                matches!(between(lower, upper), Err(KeyError::Invalid(_))),
                "{lower:?} {upper:?}"
            );
        }
        assert_eq!(between(Some("a1"), Some("a0")), Err(KeyError::OutOfOrder));
        assert_eq!(between(Some("a1"), Some("a1")), Err(KeyError::OutOfOrder));
    }

    /// Keys made into the same gap again and again, and at both ends, stay
    /// in order and valid.
    #[test]
    fn keys_keep_their_order() {
        let mut keys = vec![between(None, None).expect("first")];
        for n in 0..2_000 {
            let at = (n * 7919) % (keys.len() + 1);
            let lower = at.checked_sub(1).map(|at| keys[at].as_str());
            let upper = keys.get(at).map(String::as_str);
            let key = between(lower, upper).expect("a key");
            assert!(is_key(&key), "{key}");
            assert!(lower.is_none_or(|lower| lower < key.as_str()));
            assert!(upper.is_none_or(|upper| key.as_str() < upper));
            keys.insert(at, key);
        }
    }

    /// The keys of the npm package `fractional-indexing` for the same
    /// bounds, from `tests/positions/cases.mjs` (CI makes them).
    #[test]
    #[ignore = "needs the reference's keys: TASKQL_POSITION_CASES=<file> from tests/positions/cases.mjs"]
    fn the_same_keys_as_the_reference() {
        let path = std::env::var("TASKQL_POSITION_CASES")
            .expect("TASKQL_POSITION_CASES names the reference's cases");
        let text = std::fs::read_to_string(&path).expect("the cases can be read");
        let cases: Vec<(Option<String>, Option<String>, String)> =
            serde_json::from_str(&text).expect("the cases are JSON");
        assert!(cases.len() >= 1_000, "{} cases", cases.len());
        for (lower, upper, expected) in &cases {
            assert_eq!(
                between(lower.as_deref(), upper.as_deref()).as_ref(),
                Ok(expected),
                "between {lower:?} and {upper:?}"
            );
        }
    }
}
