package shell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
)

// Kind is the "shell" channel kind.
type Kind struct{ M *Manager }

// Name implements mux.Kind.
func (k Kind) Name() string { return "shell" }

// Priority implements mux.Kind: keystrokes and echoes go first.
func (k Kind) Priority() mux.Priority { return mux.PriorityShell }

// Open implements mux.Kind. Starting a session and joining one both need create on pods/exec
// for the pod, checked here for the user who opens, so that knowing a session id is not enough.
// Every refusal after the parameters parsed is recorded in the audit trail.
func (k Kind) Open(ctx context.Context, req mux.OpenRequest) (mux.Runner, error) {
	op, err := ParseOpen(req.Params)
	if err != nil {
		return nil, err
	}
	r, err := k.M.open(ctx, req.User, &op)
	if err != nil {
		k.M.refused(req.User, op, err)
	}
	return r, err
}

// open authorizes a start or a join; a join learns its pod (into op) from the session's record.
func (m *Manager) open(ctx context.Context, u identity.User, op *OpenParams) (mux.Runner, error) {
	if op.Session != "" {
		info, err := m.lookup(ctx, op.Session)
		if errors.Is(err, ErrNoSession) {
			m.metrics.refusals.WithLabelValues("not_found").Inc()
			return nil, mux.Errorf(mux.CodeNotFound, "no session %s (it ended, or never was)", op.Session)
		}
		if err != nil {
			return nil, mux.Errorf(mux.CodeUnavailable, "%v", err)
		}
		op.Cluster, op.Namespace, op.Pod = info.Cluster, info.Namespace, info.Pod
		if _, err := m.authorize(ctx, u, info.Cluster, info.Namespace, info.Pod); err != nil {
			return nil, err
		}
		return mux.RunnerFunc(func(ctx context.Context, ch mux.Channel) error {
			return m.attach(ctx, ch, info, u, op.Role, nil)
		}), nil
	}
	c, err := m.authorize(ctx, u, op.Cluster, op.Namespace, op.Pod)
	if err != nil {
		return nil, err
	}
	list, err := m.Sessions(ctx)
	if err != nil {
		return nil, mux.Errorf(mux.CodeUnavailable, "%v", err)
	}
	owned := 0
	for _, s := range list {
		if s.Owner == u.Name {
			owned++
		}
	}
	if owned >= m.cfg.MaxPerUser {
		m.metrics.refusals.WithLabelValues("limit").Inc()
		return nil, mux.Errorf(mux.CodeLimit, "%s already has %d shell sessions (the limit); close one first", u.Name, owned)
	}
	clients, err := c.Clients(u)
	if err != nil {
		return nil, mux.Errorf(mux.CodeUnavailable, "%v", err)
	}
	if err := checkTarget(ctx, clients.Typed, *op); err != nil {
		return nil, err
	}
	cmds := defaultShells
	if len(op.Command) > 0 {
		cmds = [][]string{op.Command}
	}
	info := Info{
		ID: NewSessionID(), Owner: u.Name, OwnerID: u.ID, Cluster: op.Cluster, Namespace: op.Namespace,
		Pod: op.Pod, Container: op.Container, Command: op.Command, Replica: m.dir.Replica(),
		Started: m.now().UTC(), Driver: u.Name,
	}
	exec := podExec(clients.Typed, clients.Config, op.Namespace, op.Pod, op.Container)
	return mux.RunnerFunc(func(ctx context.Context, ch mux.Channel) error {
		// Subscribe before the session exists, so that not even an exec that fails at once
		// ends unseen.
		sub, err := m.hub.Subscribe(ctx, outTopic(info.ID))
		if err != nil {
			return mux.Errorf(mux.CodeUnavailable, "shell relay: %v", err)
		}
		if _, err := m.start(info, u.Groups, exec, cmds); err != nil {
			sub.Close()
			return err
		}
		return m.attach(ctx, ch, info, u, RoleDriver, sub)
	}), nil
}

// authorize checks that u may exec into the pod.
func (m *Manager) authorize(ctx context.Context, u identity.User, clusterName, namespace, pod string) (Cluster, error) {
	c, err := m.clusters(clusterName)
	if err != nil {
		return nil, mux.Errorf(mux.CodeNotFound, "%v", err)
	}
	d, err := c.Can(ctx, u, cluster.Access{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: namespace, Name: pod})
	if err != nil {
		return nil, mux.Errorf(mux.CodeUnavailable, "checking permission: %v", err)
	}
	if !d.Allowed {
		m.metrics.refusals.WithLabelValues("forbidden").Inc()
		return nil, mux.Errorf(mux.CodeForbidden, "%s may not exec into pod %s/%s (needs create on pods/exec)", u.Name, namespace, pod)
	}
	return c, nil
}

// Messages to clients.
type (
	sessionMsg struct {
		Type  string `json:"type"`
		ID    string `json:"id"`
		Role  string `json:"role"`
		Owner string `json:"owner"`
		Pod   string `json:"pod"`
	}
	participantsMsg struct {
		Type   string        `json:"type"`
		List   []Participant `json:"list"`
		Driver string        `json:"driver"`
	}
	exitMsg struct {
		Type   string `json:"type"`
		Code   int    `json:"code"`
		Reason string `json:"reason,omitempty"`
	}
	errorMsg struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	userMsg struct {
		Type string `json:"type"`
		User string `json:"user"`
	}
	resizeMsg struct {
		Type string `json:"type"`
		Cols int    `json:"cols"`
		Rows int    `json:"rows"`
	}
)

func textMsg(v any) mux.Message {
	b, _ := json.Marshal(v)
	return mux.Message{Type: mux.Text, Data: b}
}

// attach serves one participant: the client's bytes and control messages go to the home, the
// home's output and events come to the client.
func (m *Manager) attach(ctx context.Context, ch mux.Channel, info Info, u identity.User, role string, sub Subscription) error {
	m.metrics.participants.Inc()
	defer m.metrics.participants.Dec()
	var err error
	if sub == nil {
		if sub, err = m.hub.Subscribe(ctx, outTopic(info.ID)); err != nil {
			return mux.Errorf(mux.CodeUnavailable, "shell relay: %v", err)
		}
	}
	defer sub.Close()
	pid := NewSessionID()[:16]
	home := homeTopic(info.ID)
	send := func(e event) error {
		e.P = pid
		return m.hub.Publish(ctx, home, e.encode())
	}
	if err := send(event{K: "join", U: u.Name, Role: role, Msg: m.dir.Replica()}); err != nil {
		return mux.Errorf(mux.CodeUnavailable, "%v", err)
	}
	defer func() {
		lctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = m.hub.Publish(lctx, home, event{K: "leave", P: pid}.encode())
	}()

	// Everything before our snapshot is already in it.
	timer := time.NewTimer(m.cfg.JoinTimeout)
	defer timer.Stop()
	var driver string
	var scrollback []byte
wait:
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			return mux.Errorf(mux.CodeUnavailable, "session %s did not answer (its server may have stopped)", info.ID)
		case b, ok := <-sub.C():
			if !ok {
				return relayEnded(sub)
			}
			var e event
			if json.Unmarshal(b, &e) != nil {
				continue
			}
			switch {
			case e.K == "snapshot" && e.P == pid:
				driver, scrollback = e.Drv, e.D
				break wait
			case e.K == "exit":
				return ch.Send(ctx, textMsg(exitMsg{Type: "exit", Code: deref(e.Code), Reason: e.Msg}))
			}
		}
	}
	myRole := func(drv string) string {
		if drv == u.Name {
			return RoleDriver
		}
		return RoleObserver
	}
	var driving atomic.Bool
	driving.Store(driver == u.Name)
	current := myRole(driver)
	if err := ch.Send(ctx, textMsg(sessionMsg{Type: "session", ID: info.ID, Role: current, Owner: info.Owner, Pod: info.Namespace + "/" + info.Pod})); err != nil {
		return nil
	}
	if len(scrollback) > 0 {
		if err := ch.Send(ctx, mux.Message{Type: mux.Binary, Data: scrollback}); err != nil {
			return nil
		}
	}

	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { m.readClient(rctx, ch, send, &driving) })
	homeGone := make(chan struct{})
	wg.Go(func() { m.heartbeat(rctx, info.ID, send, homeGone) })

	for {
		var b []byte
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case <-homeGone:
			// The home died without a word (SIGKILL, a lost machine): its exec went with it.
			_ = ch.Send(ctx, textMsg(exitMsg{Type: "exit", Code: -1,
				Reason: fmt.Sprintf("the server running the session (replica %s) stopped", info.Replica)}))
			return nil
		case b, ok = <-sub.C():
		}
		if !ok {
			return relayEnded(sub)
		}
		var e event
		if json.Unmarshal(b, &e) != nil {
			continue
		}
		var out mux.Message
		switch e.K {
		case "out", "snapshot":
			if e.K == "snapshot" {
				continue // another joiner's
			}
			out = mux.Message{Type: mux.Binary, Data: e.D}
		case "participants":
			if r := myRole(e.Drv); r != current {
				current = r
				driving.Store(r == RoleDriver)
				if err := ch.Send(ctx, textMsg(sessionMsg{Type: "session", ID: info.ID, Role: r, Owner: info.Owner, Pod: info.Namespace + "/" + info.Pod})); err != nil {
					return nil
				}
			}
			out = textMsg(participantsMsg{Type: "participants", List: e.List, Driver: e.Drv})
		case "driver-request":
			if u.Name != info.Owner {
				continue
			}
			out = textMsg(userMsg{Type: "driver-request", User: e.U})
		case "resize":
			out = textMsg(resizeMsg{Type: "resize", Cols: e.Cols, Rows: e.Rows})
		case "error":
			if e.P != pid {
				continue
			}
			out = textMsg(errorMsg{Type: "error", Code: e.Err, Message: e.Msg})
		case "rejoin":
			// The home dropped this participant while its replica stood still. It has kept
			// every output since (the relay never stopped), so joining again is all it takes;
			// only the owner asks for the keyboard back.
			if e.P != pid {
				continue
			}
			role := RoleObserver
			if current == RoleDriver && u.Name == info.Owner {
				role = RoleDriver
			}
			_ = send(event{K: "join", U: u.Name, Role: role, Msg: m.dir.Replica()})
			continue
		case "exit":
			_ = ch.Send(ctx, textMsg(exitMsg{Type: "exit", Code: deref(e.Code), Reason: e.Msg}))
			return nil
		default:
			continue
		}
		if err := ch.Send(ctx, out); err != nil {
			return nil
		}
	}
}

// readClient forwards the client's keystrokes (only while driving: the home checks again) and
// control messages to the home.
func (m *Manager) readClient(ctx context.Context, ch mux.Channel, send func(event) error, driving *atomic.Bool) {
	told := false
	for {
		msg, err := ch.Recv(ctx)
		if err != nil {
			return
		}
		if msg.Type == mux.Binary {
			if !driving.Load() {
				if !told {
					told = true
					ch.TrySend(textMsg(errorMsg{Type: "error", Code: mux.CodeForbidden, Message: "you are observing; ask the owner for the keyboard (request-driver)"}))
				}
				continue
			}
			told = false
			_ = send(event{K: "in", D: msg.Data})
			continue
		}
		c, err := ParseControl(msg.Data)
		if err != nil {
			e := mux.AsError(err)
			ch.TrySend(textMsg(errorMsg{Type: "error", Code: e.Code, Message: e.Message}))
			continue
		}
		switch c.Type {
		case "resize":
			_ = send(event{K: "resize", Cols: c.Cols, Rows: c.Rows})
		case "request-driver":
			_ = send(event{K: "request-driver"})
		case "grant-driver":
			_ = send(event{K: "grant-driver", U: c.User})
		}
	}
}

// heartbeat tells the home the participant is there, every Heartbeat, and watches the session's
// directory entry, which only its home's replica renews: when three beats in a row find it gone, the home
// stopped without ending the session (a home that ends it publishes its exit first), and
// homeGone is closed. A registry that cannot be read says nothing either way.
func (m *Manager) heartbeat(ctx context.Context, id string, send func(event) error, homeGone chan<- struct{}) {
	t := time.NewTicker(m.cfg.Heartbeat)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = send(event{K: "hb"})
		}
		_, err := m.lookup(ctx, id)
		switch {
		case errors.Is(err, ErrNoSession):
			if missed++; missed == 3 {
				close(homeGone)
				return
			}
		case err == nil:
			missed = 0
		}
	}
}

func relayEnded(sub Subscription) error {
	if errors.Is(sub.Err(), ErrLagging) {
		return mux.Errorf(mux.CodeSlowConsumer, "the terminal output got too far ahead of this client; rejoin the session")
	}
	return mux.Errorf(mux.CodeUnavailable, "lost the session relay; rejoin the session")
}

func deref(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

// checkTarget reads the pod as the user, so that a missing pod or container is a clear error
// before any session exists.
func checkTarget(ctx context.Context, c kubernetes.Interface, op OpenParams) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pod, err := c.CoreV1().Pods(op.Namespace).Get(ctx, op.Pod, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return mux.Errorf(mux.CodeNotFound, "pod %s/%s not found", op.Namespace, op.Pod)
	case apierrors.IsForbidden(err):
		return mux.Errorf(mux.CodeForbidden, "may not read pod %s/%s", op.Namespace, op.Pod)
	case err != nil:
		return mux.Errorf(mux.CodeUnavailable, "reading pod %s/%s: %v", op.Namespace, op.Pod, err)
	}
	if op.Container == "" {
		return nil
	}
	for _, ctr := range pod.Spec.Containers {
		if ctr.Name == op.Container {
			return nil
		}
	}
	return mux.Errorf(mux.CodeNotFound, "pod %s/%s has no container %q", op.Namespace, op.Pod, op.Container)
}
