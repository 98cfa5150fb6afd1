package chaostest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/yardhq/yard/server/internal/yardtest"
)

// Follower follows one container's log on /ws/logs as the browser does: when the stream ends
// or stays silent for Silence (10 s when zero), it reopens it with sinceTime set to the time of
// the last line it received. It keeps the lines that start with its prefix.
type Follower struct {
	Server  *yardtest.Server
	Token   string
	Params  url.Values // namespace, pod, container
	Silence time.Duration

	mu      sync.Mutex
	markers []string // marker lines, as received
	opens   int
	ends    []string // why each stream ended
	resumes []string // status messages saying the server is reconnecting a container's stream
}

// Run follows from since until ctx ends, keeping the lines that start with prefix.
func (f *Follower) Run(ctx context.Context, since time.Time, prefix string) {
	silence := f.Silence
	if silence == 0 {
		silence = 10 * time.Second
	}
	last := since.UTC().Format(time.RFC3339Nano)
	for ctx.Err() == nil {
		q := url.Values{}
		for k, v := range f.Params {
			q[k] = v
		}
		q.Set("follow", "true")
		q.Set("sinceTime", last)
		conn, _, err := f.Server.DialWS("/ws/logs", f.Token, q)
		if err != nil {
			f.end("dial: " + err.Error())
			Sleep(ctx, 500*time.Millisecond)
			continue
		}
		f.mu.Lock()
		f.opens++
		f.mu.Unlock()
		stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
		for {
			_ = conn.SetReadDeadline(time.Now().Add(silence))
			_, b, err := conn.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				switch {
				case ctx.Err() != nil:
				case errors.As(err, &ce):
					f.end(fmt.Sprintf("closed %d %s", ce.Code, ce.Text))
				default:
					f.end(err.Error())
				}
				break
			}
			var m struct {
				Type, Text, Time, Code, Message string
				Pods                            []struct{ State, Message string }
			}
			if json.Unmarshal(b, &m) != nil {
				continue
			}
			switch m.Type {
			case "line":
				last = m.Time
				if strings.HasPrefix(m.Text, prefix) {
					f.mu.Lock()
					f.markers = append(f.markers, m.Text)
					f.mu.Unlock()
				}
			case "error":
				f.end("error " + m.Code + " " + m.Message)
			case "status":
				for _, p := range m.Pods {
					if strings.Contains(p.Message, "reconnecting") {
						f.mu.Lock()
						f.resumes = append(f.resumes, p.Message)
						f.mu.Unlock()
					}
				}
			}
		}
		stop()
		_ = conn.Close()
		Sleep(ctx, 500*time.Millisecond)
	}
}

func (f *Follower) end(why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ends = append(f.ends, why)
}

// Resumes are the status messages in which the server said it was reconnecting a cut stream.
func (f *Follower) Resumes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.resumes)
}

// Received is what the follower has kept so far: the marker lines, how many times it opened the
// stream and why each stream ended.
func (f *Follower) Received() (markers []string, opens int, ends []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.markers), f.opens, slices.Clone(f.ends)
}
