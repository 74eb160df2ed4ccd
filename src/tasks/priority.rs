//! How urgent a task is: stored as its level, 0 (none) to 4 (urgent), so
//! that the database orders and filters by it.

use sea_orm::DbErr;
use serde::{Deserialize, Serialize};

use crate::db::{ColumnValue, Columns};

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Priority {
    #[default]
    None,
    Low,
    Medium,
    High,
    Urgent,
}

impl Priority {
    const ALL: [Self; 5] = [
        Self::None,
        Self::Low,
        Self::Medium,
        Self::High,
        Self::Urgent,
    ];

    /// Its level in the database.
    pub fn level(self) -> i32 {
        match self {
            Self::None => 0,
            Self::Low => 1,
            Self::Medium => 2,
            Self::High => 3,
            Self::Urgent => 4,
        }
    }

    /// The priority of a level the database holds; none for a level no
    /// priority has (which no write makes).
    pub fn of_level(level: i32) -> Self {
        Self::ALL
            .into_iter()
            .find(|priority| priority.level() == level)
            .unwrap_or_default()
    }
}

impl From<i32> for Priority {
    fn from(level: i32) -> Self {
        Self::of_level(level)
    }
}

impl ColumnValue for Priority {
    fn read_nullable(row: &impl Columns, at: usize) -> Result<Option<Self>, DbErr> {
        Ok(row.integer(at)?.map(Self::of_level))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_as_priorities_do() {
        for pair in Priority::ALL.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].level() < pair[1].level());
            assert_eq!(Priority::of_level(pair[1].level()), pair[1]);
        }
    }
}
