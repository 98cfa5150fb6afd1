package frontdoor

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// CSP is the Content-Security-Policy of every response. The app is built by Vite into files
// served from this origin: no inline script. Inline styles are allowed because React and
// xterm.js set style attributes (the browser tests fail on any violation); connect-src 'self'
// covers the same-origin WebSocket.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// SetSecurityHeaders sets the headers every response carries.
func SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// Options configure Wrap.
type Options struct {
	Hosts Hosts
	// BodyTimeout bounds reading a request body, from when the handler is called.
	BodyTimeout time.Duration
}

// Wrap returns next behind the door: Host check (421), security headers, body deadline.
func Wrap(next http.Handler, o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetSecurityHeaders(w.Header())
		if !o.Hosts.Allowed(r.Host) {
			refuseHost(w)
			return
		}
		if r.Body != nil && r.Body != http.NoBody && o.BodyTimeout > 0 {
			rc := http.NewResponseController(w)
			// The server keeps no read deadline once the headers are in (ReadTimeout would also
			// cut WebSockets), so a client that announces a body and sends nothing would hold the
			// connection and the handler for as long as it likes.
			if err := rc.SetReadDeadline(time.Now().Add(o.BodyTimeout)); err == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline once the body is read: net/http then reads the
// connection in the background to notice a client that goes away, and a deadline expiring in
// that read would cancel a long streaming response.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	once sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !isTimeout(err) {
		b.once.Do(func() { _ = b.rc.SetReadDeadline(time.Time{}) })
	}
	return n, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
