//go:build chaos

package redisfault

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeEvery is each writer's pace: two rooms, a writer per room on each of two replicas, so 40
// accepted updates a second in all (modest: the machine is shared).
const writeEvery = 100 * time.Millisecond

var rooms = []string{"chaos-a", "chaos-b"}

// twoReplicas starts replicas a and b on their Redis URLs, a readiness watch of both, and the
// workload on both.
func twoReplicas(t *testing.T, urlA, urlB string) ([]*replica, *readyzWatch, *workload) {
	t.Helper()
	reps := []*replica{startReplica(t, "a", urlA), startReplica(t, "b", urlB)}
	return reps, watchReadyz(t, reps), startWorkload(t, reps, rooms, writeEvery)
}

// Redis restarts (a clean SIGTERM shutdown, then a SIGKILL crash) while two replicas take edits:
// nothing accepted is lost, the replicas converge, /api/readyz says Redis is degraded while it is
// down and ok after.
func TestRedisRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
	}{{"SIGTERM", syscall.SIGTERM}, {"SIGKILL", syscall.SIGKILL}} {
		sig := tc.sig
		t.Run(tc.name, func(t *testing.T) {
			rd := startRedis(t)
			reps, rw, w := twoReplicas(t, rd.url(), rd.url())
			began := time.Now()

			time.Sleep(5 * time.Second)
			fault := time.Now()
			rd.stop(t, sig)
			time.Sleep(3 * time.Second) // down long enough for every replica to notice
			rd.launch(t)
			heal := time.Now()
			time.Sleep(10 * time.Second)

			refused, reason := w.refusals()
			again, ok := w.acceptedAgain(heal)
			if !ok {
				t.Error("no write was accepted after Redis came back")
			}
			v := w.verify(t, rd.url())
			t.Logf("redis %s, down %s: %d writes, %d accepted, %d refused while down (last reason %q), %d reconnects; writes accepted again %s after restart; every copy converged %s after writing stopped",
				tc.name, heal.Sub(fault).Round(time.Millisecond), v.written, v.accepted, refused, reason, w.reconnects(), again.Round(time.Millisecond), v.converged.Round(time.Millisecond))
			t.Logf("readyz: %s", rw.degradedDuring(t, reps, "redis", fault, heal))
			t.Logf("before the fault: acknowledgement %s; across replicas %s", w.latencies(began, fault.Add(-time.Second), false), w.latencies(began, fault.Add(-time.Second), true))
		})
	}
}

// Redis unreachable for 30 s (frozen with SIGSTOP: connections stay open and hang, as behind a
// partition): edits are refused with the documented reason while appends fail, nothing accepted
// is lost, what was refused is stored after, and readyz reports it.
func TestRedisUnreachable30s(t *testing.T) {
	rd := startRedis(t)
	reps, rw, w := twoReplicas(t, rd.url(), rd.url())

	time.Sleep(5 * time.Second)
	fault := time.Now()
	rd.signal(t, syscall.SIGSTOP)
	time.Sleep(30 * time.Second)
	rd.signal(t, syscall.SIGCONT)
	heal := time.Now()
	time.Sleep(10 * time.Second)

	refused, reason := w.refusals()
	if refused == 0 {
		t.Error("no write was refused during 30 s without Redis")
	} else if !strings.Contains(reason, "read-only until its store is reachable again") {
		t.Errorf("refusal reason %q: not the documented one", reason)
	}
	// Nothing sent in the middle of the outage may be accepted: it cannot have been stored.
	for _, e := range w.entries() {
		if !e.accepted.IsZero() && e.sent.After(fault.Add(5*time.Second)) && e.accepted.Before(heal) {
			t.Errorf("%s was sent %s into the outage and accepted before Redis resumed", e.key, e.sent.Sub(fault))
			break
		}
	}
	again, ok := w.acceptedAgain(heal)
	if !ok {
		t.Error("no write was accepted after Redis resumed")
	}
	v := w.verify(t, rd.url())
	t.Logf("redis frozen %s: %d writes, %d accepted, %d refused (reason %q), %d reconnects; writes accepted again %s after SIGCONT; every copy converged %s after writing stopped",
		heal.Sub(fault).Round(time.Millisecond), v.written, v.accepted, refused, reason, w.reconnects(), again.Round(time.Millisecond), v.converged.Round(time.Millisecond))
	t.Logf("readyz: %s", rw.degradedDuring(t, reps, "redis", fault, heal))
}

// 200 ms delay and 5 % loss between one replica and Redis (see lossyLink), the other replica
// direct: nothing accepted is lost, the replicas converge, and the figures say what the delay
// costs delivery across replicas.
func TestDelayAndLossToRedis(t *testing.T) {
	rd := startRedis(t)
	link := startLossyLink(t, rd.addr(), 200*time.Millisecond, 400*time.Millisecond, 0.05)
	reps, rw, w := twoReplicas(t, rd.url(), "redis://"+link.addr()+"/0")
	began := time.Now()
	time.Sleep(30 * time.Second)
	end := time.Now()
	refused, reason := w.refusals()
	v := w.verify(t, rd.url())
	total, lost := link.stats()
	t.Logf("%d writes, %d accepted, %d refused (last reason %q), %d reconnects; converged %s after writing stopped; link: %d chunks, %d treated as lost",
		v.written, v.accepted, refused, reason, w.reconnects(), v.converged.Round(time.Millisecond), total, lost)
	t.Logf("acknowledgement on a (direct): %s", w.latenciesTo("a", "a", began, end))
	t.Logf("acknowledgement on b (slow link): %s", w.latenciesTo("b", "b", began, end))
	t.Logf("a -> b: %s", w.latenciesTo("a", "b", began, end))
	t.Logf("b -> a: %s", w.latenciesTo("b", "a", began, end))
	for _, r := range reps {
		if !rw.okThroughout(r.name, "redis", began, end) {
			t.Logf("%s: /api/readyz reported redis degraded at times during the run", r.name)
		}
	}
}
