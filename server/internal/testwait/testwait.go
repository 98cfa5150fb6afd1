// Package testwait waits in tests for a condition that other goroutines or processes make true,
// polling instead of sleeping a guessed time. It imports nothing of Yard, so every package's
// tests can use it.
package testwait

import (
	"testing"
	"time"
)

// Until checks cond every interval until it holds, and fails the test when it still does not
// after timeout.
func Until(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}
