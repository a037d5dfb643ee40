//! Cron expressions of scheduled hooks, in UTC.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// A cron expression: `sec min hour day-of-month month day-of-week` (or the usual five fields,
/// then at second 0). Fields take `*`, `5`, `1-5`, `*/15`, `10-40/10` and lists `1,2,3`;
/// weekdays run 0-6 from Sunday (7 is Sunday too). Times are UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cron {
    fields: [u64; 6],
}

const RANGES: [(u32, u32); 6] = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];

impl std::str::FromStr for Cron {
    type Err = String;

    fn from_str(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let parts: Vec<&str> = match parts.len() {
            5 => std::iter::once("0").chain(parts).collect(),
            6 => parts,
            n => return Err(format!("a cron expression has 5 or 6 fields, not {n}: `{text}`")),
        };
        let mut fields = [0u64; 6];
        for (i, part) in parts.iter().enumerate() {
            fields[i] = parse_field(part, RANGES[i]).ok_or_else(|| format!("bad cron field `{part}` in `{text}`"))?;
        }
        // Sunday is 0 or 7.
        if fields[5] & (1 << 7) != 0 {
            fields[5] |= 1;
        }
        Ok(Cron { fields })
    }
}

fn parse_field(part: &str, (min, max): (u32, u32)) -> Option<u64> {
    let mut mask = 0u64;
    for item in part.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, step.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (item, 1),
        };
        let (low, high) = match range {
            "*" => (min, max),
            _ => match range.split_once('-') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                None => {
                    let n = range.parse().ok()?;
                    (n, if item.contains('/') { max } else { n })
                }
            },
        };
        if low < min || high > max || low > high {
            return None;
        }
        for n in (low..=high).step_by(step as usize) {
            mask |= 1 << n;
        }
    }
    Some(mask)
}

impl Cron {
    /// Whether the job is due at this second.
    pub fn matches(&self, at: DateTime<Utc>) -> bool {
        let values = [at.second(), at.minute(), at.hour(), at.day(), at.month(), at.weekday().num_days_from_sunday()];
        values.iter().zip(self.fields).all(|(value, mask)| mask & (1 << value) != 0)
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

    #[test]
    fn cron_fields_match_as_documented() {
        let every_second: Cron = "* * * * * *".parse().unwrap();
        assert!(every_second.matches(at(3, 4, 5)));
        let quarter: Cron = "*/15 * * * *".parse().unwrap();
        assert!(quarter.matches(at(10, 30, 0)) && !quarter.matches(at(10, 31, 0)) && !quarter.matches(at(10, 30, 1)));
        let sundays: Cron = "0 0 9 * * 7".parse().unwrap();
        assert!(sundays.matches(at(9, 0, 0)));
        let office: Cron = "0 0 9-17/4 * * 1-5".parse().unwrap();
        assert!(!office.matches(at(9, 0, 0)), "Sunday is not 1-5");
        let list: Cron = "5,10 * * * * *".parse().unwrap();
        assert!(list.matches(at(1, 1, 10)) && !list.matches(at(1, 1, 6)));
        for bad in ["", "* * * *", "61 * * * * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"] {
            assert!(bad.parse::<Cron>().is_err(), "{bad}");
        }
    }
}
