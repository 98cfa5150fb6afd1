package logs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
)

// Cluster is what logs needs of a served cluster (*cluster.Cluster has it).
type Cluster interface {
	Can(ctx context.Context, u identity.User, a cluster.Access) (cluster.Decision, error)
	Clients(u identity.User) (*cluster.UserClients, error)
}

// Lookup finds a served cluster by name ("" = the default one).
type Lookup func(name string) (Cluster, error)

// Config bounds and paces streams.
type Config struct {
	// MaxLines and MaxBytes bound the lines one stream holds for its client. Defaults 10000 and
	// 4 MiB.
	MaxLines int
	MaxBytes int
	// MergeWindow is how long lines wait so that lines of other pods or containers with earlier
	// times can be put before them. Only multi-stream requests wait. Default 200ms.
	MergeWindow time.Duration
	// Keepalive is how often an idle stream sends {"type":"keepalive"}, so that proxies with
	// 60 s idle timeouts keep a quiet /ws/logs open. Default 25s.
	Keepalive time.Duration
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{MaxLines: 10000, MaxBytes: 4 << 20, MergeWindow: 200 * time.Millisecond, Keepalive: 25 * time.Second}
}

// Validate reports unusable values.
func (c Config) Validate() error {
	var errs []error
	if c.MaxLines < 16 {
		errs = append(errs, fmt.Errorf("logs: max lines %d: at least 16", c.MaxLines))
	}
	if c.MaxBytes < 64<<10 {
		errs = append(errs, fmt.Errorf("logs: max bytes %d: at least 64 KiB", c.MaxBytes))
	}
	if c.MergeWindow < 0 || c.MergeWindow > 10*time.Second {
		errs = append(errs, fmt.Errorf("logs: merge window %s: from 0 to 10s", c.MergeWindow))
	}
	if c.Keepalive < time.Second {
		errs = append(errs, fmt.Errorf("logs: keepalive %s: at least 1s", c.Keepalive))
	}
	return errors.Join(errs...)
}

type counters struct {
	lines   prometheus.Counter
	bytes   prometheus.Counter
	dropped prometheus.Counter
	resumes prometheus.Counter
	streams prometheus.Gauge
}

// Kind is the "logs" channel kind.
type Kind struct {
	clusters Lookup
	cfg      Config
	log      *slog.Logger
	counters *counters
}

// New returns the kind; its metrics are registered on reg (nil: not registered).
func New(clusters Lookup, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Kind, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &counters{
		lines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "yard_log_lines_total", Help: "Log lines read from the apiserver for clients.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "yard_log_bytes_total", Help: "Bytes of log text read from the apiserver for clients.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "yard_log_dropped_lines_total", Help: "Log lines dropped because a client read too slowly.",
		}),
		resumes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "yard_log_resumes_total", Help: "Container log streams cut while the container ran, reopened from the last line.",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "yard_log_streams", Help: "Open log streams (channels, /ws/logs and downloads).",
		}),
	}
	if reg != nil {
		for _, col := range []prometheus.Collector{c.lines, c.bytes, c.dropped, c.resumes, c.streams} {
			if err := reg.Register(col); err != nil {
				return nil, fmt.Errorf("logs metrics: %w", err)
			}
		}
	}
	return &Kind{clusters: clusters, cfg: cfg, log: log, counters: c}, nil
}

// Name implements mux.Kind.
func (k *Kind) Name() string { return "logs" }

// Priority implements mux.Kind: logs yield to everything else on a socket.
func (k *Kind) Priority() mux.Priority { return mux.PriorityLogs }

// Open implements mux.Kind: it parses the request and checks that the user may read pod logs in
// the namespace before anything is streamed.
func (k *Kind) Open(ctx context.Context, req mux.OpenRequest) (mux.Runner, error) {
	r, err := ParseRequest(req.Params)
	if err != nil {
		return nil, err
	}
	st, err := k.prepare(ctx, req.User, r, false)
	if err != nil {
		return nil, err
	}
	return mux.RunnerFunc(func(ctx context.Context, ch mux.Channel) error { return k.run(ctx, ch, st) }), nil
}

// prepare authorizes r for u and builds its stream.
func (k *Kind) prepare(ctx context.Context, u identity.User, r Request, block bool) (*stream, error) {
	c, err := k.clusters(r.Cluster)
	if err != nil {
		return nil, mux.Errorf(mux.CodeNotFound, "%v", err)
	}
	d, err := c.Can(ctx, u, cluster.Access{Verb: "get", Resource: "pods", Subresource: "log", Namespace: r.Namespace})
	if err != nil {
		return nil, mux.Errorf(mux.CodeUnavailable, "checking permission: %v", err)
	}
	if !d.Allowed {
		return nil, mux.Errorf(mux.CodeForbidden, "%s may not read pod logs in namespace %s (needs get on pods/log)", u.Name, r.Namespace)
	}
	clients, err := c.Clients(u)
	if err != nil {
		return nil, mux.Errorf(mux.CodeUnavailable, "%v", err)
	}
	window := time.Duration(0)
	if !r.Workload.IsZero() || r.AllContainers {
		window = k.cfg.MergeWindow
		if !r.Follow {
			// Everything asked for is finite: hold lines until every stream has been read
			// (or the buffer is half full), so the merge is exact.
			window = time.Hour
		}
	}
	out := newPending(k.cfg.MaxLines, k.cfg.MaxBytes, window, block)
	return newStream(r, clients.Typed, out, k.log, k.counters), nil
}

// sendBatch is how many lines the sender takes from the buffer at a time.
const sendBatch = 256

// run streams st to ch. The readers fill the buffer without ever waiting; this goroutine empties
// it with Send, which waits while the client is behind, and that is when the buffer drops.
func (k *Kind) run(ctx context.Context, ch mux.Channel, st *stream) error {
	k.counters.streams.Inc()
	defer k.counters.streams.Dec()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := st.run(ctx)
		st.out.close()
		errc <- err
	}()
	defer func() { cancel(); <-done }()
	// The client has nothing to say on a logs channel; reading keeps its queue empty.
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			if _, err := ch.Recv(ctx); err != nil {
				return
			}
		}
	}()
	defer func() { cancel(); <-recvDone }()

	keep := time.NewTimer(k.cfg.Keepalive)
	defer keep.Stop()
	var hold *time.Timer
	defer func() {
		if hold != nil {
			hold.Stop()
		}
	}()
	keepalive := mustJSON(map[string]string{"type": "keepalive"})
	for {
		b := st.out.take(sendBatch)
		sent := false
		send := func(msg []byte) error {
			sent = true
			return ch.Send(ctx, mux.Message{Type: mux.Text, Data: msg})
		}
		if b.dropped > 0 {
			k.counters.dropped.Add(float64(b.dropped))
			if err := send(mustJSON(Dropped{Type: "dropped", Count: b.dropped})); err != nil {
				return nil
			}
		}
		if b.status != nil {
			if err := send(b.status); err != nil {
				return nil
			}
		}
		for _, l := range b.lines {
			if err := send(l); err != nil {
				return nil
			}
		}
		if b.done {
			err := <-errc
			if err != nil && ctx.Err() == nil {
				e := mux.AsError(err)
				_ = ch.Send(ctx, mux.Message{Type: mux.Text, Data: mustJSON(ErrorMessage{Type: "error", Code: e.Code, Message: e.Message})})
				return e
			}
			return nil
		}
		if sent {
			keep.Reset(k.cfg.Keepalive)
		}
		if len(b.lines) == sendBatch {
			continue
		}
		var holdC <-chan time.Time
		if b.wait > 0 {
			if hold == nil {
				hold = time.NewTimer(b.wait)
			} else {
				hold.Reset(b.wait)
			}
			holdC = hold.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-st.out.wake:
		case <-holdC:
		case <-keep.C:
			ch.TrySend(mux.Message{Type: mux.Text, Data: keepalive})
			keep.Reset(k.cfg.Keepalive)
		}
	}
}
