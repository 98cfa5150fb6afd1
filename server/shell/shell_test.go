package shell

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/directory"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/internal/redistest"
	"github.com/yardhq/yard/server/mux"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestParseOpen(t *testing.T) {
	good := []string{
		"namespace=demo&pod=web", "namespace=demo&pod=web&container=app&command=sh&command=-c&command=echo hi",
		"session=0123456789abcdef&role=observer", "session=0123456789abcdef&role=driver", "session=0123456789abcdef",
	}
	for _, q := range good {
		v, _ := url.ParseQuery(q)
		if _, err := ParseOpen(v); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	bad := []string{"", "namespace=demo", "pod=web", "namespace=demo&pod=Web", "session=../../x", "session=0123456789abcdef&role=admin",
		"namespace=demo&pod=web&role=observer", "namespace=demo&pod=web&command="}
	for _, q := range bad {
		v, _ := url.ParseQuery(q)
		var e *mux.Error
		if _, err := ParseOpen(v); !errors.As(err, &e) || e.Code != mux.CodeBadParams {
			t.Errorf("%s: got %v", q, err)
		}
	}
}

func TestParseControl(t *testing.T) {
	for _, s := range []string{`{"type":"resize","cols":80,"rows":24}`, `{"type":"request-driver"}`, `{"type":"grant-driver","user":"bob"}`} {
		if _, err := ParseControl([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{`{"type":"resize","cols":0,"rows":24}`, `{"type":"grant-driver"}`, `{"type":"x"}`, `[`, `{"type":"resize","cols":"a"}`} {
		if _, err := ParseControl([]byte(s)); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

func TestRing(t *testing.T) {
	r := ring{max: 8}
	r.write([]byte("abc"))
	r.write([]byte("defgh"))
	r.write([]byte("ij"))
	if string(r.bytes()) != "cdefghij" {
		t.Fatalf("%q", r.bytes())
	}
	r.write([]byte("0123456789"))
	if string(r.bytes()) != "23456789" {
		t.Fatalf("%q", r.bytes())
	}
}

// fakeExec is a tiny line-oriented shell: it echoes what it reads, answers "size" with the
// terminal size and "exit N" by exiting with N.
func fakeExec(missing map[string]bool) execFunc {
	return func(ctx context.Context, cmd []string, stdin io.Reader, stdout io.Writer, sizes remotecommand.TerminalSizeQueue) error {
		if missing[cmd[0]] {
			// Like client-go, a stdin copier may still be waiting when the exec has failed.
			go func() { _, _ = stdin.Read(make([]byte, 1024)) }()
			time.Sleep(50 * time.Millisecond)
			return fmt.Errorf("exec: %q: executable file not found in $PATH", cmd[0])
		}
		var mu sync.Mutex
		cols, rows := 0, 0
		go func() {
			for s := sizes.Next(); s != nil; s = sizes.Next() {
				mu.Lock()
				cols, rows = int(s.Width), int(s.Height)
				mu.Unlock()
			}
		}()
		fmt.Fprintf(stdout, "%s$ ", cmd[0])
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "exit "):
				n, _ := strconv.Atoi(strings.TrimPrefix(line, "exit "))
				return utilexec.CodeExitError{Err: errors.New("exit"), Code: n}
			case line == "size":
				mu.Lock()
				fmt.Fprintf(stdout, "%d %d\r\n", rows, cols)
				mu.Unlock()
			default:
				fmt.Fprintf(stdout, "%s\r\n", line)
			}
		}
		return ctx.Err()
	}
}

type fakeChannel struct {
	in   chan mux.Message
	mu   sync.Mutex
	out  []mux.Message
	sig  chan struct{}
	dead chan struct{}
}

func newFakeChannel() *fakeChannel {
	return &fakeChannel{in: make(chan mux.Message, 16), sig: make(chan struct{}, 1), dead: make(chan struct{})}
}

func (f *fakeChannel) Recv(ctx context.Context) (mux.Message, error) {
	select {
	case m := <-f.in:
		return m, nil
	case <-ctx.Done():
		return mux.Message{}, ctx.Err()
	}
}
func (f *fakeChannel) Send(ctx context.Context, m mux.Message) error {
	f.mu.Lock()
	f.out = append(f.out, m)
	f.mu.Unlock()
	select {
	case f.sig <- struct{}{}:
	default:
	}
	return nil
}
func (f *fakeChannel) TrySend(m mux.Message) bool { _ = f.Send(context.Background(), m); return true }
func (f *fakeChannel) CloseWithError(error)       {}
func (f *fakeChannel) CloseConn(int, string)      {}

func (f *fakeChannel) text(s string) { f.in <- mux.Message{Type: mux.Text, Data: []byte(s)} }
func (f *fakeChannel) keys(s string) { f.in <- mux.Message{Type: mux.Binary, Data: []byte(s)} }

// terminal is all binary output so far; controls are the text messages.
func (f *fakeChannel) terminal() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b bytes.Buffer
	for _, m := range f.out {
		if m.Type == mux.Binary {
			b.Write(m.Data)
		}
	}
	return b.String()
}

func (f *fakeChannel) controls() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, m := range f.out {
		if m.Type == mux.Text {
			var v map[string]any
			_ = json.Unmarshal(m.Data, &v)
			out = append(out, v)
		}
	}
	return out
}

func (f *fakeChannel) waitTerminal(t *testing.T, want string) {
	t.Helper()
	f.wait(t, "terminal output "+strconv.Quote(want), func() bool { return strings.Contains(f.terminal(), want) })
}

func (f *fakeChannel) waitControl(t *testing.T, what string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	var got map[string]any
	f.wait(t, what, func() bool {
		for _, c := range f.controls() {
			if ok(c) {
				got = c
				return true
			}
		}
		return false
	})
	return got
}

func (f *fakeChannel) wait(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for !ok() {
		select {
		case <-f.sig:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; terminal %q controls %v", what, f.terminal(), f.controls())
		}
	}
}

func testManager(t *testing.T, hub Hub, replica string) *Manager {
	return testManagerTrail(t, hub, audit.NewMemory(), replica)
}

func testManagerTrail(t *testing.T, hub Hub, trail audit.Trail, replica string) *Manager {
	cfg := DefaultConfig()
	cfg.RecordingsDir = t.TempDir()
	cfg.Heartbeat = 100 * time.Millisecond
	cfg.Grace = 300 * time.Millisecond
	return newManager(t, hub, trail, nil, cfg, replica)
}

// memStores gives every MemoryHub the one directory store its managers share.
var memStores sync.Map

// storeFor is the directory store of hub's replicas: the same Redis, or one Memory per MemoryHub.
func storeFor(hub Hub) directory.Store {
	if h, ok := hub.(*RedisHub); ok {
		return directory.NewRedis(h.rdb)
	}
	s, _ := memStores.LoadOrStore(hub, directory.NewMemory())
	return s.(directory.Store)
}

// newManager is replica's manager on hub with its directory, both closed after the test.
func newManager(t *testing.T, hub Hub, trail audit.Trail, clusters Lookup, cfg Config, replica string) *Manager {
	t.Helper()
	dir, err := directory.New(storeFor(hub), directory.Config{Replica: replica}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(hub, dir, trail, clusters, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		_ = dir.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close()
		_ = dir.Close()
	})
	return m
}

type attached struct {
	ch     *fakeChannel
	cancel context.CancelFunc
	done   chan error
}

func attach(m *Manager, info Info, user, role string) *attached {
	a := &attached{ch: newFakeChannel(), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() { a.done <- m.attach(ctx, a.ch, info, identity.User{Name: user}, role, nil) }()
	return a
}

func (a *attached) stop(t *testing.T) {
	a.cancel()
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		t.Fatal("participant did not stop")
	}
}

func startSession(t *testing.T, m *Manager, owner string, missing map[string]bool) Info {
	info := Info{ID: NewSessionID(), Owner: owner, Namespace: "demo", Pod: "web", Replica: m.dir.Replica(), Started: time.Now()}
	if _, err := m.start(info, []string{"dev"}, fakeExec(missing), defaultShells); err != nil {
		t.Fatal(err)
	}
	return info
}

func TestSharedSessionDrivingAndScrollback(t *testing.T) {
	hub := NewMemoryHub()
	m := testManager(t, hub, "r1")
	info := startSession(t, m, "alice", nil)
	owner := attach(m, info, "alice", RoleDriver)
	owner.ch.waitControl(t, "session as driver", func(c map[string]any) bool { return c["type"] == "session" && c["role"] == RoleDriver })
	owner.ch.waitTerminal(t, "bash$ ")
	owner.ch.keys("echo before\n")
	owner.ch.waitTerminal(t, "echo before\r\n")

	bob := attach(m, info, "bob", RoleObserver)
	bob.ch.waitControl(t, "session as observer", func(c map[string]any) bool { return c["type"] == "session" && c["role"] == RoleObserver })
	bob.ch.waitTerminal(t, "echo before") // the scrollback
	owner.ch.waitControl(t, "participants with bob", func(c map[string]any) bool {
		return c["type"] == "participants" && strings.Contains(fmt.Sprint(c["list"]), "bob")
	})
	owner.ch.keys("live line\n")
	bob.ch.waitTerminal(t, "live line")

	// An observer's keys go nowhere.
	bob.ch.keys("from bob\n")
	bob.ch.waitControl(t, "observing error", func(c map[string]any) bool { return c["type"] == "error" && c["code"] == mux.CodeForbidden })
	owner.ch.keys("marker\n")
	owner.ch.waitTerminal(t, "marker")
	if strings.Contains(owner.ch.terminal(), "from bob") {
		t.Fatal("an observer typed into the terminal")
	}

	// Only the owner grants; then bob drives.
	bob.ch.text(`{"type":"request-driver"}`)
	owner.ch.waitControl(t, "driver request", func(c map[string]any) bool { return c["type"] == "driver-request" && c["user"] == "bob" })
	bob.ch.text(`{"type":"grant-driver","user":"bob"}`)
	bob.ch.waitControl(t, "refusal to self-grant", func(c map[string]any) bool {
		return c["type"] == "error" && strings.Contains(fmt.Sprint(c["message"]), "owner")
	})
	owner.ch.text(`{"type":"grant-driver","user":"bob"}`)
	bob.ch.waitControl(t, "bob drives", func(c map[string]any) bool { return c["type"] == "session" && c["role"] == RoleDriver })
	bob.ch.keys("typed by bob\n")
	owner.ch.waitTerminal(t, "typed by bob\r\n")
	owner.ch.keys("owner ignored\n")
	bob.ch.text(`{"type":"resize","cols":100,"rows":30}`)
	bob.ch.waitControl(t, "resize", func(c map[string]any) bool { return c["type"] == "resize" && c["cols"] == float64(100) })
	owner.ch.wait(t, "the new size", func() bool {
		bob.ch.keys("size\n")
		time.Sleep(20 * time.Millisecond)
		return strings.Contains(owner.ch.terminal(), "30 100")
	})
	if strings.Contains(bob.ch.terminal(), "owner ignored") {
		t.Fatal("the owner typed while bob drove")
	}
	// The owner takes the keyboard back.
	owner.ch.text(`{"type":"grant-driver","user":"alice"}`)
	owner.ch.wait(t, "owner drives again", func() bool {
		n := 0
		for _, c := range owner.ch.controls() {
			if c["type"] == "session" && c["role"] == RoleDriver {
				n++
			}
		}
		return n == 2
	})
	owner.ch.keys("exit 3\n")
	for _, a := range []*attached{owner, bob} {
		a.ch.waitControl(t, "exit 3", func(c map[string]any) bool { return c["type"] == "exit" && c["code"] == float64(3) })
		if err := <-a.done; err != nil {
			t.Fatal(err)
		}
		a.cancel()
	}
	m.Close()

	// The recording has the output and the resize, not the input.
	cast, err := os.ReadFile(filepath.Join(m.cfg.RecordingsDir, info.ID+".cast"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(cast)), "\n")
	var hdr map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &hdr); err != nil || hdr["version"] != float64(2) {
		t.Fatalf("header %s", lines[0])
	}
	var replay strings.Builder
	sawResize := false
	for _, l := range lines[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event %s", l)
		}
		switch ev[1] {
		case "o":
			replay.WriteString(ev[2].(string))
		case "r":
			sawResize = sawResize || ev[2] == "100x30"
		default:
			t.Fatalf("event type %v recorded", ev[1])
		}
	}
	if !strings.Contains(replay.String(), "typed by bob") || !sawResize {
		t.Fatalf("replay %q resize %v", replay.String(), sawResize)
	}
	// The trail has the exec attempt, complete with its exit, and every event after it.
	entries, err := m.trail.List(context.Background(), audit.Query{Verb: audit.VerbExec})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Namespace != "demo" || e.Name != "web" || e.Kind != "Pod" || e.Replica != "r1" {
			t.Fatalf("entry %+v", e)
		}
		got = append(got, e.User+" "+e.Result+" "+strings.TrimPrefix(e.Detail, "session "+info.ID+": "))
	}
	slices.Reverse(got)
	want := []string{"alice ok start a shell; exit 3", "alice ok join as driver", "bob ok join as observer", "alice ok grant the keyboard to bob"}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Fatalf("trail lacks %q: %q", w, got)
		}
	}
	if got[0] != want[0] {
		t.Fatalf("the oldest entry is not the exec attempt: %q", got)
	}
	if start := entries[len(entries)-1]; start.FinishedAt == nil || !slices.Equal(start.Groups, []string{"dev"}) {
		t.Fatalf("exec attempt %+v", start)
	}
}

func TestFallsBackToShWhenBashIsMissing(t *testing.T) {
	m := testManager(t, NewMemoryHub(), "r1")
	info := startSession(t, m, "alice", map[string]bool{"bash": true})
	a := attach(m, info, "alice", RoleDriver)
	a.ch.keys("typed at once\n") // while bash is still being tried
	a.ch.waitTerminal(t, "sh$ ")
	a.ch.waitTerminal(t, "typed at once\r\n")
	if strings.Contains(a.ch.terminal(), "not found") {
		t.Fatalf("the failed attempt showed: %q", a.ch.terminal())
	}
	a.ch.keys("exit 0\n")
	a.ch.waitControl(t, "exit 0", func(c map[string]any) bool { return c["type"] == "exit" && c["code"] == float64(0) })
	a.stop(t)
}

func TestReconnectWithinGraceAndEndAfter(t *testing.T) {
	hub := NewMemoryHub()
	m := testManager(t, hub, "r1")
	info := startSession(t, m, "alice", nil)
	a := attach(m, info, "alice", RoleDriver)
	a.ch.keys("remember me\n")
	a.ch.waitTerminal(t, "remember me\r\n")
	a.stop(t) // the connection is lost
	b := attach(m, info, "alice", RoleDriver)
	b.ch.waitTerminal(t, "remember me")
	b.ch.waitControl(t, "driving again", func(c map[string]any) bool { return c["type"] == "session" && c["role"] == RoleDriver })
	b.stop(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := m.lookup(context.Background(), info.ID); errors.Is(err, ErrNoSession) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("session outlived its grace period")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAdminEndsSession(t *testing.T) {
	m := testManager(t, NewMemoryHub(), "r1")
	info := startSession(t, m, "alice", nil)
	a := attach(m, info, "alice", RoleDriver)
	a.ch.waitTerminal(t, "bash$ ")
	if err := m.End(context.Background(), info.ID, identity.User{Name: "root", Admin: true}); err != nil {
		t.Fatal(err)
	}
	a.ch.waitControl(t, "exit by admin", func(c map[string]any) bool {
		return c["type"] == "exit" && strings.Contains(fmt.Sprint(c["reason"]), "root")
	})
	a.stop(t)
	var e *mux.Error
	if err := m.End(context.Background(), NewSessionID(), identity.User{Name: "root"}); !errors.As(err, &e) || e.Code != mux.CodeNotFound {
		t.Fatalf("ending an unknown session: %v", err)
	}
}

func TestIdleSessionEnds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IdleTimeout, cfg.Heartbeat = time.Second, 100*time.Millisecond
	m := newManager(t, NewMemoryHub(), audit.NewMemory(), nil, cfg, "r1")
	info := startSession(t, m, "alice", nil)
	a := attach(m, info, "alice", RoleDriver)
	a.ch.waitTerminal(t, "bash$ ")
	start := time.Now()
	a.ch.waitControl(t, "idle exit", func(c map[string]any) bool {
		return c["type"] == "exit" && strings.Contains(fmt.Sprint(c["reason"]), "idle")
	})
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Fatalf("ended after %s, idle timeout 1s", d)
	}
	a.stop(t)
}

// A participant whose replica died sends no leave; missing heartbeats drop it.
func TestSilentParticipantIsDropped(t *testing.T) {
	hub := NewMemoryHub()
	m := testManager(t, hub, "r1")
	info := startSession(t, m, "alice", nil)
	owner := attach(m, info, "alice", RoleDriver)
	owner.ch.waitTerminal(t, "bash$ ")
	if err := hub.Publish(context.Background(), homeTopic(info.ID), event{K: "join", P: "ghost", U: "bob", Role: RoleObserver, Msg: "r9"}.encode()); err != nil {
		t.Fatal(err)
	}
	owner.ch.waitControl(t, "bob present", func(c map[string]any) bool {
		return c["type"] == "participants" && strings.Contains(fmt.Sprint(c["list"]), "bob")
	})
	owner.ch.wait(t, "bob dropped", func() bool {
		var last map[string]any
		for _, c := range owner.ch.controls() {
			if c["type"] == "participants" {
				last = c
			}
		}
		return last != nil && !strings.Contains(fmt.Sprint(last["list"]), "bob")
	})
	owner.stop(t)
}
