package shell

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/tools/remotecommand"

	"github.com/yardhq/yard/server/audit"
)

// event is what travels on a session's topics. Participants send join, leave, hb (heartbeat),
// in, resize, request-driver and grant-driver toward the home (and an admin sends kill); the
// home sends snapshot, out, resize, participants, driver-request, rejoin, error and exit back.
type event struct {
	K    string        `json:"k"`
	P    string        `json:"p,omitempty"` // sending or addressed participant
	U    string        `json:"u,omitempty"` // user
	Role string        `json:"role,omitempty"`
	D    []byte        `json:"d,omitempty"`
	Cols int           `json:"cols,omitempty"`
	Rows int           `json:"rows,omitempty"`
	Code *int          `json:"code,omitempty"`
	Err  string        `json:"err,omitempty"` // error code
	Msg  string        `json:"msg,omitempty"`
	Drv  string        `json:"drv,omitempty"` // the driving user
	List []Participant `json:"list,omitempty"`
}

func (e event) encode() []byte {
	b, _ := json.Marshal(e)
	return b
}

// session is a shell on its home replica.
type session struct {
	m       *Manager
	id      string
	attempt string // the exec attempt in the audit trail
	exec    execFunc
	cmds    [][]string // commands to try in order (one unless falling back between shells)
	log     *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	sub    Subscription
	stdin  chan []byte
	input  *input
	sizes  chan remotecommand.TerminalSize

	mu           sync.Mutex
	info         Info
	parts        map[string]*partState
	scroll       ring
	cols, rows   int
	rec          *recorder
	recFailed    bool // the recording's failure was reported
	lastActivity time.Time
	emptySince   time.Time // when the last participant left (zero: someone is here)
	lastKeep     time.Time // the previous housekeep
	started      bool      // the exec has been started (on the owner's first join)
	ended        bool
	endReason    string
}

type partState struct {
	Participant
	lastSeen time.Time
}

func (s *session) publish(e event) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.m.hub.Publish(ctx, outTopic(s.id), e.encode()); err != nil {
		s.log.Warn("shell publish failed", "err", err)
	}
}

// run is the home's loop: it serves the home topic until the session ends, then reports the end.
func (s *session) run() {
	defer s.sub.Close()
	s.mu.Lock()
	s.lastKeep = s.m.now()
	s.mu.Unlock()
	tick := time.NewTicker(s.m.cfg.Heartbeat)
	defer tick.Stop()
	execDone := make(chan execResult, 1)
	var execWG sync.WaitGroup
	defer execWG.Wait()
	for {
		select {
		case <-s.ctx.Done():
			s.finish(execResult{code: -1, reason: "the server is shutting down"}, &execWG)
			return
		case r := <-execDone:
			s.finish(r, &execWG)
			return
		case <-tick.C:
			if reason := s.housekeep(); reason != "" {
				s.finish(execResult{code: -1, reason: reason}, &execWG)
				return
			}
		case b, ok := <-s.sub.C():
			if !ok {
				s.finish(execResult{code: -1, reason: "lost the session relay"}, &execWG)
				return
			}
			var e event
			if json.Unmarshal(b, &e) != nil {
				continue
			}
			if e.K == "kill" {
				s.m.event(s.info, "kill", e.U, "")
				s.finish(execResult{code: -1, reason: "ended by " + e.U}, &execWG)
				return
			}
			if s.handle(e) {
				execWG.Go(func() { execDone <- s.runExec() })
			}
			switch e.K {
			case "join", "leave", "grant-driver":
				// Admins list sessions from the registry: show who is in it now, not at the
				// next heartbeat.
				s.register()
			}
		}
	}
}

type execResult struct {
	code   int
	reason string
	failed bool // the exec itself failed: no process ran, or its stream broke
}

// handle applies one participant event; it reports whether the exec should start now.
func (s *session) handle(e event) (startExec bool) {
	now := s.m.now()
	s.mu.Lock()
	p := s.parts[e.P]
	if p == nil && e.P != "" && e.K != "join" && e.K != "leave" {
		// A participant the home dropped for silence (its replica hung longer than three
		// beats) is still attached and still sending: ask it to join again rather than
		// ignoring its keys without a word.
		s.publish(event{K: "rejoin", P: e.P})
		s.mu.Unlock()
		return false
	}
	switch e.K {
	case "join":
		if p == nil {
			p = &partState{Participant: Participant{ID: e.P, User: e.U, Owner: e.U == s.info.Owner, JoinedAt: now, Replica: e.Msg}}
			s.parts[e.P] = p
		}
		p.lastSeen = now
		s.emptySince = time.Time{}
		if e.Role == RoleDriver && p.Owner {
			s.info.Driver = p.User
		}
		// The snapshot goes out under the lock that orders output: the joiner drops every
		// output before its snapshot and misses none after it.
		s.publish(event{K: "snapshot", P: e.P, D: s.scroll.bytes(), Cols: s.cols, Rows: s.rows, Drv: s.info.Driver})
		s.publishParticipantsLocked()
		if e.Role == RoleDriver && !p.Owner {
			s.publish(event{K: "driver-request", U: p.User})
		}
		if p.Owner && !s.started {
			s.started, startExec = true, true
		}
		s.mu.Unlock()
		s.m.event(s.info, "join", e.U, "as "+e.Role)
		return startExec
	case "leave":
		if p != nil {
			delete(s.parts, e.P)
			s.afterLeaveLocked(now)
			s.mu.Unlock()
			s.m.event(s.info, "leave", p.User, "")
			return false
		}
	case "hb":
		if p != nil {
			p.lastSeen = now
		}
	case "in":
		if p != nil && p.User == s.info.Driver {
			s.lastActivity = now
			s.mu.Unlock()
			select {
			case s.stdin <- e.D:
			case <-s.ctx.Done():
			}
			return false
		}
	case "resize":
		if p != nil && p.User == s.info.Driver && e.Cols > 0 && e.Rows > 0 && (e.Cols != s.cols || e.Rows != s.rows) {
			s.cols, s.rows = e.Cols, e.Rows
			if s.rec != nil {
				s.rec.resize(now, e.Cols, e.Rows)
			}
			latest(s.sizes, remotecommand.TerminalSize{Width: uint16(e.Cols), Height: uint16(e.Rows)})
			s.publish(event{K: "resize", Cols: e.Cols, Rows: e.Rows})
		}
	case "request-driver":
		if p != nil && p.User != s.info.Driver {
			s.publish(event{K: "driver-request", U: p.User})
		}
	case "grant-driver":
		if p != nil && p.Owner {
			present := false
			for _, q := range s.parts {
				present = present || q.User == e.U
			}
			if present {
				s.info.Driver = e.U
				s.publishParticipantsLocked()
				s.mu.Unlock()
				s.m.event(s.info, "grant", p.User, "the keyboard to "+e.U)
				return false
			}
			s.publish(event{K: "error", P: e.P, Err: "not_found", Msg: e.U + " is not in this session"})
		} else if p != nil {
			s.publish(event{K: "error", P: e.P, Err: "forbidden", Msg: "only the session's owner hands over the keyboard"})
		}
	}
	s.mu.Unlock()
	return false
}

// afterLeaveLocked gives the keyboard back to the owner when its driver has left.
func (s *session) afterLeaveLocked(now time.Time) {
	present := false
	for _, q := range s.parts {
		present = present || q.User == s.info.Driver
	}
	if !present {
		s.info.Driver = s.info.Owner
	}
	if len(s.parts) == 0 {
		s.emptySince = now
	}
	s.publishParticipantsLocked()
}

func (s *session) publishParticipantsLocked() {
	list := s.participantsLocked()
	s.info.Participants = list
	s.publish(event{K: "participants", List: list, Drv: s.info.Driver})
}

func (s *session) participantsLocked() []Participant {
	list := make([]Participant, 0, len(s.parts))
	for _, p := range s.parts {
		q := p.Participant
		q.Role = RoleObserver
		if q.User == s.info.Driver {
			q.Role = RoleDriver
		}
		list = append(list, q)
	}
	sortParticipants(list)
	return list
}

// housekeep drops participants that stopped sending heartbeats (their replica died), updates the
// session's directory entry if it did, and says why the session must end, if it must.
func (s *session) housekeep() string {
	now := s.m.now()
	s.mu.Lock()
	// A home that stood still itself (SIGSTOP, a frozen machine) heard nobody meanwhile; that
	// is not its participants' silence, so each gets three beats again before being dropped.
	if now.Sub(s.lastKeep) > 2*s.m.cfg.Heartbeat {
		for _, p := range s.parts {
			p.lastSeen = now
		}
	}
	s.lastKeep = now
	changed := false
	for id, p := range s.parts {
		if now.Sub(p.lastSeen) > max(3*s.m.cfg.Heartbeat, time.Second) {
			delete(s.parts, id)
			changed = true
		}
	}
	if changed {
		s.afterLeaveLocked(now)
	}
	if s.rec != nil {
		s.rec.flush()
		s.noteRecordingLocked()
	}
	info := s.info
	idle := now.Sub(s.lastActivity)
	empty := !s.emptySince.IsZero() && now.Sub(s.emptySince) > s.m.cfg.Grace
	s.mu.Unlock()
	switch {
	case idle > s.m.cfg.IdleTimeout:
		return fmt.Sprintf("idle for %s", s.m.cfg.IdleTimeout)
	case empty:
		return fmt.Sprintf("nobody reconnected within %s", s.m.cfg.Grace)
	}
	if changed {
		s.registerInfo(info)
	}
	return ""
}

// noteRecordingLocked reports a recording that stopped being written (a full disk), once, when
// it is noticed: the session goes on, and its end in the audit trail says the recording is
// incomplete. Callers hold s.mu.
func (s *session) noteRecordingLocked() {
	err := s.rec.failure()
	if err == nil || s.recFailed {
		return
	}
	s.recFailed = true
	s.m.metrics.recordingFailures.Inc()
	s.log.Warn("recording incomplete: the session goes on unrecorded", "err", bare(err))
}

// register puts the session's directory entry (participants, driver) again.
func (s *session) register() {
	s.mu.Lock()
	info := s.info
	s.mu.Unlock()
	s.registerInfo(info)
}

func (s *session) registerInfo(info Info) {
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	if err := s.m.putSession(ctx, info); err != nil {
		s.log.Warn("shell registry refresh failed", "err", err)
	}
}

// output is the exec's terminal output: into the scrollback, the recording and the topic.
func (s *session) output(p []byte) {
	now := s.m.now()
	b := append([]byte(nil), p...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastActivity = now
	s.scroll.write(b)
	if s.rec != nil {
		s.rec.output(now, b)
	}
	s.publish(event{K: "out", D: b})
}

type outputWriter struct{ s *session }

func (w outputWriter) Write(p []byte) (int, error) {
	w.s.output(p)
	return len(p), nil
}

// probeWriter holds an attempt's output back until the probe window has passed.
type probeWriter struct {
	mu      sync.Mutex
	s       *session
	held    []byte
	through bool
}

func (w *probeWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.through {
		w.s.output(p)
		return len(p), nil
	}
	if len(w.held) < 64<<10 {
		w.held = append(w.held, p...)
	}
	return len(p), nil
}

// release lets output through (keep) or throws the held output away (the attempt failed).
func (w *probeWriter) release(keep bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if keep && len(w.held) > 0 {
		w.s.output(w.held)
	}
	w.held, w.through = nil, true
}

// runExec runs the commands in turn until one runs (falling back from bash to sh), and returns
// how it ended.
func (s *session) runExec() execResult {
	var err error
	for i, cmd := range s.cmds {
		last := i == len(s.cmds)-1
		actx, cancel := context.WithCancel(s.ctx)
		s.mu.Lock()
		first := &remotecommand.TerminalSize{Width: uint16(s.cols), Height: uint16(s.rows)}
		s.mu.Unlock()
		sizes := &sizeQueue{ctx: actx, first: first, c: s.sizes}
		stdin := s.input.reader(actx, !last)
		if last {
			err = s.exec(actx, cmd, stdin, outputWriter{s}, sizes)
			cancel()
			break
		}
		pw := &probeWriter{s: s}
		start := s.m.now()
		timer := time.AfterFunc(probeWindow, func() { pw.release(true) })
		err = s.exec(actx, cmd, stdin, pw, sizes)
		cancel()
		quick := timer.Stop() && s.m.now().Sub(start) < probeWindow
		if quick && missingShell(err) && s.ctx.Err() == nil {
			pw.release(false)
			s.input.giveBack(stdin)
			s.log.Debug("shell not available, trying the next", "command", cmd, "err", err)
			continue
		}
		pw.release(true)
		break
	}
	code, ok := exitCode(err)
	if !ok {
		if s.ctx.Err() != nil {
			return execResult{code: -1, reason: "ended"}
		}
		return execResult{code: -1, reason: "exec failed: " + err.Error(), failed: true}
	}
	return execResult{code: code}
}

// finish ends the session once: stops the exec, tells everyone, and cleans up.
func (s *session) finish(r execResult, execWG *sync.WaitGroup) {
	s.cancel()
	execWG.Wait()
	s.mu.Lock()
	s.ended, s.endReason = true, r.reason
	started := s.started
	var recErr error
	if s.rec != nil {
		recErr = s.rec.close()
		s.noteRecordingLocked()
	}
	s.mu.Unlock()
	code := r.code
	// Out of the directory before anyone hears of the exit: a participant told the session
	// ended must not still find it listed, or end it again.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.m.dropSession(ctx, s.id)
	s.publish(event{K: "exit", Code: &code, Msg: r.reason})
	o := audit.Outcome{Result: audit.ResultOK, Detail: fmt.Sprintf("exit %d", code)}
	if r.reason != "" {
		o.Detail += ": " + r.reason
	}
	if recErr != nil {
		o.Detail += "; recording incomplete: " + bare(recErr).Error()
	}
	switch {
	case !started:
		o = audit.Outcome{Result: audit.ResultFailed, Detail: "ended before the exec started: " + r.reason}
	case r.failed:
		o.Result = audit.ResultFailed
	}
	s.m.finishAttempt(s.id, s.attempt, o)
	s.m.forget(s.id)
}

// latest puts v in c (capacity 1), replacing a value the reader has not taken yet: only the
// newest terminal size matters.
func latest[T any](c chan T, v T) {
	for {
		select {
		case c <- v:
			return
		default:
			select {
			case <-c:
			default:
			}
		}
	}
}
