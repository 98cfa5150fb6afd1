package integration_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/internal/yardtest"
)

// BenchmarkRoomsOnCluster opens ROOMS rooms (default 300; hack/bench-rooms-cluster.sh runs
// 10,000) spread evenly over three `yard serve` replicas on a six-node Redis Cluster, each room
// with one client that stays connected and one edit the server acknowledged, and prints what
// the rooms cost Redis (memory, CPU to create, CPU idle, CPU per edit), how many log readers
// the replicas hold on the masters, and the replicas' RSS. Redis CPU comes from INFO (the
// servers' own rusage), so other load on the machine distorts it little. Run once:
//
//	go test -run '^$' -bench RoomsOnCluster -benchtime 1x ./server/room/integration
//
// YARD_BIN names a built yard (else it is built); IDLE (default 30s) is the idle window,
// EDIT_WINDOW (default 30s) the window the edits under load are spread over.
func BenchmarkRoomsOnCluster(b *testing.B) {
	n := envInt(b, "ROOMS", 300)
	idle := envDuration(b, "IDLE", 30*time.Second)
	editWindow := envDuration(b, "EDIT_WINDOW", 30*time.Second)
	workers := envInt(b, "JOINERS", 64)
	ctx := context.Background()

	bin := os.Getenv("YARD_BIN")
	if bin == "" {
		bin = yardtest.BuildBinary(b, repoRoot)
	}
	cl := redistest.StartCluster(b)
	nodes := clusterNodes(b, cl)
	b.Cleanup(func() {
		for _, nd := range nodes {
			_ = nd.rdb.Close()
		}
	})

	// A replica's Redis connections carry its name (client_name), so CLIENT LIST on the masters
	// says whose they are. Everyone signs in as one user: the per-user connection cap is raised
	// past the rooms, since it bounds people, not this load.
	names := []string{"bench-a", "bench-b", "bench-c"}
	var reps []*benchReplica
	for _, name := range names {
		p := yardtest.StartProcess(b, bin, []string{"YARD_JWT_SECRET=" + jwtSecret},
			"--dev-auth", "--replica-id", name,
			"--redis-cluster", "--redis-url", cl.URL()+"&client_name="+name,
			"--max-conns-per-user", strconv.Itoa(n+100),
			"--static-dir", filepath.Join(b.TempDir(), "none"), "--recordings-dir", b.TempDir(),
			"--audit-file", filepath.Join(b.TempDir(), "audit.jsonl"))
		reps = append(reps, &benchReplica{name: name, proc: p, srv: &yardtest.Server{URL: p.URL}})
	}
	token := yardtest.SignIn(b, reps[0].srv.URL, "bench", false)
	time.Sleep(2 * time.Second) // the replicas' start-up traffic ends before the baseline
	b.ResetTimer()

	// Creation: each room joined on replica i%3, one edit sent, and its acknowledgement (the
	// server's broadcast back to the sender, sent only once Redis stored the update) awaited.
	rooms := make([]*benchRoom, n)
	for i := range rooms {
		rooms[i] = &benchRoom{id: fmt.Sprintf("bench-%05d", i), rep: reps[i%len(reps)]}
	}
	b.Cleanup(func() {
		var wg sync.WaitGroup
		for _, r := range rooms {
			if r.p != nil {
				wg.Go(r.p.Close)
			}
		}
		wg.Wait()
	})
	before := snapshot(ctx, b, nodes)
	began := time.Now()
	err := forEach(rooms, workers, func(r *benchRoom) error {
		p, err := r.rep.srv.Dial(token, r.id)
		if err != nil {
			return err
		}
		r.p = p
		return r.edit(1)
	})
	if err != nil {
		b.Fatalf("opening the rooms: %v", err)
	}
	created := time.Since(began)
	afterCreate := snapshot(ctx, b, nodes)
	// Redis accounts a connection's buffers to mem_clients_normal in its clients cron, a share
	// of the clients at a time, so memory is read once that caught up; the rest of used_memory
	// counts as dataset until then.
	time.Sleep(5 * time.Second)
	settled := snapshot(ctx, b, nodes)
	for _, rp := range reps {
		rp.rss = rssKiB(b, rp.proc.PID())
		rp.rooms, rp.clients = roomGauges(b, rp.srv)
	}
	readers := clientCounts(ctx, b, nodes)
	slots := roomSlots(ctx, b, nodes[0].rdb, rooms)

	// Idle: every room open and followed, nothing sent.
	cpuIdle0 := make([]float64, len(reps))
	for i, rp := range reps {
		cpuIdle0[i] = procCPU(b, rp.proc.PID())
	}
	idle0 := snapshot(ctx, b, nodes)
	time.Sleep(idle)
	idle1 := snapshot(ctx, b, nodes)
	yardIdle := 0.0
	for i, rp := range reps {
		yardIdle += procCPU(b, rp.proc.PID()) - cpuIdle0[i]
	}

	// Load: one more edit per room, started at an even pace over editWindow, each awaited.
	edit0 := snapshot(ctx, b, nodes)
	began = time.Now()
	var lat latencies
	err = forEachPaced(rooms, editWindow, func(r *benchRoom) error {
		t0 := time.Now()
		err := r.edit(2)
		lat.add(time.Since(t0))
		return err
	})
	if err != nil {
		b.Fatalf("editing the rooms: %v", err)
	}
	editTook := time.Since(began)
	edit1 := snapshot(ctx, b, nodes)
	b.StopTimer()

	fn := float64(n)
	memMasters, memReplicas := settled.memDelta(before)
	idleCPU := idle1.cpu() - idle0.cpu()
	editCPU := edit1.cpu() - edit0.cpu()
	idleDuringEdits := idleCPU / idle.Seconds() * editTook.Seconds()
	var out strings.Builder
	fmt.Fprintf(&out, "\n%d rooms, 3 replicas, 6-node Redis Cluster; rooms opened in %.1f s (%.0f/s), %d at a time\n\n",
		n, created.Seconds(), fn/created.Seconds(), workers)
	fmt.Fprintf(&out, "| | value |\n|---|---|\n")
	row := func(k, format string, args ...any) {
		fmt.Fprintf(&out, "| %s | %s |\n", k, fmt.Sprintf(format, args...))
	}
	row("Redis memory per room, masters (Δ used_memory / rooms)", "%.0f B", memMasters/fn)
	row("Redis memory per room, replicas", "%.0f B", memReplicas/fn)
	row("… of which data (Δ used_memory_dataset, masters)", "%.0f B", settled.delta(before, "used_memory_dataset", true)/fn)
	row("… of which client connections (Δ mem_clients_normal, masters)", "%.0f B", settled.delta(before, "mem_clients_normal", true)/fn)
	row("Keys per room; MEMORY USAGE of one room's keys", "%.2f; %s", float64(dbSize(ctx, b, nodes))/fn, keyUsage(ctx, b, cl, rooms[0].id))
	row("Redis CPU per room created (6 nodes, sys+user)", "%.2f ms", (afterCreate.cpu()-before.cpu())/fn*1000)
	row("Redis CPU idle, all rooms open (6 nodes)", "%.1f %% of a core", idleCPU/idle.Seconds()*100)
	row("Redis CPU idle per room", "%.2f µs/s", idleCPU/idle.Seconds()/fn*1e6)
	row("XREAD calls while idle", "%.0f/s", (idle1.calls("xread")-idle0.calls("xread"))/idle.Seconds())
	row("Redis CPU per edit under load (6 nodes)", "%.3f ms (%.3f ms less the idle rate)", editCPU/fn*1000, (editCPU-idleDuringEdits)/fn*1000)
	row("Edits under load", "%d in %.1f s (%.0f/s); ack p50 %s, p99 %s, max %s", n, editTook.Seconds(), fn/editTook.Seconds(),
		lat.quantile(0.5), lat.quantile(0.99), lat.quantile(1))
	row("Yard CPU idle, 3 replicas", "%.1f %% of a core", yardIdle/idle.Seconds()*100)
	row("Distinct slots of the rooms (all / per replica)", "%d / %s", slots.all, joinInts(slots.perReplica(names)))
	for _, rp := range reps {
		c := readers[rp.name]
		row("Replica "+rp.name, "%d rooms loaded, %d clients; RSS %.0f MiB; Redis connections on masters %d (%d blocked in XREAD), on replicas %d",
			rp.rooms, rp.clients, float64(rp.rss)/1024, c.masterConns, c.blocked, c.replicaConns)
	}
	for _, nd := range nodes {
		row("Node "+nd.addr+" ("+nd.role+")", "connected_clients %d, used_memory %s -> %s",
			settled.info[nd.addr].int("connected_clients"), mib(before.info[nd.addr].float("used_memory")), mib(settled.info[nd.addr].float("used_memory")))
	}
	b.Log(out.String())
	b.ReportMetric(memMasters/fn, "B-redis-mem/room")
	b.ReportMetric((afterCreate.cpu()-before.cpu())/fn*1000, "ms-redis-cpu/room-created")
	b.ReportMetric(idleCPU/idle.Seconds()/fn*1e6, "µs-redis-cpu/room/s-idle")
	b.ReportMetric(editCPU/fn*1000, "ms-redis-cpu/edit")
}

type benchReplica struct {
	name           string
	proc           *yardtest.Process
	srv            *yardtest.Server
	rss            int64 // KiB after creation
	rooms, clients int   // its room gauges after creation
}

type benchRoom struct {
	id  string
	rep *benchReplica
	p   *yardtest.Person
}

// benchAckTimeout bounds the wait for one edit's acknowledgement.
const benchAckTimeout = time.Minute

// edit sets the room's "bench" map key "n" to "e<v>" and waits until the server sent it back.
func (r *benchRoom) edit(v int) error {
	want := "e" + strconv.Itoa(v)
	r.p.Edit(func(doc *crdt.Doc, tx *crdt.Transaction) { _ = doc.GetMap("bench").Set(tx, "n", want) })
	deadline := time.Now().Add(benchAckTimeout)
	for {
		var got any
		r.p.Confirmed(func(doc *crdt.Doc) { got, _ = doc.GetMap("bench").Get("n") })
		if got == want {
			return nil
		}
		select {
		case <-r.p.Done():
			return fmt.Errorf("room %s on %s: connection closed before the edit was acknowledged", r.id, r.rep.name)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("room %s on %s: edit %d not acknowledged in %v", r.id, r.rep.name, v, benchAckTimeout)
		}
	}
}

// forEach runs fn on every room, workers at a time, and returns the first error.
func forEach(rooms []*benchRoom, workers int, fn func(*benchRoom) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(rooms) || errs[w] != nil {
					return
				}
				errs[w] = fn(rooms[i])
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// forEachPaced starts fn on room i at i*window/len(rooms), each in its own goroutine (a slow
// acknowledgement does not delay the next start), and waits for all.
func forEachPaced(rooms []*benchRoom, window time.Duration, fn func(*benchRoom) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	began := time.Now()
	for i, r := range rooms {
		time.Sleep(time.Until(began.Add(time.Duration(i) * window / time.Duration(len(rooms)))))
		wg.Go(func() {
			if err := fn(r); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)].Round(100 * time.Microsecond)
}

// benchNode is one redis-server of the cluster with a direct client.
type benchNode struct {
	addr string
	role string // master or slave, after the cluster formed
	rdb  *redis.Client
}

func clusterNodes(b *testing.B, cl *redistest.Cluster) []*benchNode {
	b.Helper()
	var nodes []*benchNode
	for _, addr := range cl.Addrs() {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		info, err := rdb.Info(context.Background(), "replication").Result()
		if err != nil {
			b.Fatalf("INFO replication on %s: %v", addr, err)
		}
		nodes = append(nodes, &benchNode{addr: addr, role: parseInfo(info).str("role"), rdb: rdb})
	}
	return nodes
}

type infoFields map[string]string

func parseInfo(s string) infoFields {
	f := infoFields{}
	for line := range strings.Lines(s) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			f[k] = v
		}
	}
	return f
}

func (f infoFields) str(k string) string { return f[k] }

func (f infoFields) float(k string) float64 {
	v, _ := strconv.ParseFloat(f[k], 64)
	return v
}

func (f infoFields) int(k string) int { return int(f.float(k)) }

// clusterState is INFO memory, cpu and clients of every node at one moment.
type clusterState struct {
	nodes []*benchNode
	info  map[string]infoFields
}

func snapshot(ctx context.Context, b *testing.B, nodes []*benchNode) clusterState {
	b.Helper()
	st := clusterState{nodes: nodes, info: map[string]infoFields{}}
	for _, nd := range nodes {
		s, err := nd.rdb.Info(ctx, "memory", "cpu", "clients", "commandstats").Result()
		if err != nil {
			b.Fatalf("INFO on %s: %v", nd.addr, err)
		}
		st.info[nd.addr] = parseInfo(s)
	}
	return st
}

// cpu is the seconds of CPU (system and user) every node used so far.
func (s clusterState) cpu() float64 { return s.sum("used_cpu_sys") + s.sum("used_cpu_user") }

// sum adds up field k of every node.
func (s clusterState) sum(k string) float64 {
	t := 0.0
	for _, f := range s.info {
		t += f.float(k)
	}
	return t
}

// calls is how many times the nodes ran command cmd so far (INFO commandstats).
func (s clusterState) calls(cmd string) float64 {
	t := 0.0
	for _, f := range s.info {
		for kv := range strings.SplitSeq(f.str("cmdstat_"+cmd), ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseFloat(v, 64)
				t += n
			}
		}
	}
	return t
}

// delta is how much field k grew since before, summed over the masters (or the replicas).
func (s clusterState) delta(before clusterState, k string, masters bool) float64 {
	t := 0.0
	for _, nd := range s.nodes {
		if (nd.role == "master") == masters {
			t += s.info[nd.addr].float(k) - before.info[nd.addr].float(k)
		}
	}
	return t
}

// dbSize is the number of keys on the masters.
func dbSize(ctx context.Context, b *testing.B, nodes []*benchNode) int64 {
	b.Helper()
	var t int64
	for _, nd := range nodes {
		if nd.role == "master" {
			n, err := nd.rdb.DBSize(ctx).Result()
			if err != nil {
				b.Fatalf("DBSIZE on %s: %v", nd.addr, err)
			}
			t += n
		}
	}
	return t
}

// keyUsage is MEMORY USAGE of each of room's keys.
func keyUsage(ctx context.Context, b *testing.B, cl *redistest.Cluster, room string) string {
	b.Helper()
	rdb := cl.Client(b)
	var parts []string
	for _, kind := range []string{"updates", "snapshot", "lease"} {
		key := "yard:{" + room + "}:" + kind
		n, err := rdb.MemoryUsage(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			b.Fatalf("MEMORY USAGE %s: %v", key, err)
		}
		parts = append(parts, fmt.Sprintf("%s %d B", kind, n))
	}
	return strings.Join(parts, ", ")
}

// memDelta is how much used_memory grew since before, summed over the masters and the replicas.
func (s clusterState) memDelta(before clusterState) (masters, replicas float64) {
	for _, nd := range s.nodes {
		d := s.info[nd.addr].float("used_memory") - before.info[nd.addr].float("used_memory")
		if nd.role == "master" {
			masters += d
		} else {
			replicas += d
		}
	}
	return masters, replicas
}

type connCount struct{ masterConns, blocked, replicaConns int }

// clientCounts counts each replica's connections on the nodes by client name, and those of
// them blocked (flags b: a log reader waiting in XREAD BLOCK).
func clientCounts(ctx context.Context, b *testing.B, nodes []*benchNode) map[string]*connCount {
	b.Helper()
	out := map[string]*connCount{}
	for _, nd := range nodes {
		list, err := nd.rdb.ClientList(ctx).Result()
		if err != nil {
			b.Fatalf("CLIENT LIST on %s: %v", nd.addr, err)
		}
		for line := range strings.Lines(list) {
			fields := map[string]string{}
			for kv := range strings.FieldsSeq(line) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					fields[k] = v
				}
			}
			c := out[fields["name"]]
			if c == nil {
				c = &connCount{}
				out[fields["name"]] = c
			}
			if nd.role != "master" {
				c.replicaConns++
				continue
			}
			c.masterConns++
			if strings.Contains(fields["flags"], "b") {
				c.blocked++
			}
		}
	}
	return out
}

type slotCount struct {
	all   int
	byRep map[string]int
}

func (s slotCount) perReplica(names []string) []int {
	out := make([]int, len(names))
	for i, n := range names {
		out[i] = s.byRep[n]
	}
	return out
}

// roomSlots counts the distinct hash slots of the rooms, as the server computes them: a room's
// keys carry its id as their hash tag, so their slot is that of the id.
func roomSlots(ctx context.Context, b *testing.B, rdb *redis.Client, rooms []*benchRoom) slotCount {
	b.Helper()
	cmds := make([]*redis.IntCmd, len(rooms))
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range rooms {
			cmds[i] = p.ClusterKeySlot(ctx, "{"+r.id+"}")
		}
		return nil
	})
	if err != nil {
		b.Fatalf("CLUSTER KEYSLOT: %v", err)
	}
	all := map[int64]bool{}
	byRep := map[string]map[int64]bool{}
	for i, r := range rooms {
		s := cmds[i].Val()
		all[s] = true
		if byRep[r.rep.name] == nil {
			byRep[r.rep.name] = map[int64]bool{}
		}
		byRep[r.rep.name][s] = true
	}
	out := slotCount{all: len(all), byRep: map[string]int{}}
	for name, m := range byRep {
		out.byRep[name] = len(m)
	}
	return out
}

// roomGauges reads yard_rooms_loaded and yard_room_clients from the replica's /metrics.
func roomGauges(b *testing.B, s *yardtest.Server) (rooms, clients int) {
	b.Helper()
	for line := range strings.Lines(s.Metrics(b)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		f, _ := strconv.ParseFloat(v, 64)
		switch k {
		case "yard_rooms_loaded":
			rooms = int(f)
		case "yard_room_clients":
			clients = int(f)
		}
	}
	return rooms, clients
}

// rssKiB is the resident set of process pid.
func rssKiB(b *testing.B, pid int) int64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kib
		}
	}
	b.Fatalf("no VmRSS for %d", pid)
	return 0
}

// procCPU is the CPU seconds (user and system) process pid used so far.
func procCPU(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name (which may hold spaces) start at state; utime and stime
	// are the 14th and 15th fields, in clock ticks (USER_HZ, 100 on Linux).
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(fields[11], 64)
	st, _ := strconv.ParseFloat(fields[12], 64)
	return (ut + st) / 100
}

func mib(bytes float64) string { return fmt.Sprintf("%.1f MiB", bytes/(1<<20)) }

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration", name, v)
	}
	return d
}
