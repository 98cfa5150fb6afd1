// Command benchwatch measures live watches with many clients while pods churn: Yard's shared
// upstream (one apiserver watch per kind and scope, fanned out and filtered per user) against
// the per-client approach (every client its own apiserver watch, as Headlamp does), in the same
// run on the same local control plane. It reports upstream watches, delivery latency from the
// change request to the client, Yard's memory, and the apiserver's CPU and memory.
//
//	go run ./bench/watch -clients 1000 -rate 50 -duration 30s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/yardhq/yard/e2e/controlplane"
)

const ns = "bench"

var (
	clients  = flag.Int("clients", 1000, "watch clients per mode")
	rate     = flag.Int("rate", 50, "pod changes per second")
	pods     = flag.Int("pods", 50, "pods that churn")
	duration = flag.Duration("duration", 30*time.Second, "churn time per mode")
	yardBin  = flag.String("yard", "bin/yard", "the yard binary")
	modes    = flag.String("modes", "shared,direct", "which modes to run")
)

func main() {
	flag.Parse()
	log.SetFlags(log.Ltime)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

type result struct {
	mode         string
	upstream     string
	delivered    int
	expected     int
	p50, p99     time.Duration
	max          time.Duration
	yardRSS      string
	apiCPU       float64 // apiserver CPU seconds per second of churn
	apiRSSBefore int64
	apiRSSAfter  int64
}

func run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "yard-benchwatch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log.Printf("starting the control plane in %s", dir)
	cp, err := controlplane.Start(ctx, dir, controlplane.Options{Demo: true, Quiet: true})
	if err != nil {
		return err
	}
	defer cp.Stop()
	cfg := cp.RESTConfig()
	cfg.QPS, cfg.Burst = 500, 1000
	kc := kubernetes.NewForConfigOrDie(cfg)
	if err := setup(ctx, kc); err != nil {
		return err
	}
	apiPID, err := findAPIServer(cp.Ports())
	if err != nil {
		return err
	}
	var results []result
	for _, mode := range strings.Split(*modes, ",") {
		var r result
		switch mode {
		case "shared":
			r, err = runShared(ctx, cp, kc, apiPID)
		case "direct":
			r, err = runDirect(ctx, cfg, kc, apiPID)
		default:
			err = fmt.Errorf("unknown mode %q", mode)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		results = append(results, r)
		time.Sleep(3 * time.Second) // let the apiserver settle between modes
	}
	fmt.Printf("\n%d clients, %d pods changing %d times/s for %s; every client watches pods in %q as alice\n\n",
		*clients, *pods, *rate, *duration, ns)
	fmt.Println("| mode | apiserver watches | delivered / expected | delivery p50 | p99 | max | Yard RSS | apiserver CPU (cores) | apiserver RSS before → after |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Printf("| %s | %s | %d / %d | %s | %s | %s | %s | %.2f | %d → %d MiB |\n", r.mode, r.upstream, r.delivered, r.expected,
			ms(r.p50), ms(r.p99), ms(r.max), r.yardRSS, r.apiCPU, r.apiRSSBefore>>20, r.apiRSSAfter>>20)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func setup(ctx context.Context, kc kubernetes.Interface) error {
	_, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	for i := range *pods {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("churn-%03d", i), Namespace: ns},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		if _, err := kc.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	time.Sleep(5 * time.Second) // scheduling and KWOK status updates settle
	return nil
}

// churn patches one pod's annotation rate times a second, stamping the send time, until d ends.
// It returns how many changes it made.
func churn(ctx context.Context, kc kubernetes.Interface, d time.Duration) int {
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	defer tick.Stop()
	end := time.After(d)
	n := 0
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return n
		case <-end:
			return n
		case <-tick.C:
		}
		name := fmt.Sprintf("churn-%03d", n%*pods)
		n++
		wg.Go(func() {
			patch := fmt.Sprintf(`{"metadata":{"annotations":{"bench/ts":"%d"}}}`, time.Now().UnixNano())
			if _, err := kc.CoreV1().Pods(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				log.Printf("patch: %v", err)
			}
		})
	}
}

// latencies collects delivery latencies from every client.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
	on atomic.Bool
}

var stampKey = []byte(`"bench/ts":"`)

// observe finds the stamp in a message and records its age.
func (l *latencies) observe(b []byte, now time.Time) {
	if !l.on.Load() {
		return
	}
	i := bytes.Index(b, stampKey)
	if i < 0 {
		return
	}
	rest := b[i+len(stampKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return
	}
	ns, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil {
		return
	}
	l.mu.Lock()
	l.d = append(l.d, now.Sub(time.Unix(0, ns)))
	l.mu.Unlock()
}

func (l *latencies) summary() (n int, p50, p99, mx time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(l.d)
	q := func(p float64) time.Duration { return l.d[min(len(l.d)-1, int(p*float64(len(l.d))))] }
	return len(l.d), q(0.5), q(0.99), l.d[len(l.d)-1]
}

func runShared(ctx context.Context, cp *controlplane.ControlPlane, kc kubernetes.Interface, apiPID int) (result, error) {
	port, err := freePort()
	if err != nil {
		return result{}, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.CommandContext(ctx, *yardBin, "serve", "--listen", "127.0.0.1:"+strconv.Itoa(port), "--dev-auth",
		"--kubeconfig", cp.Kubeconfig(), "--max-conns-per-user", strconv.Itoa(*clients+10), "--max-conns", strconv.Itoa(*clients+10),
		"--log-level", "warn", "--static-dir", os.TempDir())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("starting %s (build it with `make build`): %w", *yardBin, err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	if err := waitHTTP(ctx, base+"/api/healthz"); err != nil {
		return result{}, err
	}
	token, err := devLogin(base, "alice", false)
	if err != nil {
		return result{}, err
	}
	lat := &latencies{}
	var synced sync.WaitGroup
	var conns []*websocket.Conn
	var readers sync.WaitGroup
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
		readers.Wait()
	}()
	dialer := &websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	log.Printf("shared: connecting %d clients to /ws/watch", *clients)
	for i := range *clients {
		c, _, err := dialer.DialContext(ctx, "ws://127.0.0.1:"+strconv.Itoa(port)+"/ws/watch?kinds=pods&namespaces="+ns,
			http.Header{"Authorization": {"Bearer " + token}})
		if err != nil {
			return result{}, fmt.Errorf("client %d: %w", i, err)
		}
		conns = append(conns, c)
		synced.Add(1)
		readers.Go(func() {
			once := sync.OnceFunc(synced.Done)
			defer once()
			for {
				_, b, err := c.ReadMessage()
				if err != nil {
					if lat.on.Load() {
						log.Printf("a client's stream ended during the churn: %v", err)
					}
					return
				}
				now := time.Now()
				if bytes.Contains(b, []byte(`"type":"SYNCED"`)) {
					once()
					continue
				}
				lat.observe(b, now)
			}
		})
	}
	synced.Wait()
	// One client watching the apiserver directly in the same run: the apiserver's own share of
	// the delivery latency, to tell it from Yard's.
	probe := &latencies{}
	stopProbe, _, err := openDirect(ctx, cp.RESTConfig(), kc, 1, probe)
	if err != nil {
		return result{}, err
	}
	defer stopProbe()
	log.Printf("shared: all synced; churning for %s", *duration)
	rssBefore := rss(apiPID)
	cpu0 := cpuSeconds(apiPID)
	probe.on.Store(true)
	lat.on.Store(true)
	start := time.Now()
	n := churn(ctx, kc, *duration)
	elapsed := time.Since(start)
	cpu1 := cpuSeconds(apiPID)
	time.Sleep(2 * time.Second) // stragglers
	lat.on.Store(false)
	probe.on.Store(false)
	metricsToken, err := devLogin(base, "bench-metrics", true)
	if err != nil {
		return result{}, err
	}
	metrics := get(base+"/metrics", metricsToken)
	delivered, p50, p99, mx := lat.summary()
	_, b50, b99, _ := probe.summary()
	log.Printf("shared: one direct apiserver watch in the same run: p50 %s, p99 %s", ms(b50), ms(b99))
	return result{
		mode: "Yard shared upstream", upstream: metric(metrics, `yard_watch_upstream{cluster="yard-local",kind="pods"}`),
		delivered: delivered, expected: n * *clients, p50: p50, p99: p99, max: mx,
		yardRSS: mib(metric(metrics, "process_resident_memory_bytes")) + " (heap " + mib(metric(metrics, "go_memstats_heap_inuse_bytes")) + ")",
		apiCPU:  (cpu1 - cpu0) / elapsed.Seconds(), apiRSSBefore: rssBefore, apiRSSAfter: rss(apiPID),
	}, nil
}

// openDirect opens n raw apiserver watches of the bench pods as alice (one HTTP/1.1 connection
// each, like one browser socket each) feeding lat; stop closes them.
func openDirect(ctx context.Context, cfg *rest.Config, kc kubernetes.Interface, n int, lat *latencies) (stop func(), retried int32, err error) {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: "alice"}
	c.TLSClientConfig.NextProtos = []string{"http/1.1"}
	rt, err := rest.TransportFor(c)
	if err != nil {
		return nil, 0, err
	}
	hc := &http.Client{Transport: rt}
	l, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, 0, err
	}
	url := c.Host + "/api/v1/namespaces/" + ns + "/pods?watch=1&resourceVersion=" + l.ResourceVersion
	wctx, cancel := context.WithCancel(ctx)
	var readers sync.WaitGroup
	stop = func() { cancel(); readers.Wait() }
	var established sync.WaitGroup
	var failed, retries atomic.Int32
	for range n {
		established.Add(1)
		readers.Go(func() {
			once := sync.OnceFunc(established.Done)
			defer once()
			// Like a browser client, retry what the apiserver sheds (429 from priority and
			// fairness while a thousand watches start at once).
			var resp *http.Response
			for attempt := 0; ; attempt++ {
				req, _ := http.NewRequestWithContext(wctx, http.MethodGet, url, nil)
				r, err := hc.Do(req)
				if err == nil && r.StatusCode == http.StatusOK {
					resp = r
					break
				}
				if err == nil {
					b, _ := io.ReadAll(io.LimitReader(r.Body, 512))
					r.Body.Close()
					err = fmt.Errorf("HTTP %d: %s", r.StatusCode, b)
				}
				if attempt == 20 || wctx.Err() != nil {
					log.Printf("direct watch failed: %v", err)
					failed.Add(1)
					return
				}
				retries.Add(1)
				time.Sleep(time.Duration(100+attempt*100) * time.Millisecond)
			}
			defer resp.Body.Close()
			once()
			r := bufio.NewReaderSize(resp.Body, 64<<10)
			for {
				line, err := r.ReadSlice('\n')
				if errors.Is(err, bufio.ErrBufferFull) {
					continue
				}
				if err != nil {
					return
				}
				lat.observe(line, time.Now())
			}
		})
	}
	established.Wait()
	if f := failed.Load(); f > 0 {
		stop()
		return nil, 0, fmt.Errorf("%d direct watches failed to open", f)
	}
	return stop, retries.Load(), nil
}

func runDirect(ctx context.Context, cfg *rest.Config, kc kubernetes.Interface, apiPID int) (result, error) {
	log.Printf("direct: opening %d apiserver watches", *clients)
	lat := &latencies{}
	stop, retried, err := openDirect(ctx, cfg, kc, *clients, lat)
	if err != nil {
		return result{}, err
	}
	defer stop()
	time.Sleep(2 * time.Second)
	log.Printf("direct: all open (%d retried opens); churning for %s", retried, *duration)
	rssBefore := rss(apiPID)
	cpu0 := cpuSeconds(apiPID)
	lat.on.Store(true)
	start := time.Now()
	n := churn(ctx, kc, *duration)
	elapsed := time.Since(start)
	cpu1 := cpuSeconds(apiPID)
	time.Sleep(2 * time.Second)
	lat.on.Store(false)
	delivered, p50, p99, mx := lat.summary()
	return result{
		mode: "per-client apiserver watches", upstream: strconv.Itoa(*clients),
		delivered: delivered, expected: n * *clients, p50: p50, p99: p99, max: mx, yardRSS: "n/a",
		apiCPU: (cpu1 - cpu0) / elapsed.Seconds(), apiRSSBefore: rssBefore, apiRSSAfter: rss(apiPID),
	}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitHTTP(ctx context.Context, u string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer", u)
}

func devLogin(base, name string, admin bool) (string, error) {
	body := fmt.Sprintf(`{"name":%q,"admin":%v}`, name, admin)
	resp, err := http.Post(base+"/api/auth/dev-login", "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var t struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return "", err
	}
	return t.Token, nil
}

// get returns the body of GET u as token (admin: /metrics is for admins).
func get(u, token string) string {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return ""
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func metric(text, name string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, name+" ") {
			return strings.TrimSpace(strings.TrimPrefix(l, name))
		}
	}
	return "?"
}

func mib(v string) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return v
	}
	return fmt.Sprintf("%.0f MiB", f/(1<<20))
}

// findAPIServer finds the kube-apiserver serving on one of ports.
func findAPIServer(ports []int) (int, error) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		argv0, _, _ := bytes.Cut(b, []byte{0})
		if err != nil || filepath.Base(string(argv0)) != "kube-apiserver" {
			continue
		}
		for _, p := range ports {
			if bytes.Contains(b, []byte("--secure-port="+strconv.Itoa(p))) {
				return pid, nil
			}
		}
	}
	return 0, errors.New("kube-apiserver process not found")
}

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
