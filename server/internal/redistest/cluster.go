package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// ClusterNodes is the size of a test cluster: three masters, each with one replica.
const ClusterNodes = 6

// Cluster is a running Redis Cluster of ClusterNodes redis-servers on loopback ports, each with
// the append-only file fsynced on every write.
type Cluster struct {
	dir   string
	own   bool // dir was made by the cluster (not a test's TempDir), so Stop removes it
	nodes []*Server
	// Startup is how long starting the servers and forming the cluster took.
	Startup time.Duration
}

// StartCluster starts a cluster for one test and stops it when the test ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := startCluster(t.TempDir(), false)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

var shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// SharedCluster returns the test binary's one cluster, starting it on first use; tests sharing it
// use their own keys (or FlushAll first). The package's TestMain must call Run, which stops it.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "yard-redis-cluster-")
		if err != nil {
			shared.err = err
			return
		}
		shared.c, shared.err = startCluster(dir, true)
		if shared.err != nil {
			_ = os.RemoveAll(dir)
		}
	})
	if shared.err != nil {
		t.Fatalf("redistest: %v", shared.err)
	}
	return shared.c
}

// Main is TestMain for packages that use SharedCluster: it runs the tests, stops the shared
// cluster (if one was started), then fails the binary if goroutines leaked, and exits.
func Main(m *testing.M, opts ...goleak.Option) {
	code := Run(m)
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Run runs the tests and then stops the shared cluster, if one was started.
func Run(m *testing.M) int {
	code := m.Run()
	if shared.c != nil {
		shared.c.Stop()
	}
	return code
}

// Kinds are the Redis deployments the Redis-backed tests run on.
var Kinds = []Kind{Single, Clustered}

// Kind is a Redis deployment for tests.
type Kind string

// The kinds.
const (
	Single    Kind = "single"
	Clustered Kind = "cluster"
)

// Each runs fn as a subtest on every kind.
func Each(t *testing.T, fn func(t *testing.T, k Kind)) {
	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) { fn(t, k) })
	}
}

// Target is a Redis to test against: a single server or a cluster.
type Target struct {
	URL     string
	Cluster bool
}

// Fresh returns an empty Redis of kind k: a server of its own for Single, the shared cluster
// emptied for Clustered.
func Fresh(t testing.TB, k Kind) Target {
	t.Helper()
	if k == Single {
		return Start(t).Target()
	}
	c := SharedCluster(t)
	c.FlushAll(t)
	return Target{URL: c.URL(), Cluster: true}
}

// Client opens a client on the target (a cluster client on a cluster), closed when the test ends.
func (tg Target) Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	var rdb redis.UniversalClient
	if tg.Cluster {
		opts, err := redis.ParseClusterURL(tg.URL)
		if err != nil {
			t.Fatal(err)
		}
		rdb = redis.NewClusterClient(opts)
	} else {
		opts, err := redis.ParseURL(tg.URL)
		if err != nil {
			t.Fatal(err)
		}
		rdb = redis.NewClient(opts)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func startCluster(dir string, own bool) (*Cluster, error) {
	for _, bin := range []string{Binary, CLI} {
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("%s not found (%w); install it with: %s", bin, err, InstallHint)
		}
	}
	began := time.Now()
	c := &Cluster{dir: dir, own: own}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	for i := range ClusterNodes {
		d := filepath.Join(dir, "node"+strconv.Itoa(i))
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
		s := &Server{dir: d, extra: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			// Long enough that a loaded machine does not fail a master over by itself; tests
			// fail over on purpose with CLUSTER FAILOVER.
			"--cluster-node-timeout", "5000",
		}}
		c.nodes = append(c.nodes, s)
		if err := s.start(); err != nil {
			return nil, fmt.Errorf("cluster node %d: %w", i, err)
		}
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command(CLI, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %w: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.waitReady(ctx); err != nil {
		return nil, err
	}
	c.Startup = time.Since(began)
	ok = true
	return c, nil
}

// waitReady waits until every node says cluster_state:ok and every replica's link to its master
// is up (so a failover right away has a replica in sync to promote).
func (c *Cluster) waitReady(ctx context.Context) error {
	for _, s := range c.nodes {
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr()})
		err := poll(ctx, func() (bool, error) {
			info, err := rdb.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false, err
			}
			repl, err := rdb.Info(ctx, "replication").Result()
			if err != nil {
				return false, err
			}
			return strings.Contains(repl, "role:master") || strings.Contains(repl, "master_link_status:up"), nil
		})
		_ = rdb.Close()
		if err != nil {
			return fmt.Errorf("cluster node %s not ready: %w; log: %s", s.Addr(), err, tail(filepath.Join(s.dir, "redis.log")))
		}
	}
	return nil
}

func poll(ctx context.Context, ready func() (bool, error)) error {
	var last error
	for {
		ok, err := ready()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Nodes are the cluster's servers, in creation order (masters first, as redis-cli assigned them;
// failovers change the roles later).
func (c *Cluster) Nodes() []*Server { return c.nodes }

// Addrs are the nodes' host:port.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		out[i] = s.Addr()
	}
	return out
}

// URL is the cluster in go-redis's cluster URL form, usable as --redis-url with --redis-cluster.
func (c *Cluster) URL() string {
	addrs := c.Addrs()
	u := "redis://" + addrs[0]
	for i, a := range addrs[1:] {
		if i == 0 {
			u += "?"
		} else {
			u += "&"
		}
		u += "addr=" + a
	}
	return u
}

// Client returns a cluster client, closed when the test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	return Target{URL: c.URL(), Cluster: true}.Client(t).(*redis.ClusterClient)
}

// FlushAll empties every master, so a test on the shared cluster starts from nothing.
func (c *Cluster) FlushAll(t testing.TB) {
	t.Helper()
	rdb := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := rdb.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		return n.FlushAll(ctx).Err()
	})
	if err != nil {
		t.Fatalf("redistest: flush the cluster: %v", err)
	}
}

// Stop kills every node (and removes the data of a shared cluster).
func (c *Cluster) Stop() {
	for _, s := range c.nodes {
		s.Kill()
	}
	if c.own {
		_ = os.RemoveAll(c.dir)
	}
}
