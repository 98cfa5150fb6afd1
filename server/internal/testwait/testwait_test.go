package testwait_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/yardhq/yard/server/internal/testwait"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	start := time.Now()
	testwait.Until(t, 5*time.Second, time.Millisecond, "three checks", func() bool { return n.Add(1) == 3 })
	if n.Load() != 3 {
		t.Fatalf("checked %d times, want 3", n.Load())
	}
	if time.Since(start) > 4*time.Second {
		t.Fatal("waited for the timeout although the condition held")
	}
}

// recorder captures a failure instead of ending the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = format
	panic(r)
}

func TestUntilFailsAfterTheTimeout(t *testing.T) {
	r := &recorder{TB: t}
	start := time.Now()
	func() {
		defer func() {
			if p := recover(); p != r {
				panic(p)
			}
		}()
		testwait.Until(r, 50*time.Millisecond, 5*time.Millisecond, "never", func() bool { return false })
	}()
	if r.failed == "" {
		t.Fatal("Until returned although the condition never held")
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("failed after %s, before the timeout", d)
	}
}
