//! Deeply nested JSON: measuring how deep a value nests, and running serde_json's
//! recursive code on a value deeper than the stack allows.
//!
//! The log refuses to write JSON nested deeper than
//! [`MAX_JSON_DEPTH`](crate::audit::MAX_JSON_DEPTH) levels, but a row written with
//! raw SQL can nest as deep as PostgreSQL's parser accepts (about 13,000 levels
//! with its default `max_stack_depth`). The store reads such rows back whole, growing
//! the stack while it parses. What happens to the value afterwards is up to its
//! owner: serde_json's `Drop`, `Clone`, `PartialEq`, `Debug` and `Serialize` of a
//! [`Value`] recurse once per level, and each level costs up to about 2 KiB of
//! stack in debug builds (about 0.6 KiB in release builds); a tokio worker thread
//! has 2 MiB. [`with_stack`] runs such code on a stack large enough for the depth:
//!
//! ```
//! use events_core::json;
//! use serde_json::Value;
//!
//! let mut deep = Value::Null;
//! for _ in 0..20_000 {
//!     deep = Value::Array(vec![deep]);
//! }
//! let depth = json::depth(&deep);
//! assert_eq!(depth, 20_000);
//! let copy = json::with_stack(depth, || deep.clone());
//! assert!(json::with_stack(depth, || copy == deep));
//! json::with_stack(depth, move || drop((deep, copy)));
//! ```

use serde_json::Value;

/// Stack that serde_json's recursive code needs per level of nesting, with a
/// margin: about 2 KiB was measured for cloning and parsing nested objects in
/// debug builds, the most of any operation.
const STACK_PER_LEVEL: usize = 4 * 1024;

/// Stack kept free on top of the per-level need, for the code around the
/// recursion.
const STACK_MARGIN: usize = 128 * 1024;

/// How deeply `value` nests: 0 for a scalar, 1 for an array or object of
/// scalars (or an empty one), one more for each level of arrays and objects
/// inside. Walks the value with a heap stack, so any depth is safe to measure.
///
/// ```
/// use serde_json::json;
/// assert_eq!(events_core::json::depth(&json!(1)), 0);
/// assert_eq!(events_core::json::depth(&json!({})), 1);
/// assert_eq!(events_core::json::depth(&json!({"a": [1, {"b": []}]})), 4);
/// ```
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((value, above)) = pending.pop() {
        match value {
            Value::Array(items) => {
                deepest = deepest.max(above + 1);
                pending.extend(items.iter().map(|item| (item, above + 1)));
            }
            Value::Object(map) => {
                deepest = deepest.max(above + 1);
                pending.extend(map.values().map(|item| (item, above + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// Runs `f` on a stack with room for serde_json's recursive code on values
/// nested `depth` levels deep (see [`depth`]): on the current stack when it has
/// the room, else on a new stack of the size needed, on the same thread, freed
/// when `f` returns.
///
/// ```
/// use events_core::json;
/// let value = serde_json::json!({"a": [1, 2]});
/// let text = json::with_stack(json::depth(&value), || value.to_string());
/// assert_eq!(text, r#"{"a":[1,2]}"#);
/// ```
pub fn with_stack<R>(depth: usize, f: impl FnOnce() -> R) -> R {
    let need = depth
        .saturating_mul(STACK_PER_LEVEL)
        .saturating_add(STACK_MARGIN);
    stacker::maybe_grow(need, need, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> Value {
        let mut value = Value::from("leaf");
        for i in 0..levels {
            value = if i % 2 == 0 {
                Value::Array(vec![value, Value::Null])
            } else {
                let mut map = serde_json::Map::new();
                map.insert(String::new(), value);
                Value::Object(map)
            };
        }
        value
    }

    #[test]
    fn deep_values_survive_clone_compare_and_drop_on_a_small_stack() {
        let run = || {
            let value = nested(10_000);
            let depth = depth(&value);
            assert_eq!(depth, 10_000);
            let copy = with_stack(depth, || value.clone());
            assert!(with_stack(depth, || copy == value));
            with_stack(depth, move || drop((value, copy)));
        };
        let thread = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(run)
            .expect("spawning a thread");
        assert!(thread.join().is_ok());
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(depth(&nested(0)), 0);
        assert_eq!(depth(&nested(1)), 1);
        assert_eq!(depth(&serde_json::json!([[], [[1]], {"a": {}}])), 3);
    }
}
