//go:build soak

package soak

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/chaos/internal/chaostest"
	"github.com/yardhq/yard/server/internal/testwait"
	"github.com/yardhq/yard/server/internal/yardtest"
)

func TestMain(m *testing.M) {
	// client-go's executors report a closed stream through klog; every shell here ends so.
	klog.SetLogger(logr.Discard())
	controlplane.Main(m)
}

// Bounds the run asserts, comparing the last window of the run with the first.
const (
	latencyBound   = 1.5  // p99 of room edit delivery
	heapBound      = 1.25 // median live heap (go_gc_heap_live_bytes), per replica
	countBound     = 1.10 // median goroutines and open fds, per replica
	countSlack     = 20   // plus this many, for what a few reconnecting clients hold
	sampleInterval = 10 * time.Second
)

// settings come from the environment so hack/soak.sh and a quick local run share the test.
type settings struct {
	duration time.Duration // SOAK_DURATION, default 1h
	clients  int           // SOAK_CLIENTS, default 500
	out      string        // SOAK_OUT: where the CSV files go (default: a temporary directory)
}

func readSettings(t *testing.T) settings {
	s := settings{duration: time.Hour, clients: 500, out: os.Getenv("SOAK_OUT")}
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 3*time.Minute {
			t.Fatalf("SOAK_DURATION=%q: want a duration of at least 3m", v)
		}
		s.duration = d
	}
	if v := os.Getenv("SOAK_CLIENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 20 {
			t.Fatalf("SOAK_CLIENTS=%q: want at least 20", v)
		}
		s.clients = n
	}
	if s.out == "" {
		s.out = t.TempDir()
	} else if err := os.MkdirAll(s.out, 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// The mix of clients: 60 % edit rooms (three to a room, one on each replica), 20 % watch
// ConfigMaps, 15 % follow one container's log, 5 % share shells (owner and observer on different
// replicas).
const (
	roomEditEvery  = 3 * time.Second
	churnEvery     = 200 * time.Millisecond
	churnKeep      = 20
	logLineEvery   = 200 * time.Millisecond
	shellTypeEvery = 10 * time.Second
	namespace      = "demo"
)

func TestSoak(t *testing.T) {
	st := readSettings(t)
	window := min(10*time.Minute, st.duration/3)
	rp := chaostest.NewReport(t, fmt.Sprintf("medians of the last %[1]s against the %[1]s after a %[1]s warm-up (first/warm/last): goroutines and fds within %.2[2]fx+%[3]d, heap within %.2[4]fx; room delivery p99 of the last %[1]s within %.1[5]fx of the first; nothing lost",
		window, countBound, countSlack, heapBound, latencyBound))
	rp.Set("duration", "%s", st.duration)
	rp.Set("clients", "%d", st.clients)
	rp.Set("out", "%s", st.out)

	cp := controlplane.Shared(t)
	rg := chaostest.NewRig(t, chaostest.Cluster{Kubeconfig: cp.Kubeconfig(), REST: cp.RESTConfig()},
		"--max-conns-per-user", "1000", "--max-shells-per-user", "100", "--metrics-listen", "127.0.0.1:0", "--pprof")
	replicas := []*chaostest.Replica{rg.Replica("a"), rg.Replica("b"), rg.Replica("c")}
	admin := rg.Admin()
	alice := yardtest.SignIn(t, replicas[0].URL, "alice", false) // cluster-admin: watches, logs, shells

	rooms := st.clients * 60 / 100 / 3
	watchers := st.clients * 20 / 100
	followers := st.clients * 15 / 100
	pairs := (st.clients - 3*rooms - watchers - followers) / 2
	rp.Set("mix", "%d_room_clients_in_%d_rooms,%d_watches,%d_log_followers,%d_shell_clients", 3*rooms, rooms, watchers, followers, 2*pairs)

	prefix := fmt.Sprintf("soak-%d-", time.Now().UnixNano()%1e9)
	t.Cleanup(func() { deleteConfigMaps(admin, prefix) })
	pod := rg.RunningPod(t, namespace, "web")
	podObj, err := admin.CoreV1().Pods(namespace).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	container := podObj.Spec.Containers[0].Name

	// Open every client before the clock starts, so the first window measures load, not joins.
	roomLat := newLatencies(time.Now())
	watchLat := newLatencies(time.Now())
	var roomClients []*roomClient
	for i := range rooms {
		room := fmt.Sprintf("%sroom-%03d", prefix, i)
		for j, r := range replicas {
			roomClients = append(roomClients, newRoomClient(t, r, room, fmt.Sprintf("soak-r%03d-%d", i, j), roomLat))
		}
	}
	ws := make([]*watchClient, watchers)
	fs := make([]*chaostest.Follower, followers)
	for i := range fs {
		fs[i] = &chaostest.Follower{Server: replicas[i%3].Server, Token: alice,
			Params: logParams(namespace, pod, container), Silence: 30 * time.Second}
	}
	ps := make([]*shellPair, pairs)
	for i := range ps {
		ps[i] = openPair(t, replicas[i%3], replicas[(i+1)%3], "alice", namespace, pod)
	}
	t.Logf("%d clients open", 3*rooms+watchers+followers+2*pairs)

	csv, err := os.Create(filepath.Join(st.out, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer csv.Close()
	began := time.Now()
	roomLat.began, watchLat.began = began, began
	sp := &sampler{replicas: replicas, began: began, csv: csv}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { sp.run(ctx, sampleInterval) })
	// The load's goroutines end when load does, before the checks read what they did.
	load, stopLoad := context.WithCancel(ctx)
	var gen sync.WaitGroup
	for _, c := range roomClients {
		gen.Go(func() { c.run(load, roomEditEvery) })
	}
	for i := range ws {
		ws[i] = &watchClient{}
		wg.Go(func() { ws[i].run(ctx, t, replicas[i%3], alice, namespace, watchLat) })
	}
	for _, f := range fs {
		wg.Go(func() { f.Run(ctx, began, prefix) })
	}
	for i, p := range ps {
		gen.Go(func() { p.run(load, fmt.Sprintf("sh%03d", i), shellTypeEvery) })
	}
	var churnMade, churnFailed, appended int
	gen.Go(func() { churnMade, churnFailed = churn(load, admin, namespace, prefix, churnEvery, churnKeep) })
	gen.Go(func() {
		for n := 0; load.Err() == nil; n++ {
			if err := cp.AppendLog(namespace, pod, container, fmt.Sprintf("%s%07d", prefix, n)); err != nil {
				t.Errorf("append log: %v", err)
				return
			}
			appended = n + 1
			chaostest.Sleep(load, logLineEvery)
		}
	})

	warm := false
	for elapsed := time.Duration(0); elapsed < st.duration; elapsed = time.Since(began) {
		chaostest.Sleep(ctx, min(time.Minute, st.duration-elapsed))
		p99, n := roomLat.quantile(0.99, int(elapsed/time.Minute), int(elapsed/time.Minute)+1)
		t.Logf("%s: room delivery p99 %.1f ms over %d edits in the minute", time.Since(began).Round(time.Second), ms(p99), n)
		if !warm && time.Since(began) >= window {
			warm = true
			saveHeapProfiles(t, replicas, st.out, "warm")
		}
	}
	saveHeapProfiles(t, replicas, st.out, "end")
	stopLoad()
	gen.Wait()
	loadEnded := time.Since(began)
	minutes := int(loadEnded / time.Minute)

	if err := roomLat.writeCSV(filepath.Join(st.out, "latency.csv"), minutes); err != nil {
		t.Fatal(err)
	}
	if err := watchLat.writeCSV(filepath.Join(st.out, "watch-latency.csv"), minutes); err != nil {
		t.Fatal(err)
	}

	// Latency: the last window's p99 against the first's.
	w := int(window / time.Minute)
	first, nFirst := roomLat.quantile(0.99, 0, w)
	last, nLast := roomLat.quantile(0.99, minutes-w, minutes)
	rp.Set("room_p99_first", "%.1fms", ms(first))
	rp.Set("room_p99_last", "%.1fms", ms(last))
	rp.Set("room_deliveries", "%d+%d", nFirst, nLast)
	wFirst, _ := watchLat.quantile(0.99, 0, w)
	wLast, _ := watchLat.quantile(0.99, minutes-w, minutes)
	rp.Set("watch_p99_first_last", "%.1fms/%.1fms", ms(wFirst), ms(wLast))
	if nFirst == 0 || nLast == 0 {
		t.Errorf("no room deliveries measured in a window (%d first, %d last)", nFirst, nLast)
	} else if float64(last) > latencyBound*float64(first) {
		t.Errorf("room delivery p99 in the last %s is %.1f ms, over %.1fx the first %s's %.1f ms", window, ms(last), latencyBound, window, ms(first))
	}

	// Resources: per replica, the last window's median against the median of the window after
	// a warm-up window, in which the caches that are bounded by design fill (each shared
	// watch's history: 4096 changes or 8 MiB; the ConfigMap churn fills it in about seven
	// minutes). The first window's median is reported too.
	for _, r := range replicas {
		for _, series := range []struct {
			name  string
			value func(sample) float64
			ok    func(first, last float64) bool
			unit  func(float64) string
		}{
			{"goroutines", func(s sample) float64 { return s.goroutines }, countsFlat, count},
			{"fds", func(s sample) float64 { return s.fds }, countsFlat, count},
			{"heap_live", func(s sample) float64 { return s.heapLive }, func(f, l float64) bool { return l <= heapBound*f }, mib},
			{"heap_inuse", func(s sample) float64 { return s.heapInuse }, func(float64, float64) bool { return true }, mib},
			{"rss", func(s sample) float64 { return s.rss }, func(float64, float64) bool { return true }, mib},
		} {
			first, _ := sp.window(r.Name, 0, window, series.value)
			f, nf := sp.window(r.Name, window, 2*window, series.value)
			l, nl := sp.window(r.Name, loadEnded-window, loadEnded, series.value)
			rp.Set(r.Name+"_"+series.name, "%s/%s/%s", series.unit(first), series.unit(f), series.unit(l))
			if nf == 0 || nl == 0 {
				t.Errorf("replica %s: no %s samples in a window", r.Name, series.name)
			} else if !series.ok(f, l) {
				t.Errorf("replica %s: %s grew from %s (after warm-up) to %s (last %s)", r.Name, series.name, series.unit(f), series.unit(l), window)
			}
		}
	}
	sp.mu.Lock()
	rp.Set("metric_misses", "%d", sp.misses)
	sp.mu.Unlock()

	// Nothing lost: rooms, watches, logs and shells, checked after the load stopped.
	checkRooms(t, rp, replicas, alice, roomClients)
	checkWatches(t, rp, admin, ws, churnMade, churnFailed)
	checkLogs(t, rp, fs, prefix, appended)
	checkShells(t, rp, ps)
}

func countsFlat(first, last float64) bool { return last <= countBound*first+countSlack }
func count(v float64) string              { return fmt.Sprintf("%.0f", v) }
func mib(v float64) string                { return fmt.Sprintf("%.1fMiB", v/(1<<20)) }

func logParams(ns, pod, container string) map[string][]string {
	return map[string][]string{"namespace": {ns}, "pod": {pod}, "container": {container}}
}

// checkRooms: every writer's last edit (each writer overwrites its own key) is in every
// replica's copy of its room.
func checkRooms(t *testing.T, rp *chaostest.Report, replicas []*chaostest.Replica, token string, cs []*roomClient) {
	sent, lost := 0, 0
	byRoom := map[string][]*roomClient{}
	for _, c := range cs {
		byRoom[c.room] = append(byRoom[c.room], c)
		sent += c.sent
	}
	testwait.Until(t, 2*time.Minute, time.Second, "every replica holds every writer's last edit", func() bool {
		lost = 0
		for room, writers := range byRoom {
			for _, r := range replicas {
				var doc map[string]any
				if st, err := chaostest.Call(r.Server, "GET", token, "/api/rooms/"+room+"/doc", "", &doc); err != nil || st != 200 {
					lost += len(writers)
					continue
				}
				m, _ := doc[editRoot].(map[string]any)
				for _, w := range writers {
					if m[w.id] != w.last {
						lost++
					}
				}
			}
		}
		return lost == 0
	})
	rp.Set("room_edits_sent", "%d", sent)
	rp.Set("room_last_edits_missing", "%d", lost)
}

// checkWatches: every watch equals a fresh LIST, and its socket never closed.
func checkWatches(t *testing.T, rp *chaostest.Report, kc kubernetes.Interface, ws []*watchClient, made, failed int) {
	rp.Set("configmaps_created", "%d", made)
	rp.Set("configmap_calls_failed", "%d", failed)
	var fresh map[string]string
	diverged, events, closures := 0, 0, 0
	testwait.Until(t, 2*time.Minute, time.Second, "every watch to equal a fresh LIST", func() bool {
		l, err := kc.CoreV1().ConfigMaps(namespace).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false
		}
		fresh = map[string]string{}
		for _, cm := range l.Items {
			fresh[namespace+"/"+cm.Name] = cm.ResourceVersion
		}
		diverged, events, closures = 0, 0, 0
		for _, w := range ws {
			w.mu.Lock()
			if !maps.Equal(w.view, fresh) {
				diverged++
			}
			events += w.events
			closures += len(w.closures)
			w.mu.Unlock()
		}
		return diverged == 0
	})
	rp.Set("watch_events", "%d", events)
	rp.Set("watch_closures", "%d", closures)
	if closures != 0 {
		t.Errorf("%d watch sockets closed during the run (first: %q)", closures, ws[0].closures)
	}
}

// checkLogs: every follower has every appended line once and in order.
func checkLogs(t *testing.T, rp *chaostest.Report, fs []*chaostest.Follower, prefix string, appended int) {
	want := fmt.Sprintf("%s%07d", prefix, appended-1)
	testwait.Until(t, 2*time.Minute, time.Second, "every follower to reach "+want, func() bool {
		for _, f := range fs {
			m, _, _ := f.Received()
			if len(m) == 0 || m[len(m)-1] < want {
				return false
			}
		}
		return true
	})
	bad, opens := 0, 0
	for _, f := range fs {
		m, o, ends := f.Received()
		opens += o
		if len(m) != appended || !slices.IsSorted(m) || len(slices.Compact(slices.Clone(m))) != appended {
			bad++
			t.Errorf("a follower has %d lines of %d appended (sorted %v); its streams ended: %q", len(m), appended, slices.IsSorted(m), ends)
		}
	}
	rp.Set("log_lines_appended", "%d", appended)
	rp.Set("log_followers_incomplete", "%d", bad)
	rp.Set("log_stream_opens", "%d", opens)
	if opens != len(fs) {
		t.Errorf("%d log stream opens for %d followers: a stream ended or went silent", opens, len(fs))
	}
}

// checkShells: both ends of every shared shell saw every answer and are still attached.
func checkShells(t *testing.T, rp *chaostest.Report, ps []*shellPair) {
	typed, miss, ended := 0, 0, 0
	for _, p := range ps {
		typed += len(p.typed)
		// The last command may still be on its way when the load stops.
		want := p.typed[:max(0, len(p.typed)-1)]
		for _, term := range []*chaostest.Term{p.owner, p.observer} {
			miss += missing(term.Output(), want)
			if e := term.Ended(); e != "" {
				ended++
				t.Errorf("a shell client's session ended: %s", e)
			}
		}
	}
	rp.Set("shell_commands", "%d", typed)
	rp.Set("shell_answers_missing", "%d", miss)
	rp.Set("shell_clients_ended", "%d", ended)
	if miss != 0 {
		t.Errorf("%d shell answers missing from owners' and observers' output", miss)
	}
}

func deleteConfigMaps(kc kubernetes.Interface, prefix string) {
	l, err := kc.CoreV1().ConfigMaps(namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, cm := range l.Items {
		if strings.HasPrefix(cm.Name, prefix) {
			_ = kc.CoreV1().ConfigMaps(namespace).Delete(context.Background(), cm.Name, metav1.DeleteOptions{})
		}
	}
}

// saveHeapProfiles writes each replica's heap profile (after a collection) to
// dir/heap-<replica>-<tag>.pb.gz: the warm-up's and the end's, for
// `go tool pprof -base heap-a-warm.pb.gz heap-a-end.pb.gz` to show what grew in between.
func saveHeapProfiles(t *testing.T, replicas []*chaostest.Replica, dir, tag string) {
	for _, r := range replicas {
		u := strings.TrimSuffix(r.Proc.MetricsURL, "/metrics") + "/debug/pprof/heap?gc=1"
		resp, err := http.Get(u)
		if err != nil {
			t.Errorf("heap profile of %s: %v", r.Name, err)
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("heap profile of %s: %d %v", r.Name, resp.StatusCode, err)
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "heap-"+r.Name+"-"+tag+".pb.gz"), b, 0o644); err != nil {
			t.Error(err)
		}
	}
}
