//! Business hours of a team: parsing `"Mon-Fri 09:00-17:00 Europe/Berlin"`,
//! holidays (dates, yearly days like `12-25`, or the all-day events of an
//! iCalendar file, read with the `icalendar` crate), "is the team open
//! now?" and "when does it open next?".
//!
//! Time zones come from the IANA database bundled with `jiff`, so daylight
//! saving changes are handled by real tz rules, never by fixed offsets.
//! Time is always passed in (milliseconds since the epoch); nothing here
//! reads the clock.
//!
//! Grammar: `always` | `24/7` | `PART[, PART]* ZONE`, where
//! `PART = DAYS HH:MM-HH:MM`, `DAYS = Day | Day-Day | daily`. A range whose
//! end is not after its start runs past midnight (`Fri 22:00-06:00`).

use std::fmt;
use std::str::FromStr;

use handoff_bridge_api::Millis;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};

/// One opening range: on these weekdays, from `start` to `end` minutes
/// after local midnight (`end` may exceed 1440 for overnight ranges).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Range {
    /// Bit `n` set: open on the weekday with Monday-zero offset `n`.
    days: u8,
    start: u16,
    end: u16,
}

/// When a team answers.
#[derive(Clone, Debug)]
pub struct BusinessHours {
    /// None: always open.
    tz: Option<TimeZone>,
    tz_name: String,
    ranges: Vec<Range>,
    holidays: Vec<Date>,
    /// Closed on this (month, day) every year.
    yearly: Vec<(i8, i8)>,
    source: String,
}

impl PartialEq for BusinessHours {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
            && self.holidays == other.holidays
            && self.yearly == other.yearly
    }
}

/// Days one calendar event may close at most (a longer one is refused:
/// most likely a mistake in the file).
const MAX_EVENT_DAYS: usize = 366;

const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
const MINUTE_MS: i64 = 60_000;

/// `MM-DD` as a day of any year (29 February included).
fn yearly_day(t: &str) -> Option<(i8, i8)> {
    let (m, d) = t.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d): (i8, i8) = (m.parse().ok()?, d.parse().ok()?);
    // 2024 is a leap year, so 02-29 is a day some years have.
    Date::new(2024, m, d).ok().map(|_| (m, d))
}

/// `FREQ=YEARLY` on the start's day every year: nothing else in the rule
/// but an interval of 1 and the start's own month and day.
fn is_plain_yearly(rule: &str, start: Date) -> bool {
    let mut freq = false;
    for part in rule.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return false;
        };
        let ok = match k.to_ascii_uppercase().as_str() {
            "FREQ" => {
                freq = v.eq_ignore_ascii_case("YEARLY");
                freq
            }
            "INTERVAL" => v == "1",
            "BYMONTH" => v.parse::<i8>() == Ok(start.month()),
            "BYMONTHDAY" => v.parse::<i8>() == Ok(start.day()),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    freq
}

impl BusinessHours {
    /// Open around the clock.
    pub fn always() -> Self {
        BusinessHours {
            tz: None,
            tz_name: "UTC".into(),
            ranges: Vec::new(),
            holidays: Vec::new(),
            yearly: Vec::new(),
            source: "always".into(),
        }
    }

    /// Adds holidays, on which the team is closed: dates (`YYYY-MM-DD`)
    /// and days closed every year (`MM-DD`).
    pub fn with_holidays(mut self, dates: &[String]) -> Result<Self, String> {
        for d in dates {
            let t = d.trim();
            if let Ok(date) = t.parse::<Date>() {
                self.holidays.push(date);
                continue;
            }
            match yearly_day(t) {
                Some(md) => self.yearly.push(md),
                None => {
                    return Err(format!(
                        "holiday {d:?} is neither a date like 2026-12-25 nor a day every year like 12-25"
                    ))
                }
            }
        }
        Ok(self)
    }

    /// Adds the days of the events in iCalendar text `ics` (the file's
    /// name in errors is `name`): each event closes the dates from its
    /// start to its end (an all-day event's end is exclusive), every year
    /// when it repeats with `RRULE:FREQ=YEARLY`. Other repeat rules are
    /// refused rather than guessed.
    pub fn with_calendar(mut self, name: &str, ics: &str) -> Result<Self, String> {
        use icalendar::{Component, DatePerhapsTime};
        let cal: icalendar::Calendar = ics
            .parse()
            .map_err(|e: String| format!("{name}: not an iCalendar file: {}", e.trim()))?;
        for (i, ev) in cal.events().enumerate() {
            let what = || {
                ev.get_summary()
                    .map(|s| format!("event {s:?}"))
                    .unwrap_or_else(|| format!("event #{}", i + 1))
            };
            let date_of = |d: DatePerhapsTime| -> Result<(Date, bool), String> {
                let (text, all_day) = match d {
                    DatePerhapsTime::Date(d) => (d.to_string(), true),
                    DatePerhapsTime::DateTime(dt) => {
                        let naive = match dt {
                            icalendar::CalendarDateTime::Floating(n) => n,
                            icalendar::CalendarDateTime::Utc(u) => u.naive_utc(),
                            icalendar::CalendarDateTime::WithTimezone { date_time, .. } => {
                                date_time
                            }
                        };
                        (naive.date().to_string(), false)
                    }
                };
                let date = text
                    .parse::<Date>()
                    .map_err(|e| format!("{name}: {}: date {text:?}: {e}", what()))?;
                Ok((date, all_day))
            };
            let Some(start) = ev.get_start() else {
                return Err(format!("{name}: {} has no DTSTART", what()));
            };
            let (first, _) = date_of(start)?;
            let last = match ev.get_end() {
                None => first,
                Some(end) => match date_of(end)? {
                    (end, true) => end.yesterday().unwrap_or(end).max(first),
                    (end, false) => end.max(first),
                },
            };
            let mut days = Vec::new();
            let mut d = first;
            while d <= last {
                days.push(d);
                if days.len() > MAX_EVENT_DAYS {
                    return Err(format!(
                        "{name}: {} lasts more than {MAX_EVENT_DAYS} days",
                        what()
                    ));
                }
                match d.tomorrow() {
                    Ok(n) => d = n,
                    Err(_) => break,
                }
            }
            match ev.property_value("RRULE").map(str::trim) {
                None => self.holidays.extend(days),
                Some(rule) if is_plain_yearly(rule, first) => {
                    self.yearly
                        .extend(days.iter().map(|d| (d.month(), d.day())));
                }
                Some(rule) => {
                    return Err(format!(
                        "{name}: {} repeats with RRULE:{rule}, which handoff does not expand; list its dates, or repeat it with RRULE:FREQ=YEARLY",
                        what()
                    ))
                }
            }
        }
        Ok(self)
    }

    /// True when always open.
    pub fn is_always(&self) -> bool {
        self.tz.is_none()
    }

    /// The IANA zone name ("UTC" when always open).
    pub fn time_zone(&self) -> &str {
        &self.tz_name
    }

    /// Is the team open at `at`?
    pub fn is_open(&self, at: Millis) -> bool {
        let Some(tz) = &self.tz else { return true };
        let Ok(ts) = Timestamp::from_millisecond(at) else {
            return false;
        };
        let local = ts.to_zoned_datetime(tz.clone());
        let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
        let today = local.date();
        let yesterday = today.yesterday().ok();
        self.ranges.iter().any(|r| {
            let open_today = self.day_matches(r, today)
                && minute >= i32::from(r.start)
                && minute < i32::from(r.end);
            let spill = yesterday.is_some_and(|y| self.day_matches(r, y))
                && r.end > 1440
                && minute < i32::from(r.end) - 1440;
            open_today || spill
        })
    }

    fn day_matches(&self, r: &Range, date: Date) -> bool {
        let bit = 1u8 << date.weekday().to_monday_zero_offset();
        r.days & bit != 0 && !self.is_holiday(date)
    }

    fn is_holiday(&self, date: Date) -> bool {
        self.holidays.contains(&date) || self.yearly.contains(&(date.month(), date.day()))
    }

    /// When the team is next open at or after `at` (`at` itself if open
    /// now). None if it never opens within the next 400 days.
    pub fn next_open(&self, at: Millis) -> Option<Millis> {
        if self.is_open(at) {
            return Some(at);
        }
        let tz = self.tz.as_ref()?;
        let local = Timestamp::from_millisecond(at)
            .ok()?
            .to_zoned_datetime(tz.clone());
        let mut date = local.date();
        for _ in 0..400 {
            let mut best: Option<Millis> = None;
            for r in &self.ranges {
                if !self.day_matches(r, date) {
                    continue;
                }
                let Some(start) = local_to_millis(tz, date, r.start) else {
                    continue;
                };
                if start > at && best.is_none_or(|b| start < b) {
                    best = Some(start);
                }
            }
            if best.is_some() {
                return best;
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// `at` as local time of the team, e.g. "Mon 09:00 (Europe/Berlin)".
    pub fn describe(&self, at: Millis) -> String {
        let tz = self.tz.clone().unwrap_or(TimeZone::UTC);
        match Timestamp::from_millisecond(at) {
            Ok(ts) => {
                let z: ZonedDateTime = ts.to_zoned_datetime(tz);
                format!("{} ({})", z.strftime("%a %H:%M"), self.tz_name)
            }
            Err(_) => "an unknown time".into(),
        }
    }
}

impl BusinessHours {
    /// How long the team was open in `[from, to)`, in ms: the business
    /// time a customer waited. Overlapping ranges count once; holidays and
    /// daylight saving changes count as the team's clock has them.
    pub fn open_ms_between(&self, from: Millis, to: Millis) -> Millis {
        if to <= from {
            return 0;
        }
        let Some(tz) = &self.tz else {
            return to - from;
        };
        let (Ok(a), Ok(b)) = (
            Timestamp::from_millisecond(from),
            Timestamp::from_millisecond(to),
        ) else {
            return 0;
        };
        // From the day before (an overnight range spills into `from`'s day).
        let start = a.to_zoned_datetime(tz.clone()).date();
        let mut day = start.yesterday().unwrap_or(start);
        let last = b.to_zoned_datetime(tz.clone()).date();
        let mut spans = Vec::new();
        while day <= last {
            for r in &self.ranges {
                if !self.day_matches(r, day) {
                    continue;
                }
                let (Some(s), Some(e)) = (
                    local_to_millis_any(tz, day, r.start),
                    local_to_millis_any(tz, day, r.end),
                ) else {
                    continue;
                };
                let (s, e) = (s.max(from), e.min(to));
                if e > s {
                    spans.push((s, e));
                }
            }
            let Ok(next) = day.tomorrow() else { break };
            day = next;
        }
        spans.sort_unstable();
        let (mut total, mut reached) = (0, from);
        for (s, e) in spans {
            let s = s.max(reached);
            if e > s {
                total += e - s;
                reached = e;
            }
        }
        total
    }
}

/// [`local_to_millis`] for minutes past the day's end too (the end of an
/// overnight range, `end` > 1440).
fn local_to_millis_any(tz: &TimeZone, date: Date, minute: u16) -> Option<Millis> {
    if minute >= 1440 {
        local_to_millis(tz, date.tomorrow().ok()?, minute - 1440)
    } else {
        local_to_millis(tz, date, minute)
    }
}

/// Local wall time `minute` after midnight on `date` in `tz`, resolving DST
/// gaps and folds the way people expect (a 02:30 that does not exist is
/// 03:30).
fn local_to_millis(tz: &TimeZone, date: Date, minute: u16) -> Option<Millis> {
    let (h, m) = ((minute / 60) as i8, (minute % 60) as i8);
    let dt = date.at(h, m, 0, 0);
    let z = dt.to_zoned_datetime(tz.clone()).ok()?;
    Some(z.timestamp().as_millisecond())
}

impl fmt::Display for BusinessHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn parse_day(s: &str) -> Result<u8, String> {
    let lower = s.to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|full| lower == full[..3] || lower == *full)
        .map(|i| i as u8)
        .ok_or_else(|| format!("{s:?} is not a weekday (use Mon, Tue, ... Sun)"))
}

fn parse_days(s: &str) -> Result<u8, String> {
    let lower = s.to_ascii_lowercase();
    if lower == "daily" || lower == "everyday" {
        return Ok(0x7f);
    }
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse_day(a)?, parse_day(b)?);
            let mut bits = 0u8;
            let mut d = a;
            loop {
                bits |= 1 << d;
                if d == b {
                    break;
                }
                d = (d + 1) % 7;
            }
            Ok(bits)
        }
        None => Ok(1 << parse_day(s)?),
    }
}

fn parse_clock(s: &str) -> Result<u16, String> {
    let bad = || format!("{s:?} is not a time like 09:00");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn parse_range(part: &str) -> Result<Range, String> {
    let (days, times) = part
        .trim()
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("{part:?} needs days and times, like \"Mon-Fri 09:00-17:00\""))?;
    let days = parse_days(days.trim())?;
    let (a, b) = times
        .trim()
        .split_once('-')
        .ok_or_else(|| format!("{times:?} is not a time range like 09:00-17:00"))?;
    let (start, mut end) = (parse_clock(a.trim())?, parse_clock(b.trim())?);
    if start == 1440 {
        return Err(format!("a range cannot start at 24:00 ({part:?})"));
    }
    if end <= start {
        end += 1440;
    }
    Ok(Range { days, start, end })
}

impl FromStr for BusinessHours {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let src = s.trim();
        if src.eq_ignore_ascii_case("always") || src == "24/7" {
            return Ok(BusinessHours::always());
        }
        let (body, zone) = src.rsplit_once(char::is_whitespace).ok_or_else(|| {
            format!("{src:?} is not business hours like \"Mon-Fri 09:00-17:00 Europe/Berlin\"")
        })?;
        let tz = TimeZone::get(zone).map_err(|_| {
            format!(
                "{zone:?} is not a known time zone (use an IANA name like Europe/Berlin or UTC)"
            )
        })?;
        let ranges = body
            .split(',')
            .map(parse_range)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BusinessHours {
            tz: Some(tz),
            tz_name: zone.to_string(),
            ranges,
            holidays: Vec::new(),
            yearly: Vec::new(),
            source: src.to_string(),
        })
    }
}

/// Whole minutes from `from` to `to`, rounded up, never negative.
pub fn minutes_until(from: Millis, to: Millis) -> i64 {
    ((to - from).max(0) + MINUTE_MS - 1) / MINUTE_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Millis {
        let z: ZonedDateTime = s.parse().unwrap();
        z.timestamp().as_millisecond()
    }

    fn berlin() -> BusinessHours {
        "Mon-Fri 09:00-17:00 Europe/Berlin".parse().unwrap()
    }

    #[test]
    fn business_time_between_counts_only_open_minutes() {
        let h = berlin().with_holidays(&["2026-11-27".into()]).unwrap();
        let hour = 3_600_000;
        // Thu 16:00 → Mon 10:00: Thu 16-17, Fri is a holiday, Mon 09-10.
        let from = at("2026-11-26T16:00:00+01:00[Europe/Berlin]");
        let to = at("2026-11-30T10:00:00+01:00[Europe/Berlin]");
        assert_eq!(h.open_ms_between(from, to), 2 * hour);
        // Inside one open stretch: wall time.
        let nine = at("2026-11-26T09:00:00+01:00[Europe/Berlin]");
        assert_eq!(h.open_ms_between(nine, nine + 90 * 60_000), 90 * 60_000);
        // Closed the whole time; reversed bounds.
        let sat = at("2026-11-28T10:00:00+01:00[Europe/Berlin]");
        assert_eq!(h.open_ms_between(sat, sat + 5 * hour), 0);
        assert_eq!(h.open_ms_between(to, from), 0);
        assert_eq!(BusinessHours::always().open_ms_between(from, to), to - from);
        // Overnight range: Fri 22:00-06:00 seen from Sat 05:00 to 07:00.
        let night: BusinessHours = "Fri 22:00-06:00 UTC".parse().unwrap();
        let five = at("2026-11-28T05:00:00+00:00[UTC]");
        assert_eq!(night.open_ms_between(five, five + 2 * hour), hour);
    }

    #[test]
    fn open_inside_and_closed_outside() {
        let h = berlin();
        // 2026-11-26 is a Thursday.
        assert!(h.is_open(at("2026-11-26T10:00:00+01:00[Europe/Berlin]")));
        assert!(!h.is_open(at("2026-11-26T17:00:00+01:00[Europe/Berlin]")));
        assert!(!h.is_open(at("2026-11-26T08:59:00+01:00[Europe/Berlin]")));
        assert!(!h.is_open(at("2026-11-28T12:00:00+01:00[Europe/Berlin]")));
    }

    #[test]
    fn next_open_after_friday_evening_is_monday_morning() {
        let h = berlin();
        let fri = at("2026-11-27T18:30:00+01:00[Europe/Berlin]");
        let next = h.next_open(fri).unwrap();
        assert_eq!(next, at("2026-11-30T09:00:00+01:00[Europe/Berlin]"));
        assert_eq!(h.describe(next), "Mon 09:00 (Europe/Berlin)");
    }

    #[test]
    fn next_open_is_now_when_open() {
        let h = berlin();
        let t = at("2026-11-26T10:00:00+01:00[Europe/Berlin]");
        assert_eq!(h.next_open(t), Some(t));
    }

    #[test]
    fn dst_change_uses_real_tz_rules() {
        // Europe/Berlin switches to summer time on 2026-03-29: Monday 30th
        // 09:00 local is 07:00 UTC, not 08:00.
        let h = berlin();
        let sat = at("2026-03-28T12:00:00+01:00[Europe/Berlin]");
        let next = h.next_open(sat).unwrap();
        assert_eq!(next, at("2026-03-30T07:00:00+00:00[UTC]"));
    }

    #[test]
    fn holidays_close_the_day() {
        let h = berlin().with_holidays(&["2026-11-26".into()]).unwrap();
        let thu = at("2026-11-26T10:00:00+01:00[Europe/Berlin]");
        assert!(!h.is_open(thu));
        assert_eq!(
            h.next_open(thu),
            Some(at("2026-11-27T09:00:00+01:00[Europe/Berlin]"))
        );
        assert!(berlin().with_holidays(&["26.11.2026".into()]).is_err());
    }

    #[test]
    fn a_yearly_day_closes_it_every_year() {
        let h = berlin()
            .with_holidays(&["12-24".into(), "2027-01-04".into()])
            .unwrap();
        for year in [2026, 2027, 2031] {
            // 24 December at 10:00 (a weekday in each of these years).
            let day = at(&format!("{year}-12-24T10:00:00+01:00[Europe/Berlin]"));
            assert!(!h.is_open(day), "{year}");
        }
        assert!(h.is_open(at("2026-12-23T10:00:00+01:00[Europe/Berlin]")));
        assert!(!h.is_open(at("2027-01-04T10:00:00+01:00[Europe/Berlin]")));
        assert!(h.is_open(at("2028-01-04T10:00:00+01:00[Europe/Berlin]")));
        assert!(berlin().with_holidays(&["02-29".into()]).is_ok());
        for bad in ["02-30", "13-01", "1-5", "xmas"] {
            let err = berlin().with_holidays(&[bad.into()]).unwrap_err();
            assert!(err.contains("day every year like 12-25"), "{bad}: {err}");
        }
    }

    const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261227\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:2\r\nDTSTART;VALUE=DATE:20260501\r\nRRULE:FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=1\r\nSUMMARY:Labour Day\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:3\r\nDTSTART:20261103T120000Z\r\nSUMMARY:Offsite\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

    #[test]
    fn an_icalendar_file_closes_its_days() {
        let h = berlin().with_calendar("holidays.ics", ICS).unwrap();
        // A two-day all-day event: its end date is exclusive.
        assert!(!h.is_open(at("2026-12-25T10:00:00+01:00[Europe/Berlin]")));
        assert!(h.is_open(at("2026-12-28T10:00:00+01:00[Europe/Berlin]")));
        assert_eq!(
            h.next_open(at("2026-12-25T10:00:00+01:00[Europe/Berlin]")),
            Some(at("2026-12-28T09:00:00+01:00[Europe/Berlin]")),
            "Sat 26 and Sun 27 are closed anyway"
        );
        // Yearly, in later years too (1 May 2028 is a Monday).
        assert!(!h.is_open(at("2028-05-01T10:00:00+02:00[Europe/Berlin]")));
        assert!(h.is_open(at("2028-05-02T10:00:00+02:00[Europe/Berlin]")));
        // A timed event closes its whole day.
        assert!(!h.is_open(at("2026-11-03T16:00:00+01:00[Europe/Berlin]")));
    }

    #[test]
    fn an_icalendar_file_that_cannot_be_read_right_is_refused_with_its_name() {
        let err = berlin()
            .with_calendar("x.ics", "not a calendar")
            .unwrap_err();
        assert!(err.starts_with("x.ics: "), "{err}");
        let monthly = ICS.replace("FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=1", "FREQ=MONTHLY");
        let err = berlin().with_calendar("x.ics", &monthly).unwrap_err();
        assert!(err.contains("\"Labour Day\""), "{err}");
        assert!(err.contains("RRULE:FREQ=MONTHLY"), "{err}");
        let until = ICS.replace(
            "FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=1",
            "FREQ=YEARLY;UNTIL=20300101",
        );
        assert!(berlin().with_calendar("x.ics", &until).is_err());
    }

    #[test]
    fn overnight_and_multiple_ranges() {
        let h: BusinessHours = "Fri 22:00-06:00, Sat 10:00-12:00 UTC".parse().unwrap();
        assert!(h.is_open(at("2026-11-27T23:00:00+00:00[UTC]")));
        assert!(h.is_open(at("2026-11-28T05:59:00+00:00[UTC]")));
        assert!(!h.is_open(at("2026-11-28T06:00:00+00:00[UTC]")));
        assert!(h.is_open(at("2026-11-28T11:00:00+00:00[UTC]")));
    }

    #[test]
    fn always_is_always_open() {
        for s in ["always", "24/7", "daily 00:00-24:00 UTC"] {
            let h: BusinessHours = s.parse().unwrap();
            assert!(h.is_open(0), "{s}");
            assert!(h.is_open(at("2026-11-29T03:00:00+00:00[UTC]")), "{s}");
        }
    }

    #[test]
    fn bad_strings_say_what_is_wrong() {
        let cases = [
            ("Mon-Fri 09:00-17:00 Mars/Olympus", "time zone"),
            ("Mon-Fry 09:00-17:00 UTC", "weekday"),
            ("Mon-Fri 9-17 UTC", "time"),
            ("Mon-Fri 09:00-25:00 UTC", "time"),
            ("Mon-Fri", "business hours"),
            ("Mon-Fri 09:60-17:00 UTC", "time"),
        ];
        for (s, want) in cases {
            let err = s.parse::<BusinessHours>().unwrap_err();
            assert!(err.contains(want), "{s}: {err}");
        }
    }

    #[test]
    fn day_names_accept_full_names() {
        assert_eq!(parse_days("monday-wednesday").unwrap(), 0b111);
        assert_eq!(parse_days("Sun").unwrap(), 1 << 6);
        assert_eq!(parse_days("Fri-Mon").unwrap(), 0b111_0001);
        assert!(parse_day("mo").is_err());
        assert!(parse_day("monkey").is_err());
    }

    #[test]
    fn minutes_round_up() {
        assert_eq!(minutes_until(0, 1), 1);
        assert_eq!(minutes_until(0, 60_000), 1);
        assert_eq!(minutes_until(10, 0), 0);
    }
}
