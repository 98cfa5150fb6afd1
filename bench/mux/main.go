// Command bench measures the multiplexer: throughput on one socket, ping round trips idle and
// while another channel on the same socket floods, and the server's memory per idle connection
// (a real bin/yard process holding N idle sockets). hack/bench-mux.sh runs it; the figures go in
// docs/benchmarks.md.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/server/auth"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/metrics"
	"github.com/yardhq/yard/server/mux"
	"github.com/yardhq/yard/server/mux/ping"
	"github.com/yardhq/yard/server/muxclient"
	"github.com/yardhq/yard/server/wsgate"
)

func main() {
	mode := flag.String("mode", "all", "throughput, latency, idle, all, or serve (the server side of the first two)")
	runs := flag.Int("runs", 3, "repetitions; medians are reported")
	yard := flag.String("yard", "bin/yard", "server binary for -mode idle")
	conns := flag.Int("conns", 10000, "idle connections for -mode idle")
	flag.Parse()
	ctx := context.Background()
	if *mode != "serve" {
		fmt.Printf("# go %s, %d CPUs, %s/%s, %s\n", runtime.Version(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format(time.RFC3339))
	}
	var err error
	if *mode == "serve" {
		serve()
		return
	}
	switch *mode {
	case "throughput":
		err = throughput(ctx, *runs)
	case "latency":
		err = latency(ctx, *runs)
	case "idle":
		err = idle(ctx, *yard, *conns, *runs)
	case "all":
		err = errors.Join(throughput(ctx, *runs), latency(ctx, *runs), idle(ctx, *yard, *conns, *runs))
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// sourceKind sends "count" messages (0: until closed) of "size" bytes with Send.
type sourceKind struct{}

func (sourceKind) Name() string           { return "source" }
func (sourceKind) Priority() mux.Priority { return mux.PriorityLogs }
func (sourceKind) Open(_ context.Context, req mux.OpenRequest) (mux.Runner, error) {
	size, _ := strconv.Atoi(req.Params.Get("size"))
	count, _ := strconv.Atoi(req.Params.Get("count"))
	rate, _ := strconv.Atoi(req.Params.Get("rate")) // bytes per second; 0: as fast as Send allows
	return mux.RunnerFunc(func(ctx context.Context, ch mux.Channel) error {
		buf := make([]byte, size)
		start := time.Now()
		for i := 0; count == 0 || i < count; i++ {
			if rate > 0 {
				// Frame i is due at start + i*size/rate; a late sender catches up at once, so the
				// average rate holds even where timers are coarse.
				due := start.Add(time.Duration(float64(i) * float64(size) / float64(rate) * float64(time.Second)))
				if d := time.Until(due); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return nil
					}
				}
			}
			// The payload is not modified after Send, so one buffer serves every message.
			if err := ch.Send(ctx, mux.Message{Type: mux.Binary, Data: buf}); err != nil {
				return nil
			}
		}
		return nil
	}), nil
}

// benchServer is the real gate and multiplexer (ping + source kinds) on a loopback port, in a
// process of its own (this program with -mode serve), as a browser would see it.
type benchServer struct {
	url   string
	token string
	stop  func()
}

func startServer() (*benchServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-mode", "serve")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var line string
	sc := bufio.NewScanner(out)
	if sc.Scan() {
		line = sc.Text()
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("bench server said %q", line)
	}
	return &benchServer{url: f[0], token: f[1], stop: func() {
		_ = in.Close() // the server exits when its stdin closes
		_ = cmd.Wait()
	}}, nil
}

// serve runs the benchmark server until stdin closes; it prints "<ws url> <token>".
func serve() {
	log := slog.New(slog.DiscardHandler)
	v, err := auth.NewVerifier(auth.Options{Secret: []byte("bench-secret-0123456789"), TokenTTL: time.Hour, AdminGroup: "a"})
	if err != nil {
		panic(err)
	}
	m := metrics.New()
	reg := mux.NewRegistry()
	_ = reg.Register(ping.Kind{})
	_ = reg.Register(sourceKind{})
	ms := mux.NewServer(mux.DefaultConfig(), reg, mux.Options{Logger: log, Metrics: m})
	gate := wsgate.New(wsgate.Options{Verifier: v, Tickets: auth.NewMemoryTickets(nil), MaxConnsPerUser: 100, MaxConns: 100, Metrics: m, Logger: log})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: gate.Handler("mux", mux.Subprotocol, func(ctx context.Context, c *websocket.Conn, u identity.User, _ *http.Request) {
		ms.ServeConn(ctx, c, u)
	})}
	go func() { _ = srv.Serve(ln) }()
	tok, _, err := v.Issue(identity.User{ID: "bench", Name: "bench"})
	if err != nil {
		panic(err)
	}
	fmt.Printf("ws://%s/ws %s\n", ln.Addr(), tok)
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	_ = ms.Shutdown(ctx)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func throughput(ctx context.Context, runs int) error {
	p, err := startServer()
	if err != nil {
		return err
	}
	defer p.stop()
	c, err := muxclient.Dial(ctx, p.url, p.token)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println("## throughput: server -> client, one channel, one socket (payload bytes)")
	for _, size := range []int{64, 1024, 16384} {
		total := 64 << 20
		if size == 64 {
			total = 16 << 20
		}
		count := total / size
		var mbs, fps []float64
		for range runs {
			ch, err := c.Open(ctx, "source", url.Values{"size": {fmt.Sprint(size)}, "count": {fmt.Sprint(count)}})
			if err != nil {
				return err
			}
			start := time.Now()
			for range count {
				if _, err := ch.Recv(ctx); err != nil {
					return err
				}
			}
			d := time.Since(start).Seconds()
			mbs = append(mbs, float64(count*size)/d/1e6)
			fps = append(fps, float64(count)/d)
			_ = ch.Close()
			<-ch.Done()
		}
		fmt.Printf("size=%-6d  median %8.1f MB/s  %9.0f frames/s   (runs: %s)\n", size, median(mbs), median(fps), fmtRuns(mbs))
	}
	return nil
}

func fmtRuns(xs []float64) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprintf("%.1f", x))
	}
	return strings.Join(s, " ")
}

// pings measures n sequential 32-byte echo round trips on a ping channel.
func pings(ctx context.Context, ch *muxclient.Channel, n int) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	msg := mux.Message{Type: mux.Binary, Data: make([]byte, 32)}
	for range n {
		start := time.Now()
		if err := ch.Send(ctx, msg); err != nil {
			return nil, err
		}
		if _, err := ch.Recv(ctx); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

func latency(ctx context.Context, runs int) error {
	p, err := startServer()
	if err != nil {
		return err
	}
	defer p.stop()
	fmt.Println("## ping round trip (32 B echo on a ping channel), 2000 pings per run")
	type row struct{ p50, p99 []float64 }
	names := []string{"idle", "flood 20 MB/s paced", "flood 100 MB/s paced", "flood 256 KiB window", "flood 64 KiB window", "flood 16 KiB window", "flood reader stalled"}
	rows := map[string]*row{}
	for _, n := range names {
		rows[n] = &row{}
	}
	for range runs {
		c, err := muxclient.Dial(ctx, p.url, p.token)
		if err != nil {
			return err
		}
		pc, err := c.Open(ctx, "ping", nil)
		if err != nil {
			return err
		}
		record := func(name string) error {
			if _, err := pings(ctx, pc, 200); err != nil { // warm up
				return err
			}
			ds, err := pings(ctx, pc, 2000)
			if err != nil {
				return err
			}
			rows[name].p50 = append(rows[name].p50, float64(pct(ds, 0.5).Microseconds()))
			rows[name].p99 = append(rows[name].p99, float64(pct(ds, 0.99).Microseconds()))
			return nil
		}
		if err := record("idle"); err != nil {
			return err
		}
		// Paced floods: 16 KiB frames at 20 MB/s (a busy log) and 100 MB/s, read as they come.
		for _, rate := range []int{20, 100} {
			fc, err := c.Open(ctx, "source", url.Values{"size": {"16384"}, "rate": {fmt.Sprint(rate * 1000000)}})
			if err != nil {
				return err
			}
			fctx, stopFlood := context.WithCancel(ctx)
			var wg sync.WaitGroup
			var got int64
			wg.Go(func() {
				for {
					m, err := fc.Recv(fctx)
					if err != nil {
						return
					}
					got += int64(len(m.Data))
				}
			})
			t0 := time.Now()
			err = record(fmt.Sprintf("flood %d MB/s paced", rate))
			stopFlood()
			wg.Wait()
			fmt.Printf("  (paced flood at %d MB/s delivered %.0f MB/s during the pings)\n", rate, float64(got)/time.Since(t0).Seconds()/1e6)
			_ = fc.Close()
			if err != nil {
				return err
			}
		}
		// A flood of 16 KiB frames on the same socket, read as fast as the client can, with the
		// client granting the flood channel a 256, 64 or 16 KiB window.
		for _, w := range []int64{256, 64, 16} {
			fc, err := c.OpenWith(ctx, "source", url.Values{"size": {"16384"}}, muxclient.OpenOptions{Window: w << 10})
			if err != nil {
				return err
			}
			var wg sync.WaitGroup
			var flooded int64
			fctx, stopFlood := context.WithCancel(ctx)
			wg.Go(func() {
				for {
					m, err := fc.Recv(fctx)
					if err != nil {
						return
					}
					flooded += int64(len(m.Data))
				}
			})
			time.Sleep(200 * time.Millisecond)
			t0, f0 := time.Now(), flooded
			err = record(fmt.Sprintf("flood %d KiB window", w))
			stopFlood()
			wg.Wait()
			fmt.Printf("  (flood with a %d KiB window delivered %.0f MB/s during the pings)\n", w, float64(flooded-f0)/time.Since(t0).Seconds()/1e6)
			if err != nil {
				return err
			}
			if w != 16 {
				_ = fc.Close()
			}
		}
		// Now nobody reads the flood: its window fills and it stops, the pings go on.
		if err := record("flood reader stalled"); err != nil {
			return err
		}
		_ = c.Close()
	}
	for _, name := range names {
		r := rows[name]
		fmt.Printf("%-22s p50 %6.0f µs  p99 %6.0f µs  p99/idle %5.2fx   (p99 runs: %s)\n", name, median(r.p50), median(r.p99),
			median(r.p99)/median(rows["idle"].p99), fmtRuns(r.p99))
	}
	return nil
}

// idle starts bin/yard, opens n idle multiplexed connections and reports the server's RSS delta
// per connection.
func idle(ctx context.Context, yard string, n, runs int) error {
	fmt.Printf("## memory per idle connection: %s, %d idle /ws connections (RSS delta / N)\n", yard, n)
	for _, withChannel := range []bool{false, true} {
		var perConn []float64
		for range runs {
			kib, err := idleOnce(ctx, yard, n, withChannel)
			if err != nil {
				return err
			}
			perConn = append(perConn, kib)
		}
		what := "idle connection"
		if withChannel {
			what = "idle connection with one open ping channel"
		}
		fmt.Printf("median %.1f KiB per %s   (runs: %s)\n", median(perConn), what, fmtRuns(perConn))
	}
	return nil
}

func idleOnce(ctx context.Context, yard string, n int, withChannel bool) (float64, error) {
	cmd := exec.CommandContext(ctx, yard, "serve", "--dev-auth", "--listen", "127.0.0.1:0",
		"--max-conns-per-user", fmt.Sprint(n+10), "--max-conns", fmt.Sprint(n+10), "--log-level", "warn")
	cmd.Env = append(os.Environ(), "KUBECONFIG=/nonexistent")
	// The listening line is logged at info; ask for it through a pipe on stderr at warn level
	// would hide it, so read the address from info instead.
	cmd.Args[len(cmd.Args)-1] = "info"
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("%w (build it with: make build)", err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	base, err := readURL(stderr)
	if err != nil {
		return 0, err
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	tok, err := devLogin(base)
	if err != nil {
		return 0, err
	}
	// Warm the server (first connections, first channel) before the baseline.
	for range 3 {
		c, err := muxclient.Dial(ctx, base+"/ws", tok)
		if err != nil {
			return 0, err
		}
		if _, err := c.Ping(ctx); err != nil {
			return 0, err
		}
		_ = c.Close()
	}
	time.Sleep(time.Second)
	before, err := rss(cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	conns := make([]*muxclient.Conn, n)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := muxclient.DialOptions(ctx, base+"/ws", muxclient.Options{Token: tok, ReadBufferSize: 1024, WriteBufferSize: 1024})
			if err == nil && withChannel {
				if _, err = c.Open(ctx, "ping", nil); err != nil {
					_ = c.Close()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	if firstErr != nil {
		return 0, fmt.Errorf("dialing %d connections: %w (raise ulimit -n)", n, firstErr)
	}
	// Every connection is served: one round trip each proves it.
	for _, c := range conns[:100] {
		if _, err := c.Ping(ctx); err != nil {
			return 0, err
		}
	}
	time.Sleep(3 * time.Second)
	after, err := rss(cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	gor, _ := goroutines(base, tok)
	kib := float64(after-before) / 1024 / float64(n)
	fmt.Printf("  run: RSS %d -> %d KiB, %.1f KiB/conn, server goroutines %s\n", before/1024, after/1024, kib, gor)
	return kib, nil
}

var urlLine = regexp.MustCompile(`msg=listening url=(http://\S+)`)

func readURL(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
			return m[1], nil
		}
	}
	return "", fmt.Errorf("server exited before listening:\n%s", strings.Join(lines, "\n"))
}

func devLogin(base string) (string, error) {
	// An admin, so the same token reads /metrics.
	resp, err := http.Post(base+"/api/auth/dev-login", "application/json", strings.NewReader(`{"name":"bench","admin":true}`))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		return "", fmt.Errorf("dev login: %d %w", resp.StatusCode, err)
	}
	return out.Token, nil
}

func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

func goroutines(base, token string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return "?", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "?", err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "go_goroutines ") {
			return strings.TrimPrefix(sc.Text(), "go_goroutines "), nil
		}
	}
	return "?", nil
}
