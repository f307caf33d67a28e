//! Natural order for names: "web-2" before "web-10".

use std::cmp::Ordering;

/// Orders "web-2" before "web-10": digit runs compare by value.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let n1 = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let n2 = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (d1, d2) = (trim_zeros(&x[..n1]), trim_zeros(&y[..n2]));
                let ord = d1.len().cmp(&d2.len()).then_with(|| d1.cmp(d2));
                if ord != Ordering::Equal {
                    return ord;
                }
                x = &x[n1..];
                y = &y[n2..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|&&c| c == b'0').count();
    &d[n.min(d.len().saturating_sub(1))..]
}
