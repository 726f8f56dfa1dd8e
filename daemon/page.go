package daemon

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed ui
var uiFiles embed.FS

// pageCSP allows nothing but this origin: the page has no external
// assets, no inline script or style, and may not be framed.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// page serves the status page: / is ui/index.html, /ui/... the rest.
func (d *Daemon) page() http.Handler {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		if p := strings.TrimPrefix(r.URL.Path, "/ui"); p != r.URL.Path {
			if p == "/" || p == "/index.html" {
				// One address for the page.
				http.Redirect(w, r, "/", http.StatusMovedPermanently)
				return
			}
			r2.URL.Path = p
		} else {
			r2.URL.Path = "/"
		}
		files.ServeHTTP(w, r2)
	})
}
