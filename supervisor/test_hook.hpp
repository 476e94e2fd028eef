#pragma once
// Test-only pauses (docs/design.md "Test hooks"): LOKT_TEST_HOOK_PAUSE=STAGE:FILE makes the
// supervisor write its pid to FILE at STAGE and wait there while FILE exists (at most 60 s),
// so an integration test can SIGKILL it at exactly that point. Unset: one getenv, nothing else.

namespace lokt::sup {

/// Pauses here if LOKT_TEST_HOOK_PAUSE names `stage` ("spawned": the gated command exists and
/// no lock is written; "locked": the locks name it and its gate is still shut).
void test_pause(const char* stage);

} // namespace lokt::sup
