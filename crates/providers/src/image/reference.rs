//! The references an image is known by: its own tag, made from the stack, the resource and the
//! content hash, and the extra `tags` the file asks for.

/// How many hex digits of the content hash the tag keeps.
const TAG_DIGITS: usize = 12;

/// `<repository>:<first 12 hex digits of the content hash>`.
pub fn own_tag(object_name: &str, content_hex: &str) -> String {
    let digits = content_hex.get(..TAG_DIGITS).unwrap_or(content_hex);
    format!("{}:{digits}", repository(object_name))
}

/// An object name (`<stack>_<path>`) as a Docker repository name: lowercase letters and digits
/// in runs separated by `.`, `_`, `__` or dashes. Any other run of separators becomes one `-`;
/// separators at either end go.
pub fn repository(object_name: &str) -> String {
    let lower = object_name.to_ascii_lowercase();
    let mut repository = String::with_capacity(lower.len());
    let mut separators = String::new();
    for c in lower.chars() {
        if c.is_ascii_alphanumeric() {
            if !repository.is_empty() && !separators.is_empty() {
                let valid =
                    matches!(separators.as_str(), "." | "_" | "__") || separators.chars().all(|c| c == '-');
                repository.push_str(if valid { &separators } else { "-" });
            }
            separators.clear();
            repository.push(c);
        } else {
            separators.push(c);
        }
    }
    if repository.is_empty() {
        repository.push_str("image");
    }
    repository
}

/// An extra tag as the daemon lists it: `name` alone means `name:latest`.
pub fn normalized(tag: &str) -> String {
    let name = tag.rsplit('/').next().unwrap_or(tag);
    if name.contains(':') || name.contains('@') {
        tag.to_string()
    } else {
        format!("{tag}:latest")
    }
}

/// Extra tags in one order, without repeats, so the plan compares sets.
pub fn normalized_set<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut tags: Vec<String> = tags.into_iter().map(normalized).collect();
    tags.sort();
    tags.dedup();
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_valid_references() {
        assert_eq!(own_tag("shop_api", "0123456789abcdef"), "shop_api:0123456789ab");
        assert_eq!(own_tag("shop_db-postgres", "abc"), "shop_db-postgres:abc");
        assert_eq!(repository("shop__api"), "shop__api");
        assert_eq!(repository("my-stack_a--b"), "my-stack_a--b");
        assert_eq!(repository("shop___api"), "shop-api");
        assert_eq!(repository("shop_-api"), "shop-api");
        assert_eq!(repository("shop-_api_"), "shop-api");
        assert_eq!(repository("Shop_API"), "shop_api");
        assert_eq!(repository("_-_"), "image");
    }

    #[test]
    fn extra_tags_compare_as_the_daemon_lists_them() {
        assert_eq!(normalized("shop/api"), "shop/api:latest");
        assert_eq!(normalized("shop/api:1"), "shop/api:1");
        assert_eq!(normalized("localhost:5000/api"), "localhost:5000/api:latest");
        assert_eq!(
            normalized_set(["b:1", "a", "a:latest"]),
            ["a:latest".to_string(), "b:1".to_string()]
        );
    }
}
