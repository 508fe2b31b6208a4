//! Compile-time checks of `#[event_log]`, `#[events]` and `#[derive(PersonalData)]`: each case in
//! `ui/<topic>/` must fail to compile with exactly the diagnostics in its
//! `.stderr`, and each case in `ui/pass/` must compile.
//!
//! Regenerate the expected output after a deliberate change with
//! `TRYBUILD=overwrite cargo test -p events-tests --test ui`, then read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/event_log/*.rs");
    t.compile_fail("ui/events/*.rs");
    t.compile_fail("ui/actions/*.rs");
    t.compile_fail("ui/replay/*.rs");
    t.compile_fail("ui/types/*.rs");
    t.compile_fail("ui/bulk/*.rs");
    t.compile_fail("ui/personal/*.rs");
    t.pass("ui/pass/*.rs");
}
