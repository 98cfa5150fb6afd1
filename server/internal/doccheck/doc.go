// Package doccheck holds tests that keep the documentation true to the code: every test that
// docs/security.md names as the proof of a refusal exists, so the table cannot silently rot.
package doccheck
