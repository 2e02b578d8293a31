//! Times as people in NRW read them: the registry stores UTC, and shows Europe/Berlin
//! (MEZ, UTC+1; MESZ, UTC+2 from the last Sunday of March to the last Sunday of October,
//! switching at 01:00 UTC, the EU rule since 1996). The rule is a few lines and has no
//! data to go stale, so no time-zone database is bundled for it.

use time::{Date, Duration, Month, PrimitiveDateTime, Time, UtcOffset, Weekday};

/// The last Sunday of `month` in `year`, at 01:00 UTC (when the EU switches).
fn switch(year: i32, month: Month) -> Option<PrimitiveDateTime> {
    let last = Date::from_calendar_date(year, month, month.length(year)).ok()?;
    let back = last.weekday().number_days_from_sunday() as i64;
    let sunday = last - Duration::days(back);
    debug_assert_eq!(sunday.weekday(), Weekday::Sunday);
    Some(PrimitiveDateTime::new(
        sunday,
        Time::from_hms(1, 0, 0).ok()?,
    ))
}

/// Is summer time (MESZ) in force at this UTC instant?
pub fn is_summer_time(utc: PrimitiveDateTime) -> bool {
    match (
        switch(utc.year(), Month::March),
        switch(utc.year(), Month::October),
    ) {
        (Some(start), Some(end)) => utc >= start && utc < end,
        _ => false,
    }
}

/// The offset of Berlin from UTC at this UTC instant.
pub fn offset(utc: PrimitiveDateTime) -> UtcOffset {
    let hours = if is_summer_time(utc) { 2 } else { 1 };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// The Berlin wall-clock time of a UTC instant, and the zone's German abbreviation.
pub fn local(utc: PrimitiveDateTime) -> (PrimitiveDateTime, &'static str) {
    let summer = is_summer_time(utc);
    let shifted = utc + Duration::hours(if summer { 2 } else { 1 });
    (shifted, if summer { "MESZ" } else { "MEZ" })
}

/// "29.11.2026, 19:10 Uhr (MEZ)": a UTC instant as a German date and Berlin time.
pub fn german_date_time(utc: PrimitiveDateTime) -> String {
    let (t, zone) = local(utc);
    format!(
        "{:02}.{:02}.{}, {:02}:{:02} Uhr ({zone})",
        t.day(),
        u8::from(t.month()),
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// The Berlin calendar day of a UTC instant (a signature at 23:30 UTC in winter falls
/// on the next day in Berlin).
pub fn local_date(utc: PrimitiveDateTime) -> Date {
    local(utc).0.date()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn winter_is_mez_summer_is_mesz_and_the_switch_is_at_one_utc() {
        assert_eq!(
            german_date_time(datetime!(2026-11-29 18:10)),
            "29.11.2026, 19:10 Uhr (MEZ)"
        );
        assert_eq!(
            german_date_time(datetime!(2023-07-03 08:00)),
            "03.07.2023, 10:00 Uhr (MESZ)"
        );
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert!(!is_summer_time(datetime!(2026-03-29 00:59)));
        assert!(is_summer_time(datetime!(2026-03-29 01:00)));
        assert!(is_summer_time(datetime!(2026-10-25 00:59)));
        assert!(!is_summer_time(datetime!(2026-10-25 01:00)));
        assert_eq!(offset(datetime!(2026-01-01 00:00)).whole_hours(), 1);
    }

    #[test]
    fn late_evening_utc_is_the_next_day_in_berlin() {
        assert_eq!(
            local_date(datetime!(2026-12-31 23:30)),
            time::macros::date!(2027 - 01 - 01)
        );
        assert_eq!(
            german_date_time(datetime!(2026-12-31 23:30)),
            "01.01.2027, 00:30 Uhr (MEZ)"
        );
    }
}
