//! Time as the ranges see it: 100-nanosecond ticks (the API's resolution), half-open bounds,
//! where to cut a span, and the query string of a range.

use referrals_model::Timestamp;

use crate::encode;
use crate::filter::{Comparison, Filter};

/// 100-nanosecond ticks since the Unix epoch: the resolution of the API's timestamps (seven
/// fractional digits), so that a bound written in the API's canonical form is exact.
pub(crate) type Tick = i64;

const NANOS_PER_TICK: i128 = 100;

/// The tick that holds `nanos` (rounded down), if it fits.
pub(crate) fn tick_of(nanos: i128) -> Option<Tick> {
    Tick::try_from(nanos.div_euclid(NANOS_PER_TICK)).ok()
}

/// The instant a tick starts at.
pub(crate) fn nanos_of(tick: Tick) -> i128 {
    i128::from(tick) * NANOS_PER_TICK
}

/// The `createdDateTime` of an item, in nanoseconds, when it has a readable one.
pub(crate) fn created_nanos(created: Option<&Timestamp>) -> Option<i128> {
    created.and_then(|at| at.to_unix_nanos().ok())
}

/// Which way a range is listed (and, for an ordered listing, yielded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Order {
    /// Oldest first: `$orderby=createdDateTime asc`.
    Asc,
    /// Newest first: `$orderby=createdDateTime desc`.
    Desc,
}

impl Order {
    fn orderby(self) -> &'static str {
        match self {
            Order::Asc => "createdDateTime asc",
            Order::Desc => "createdDateTime desc",
        }
    }

    /// True when `next` may follow `previous` in a listing in this order.
    pub(crate) fn in_order(self, previous: i128, next: i128) -> bool {
        match self {
            Order::Asc => previous <= next,
            Order::Desc => previous >= next,
        }
    }
}

/// A half-open span of `createdDateTime`, `[lo, hi)`; `None` leaves that end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub(crate) struct Bounds {
    /// The first tick inside, or `None`: from the beginning of time.
    pub(crate) lo: Option<Tick>,
    /// The first tick after, or `None`: open-ended (referrals created later land here).
    pub(crate) hi: Option<Tick>,
}

impl Bounds {
    /// Every instant.
    pub(crate) const ALL: Bounds = Bounds { lo: None, hi: None };

    /// True when the instant `nanos` is inside.
    pub(crate) fn contains(&self, nanos: i128) -> bool {
        self.lo.is_none_or(|lo| nanos >= nanos_of(lo))
            && self.hi.is_none_or(|hi| nanos < nanos_of(hi))
    }

    /// True when `self` holds every instant of `inner`.
    pub(crate) fn covers(&self, inner: &Bounds) -> bool {
        let lo_ok = match (self.lo, inner.lo) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(outer), Some(inner)) => outer <= inner,
        };
        let hi_ok = match (self.hi, inner.hi) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(outer), Some(inner)) => inner <= outer,
        };
        lo_ok && hi_ok
    }

    /// False when the span is empty (`lo >= hi`).
    pub(crate) fn is_valid(&self) -> bool {
        match (self.lo, self.hi) {
            (Some(lo), Some(hi)) => lo < hi,
            _ => true,
        }
    }

    /// `createdDateTime ge lo and createdDateTime lt hi` (the ends that are not open).
    fn filter(&self) -> Option<Filter> {
        let term = |op, tick: Tick| {
            let at = Timestamp::from_unix_nanos(nanos_of(tick));
            // A canonical timestamp always reads back.
            Filter::created(op, &at).ok()
        };
        let lo = self.lo.and_then(|lo| term(Comparison::Ge, lo));
        let hi = self.hi.and_then(|hi| term(Comparison::Lt, hi));
        match (lo, hi) {
            (Some(lo), Some(hi)) => Some(lo.and(hi)),
            (one, other) => one.or(other),
        }
    }
}

/// At most `pieces - 1` cut points strictly between `from` and `to`, evenly spaced and strictly
/// increasing: cutting `(from, to)` at them gives up to `pieces` spans (fewer when the span has
/// fewer ticks than that).
pub(crate) fn cut_points(from: Tick, to: Tick, pieces: u64) -> Vec<Tick> {
    let width = i128::from(to) - i128::from(from);
    if width < 2 || pieces < 2 {
        return Vec::new();
    }
    let pieces = i128::from(pieces).min(width);
    let mut points: Vec<Tick> = Vec::new();
    for step in 1..pieces {
        let point = i128::from(from) + width * step / pieces;
        if let Ok(point) = Tick::try_from(point) {
            if point > from && point < to && points.last().is_none_or(|&last| point > last) {
                points.push(point);
            }
        }
    }
    points
}

/// The parameters of a query string, each as written (name, raw value).
fn params(query: &str) -> Vec<(&str, &str)> {
    query
        .split('&')
        .filter(|param| !param.is_empty())
        .map(|param| param.split_once('=').unwrap_or((param, "")))
        .collect()
}

/// The decoded value of parameter `name` of `query`, if present.
pub(crate) fn param(query: &str, name: &str) -> Option<String> {
    params(query)
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, raw)| {
            percent_encoding::percent_decode_str(raw)
                .decode_utf8_lossy()
                .into_owned()
        })
}

/// `query` with `$filter`, `$orderby`, `$top` and `$count` rewritten: the user's own filter
/// and-ed with `bounds`, the order `order`, `top` (when given, replacing any `$top` of the
/// query; `None` keeps the query's own), and `$count=true` when `count`. Every other parameter
/// is kept as written. The same function makes the probes, the ranges and the sequential
/// listing, from a listing's query string or from a checkpoint's.
pub(crate) fn rewrite(
    query: &str,
    bounds: &Bounds,
    order: Option<Order>,
    top: Option<u64>,
    count: bool,
) -> String {
    let mut kept: Vec<String> = Vec::new();
    let mut own_filter = None;
    let mut own_top = None;
    let mut own_order = None;
    for (name, raw) in params(query) {
        match name {
            "$filter" => {
                own_filter = Some(
                    percent_encoding::percent_decode_str(raw)
                        .decode_utf8_lossy()
                        .into_owned(),
                )
            }
            "$top" => own_top = Some(raw.to_owned()),
            "$orderby" => own_order = Some(raw.to_owned()),
            "$count" => {}
            _ => kept.push(format!("{name}={raw}")),
        }
    }
    let own_filter = own_filter
        .filter(|text| !text.trim().is_empty())
        .map(Filter::raw);
    let filter = match (own_filter, bounds.filter()) {
        (Some(own), Some(range)) => Some(own.and(range)),
        (one, other) => one.or(other),
    };
    if let Some(filter) = filter {
        kept.push(format!(
            "$filter={}",
            encode::query_value(&filter.to_string())
        ));
    }
    match order {
        Some(order) => kept.push(format!("$orderby={}", encode::query_value(order.orderby()))),
        None => {
            if let Some(raw) = own_order {
                kept.push(format!("$orderby={raw}"));
            }
        }
    }
    match top {
        Some(top) => kept.push(format!("$top={top}")),
        None => {
            if let Some(raw) = own_top {
                kept.push(format!("$top={raw}"));
            }
        }
    }
    if count {
        kept.push("$count=true".to_owned());
    }
    kept.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_half_open_and_written_in_the_canonical_form() {
        let bounds = Bounds {
            lo: Some(10),
            hi: Some(20),
        };
        assert!(bounds.contains(1000));
        assert!(bounds.contains(1999));
        assert!(!bounds.contains(2000));
        assert!(!bounds.contains(999));
        assert!(Bounds::ALL.contains(i128::MIN));
        assert_eq!(
            bounds.filter().unwrap().to_string(),
            "createdDateTime ge 1970-01-01T00:00:00.0000010Z and createdDateTime lt 1970-01-01T00:00:00.0000020Z"
        );
        assert_eq!(Bounds::ALL.filter(), None);
        assert!(Bounds::ALL.covers(&bounds));
        assert!(!bounds.covers(&Bounds::ALL));
        assert!(
            !Bounds {
                lo: Some(3),
                hi: Some(3)
            }
            .is_valid()
        );
    }

    #[test]
    fn cut_points_are_strictly_inside_and_increasing() {
        assert_eq!(cut_points(0, 100, 4), vec![25, 50, 75]);
        assert_eq!(cut_points(0, 3, 10), vec![1, 2]);
        assert_eq!(cut_points(5, 6, 10), Vec::<Tick>::new());
        assert_eq!(cut_points(5, 100, 1), Vec::<Tick>::new());
        assert_eq!(cut_points(-10, 10, 2), vec![0]);
        let wide = cut_points(Tick::MIN, Tick::MAX, 3);
        assert_eq!(wide.len(), 2);
        assert!(wide[0] > Tick::MIN && wide[0] < wide[1] && wide[1] < Tick::MAX);
    }

    #[test]
    fn rewrite_ands_the_range_with_the_own_filter_and_keeps_the_rest() {
        let query = "$filter=status%20eq%20'Active'&$orderby=updatedDateTime%20desc&$top=50&$count=true&$select=id,createdDateTime";
        let bounds = Bounds {
            lo: Some(0),
            hi: None,
        };
        assert_eq!(
            rewrite(query, &bounds, Some(Order::Asc), None, true),
            "$select=id,createdDateTime\
             &$filter=(status%20eq%20'Active')%20and%20createdDateTime%20ge%201970-01-01T00:00:00.0000000Z\
             &$orderby=createdDateTime%20asc&$top=50&$count=true"
        );
        assert_eq!(
            rewrite(query, &Bounds::ALL, None, Some(100), false),
            "$select=id,createdDateTime&$filter=status%20eq%20'Active'\
             &$orderby=updatedDateTime%20desc&$top=100"
        );
        assert_eq!(rewrite("", &Bounds::ALL, None, None, false), "");
        assert_eq!(
            param(query, "$filter").as_deref(),
            Some("status eq 'Active'")
        );
    }
}
