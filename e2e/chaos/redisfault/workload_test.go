//go:build chaos

package redisfault

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
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
		tok := r.signIn(t, "writer-"+r.name, false)
		w.watchers[r.name] = map[string]*peer{}
		for _, room := range rooms {
			w.watchers[r.name][room] = join("watch-"+r.name, r.url, r.signIn(t, "watcher-"+r.name, false), room, true)
			w.writers = append(w.writers, &writer{p: join("w-"+r.name+"-"+room, r.url, tok, room, false), replica: r.name, room: room,
				sent: map[string]time.Time{}, values: map[string]string{}})
		}
	}
	t.Cleanup(w.close)
	for _, p := range w.peers() {
		select {
		case <-p.synced:
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
func (w *workload) refusals() (int64, string) {
	var n int64
	reason := ""
	for _, wr := range w.writers {
		n += wr.p.refusals.Load()
		if r, ok := wr.p.lastReason.Load().(string); ok {
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
	converged         time.Duration // from the end of writing until every copy held every write
}

// verify halts the writers and checks the guarantees: every copy (the watchers, a fresh client
// on every replica, and a fresh client of a fresh replica that can only read Redis) converges
// to every write, and above all holds every accepted one, with its value.
func (w *workload) verify(t *testing.T, redisURL string) verdict {
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
			p := w.watchers[r.name][room]
			for p.count() < written[room] {
				if time.Now().After(deadline) {
					t.Fatalf("the watcher on %s holds %d of the %d writes to %s after 2 min", r.name, p.count(), written[room], room)
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
		if len(lostAccepted) > 0 {
			t.Errorf("%s lost %d accepted writes: %v", who, len(lostAccepted), lostAccepted[:min(10, len(lostAccepted))])
		}
		if lost > 0 || wrong > 0 || len(got) != len(want) {
			t.Errorf("%s holds %d entries for %d writes: %d missing (never accepted), %d with another value", who, len(got), len(want), lost, wrong)
		}
	}
	for _, room := range w.rooms {
		for _, r := range w.reps {
			check(fmt.Sprintf("the watcher on %s in %s", r.name, room), w.watchers[r.name][room].ledger(), byRoom[room])
		}
	}
	// Fresh copies: a new client on every replica, and a new replica that loads from Redis.
	fresh := startReplica(t, "fresh", redisURL)
	for _, r := range append(slices.Clone(w.reps), fresh) {
		tok := r.signIn(t, "auditor", false)
		for _, room := range w.rooms {
			p := join("fresh-"+r.name, r.url, tok, room, false)
			select {
			case <-p.synced:
			case <-time.After(30 * time.Second):
				p.close()
				t.Fatalf("a fresh client of %s did not sync %s", r.name, room)
			}
			check(fmt.Sprintf("a fresh client of %s in %s", r.name, room), p.ledger(), byRoom[room])
			p.close()
		}
		r.alive(t)
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
				if (r.name != wr.replica) != across {
					continue
				}
				if seen, ok := w.watchers[r.name][wr.room].seenAt(k); ok {
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

func summarize(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n=0"
	}
	slices.Sort(ds)
	q := func(f float64) time.Duration {
		return ds[min(len(ds)-1, int(f*float64(len(ds))))].Round(time.Millisecond)
	}
	return fmt.Sprintf("n=%d p50=%s p95=%s p99=%s max=%s", len(ds), q(0.5), q(0.95), q(0.99), ds[len(ds)-1].Round(time.Millisecond))
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
				rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
				rd, answered := r.ready(rctx)
				rcancel()
				s.end, s.answered = time.Now(), answered
				for name := range rd.Checks {
					s.ok[name] = rd.checkOK(name)
				}
				rw.mu.Lock()
				rw.samples[r.name] = append(rw.samples[r.name], s)
				rw.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
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
// ok again after heal, and returns the figures.
func (rw *readyzWatch) degradedDuring(t *testing.T, reps []*replica, check string, fault, heal time.Time) string {
	t.Helper()
	var out []string
	for _, r := range reps {
		detect, ok := rw.firstAfter(r.name, check, fault, false)
		if !ok || fault.Add(detect).After(heal.Add(10*time.Second)) {
			t.Errorf("%s: /api/readyz never said %s was degraded during the fault", r.name, check)
			continue
		}
		back, ok := rw.firstAfter(r.name, check, heal, true)
		if !ok {
			t.Errorf("%s: /api/readyz did not say %s was ok again after the fault", r.name, check)
			continue
		}
		out = append(out, fmt.Sprintf("%s: degraded after %s, ok %s after healing", r.name, detect.Round(time.Millisecond), back.Round(time.Millisecond)))
	}
	return strings.Join(out, "; ")
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
