package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

// NewHTTPServer returns an http.Server for the daemon's handler with
// timeouts set (a client that trickles its request cannot hold a
// connection for ever; POST /v1/faults answers within AcceptWait).
func (d *Daemon) NewHTTPServer() *http.Server {
	return &http.Server{
		Handler:           d.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      d.cfg.AcceptWait + 60*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
}

// Serve serves the daemon's handler on ln (wrap it with tls.NewListener
// for TLS) and runs the daemon (Run) until ctx ends or SIGTERM or SIGINT
// arrives on signals: then it drains as Run does, and shuts the HTTP
// server down, which answered meanwhile (503 to new faults). SIGHUP
// reloads the site file (Reload; an invalid file is logged and changes
// nothing). It returns nil after a clean stop, or the error that stopped
// it (the listener failed).
func (d *Daemon) Serve(ctx context.Context, ln net.Listener, signals <-chan os.Signal) error {
	srv := d.NewHTTPServer()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(runCtx) }()
	d.log.Info("serving", "addr", ln.Addr().String(), "name", d.cfg.Name, "site", d.cfg.SitePath)

	var reloads sync.WaitGroup
	defer reloads.Wait()
	shutdown := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	for {
		select {
		case sig := <-signals:
			switch sig {
			case syscall.SIGHUP:
				d.log.Info("SIGHUP: reloading the site file")
				reloads.Go(func() { _, _ = d.Reload(runCtx) })
			case syscall.SIGTERM, os.Interrupt:
				d.log.Info("stopping on signal", "signal", sig.String())
				d.beginDrain()
				stop()
			}
		case err := <-srvErr:
			stop()
			<-runDone
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		case err := <-runDone:
			shutdown()
			<-srvErr
			d.log.Info("stopped")
			return err
		}
	}
}
