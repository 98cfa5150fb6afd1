//go:build chaos

package redisfault

import (
	"strings"
	"testing"
	"time"

	"github.com/yardhq/yard/server/chaos/internal/chaostest"
)

// writeEvery is each writer's pace: two rooms, a writer per room on each of two replicas, so 40
// accepted updates a second in all (modest: the machine is shared).
const writeEvery = 100 * time.Millisecond

var rooms = []string{"chaos-a", "chaos-b"}

// twoReplicas starts replicas a and b on the rig's Redis, a readiness watch of both, and the
// workload on both.
func twoReplicas(t *testing.T, rg *chaostest.Rig) ([]*replica, *readyzWatch, *workload) {
	t.Helper()
	return withWorkload(t, rg.Replica("a"), rg.Replica("b"))
}

// withWorkload starts a readiness watch of reps and the workload on them.
func withWorkload(t *testing.T, reps ...*replica) ([]*replica, *readyzWatch, *workload) {
	t.Helper()
	return reps, watchReadyz(t, reps), startWorkload(t, reps, rooms, writeEvery)
}

// reportWrites records the figures every Redis scenario reports about its writes.
func reportWrites(rp *chaostest.Report, w *workload, v verdict) {
	refused, reason := w.refusals()
	rp.Set("writes", "%d", v.written)
	rp.Set("accepted", "%d", v.accepted)
	rp.Set("lost_accepted", "%d", v.lost)
	rp.Set("refused", "%d", refused)
	rp.Set("refusal", "%q", reason)
	rp.Set("reconnects", "%d", w.reconnects())
	rp.Set("converged_after", "%s", ms(v.converged))
}

// afterHealing asserts what every Redis outage must leave: writes accepted again after heal,
// verify's guarantees, and readyz naming redis degraded during the outage and ok after; it
// reports the figures.
func afterHealing(t *testing.T, rp *chaostest.Report, rg *chaostest.Rig, reps []*replica, rw *readyzWatch, w *workload, fault, heal time.Time) {
	t.Helper()
	again, ok := w.acceptedAgain(heal)
	if !ok {
		t.Error("no write was accepted after Redis came back")
	}
	v := w.verify(t, rg)
	reportWrites(rp, w, v)
	rp.Set("accepted_again_after", "%s", ms(again))
	rw.degradedDuring(t, rp, reps, "redis", fault, heal)
}

// Redis restarts (a clean SIGTERM shutdown, then a SIGKILL crash) while two replicas take edits:
// nothing accepted is lost, the replicas converge, /api/readyz says Redis is degraded while it is
// down and ok after.
func TestRedisRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(rg *chaostest.Rig)
	}{
		{"SIGTERM", func(rg *chaostest.Rig) { rg.Redis.Terminate() }},
		{"SIGKILL", func(rg *chaostest.Rig) { rg.Redis.Kill() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := chaostest.NewReport(t, "Redis stopped with "+tc.name+" for 3 s and started again on its data: 0 accepted updates lost, every copy converges, readyz says redis degraded while down and ok after")
			rg := newRig(t)
			reps, rw, w := twoReplicas(t, rg)
			began := time.Now()

			time.Sleep(5 * time.Second)
			fault := time.Now()
			tc.stop(rg)
			time.Sleep(3 * time.Second) // down long enough for every replica to notice
			rg.Redis.Restart(t)
			heal := time.Now()
			time.Sleep(10 * time.Second)

			rp.Set("down", "%s", ms(heal.Sub(fault)))
			afterHealing(t, rp, rg, reps, rw, w, fault, heal)
			rp.Set("ack_before", "%s", w.latencies(began, fault.Add(-time.Second), false))
			rp.Set("across_before", "%s", w.latencies(began, fault.Add(-time.Second), true))
		})
	}
}

// Redis unreachable for 30 s (frozen with SIGSTOP: connections stay open and hang, as behind a
// partition): edits are refused with the documented reason while appends fail, nothing accepted
// is lost, what was refused is stored after, and readyz reports it.
func TestRedisUnreachable30s(t *testing.T) {
	rp := chaostest.NewReport(t, "Redis frozen 30 s: writes refused with the documented reason, none accepted that could not be stored, 0 accepted updates lost, every copy converges, readyz says redis degraded and ok after")
	rg := newRig(t)
	reps, rw, w := twoReplicas(t, rg)

	time.Sleep(5 * time.Second)
	fault := time.Now()
	rg.Redis.Freeze(t)
	time.Sleep(30 * time.Second)
	rg.Redis.Thaw(t)
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
	rp.Set("frozen", "%s", ms(heal.Sub(fault)))
	afterHealing(t, rp, rg, reps, rw, w, fault, heal)
}

// 200 ms delay and 5 % loss on the packets one replica sends to Redis (b runs in a network
// namespace behind slowLink), the other replica direct: nothing accepted is lost, the replicas
// converge, and the figures say what the delay costs delivery across replicas.
func TestDelayAndLossToRedis(t *testing.T) {
	rp := chaostest.NewReport(t, "200 ms delay and 5 % loss between replica b and Redis for 30 s: 0 accepted updates lost, every copy converges")
	rg := newRig(t)
	link := startSlowLink(t, rg.Redis, 200*time.Millisecond, 0.05)
	retransBefore := link.retransmits(t)
	reps, rw, w := withWorkload(t, rg.Replica("a"), rg.ReplicaInNetns(link.netns, link.nsIP, "b", "--redis-url", link.redisURL()))
	began := time.Now()
	time.Sleep(30 * time.Second)
	end := time.Now()
	v := w.verify(t, rg)
	impaired, lost := link.stats()
	retransmits := link.retransmits(t) - retransBefore
	reportWrites(rp, w, v)
	rp.Set("link_packets", "%d", impaired)
	rp.Set("link_dropped", "%d", lost)
	rp.Set("b_tcp_retransmits", "%d", retransmits)
	if lost == 0 || retransmits == 0 {
		t.Errorf("the link dropped %d packets and b's TCP resent %d segments: the loss did not happen", lost, retransmits)
	}
	rp.Set("ack_a", "%s", w.latenciesTo("a", "a", began, end))
	rp.Set("ack_b", "%s", w.latenciesTo("b", "b", began, end))
	rp.Set("a_to_b", "%s", w.latenciesTo("a", "b", began, end))
	rp.Set("b_to_a", "%s", w.latenciesTo("b", "a", began, end))
	for _, r := range reps {
		state := "ok_throughout"
		if !rw.okThroughout(r.Name, "redis", began, end) {
			state = "degraded_at_times"
		}
		rp.Set("readyz_"+r.Name, "%s", state)
	}
}
