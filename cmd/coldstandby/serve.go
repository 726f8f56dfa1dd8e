package main

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/daemon"
	"github.com/coldstandby/coldstandby/drivers/etcdstore"
)

// notifySignals delivers SIGTERM, SIGINT and SIGHUP to the channel it
// returns until stop is called.
func notifySignals() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func (a *app) serve() *cobra.Command {
	var (
		listen, tlsCert, tlsKey, token, eventSecret, eventHeader, name, logFormat, logLevel string
		watch, recoverEvery, drain                                                          time.Duration
		leaseTTL                                                                            int
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: fail servers over as faults arrive; HTTP API, metrics and status page",
		Long: `serve runs coldstandby as a service (package daemon): it applies the site to
an empty store, runs Recover, watches every server's BMC event log, takes
faults from the API (POST /v1/faults) and, with --event-secret, Redfish
event pushes (POST /events/redfish), and fails servers over. It serves the
HTTP API under /v1, /healthz, /readyz, /metrics and a status page at /.

With an etcd store, several daemons elect a leader; only the leader acts,
the others serve reads and name the leader.

SIGTERM (or ^C) stops taking faults and leaves the failovers under way
journaled for the next Recover; SIGHUP reads the site file again and applies
it (an invalid file changes nothing).

Mutating calls need "Authorization: Bearer TOKEN": --token refers to the
token as the site refers to credentials (env:VAR or file:PATH, a path
relative to the site file). Without it (the default variable unset),
mutating calls are refused.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var h slog.Handler
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return &codeError{exitUsage, fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)}
			}
			switch logFormat {
			case "text":
				h = slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level})
			case "json":
				h = slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: level})
			default:
				return &codeError{exitUsage, fmt.Errorf("--log-format %q: want text or json", logFormat)}
			}
			if (tlsCert == "") != (tlsKey == "") {
				return &codeError{exitUsage, fmt.Errorf("--tls-cert and --tls-key go together")}
			}
			logger := slog.New(h)
			if !cmd.Flags().Changed("token") && a.getenv("COLDSTANDBY_TOKEN") == "" {
				token = ""
				logger.Warn("no token: mutating calls are refused (set COLDSTANDBY_TOKEN or --token)")
			}

			s, err := a.load()
			if err != nil {
				return err
			}
			st, closeStore, err := s.OpenStore(ctx, a.reg, a.buildOpts()...)
			if err != nil {
				return err
			}
			defer closeStore()
			cfg := daemon.Config{
				SitePath: a.path(), Registry: a.reg, BuildOptions: a.buildOpts(), Store: st,
				Name: name, TokenRef: token, EventSecretRef: eventSecret, EventSecretHeader: eventHeader,
				Logger: logger, Version: version(), WatchInterval: watch, RecoverInterval: recoverEvery, DrainTimeout: drain,
			}
			if es, ok := st.(*etcdstore.Store); ok {
				cfg.Name = cmp.Or(cfg.Name, hostname())
				el, err := etcdstore.NewElector(es, cfg.Name, etcdstore.WithLeaseTTL(leaseTTL))
				if err != nil {
					return err
				}
				cfg.Elector = el
			}
			d, err := daemon.New(ctx, cfg)
			if err != nil {
				return err
			}
			defer d.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			if tlsCert != "" {
				cert, err := tls.LoadX509KeyPair(tlsCert, tlsKey)
				if err != nil {
					ln.Close()
					return &codeError{exitInvalid, fmt.Errorf("TLS: %w", err)}
				}
				ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
			}
			sigs := a.signals
			if sigs == nil {
				sigs = notifySignals
			}
			ch, stop := sigs()
			defer stop()
			return d.Serve(ctx, ln, ch)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "address of the HTTP API, metrics and status page")
	f.StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	f.StringVar(&tlsKey, "tls-key", "", "the certificate's private key (PEM)")
	f.StringVar(&token, "token", "env:COLDSTANDBY_TOKEN", "the bearer token of mutating calls: env:VAR or file:PATH (at least 16 bytes)")
	f.StringVar(&eventSecret, "event-secret", "", "turn on the Redfish event receiver with this shared secret: env:VAR or file:PATH")
	f.StringVar(&eventHeader, "event-secret-header", "X-Event-Secret", "the header BMCs send the event secret in")
	f.StringVar(&name, "name", "", "this instance's name in the API, the logs and the election (default: the host name)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.DurationVar(&watch, "watch-interval", bmc.DefaultWatchInterval, "how often each BMC's event log is read")
	f.DurationVar(&recoverEvery, "recover-interval", time.Minute, "how often the leader runs Recover again")
	f.DurationVar(&drain, "drain-timeout", 30*time.Second, "how long a stopping daemon waits for its failovers to reach a journaled step")
	f.IntVar(&leaseTTL, "lease-ttl", etcdstore.DefaultLeaseTTL, "etcd only: the leader's lease in seconds (how long a dead leader keeps the others waiting)")
	return cmd
}

func hostname() string {
	h, _ := os.Hostname()
	return cmp.Or(h, "coldstandby")
}
