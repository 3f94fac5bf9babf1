//! The `Link` response header (RFC 8288) Webex pages its lists with: the URL of the next page
//! is the target whose `rel` is `next`, e.g. `<https://webexapis.com/v1/rooms?cursor=…>;
//! rel="next"`.

/// The `rel="next"` target among the values of `Link` headers, if any.
#[must_use]
pub fn next_link<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    values
        .into_iter()
        .flat_map(split_links)
        .find_map(|link| next_target(link.trim()))
}

/// The links of one header value: split on the commas that follow a `>` or a parameter, not
/// the ones inside `<…>` (URLs may hold commas).
fn split_links(value: &str) -> Vec<&str> {
    let mut links = Vec::new();
    let (mut start, mut in_target, mut in_quotes) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            '<' if !in_quotes => in_target = true,
            '>' if !in_quotes => in_target = false,
            '"' if !in_target => in_quotes = !in_quotes,
            ',' if !in_target && !in_quotes => {
                links.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    links.push(&value[start..]);
    links
}

/// The target of `<target>; rel="next"` (rel may list several types, `"next last"`).
fn next_target(link: &str) -> Option<String> {
    let rest = link.strip_prefix('<')?;
    let (target, params) = rest.split_once('>')?;
    let is_next = params.split(';').any(|param| {
        let Some((name, value)) = param.split_once('=') else {
            return false;
        };
        name.trim().eq_ignore_ascii_case("rel")
            && value
                .trim()
                .trim_matches('"')
                .split_ascii_whitespace()
                .any(|rel| rel.eq_ignore_ascii_case("next"))
    });
    is_next.then(|| target.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_target_among_several_links_and_headers() {
        let header = r#"<https://webexapis.com/v1/rooms?max=2&cursor=a,b>; rel="next""#;
        assert_eq!(
            next_link([header]).as_deref(),
            Some("https://webexapis.com/v1/rooms?max=2&cursor=a,b")
        );
        let several = r#"<https://x/first>; rel="first", <https://x/2>; title="a, b"; rel=next"#;
        assert_eq!(next_link([several]).as_deref(), Some("https://x/2"));
        let split = [
            "<https://x/prev>; rel=\"prev\"",
            "<https://x/n>; REL=\"next last\"",
        ];
        assert_eq!(next_link(split).as_deref(), Some("https://x/n"));
    }

    #[test]
    fn no_next_link_is_none() {
        assert_eq!(next_link([r#"<https://x/1>; rel="prev""#]), None);
        assert_eq!(next_link(["garbage", ""]), None);
        assert_eq!(next_link(std::iter::empty()), None);
    }
}
