package logs

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/mux"
)

// ServeDownload answers GET /api/logs/download with the same query as /ws/logs (follow is
// ignored): the logs as a text file, read as the signed-in user. Readers wait for the writer here
// instead of dropping, so a file is complete however slowly it is fetched.
func (k *Kind) ServeDownload(w http.ResponseWriter, r *http.Request) {
	u, ok := identity.FromContext(r.Context())
	if !ok {
		httpjson.WriteCoded(w, mux.Errorf(mux.CodeUnauthorized, "sign in first"))
		return
	}
	q := r.URL.Query()
	q.Del("follow")
	req, err := ParseRequest(q)
	if err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	st, err := k.prepare(r.Context(), u, req, true)
	if err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	k.counters.streams.Inc()
	defer k.counters.streams.Dec()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		err := st.run(ctx)
		st.out.close()
		errc <- err
	}()
	defer func() { cancel(); <-errc }()

	name := req.Pod
	if name == "" {
		name = strings.ToLower(req.Workload.Kind) + "-" + req.Workload.Name
	}
	multi := !req.Workload.IsZero() || req.AllContainers
	started := false
	var bw *bufio.Writer
	for {
		b := st.out.take(sendBatch)
		for _, msg := range b.lines {
			if !started {
				started = true
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.log"`)
				w.WriteHeader(http.StatusOK)
				bw = bufio.NewWriterSize(w, 64<<10)
			}
			var l Line
			if json.Unmarshal(msg, &l) != nil {
				continue
			}
			if req.Timestamps && l.Time != "" {
				bw.WriteString(l.Time)
				bw.WriteByte(' ')
			}
			if multi {
				bw.WriteString("[" + l.Pod + "/" + l.Container + "] ")
			}
			bw.WriteString(l.Text)
			if err := bw.WriteByte('\n'); err != nil {
				return
			}
		}
		if b.done {
			break
		}
		if len(b.lines) == sendBatch {
			continue
		}
		select {
		case <-st.out.wake:
		case <-ctx.Done():
			return
		}
	}
	// b.done means the reader finished; a failure before the first line is an HTTP error.
	err = <-errc
	errc <- nil
	if !started {
		if err != nil {
			httpjson.WriteCoded(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.log"`)
		w.WriteHeader(http.StatusOK)
		return
	}
	_ = bw.Flush()
}
