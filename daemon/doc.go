// Package daemon is coldstandby's reference service, what `coldstandby
// serve` runs: it opens nothing itself but wires, from a site file, the
// Orchestrator, the BMC watcher, the Redfish event receiver, leader
// election and Recover, and serves an HTTP API, Prometheus metrics and
// a status page.
//
// Who imports it: programs that want the service inside their own
// process (mount Handler on their server, call Run), and the coldstandby
// command. It imports no driver: the caller gives a site.Registry
// (drivers/builtin.Registry()), the opened store and, for several
// instances on etcd, an Elector (drivers/etcdstore.Elector).
//
//	s, _ := site.Load("site.yaml")
//	st, closeStore, _ := s.OpenStore(ctx, builtin.Registry())
//	defer closeStore()
//	d, err := daemon.New(ctx, daemon.Config{SitePath: "site.yaml", Registry: builtin.Registry(),
//		Store: st, TokenRef: "env:COLDSTANDBY_TOKEN", Logger: logger})
//	if err != nil { ... }
//	defer d.Close()
//	ln, _ := net.Listen("tcp", "127.0.0.1:8080")
//	sig := make(chan os.Signal, 1)
//	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
//	err = d.Serve(ctx, ln, sig) // until SIGTERM; SIGHUP reloads
//
// # What it does
//
// New loads and validates the site, applies it to an empty store and
// builds its drivers. Run leads (at once without an Elector; while
// elected with one): it builds the Orchestrator on the term's store
// (fenced: a deposed leader cannot act), runs Recover first, polls every
// server's BMC event log (bmc.Watcher) and takes Redfish event pushes,
// hands each fault to the Orchestrator, and runs Recover again every
// RecoverInterval. A follower serves the read-only API and names the
// leader; its mutating calls and event pushes get 503.
//
// Stopping (SIGTERM, or Run's context): the daemon stops taking faults
// (503), cancels its failovers, which stop at their next step with their
// journals open, waits for them (DrainTimeout) and returns; the next
// Recover (this daemon restarted, or the next leader) finishes them in
// the same journals. A fault still waiting for its after-delay action
// when the daemon stops was never journaled: it is logged ("fault not
// handled: deliver it again") and shown as not-handled.
//
// Reloading (SIGHUP, POST /v1/reload): see Reload. An invalid site file
// changes nothing.
//
// # HTTP API
//
// JSON in and out; errors are {"error", "status"} with a 4xx for every
// bad input: 400 malformed JSON, an unknown field, trailing data or a bad
// query parameter or path ID; 401 no or a wrong bearer token; 403
// mutating calls disabled (no token configured); 404 an unknown path,
// server, failover or fault; 405 another method (Allow says which); 409
// a conflict (a server in use, an apply refused); 413 a body over 64 KiB;
// 415 not application/json; 422 a fault or failback that fails
// validation, an invalid site file on reload (with its problems). 503
// says this daemon does not lead (the body names the leader) or is
// stopping; 502 a device or store that failed.
//
//	GET  /healthz                       the process answers
//	GET  /readyz                        the store answers, a leader is known, not stopping (else 503)
//	GET  /metrics                       Prometheus metrics (package failover/metrics lists them)
//	GET  /v1/status                     this instance: leader, recovering, watched BMCs, ...
//	GET  /v1/servers                    the server table (state, workload, priority, where it runs now)
//	GET  /v1/servers/{id}               one server and its whole record
//	POST /v1/servers/{id}/mark-standby  return a repaired server to the standby pool
//	GET  /v1/failovers?limit=&unfinished=  failovers, newest first: plan, steps with times, outcome
//	GET  /v1/failovers/{id}             one failover and its journal
//	GET  /v1/coverage                   which active servers have a spare, per hardware class
//	POST /v1/faults                     a fault notification: {"server", "type", "detail", "time", "id"}
//	GET  /v1/faults, /v1/faults/{id}    faults taken recently, and what became of them
//	POST /v1/failbacks                  {"server": HOME}: move HOME's workload back to it
//	POST /v1/reload                     read the site file again and apply it
//	POST /events/redfish                Redfish EventService pushes (with EventSecret)
//	GET  /                              the status page
//
// POST calls need "Authorization: Bearer TOKEN" (Config.Token). POST
// /v1/faults is validated, deduplicated (the same "id", or the same
// server and type while the first is handled, get the first answer,
// marked duplicate) and answered 202 with the ID of the failover that
// handles it, or 200 with the outcome when none starts (reported,
// absorbed, deferred, cancelled, refused); a fault whose fate is not
// known within AcceptWait gets 202 with its state (queued, waiting), to
// follow at GET /v1/faults/{id}. POST /v1/failbacks answers 202 with the
// failback's failover ID.
//
// # Logs
//
// With a JSON handler (--log-format json) every line is one JSON object.
// The Orchestrator's events are logged by LogEvents: one line per fault,
// plan, step finished or failed (with the error) and outcome, each with
// the failover ID under "failover".
//
// # Status page
//
// GET / serves a page embedded in the binary (no external assets; a
// Content-Security-Policy allows nothing else) that shows the server
// table, coverage per hardware class and the recent failovers with their
// step timelines, and reloads its data every PageRefresh. It is laid out
// for phones too.
package daemon
