//go:build chaos

package redisfault

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/yardhq/yard/server/chaos/internal/chaostest"
)

// workload is people editing rooms on every replica while a fault happens. Each writer adds
// entries name/seq=value to the room's ledger map; a watcher per room and replica records when
// each entry first arrived in a broadcast.
//
// Accepted: an update is accepted once the writer's replica broadcast it, which it does only
// after Redis stored it (appended to the room's log, fsynced: docs/sync.md); the watcher on the
// writer's replica sees that broadcast. A write the server refused (the auth message
// "read-only until its store is reachable again") is not accepted; the writer's copy keeps it
// and the handshake after the outage sends it again.
type workload struct {
	reps     []*replica
	rooms    []string
	writers  []*writer
	watchers map[string]map[string]*peer // replica -> room -> watcher
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

type writer struct {
	p       *peer
	replica string
	room    string
	mu      sync.Mutex
	sent    map[string]time.Time
	values  map[string]string
}

// startWorkload joins a writer and a watcher per room on every replica and starts writing every
// `every`.
func startWorkload(t *testing.T, reps []*replica, rooms []string, every time.Duration) *workload {
	t.Helper()
	w := &workload{reps: reps, rooms: rooms, watchers: map[string]map[string]*peer{}}
	for _, r := range reps {
		tok := r.SignIn(t, "writer-"+r.Name, false)
		w.watchers[r.Name] = map[string]*peer{}
		for _, room := range rooms {
			w.watchers[r.Name][room] = join(t, "watch-"+r.Name, r, r.SignIn(t, "watcher-"+r.Name, false), room, true)
			w.writers = append(w.writers, &writer{p: join(t, "w-"+r.Name+"-"+room, r, tok, room, false), replica: r.Name, room: room,
				sent: map[string]time.Time{}, values: map[string]string{}})
		}
	}
	t.Cleanup(w.close)
	for _, p := range w.peers() {
		select {
		case <-p.Synced():
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not sync with its replica within 30 s", p.name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	for _, wr := range w.writers {
		w.wg.Go(func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for seq := 0; ; seq++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				key := fmt.Sprintf("%s/%s/%06d", wr.replica, wr.room, seq)
				val := fmt.Sprintf("v%d", seq)
				wr.mu.Lock()
				wr.sent[key], wr.values[key] = time.Now(), val
				wr.mu.Unlock()
				wr.p.set(key, val)
			}
		})
	}
	return w
}

func (w *workload) peers() []*peer {
	var out []*peer
	for _, wr := range w.writers {
		out = append(out, wr.p)
	}
	for _, byRoom := range w.watchers {
		for _, p := range byRoom {
			out = append(out, p)
		}
	}
	return out
}

// halt stops writing (the peers stay connected).
func (w *workload) halt() {
	if w.stop != nil {
		w.stop()
	}
	w.wg.Wait()
}

func (w *workload) close() {
	w.halt()
	for _, p := range w.peers() {
		p.close()
	}
}

// refusals is how many writes the servers refused, and the last reason given.
func (w *workload) refusals() (int, string) {
	n, reason := 0, ""
	for _, wr := range w.writers {
		k, r := wr.p.Refusals()
		n += k
		if r != "" {
			reason = r
		}
	}
	return n, reason
}

func (w *workload) reconnects() int64 {
	var n int64
	for _, p := range w.peers() {
		n += p.reconnects.Load()
	}
	return n
}

// entry is one write of the ledger.
type entry struct {
	key, value, replica, room string
	sent                      time.Time
	accepted                  time.Time // zero: never accepted
}

// entries returns every write, with when the writer's replica broadcast it.
func (w *workload) entries() []entry {
	var out []entry
	for _, wr := range w.writers {
		wr.mu.Lock()
		for k, at := range wr.sent {
			e := entry{key: k, value: wr.values[k], replica: wr.replica, room: wr.room, sent: at}
			if seen, ok := w.watchers[wr.replica][wr.room].seenAt(k); ok {
				e.accepted = seen
			}
			out = append(out, e)
		}
		wr.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// verdict is what a run found.
type verdict struct {
	written, accepted int
	lost              int           // the most accepted writes any copy lacked
	converged         time.Duration // from the end of writing until every copy held every write
}

// verify halts the writers and checks the guarantees: every copy (the watchers, a fresh client
// on every replica, and a fresh client of a fresh replica that can only read Redis) converges
// to every write, and above all holds every accepted one, with its value.
func (w *workload) verify(t *testing.T, rg *chaostest.Rig) verdict {
	t.Helper()
	w.halt()
	halted := time.Now()
	written := map[string]int{}
	for _, wr := range w.writers {
		wr.mu.Lock()
		written[wr.room] += len(wr.sent)
		wr.mu.Unlock()
	}
	// Convergence: every watcher ends up with every write (refused ones come back with the
	// handshake after the outage).
	deadline := time.Now().Add(2 * time.Minute)
	for _, room := range w.rooms {
		for _, r := range w.reps {
			p := w.watchers[r.Name][room]
			for p.count() < written[room] {
				if time.Now().After(deadline) {
					t.Fatalf("the watcher on %s holds %d of the %d writes to %s after 2 min", r.Name, p.count(), written[room], room)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	var v verdict
	v.converged = time.Since(halted)
	es := w.entries()
	v.written = len(es)
	byRoom := map[string][]entry{}
	for _, e := range es {
		byRoom[e.room] = append(byRoom[e.room], e)
		if !e.accepted.IsZero() {
			v.accepted++
		}
	}
	if v.accepted == 0 {
		t.Fatal("no write was accepted: the workload proves nothing")
	}
	check := func(who string, got map[string]string, want []entry) {
		t.Helper()
		lost, wrong, lostAccepted := 0, 0, []string{}
		for _, e := range want {
			val, ok := got[e.key]
			switch {
			case !ok && !e.accepted.IsZero():
				lostAccepted = append(lostAccepted, e.key)
			case !ok:
				lost++
			case val != e.value:
				wrong++
			}
		}
		v.lost = max(v.lost, len(lostAccepted))
		if len(lostAccepted) > 0 {
			t.Errorf("%s lost %d accepted writes: %v", who, len(lostAccepted), lostAccepted[:min(10, len(lostAccepted))])
		}
		if lost > 0 || wrong > 0 || len(got) != len(want) {
			t.Errorf("%s holds %d entries for %d writes: %d missing (never accepted), %d with another value", who, len(got), len(want), lost, wrong)
		}
	}
	for _, room := range w.rooms {
		for _, r := range w.reps {
			check(fmt.Sprintf("the watcher on %s in %s", r.Name, room), ledger(w.watchers[r.Name][room].Person), byRoom[room])
		}
	}
	// Fresh copies: a new client on every replica, and a new replica that loads from Redis.
	fresh := rg.Replica("fresh")
	for _, r := range append(slices.Clone(w.reps), fresh) {
		tok := r.SignIn(t, "auditor", false)
		for _, room := range w.rooms {
			p := r.Join(t, tok, room)
			select {
			case <-p.Synced():
			case <-time.After(30 * time.Second):
				p.Close()
				t.Fatalf("a fresh client of %s did not sync %s", r.Name, room)
			}
			check(fmt.Sprintf("a fresh client of %s in %s", r.Name, room), ledger(p), byRoom[room])
			p.Close()
		}
		alive(t, r)
	}
	return v
}

// latencies summarises how long writes took from the writer to a watcher: on the writer's replica
// (the acknowledgement) or on another (delivery across replicas), for writes sent in [from, to).
func (w *workload) latencies(from, to time.Time, across bool) string {
	var ds []time.Duration
	for _, wr := range w.writers {
		wr.mu.Lock()
		for k, at := range wr.sent {
			if at.Before(from) || !at.Before(to) {
				continue
			}
			for _, r := range w.reps {
				if (r.Name != wr.replica) != across {
					continue
				}
				if seen, ok := w.watchers[r.Name][wr.room].seenAt(k); ok {
					ds = append(ds, seen.Sub(at))
				}
			}
		}
		wr.mu.Unlock()
	}
	return summarize(ds)
}

// latenciesTo is latencies for writes from the replica named from to the replica named to.
func (w *workload) latenciesTo(src, dst string, from, to time.Time) string {
	var ds []time.Duration
	for _, wr := range w.writers {
		if wr.replica != src {
			continue
		}
		wr.mu.Lock()
		for k, at := range wr.sent {
			if at.Before(from) || !at.Before(to) {
				continue
			}
			if seen, ok := w.watchers[dst][wr.room].seenAt(k); ok {
				ds = append(ds, seen.Sub(at))
			}
		}
		wr.mu.Unlock()
	}
	return summarize(ds)
}

// summarize is a report figure: n:…,p50:…,p95:…,p99:…,max:….
func summarize(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n:0"
	}
	slices.Sort(ds)
	q := func(f float64) string { return ms(ds[min(len(ds)-1, int(f*float64(len(ds))))]) }
	return fmt.Sprintf("n:%d,p50:%s,p95:%s,p99:%s,max:%s", len(ds), q(0.5), q(0.95), q(0.99), ms(ds[len(ds)-1]))
}

// readyzWatch polls /api/readyz on every replica and remembers each answer.
type readyzWatch struct {
	mu      sync.Mutex
	samples map[string][]readySample
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

type readySample struct {
	start, end time.Time
	answered   bool
	ok         map[string]bool // check -> ok
}

func watchReadyz(t *testing.T, reps []*replica) *readyzWatch {
	ctx, cancel := context.WithCancel(context.Background())
	rw := &readyzWatch{samples: map[string][]readySample{}, stop: cancel}
	for _, r := range reps {
		rw.wg.Go(func() {
			for ctx.Err() == nil {
				s := readySample{start: time.Now(), ok: map[string]bool{}}
				rd, answered := ready(r) // bounded at 10 s
				s.end, s.answered = time.Now(), answered
				for name := range rd.Checks {
					s.ok[name] = rd.checkOK(name)
				}
				rw.mu.Lock()
				rw.samples[r.Name] = append(rw.samples[r.Name], s)
				rw.mu.Unlock()
				chaostest.Sleep(ctx, 200*time.Millisecond)
			}
		})
	}
	t.Cleanup(rw.close)
	return rw
}

func (rw *readyzWatch) close() {
	rw.stop()
	rw.wg.Wait()
}

// firstAfter returns how long after at a poll started at or after it answered with check's
// state equal to want; false if none did.
func (rw *readyzWatch) firstAfter(replica, check string, at time.Time, want bool) (time.Duration, bool) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	for _, s := range rw.samples[replica] {
		if s.start.Before(at) || !s.answered {
			continue
		}
		if ok, known := s.ok[check]; known && ok == want {
			return s.end.Sub(at), true
		}
	}
	return 0, false
}

// okThroughout reports whether every answered poll of [from, to) said check was ok.
func (rw *readyzWatch) okThroughout(replica, check string, from, to time.Time) bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	for _, s := range rw.samples[replica] {
		if s.start.Before(from) || !s.end.Before(to) || !s.answered {
			continue
		}
		if !s.ok[check] {
			return false
		}
	}
	return true
}

// degradedDuring asserts that every replica's /api/readyz named check as failing after fault and
// ok again after heal, and reports the figures (readyz_<replica>=degraded_after:…,ok_after:…).
func (rw *readyzWatch) degradedDuring(t *testing.T, rp *chaostest.Report, reps []*replica, check string, fault, heal time.Time) {
	t.Helper()
	for _, r := range reps {
		detect, ok := rw.firstAfter(r.Name, check, fault, false)
		if !ok || fault.Add(detect).After(heal.Add(10*time.Second)) {
			t.Errorf("%s: /api/readyz never said %s was degraded during the fault", r.Name, check)
			continue
		}
		back, ok := rw.firstAfter(r.Name, check, heal, true)
		if !ok {
			t.Errorf("%s: /api/readyz did not say %s was ok again after the fault", r.Name, check)
			continue
		}
		rp.Set("readyz_"+r.Name, "degraded_after:%s,ok_after:%s", ms(detect), ms(back))
	}
}

// acceptedAgain is how long after heal the first write sent at or after heal was accepted.
func (w *workload) acceptedAgain(heal time.Time) (time.Duration, bool) {
	best := time.Duration(-1)
	for _, e := range w.entries() {
		if e.sent.Before(heal) || e.accepted.IsZero() {
			continue
		}
		if d := e.accepted.Sub(heal); best < 0 || d < best {
			best = d
		}
	}
	return best, best >= 0
}
