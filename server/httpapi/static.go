package httpapi

import (
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/yardhq/yard/server/httpjson"
)

// Static serves the built browser app from dir. Paths without a file behind them get
// index.html, so client-side routes (/r/{room}, /admin) load the app. Hashed assets are cached
// for a year; index.html never, so a new build is picked up on reload.
func Static(dir string) http.Handler {
	fs := http.Dir(dir)
	files := http.FileServer(fs)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			httpjson.WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed here")
			return
		}
		if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/ws") {
			httpjson.WriteError(w, http.StatusNotFound, "not_found", "no such endpoint")
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err == nil && !st.IsDir() {
			if strings.HasPrefix(p, "/assets/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			}
			files.ServeHTTP(w, r)
			return
		}
		index := filepath.Join(dir, "index.html")
		if _, err := os.Stat(index); err != nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(notBuiltPage))
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFile(w, r, index)
	})
}

const notBuiltPage = `<!doctype html><meta charset="utf-8"><title>Yard</title>
<p>The Yard server is running, but the browser app is not built. Run <code>make build</code>.</p>
<p>The API is at <a href="/api/openapi.yaml">/api/openapi.yaml</a>.</p>`
