// Command benchwrite measures the write path: an apply of N objects through Yard's POST
// /api/apply (the whole server in this process, on loopback) against client-go making the same
// server-side-apply calls directly as the same impersonated user, in the same run on one private
// local control plane; and what the audit trail costs per write.
//
// Yard reads each live object, dry-runs every object and then applies them, so the fair peer makes
// the same calls (get, dry-run apply, apply per object); the plain peer makes only the apply
// calls (what `kubectl apply --server-side` without a diff does).
//
//	go run ./bench/write -objects 100 -runs 5
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/yardhq/yard/e2e/controlplane"
	"github.com/yardhq/yard/server/app"
	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/write"
)

const ns = "bench-write"

var (
	objects = flag.Int("objects", 100, "objects per apply")
	runs    = flag.Int("runs", 5, "measured applies per mode (after one warm-up)")
	audits  = flag.Int("audit-writes", 2000, "writes for the audit trail's cost")
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

func run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "yard-benchwrite-")
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
	kc := kubernetes.NewForConfigOrDie(cp.RESTConfig())
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}

	cfg := config.Default()
	cfg.Listen, cfg.DevAuth, cfg.WriteEnabled = "127.0.0.1:0", true, true
	cfg.Kubeconfig, cfg.StaticDir = cp.Kubeconfig(), dir
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	addr, err := a.Start()
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = a.Shutdown(sctx)
	}()
	base := "http://" + addr.String()
	token, err := devLogin(base, "alice")
	if err != nil {
		return err
	}

	// The direct peer impersonates alice as Yard does, so the apiserver does the same work.
	limited := cp.RESTConfig()
	limited.QPS, limited.Burst = 50, 100 // Yard's own client settings (server/cluster)
	limited.Impersonate = rest.ImpersonationConfig{UserName: "alice"}
	unlimited := rest.CopyConfig(limited)
	unlimited.QPS = -1 // no client-side rate limit

	// Through the Go API (the code the HTTP handler calls: audit, diff and all), with the
	// client-side rate limit lifted on both sides: what Yard itself costs.
	clusters, err := cluster.Load(cp.Kubeconfig(), nil)
	if err != nil {
		return err
	}
	clusters[0].Config.QPS = -1
	w, err := write.New(write.Options{Clusters: cluster.NewSet(clusters), Trail: audit.NewMemory(), Enabled: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	alice := identity.User{Name: "alice"}
	viaAPI := func(round int) (time.Duration, error) {
		start := time.Now()
		_, err := w.Apply(ctx, alice, "", configMaps("api", round), write.ApplyOptions{})
		return time.Since(start), err
	}
	if err := compare(ctx, "Go API (write.Writer.Apply), no client-side rate limit", viaAPI, dynamic.NewForConfigOrDie(unlimited)); err != nil {
		return err
	}
	// Through POST /api/apply with Yard's default client settings (50 QPS, burst 100 per user)
	// against client-go with the same settings.
	viaHTTP := func(round int) (time.Duration, error) { return viaYard(ctx, base, token, round) }
	if err := compare(ctx, "POST /api/apply, 50 QPS / burst 100 on both sides", viaHTTP, dynamic.NewForConfigOrDie(limited)); err != nil {
		return err
	}

	rdb, stopRedis, err := startRedis(ctx, dir)
	if err != nil {
		return err
	}
	defer stopRedis()
	redisTrail, err := audit.NewRedis(rdb, "", time.Hour, "bench")
	if err != nil {
		return err
	}
	fileTrail, err := audit.NewFile(filepath.Join(dir, "audit", "audit.jsonl"), "bench")
	if err != nil {
		return err
	}
	trails := []struct {
		name  string
		trail audit.Trail
	}{{"memory", audit.NewMemory()}, {"file (JSON lines)", fileTrail}, {"Redis (appendfsync always)", redisTrail}}

	// The same apply through the Go API with each trail: what the audit adds to a real write.
	fmt.Printf("\napply of %d ConfigMaps through the Go API (no client-side rate limit) by audit trail, %d runs after a warm-up\n\n", *objects, *runs)
	fmt.Println("| trail | median | runs |")
	fmt.Println("|---|---|---|")
	for _, tr := range trails {
		tw, err := write.New(write.Options{Clusters: cluster.NewSet(clusters), Trail: tr.trail, Enabled: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			return err
		}
		var ds []time.Duration
		for i := range *runs + 1 {
			start := time.Now()
			if _, err := tw.Apply(ctx, alice, "", configMaps("api", 100+i), write.ApplyOptions{}); err != nil {
				return fmt.Errorf("%s: %w", tr.name, err)
			}
			if i > 0 {
				ds = append(ds, time.Since(start))
			}
		}
		fmt.Printf("| %s | %s | %s |\n", tr.name, ms(median(ds)), list(ds))
	}

	fmt.Printf("\naudit cost per write (Begin + Finish one after the other), %d writes\n\n", *audits)
	fmt.Printf("| trail | per write |\n|---|---|\n")
	for _, tr := range trails {
		per, err := auditCost(ctx, tr.trail, *audits)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %s |\n", tr.name, us(per))
	}
	return nil
}

// startRedis runs a private redis-server configured as production runs it (AOF, fsync always).
func startRedis(ctx context.Context, dir string) (*redis.Client, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	rdir := filepath.Join(dir, "redis")
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		return nil, nil, err
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", rdir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always")
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("redis-server (make deps installs it): %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	for start := time.Now(); rdb.Ping(ctx).Err() != nil; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			stop()
			return nil, nil, errors.New("redis-server did not answer within 10 s")
		}
	}
	return rdb, func() { _ = rdb.Close(); stop() }, nil
}

// compare runs yard and the two client-go peers in turns and prints the medians.
func compare(ctx context.Context, title string, yard func(round int) (time.Duration, error), dyn dynamic.Interface) error {
	peers := []struct {
		name      string
		sameCalls bool
		parallel  int
	}{
		{"client-go, same calls one at a time (get, dry-run apply; then apply)", true, 1},
		{"client-go, same calls 8 at a time, as Yard makes them", true, 8},
		{"client-go, apply calls only, one at a time (kubectl apply --server-side)", false, 1},
	}
	var ys []time.Duration
	got := make([][]time.Duration, len(peers))
	for i := range *runs + 1 {
		d, err := yard(i)
		if err != nil {
			return fmt.Errorf("yard: %w", err)
		}
		line := fmt.Sprintf("yard %s", d)
		if i > 0 { // the first run creates the objects: a warm-up
			ys = append(ys, d)
		}
		for p, peer := range peers {
			dp, err := direct(ctx, dyn, fmt.Sprintf("peer%d", p), i, peer.sameCalls, peer.parallel)
			if err != nil {
				return fmt.Errorf("%s: %w", peer.name, err)
			}
			line += fmt.Sprintf(", peer %d %s", p, dp)
			if i > 0 {
				got[p] = append(got[p], dp)
			}
		}
		log.Printf("%s, run %d: %s", title, i, line)
	}
	fmt.Printf("\n%s: apply of %d ConfigMaps (each changed), as alice, %d runs after a warm-up\n\n", title, *objects, *runs)
	fmt.Println("| mode | median | runs |")
	fmt.Println("|---|---|---|")
	row := func(name string, ds []time.Duration) {
		fmt.Printf("| %s | %s | %s |\n", name, ms(median(ds)), list(ds))
	}
	row("Yard (get and dry run per object 8 at a time, then applies 8 at a time; audit; diff)", ys)
	for p, peer := range peers {
		row(peer.name, got[p])
	}
	fmt.Println()
	for p, peer := range peers {
		fmt.Printf("Yard / %s: %.2fx\n", peer.name, float64(median(ys))/float64(median(got[p])))
	}
	return nil
}

func configMaps(prefix string, round int) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, *objects)
	for i := range out {
		out[i] = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("%s-%03d", prefix, i), "namespace": ns},
			"data":     map[string]any{"round": fmt.Sprint(round), "payload": strings.Repeat("x", 200)},
		}}
	}
	return out
}

func viaYard(ctx context.Context, base, token string, round int) (time.Duration, error) {
	var b strings.Builder
	for _, o := range configMaps("yard", round) {
		j, _ := o.MarshalJSON()
		b.Write(j) // JSON is YAML
		b.WriteString("\n---\n")
	}
	body := b.String()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/apply", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/yaml")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%d %.300s", resp.StatusCode, out)
	}
	return d, nil
}

// direct makes the calls with client-go: with sameCalls a get and a dry-run apply per object
// before the applies (else the applies only), parallel calls at a time.
func direct(ctx context.Context, dyn dynamic.Interface, prefix string, round int, sameCalls bool, parallel int) (time.Duration, error) {
	objs := configMaps(prefix, round)
	rc := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns)
	each := func(fn func(o *unstructured.Unstructured) error) error {
		var g errgroup.Group
		g.SetLimit(parallel)
		for _, o := range objs {
			g.Go(func() error { return fn(o) })
		}
		return g.Wait()
	}
	start := time.Now()
	if sameCalls {
		err := each(func(o *unstructured.Unstructured) error {
			if _, err := rc.Get(ctx, o.GetName(), metav1.GetOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			_, err := rc.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "bench", DryRun: []string{metav1.DryRunAll}})
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	err := each(func(o *unstructured.Unstructured) error {
		_, err := rc.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "bench"})
		return err
	})
	return time.Since(start), err
}

// auditCost is the mean time of one attempt recorded and completed in t.
func auditCost(ctx context.Context, t audit.Trail, n int) (time.Duration, error) {
	start := time.Now()
	for i := range n {
		e, err := t.Begin(ctx, audit.Entry{User: "alice", Groups: []string{"dev"}, Replica: "bench", Cluster: "local",
			Verb: audit.VerbApply, Kind: "ConfigMap", Namespace: ns, Name: fmt.Sprintf("cm-%d", i), RequestID: "0123456789abcdef"})
		if err != nil {
			return 0, err
		}
		if err := t.Finish(ctx, e.ID, audit.Outcome{Result: audit.ResultOK, DiffSHA256: strings.Repeat("a", 64)}); err != nil {
			return 0, err
		}
	}
	return time.Since(start) / time.Duration(n), nil
}

func devLogin(base, name string) (string, error) {
	resp, err := http.Post(base+"/api/auth/dev-login", "application/json", strings.NewReader(`{"name":"`+name+`"}`))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	const key = `"token":"`
	i := strings.Index(string(b), key)
	if i < 0 {
		return "", fmt.Errorf("dev login: %d %.200s", resp.StatusCode, b)
	}
	rest := string(b)[i+len(key):]
	return rest[:strings.IndexByte(rest, '"')], nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d.Nanoseconds())/1000) }

func list(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%.0f", float64(d.Microseconds())/1000))
	}
	return strings.Join(s, ", ") + " ms"
}
