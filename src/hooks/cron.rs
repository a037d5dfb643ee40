//! Cron expressions of scheduled hooks, in UTC, parsed by `croner`: five fields (then at second
//! 0), six with seconds first, or seven with a year; names (`sun`, `jan`), `L`, `#`, `W` and
//! `@daily`-style nicknames; and cron's rule that when both day-of-month and day-of-week are
//! restricted, a day matching either one is due.

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron(croner::Cron);

impl std::str::FromStr for Cron {
    type Err = String;

    fn from_str(text: &str) -> Result<Cron, String> {
        let parser = CronParser::builder().seconds(Seconds::Optional).dom_and_dow(false).build();
        parser.parse(text).map(Cron).map_err(|error| format!("bad cron expression `{text}`: {error}"))
    }
}

impl Cron {
    /// Whether the job is due at this second.
    pub fn matches(&self, at: DateTime<Utc>) -> bool {
        self.0.is_time_matching(&at).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        // 2026-11-22 is a Sunday.
        Utc.with_ymd_and_hms(2026, 11, 22, h, m, s).unwrap()
    }

    fn cron(text: &str) -> Cron {
        text.parse().unwrap()
    }

    #[test]
    fn cron_fields_match_as_documented() {
        assert!(cron("* * * * * *").matches(at(3, 4, 5)));
        let quarter = cron("*/15 * * * *");
        assert!(quarter.matches(at(10, 30, 0)) && !quarter.matches(at(10, 31, 0)) && !quarter.matches(at(10, 30, 1)));
        assert!(cron("0 0 9 * * 7").matches(at(9, 0, 0)), "7 is Sunday too");
        assert!(!cron("0 0 9-17/4 * * 1-5").matches(at(9, 0, 0)), "Sunday is not 1-5");
        let list = cron("5,10 * * * * *");
        assert!(list.matches(at(1, 1, 10)) && !list.matches(at(1, 1, 6)));
        for bad in ["", "* * * *", "61 * * * * *", "*/0 * * * *", "a * * * *"] {
            assert!(bad.parse::<Cron>().is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_the_day_rule_follow_cron() {
        // Directus's own example: 04:05 on Sundays.
        let sunday = cron("5 4 * * sun");
        assert!(sunday.matches(at(4, 5, 0)) && !sunday.matches(at(4, 5, 1)));
        assert!(!sunday.matches(Utc.with_ymd_and_hms(2026, 11, 23, 4, 5, 0).unwrap()), "Monday");
        // Both days restricted: the 1st of the month or any Monday.
        let first_or_monday = cron("0 0 1 * mon");
        let day = |d| Utc.with_ymd_and_hms(2026, 12, d, 0, 0, 0).unwrap();
        assert!(first_or_monday.matches(day(1)), "Tuesday the 1st");
        assert!(first_or_monday.matches(day(7)), "Monday the 7th");
        assert!(!first_or_monday.matches(day(8)), "Tuesday the 8th");
        // The last day of the month, and the second Friday.
        assert!(cron("0 0 L * *").matches(Utc.with_ymd_and_hms(2026, 2, 28, 0, 0, 0).unwrap()));
        let second_friday = cron("0 0 * * fri#2");
        assert!(second_friday.matches(day(11)) && !second_friday.matches(day(4)));
    }
}
