package bmctest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/bmc"
	"github.com/coldstandby/coldstandby/internal/conformance"
)

// Limits the suite holds drivers to.
const (
	// shutdownWithin is how long a cooperative OS may take to go off
	// after Shutdown.
	shutdownWithin = 10 * time.Second
	// workers is the number of goroutines of the concurrency tests; fewer
	// than the other suites' 8, because each BMC call of a real driver can
	// be a subprocess or an HTTPS session and one server is shared.
	workers = 4
)

// Run runs the conformance suite against the driver that newHarness
// builds. newHarness is called whenever a test needs a fresh server and
// must return a fresh harness (or stop the test with t.Fatal or t.Skip).
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	s := &suite{newHarness: newHarness}
	t.Run("PowerState", s.testPowerState)
	t.Run("PowerOn", s.testPowerOn)
	t.Run("PowerOff", s.testPowerOff)
	t.Run("Shutdown", s.testShutdown)
	t.Run("NMI", s.testNMI)
	t.Run("SetBootDevice", s.testSetBootDevice)
	t.Run("Events", s.testEvents)
	t.Run("DumpInProgress", s.testDumpInProgress)
	t.Run("PowerRestorePolicy", s.testPowerRestorePolicy)
	t.Run("TransientFailure", s.testTransient)
	t.Run("Context", s.testContext)
	t.Run("Concurrency", s.testConcurrency)
}

type suite struct {
	newHarness func(t *testing.T) Harness
}

// setup makes a harness and its driver with the server in state.
func (s *suite) setup(t *testing.T, state bmc.PowerState) (Harness, bmc.BMC) {
	t.Helper()
	h := s.newHarness(t)
	d, err := h.MakeBMC(t.Context())
	if err != nil {
		t.Fatalf("harness: MakeBMC: %v", err)
	}
	if d == nil {
		t.Fatal("harness: MakeBMC returned a nil BMC")
	}
	if state != "" {
		setPower(t, h, state)
	}
	return h, d
}

func setPower(t *testing.T, h Harness, state bmc.PowerState) {
	t.Helper()
	if err := h.SetPower(t.Context(), state); err != nil {
		t.Fatalf("harness: SetPower(%s): %v", state, err)
	}
}

// wantPower checks the server's real power state through the harness.
func wantPower(t *testing.T, h Harness, want bmc.PowerState, after string) {
	t.Helper()
	got, err := h.Power(t.Context())
	if err != nil {
		t.Fatalf("harness: Power: %v", err)
	}
	if got != want {
		t.Errorf("after %s the server is %s, want %s", after, got, want)
	}
}

// wantDriverPower checks the power state the driver reports.
func wantDriverPower(t *testing.T, d bmc.BMC, want bmc.PowerState) {
	t.Helper()
	got, err := d.PowerState(t.Context())
	if err != nil {
		t.Fatalf("PowerState: %v", err)
	}
	if got != want {
		t.Errorf("PowerState = %q, want %q", got, want)
	}
}

func (s *suite) testPowerState(t *testing.T) {
	// One server for both: only its power state changes.
	h, d := s.setup(t, "")
	for _, state := range []bmc.PowerState{bmc.PowerOn, bmc.PowerOff} {
		t.Run("reports_"+string(state), func(t *testing.T) {
			setPower(t, h, state)
			wantDriverPower(t, d, state)
		})
	}
}

func (s *suite) testPowerOn(t *testing.T) {
	// One server for the group: each subtest sets the power state it
	// starts from.
	h, d := s.setup(t, "")
	t.Run("turns_an_off_server_on", func(t *testing.T) {
		setPower(t, h, bmc.PowerOff)
		if err := d.PowerOn(t.Context()); err != nil {
			t.Fatalf("PowerOn: %v", err)
		}
		wantPower(t, h, bmc.PowerOn, "PowerOn returned")
		wantDriverPower(t, d, bmc.PowerOn)
	})
	t.Run("twice_is_once", func(t *testing.T) {
		setPower(t, h, bmc.PowerOff)
		for i := range 2 {
			if err := d.PowerOn(t.Context()); err != nil {
				t.Fatalf("PowerOn #%d: %v", i+1, err)
			}
		}
		wantPower(t, h, bmc.PowerOn, "PowerOn twice")
	})
	t.Run("already_on_returns_nil", func(t *testing.T) {
		setPower(t, h, bmc.PowerOn)
		if err := d.PowerOn(t.Context()); err != nil {
			t.Fatalf("PowerOn on a server that is on: %v, want nil", err)
		}
		wantPower(t, h, bmc.PowerOn, "PowerOn")
	})
}

func (s *suite) testPowerOff(t *testing.T) {
	// One server for the group: each subtest sets the power state it
	// starts from.
	h, d := s.setup(t, "")
	t.Run("turns_an_on_server_off", func(t *testing.T) {
		setPower(t, h, bmc.PowerOn)
		if err := d.PowerOff(t.Context()); err != nil {
			t.Fatalf("PowerOff: %v", err)
		}
		wantPower(t, h, bmc.PowerOff, "PowerOff returned")
		wantDriverPower(t, d, bmc.PowerOff)
	})
	t.Run("twice_is_once", func(t *testing.T) {
		setPower(t, h, bmc.PowerOn)
		for i := range 2 {
			if err := d.PowerOff(t.Context()); err != nil {
				t.Fatalf("PowerOff #%d: %v", i+1, err)
			}
		}
		wantPower(t, h, bmc.PowerOff, "PowerOff twice")
	})
	t.Run("already_off_returns_nil", func(t *testing.T) {
		setPower(t, h, bmc.PowerOff)
		if err := d.PowerOff(t.Context()); err != nil {
			t.Fatalf("PowerOff on a server that is off: %v, want nil", err)
		}
		wantPower(t, h, bmc.PowerOff, "PowerOff")
	})
}

// waitPower polls the server's real power state until it is want or the
// time is up, and reports whether it got there.
func waitPower(t *testing.T, h Harness, want bmc.PowerState, within time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, err := h.Power(t.Context())
		if err != nil {
			t.Fatalf("harness: Power: %v", err)
		}
		if got == want {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *suite) testShutdown(t *testing.T) {
	// One server for the group: each subtest sets the power state it
	// starts from.
	h, d := s.setup(t, "")
	t.Run("cooperative_OS_goes_off", func(t *testing.T) {
		setPower(t, h, bmc.PowerOn)
		if err := d.Shutdown(t.Context()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if !waitPower(t, h, bmc.PowerOff, shutdownWithin) {
			t.Fatalf("server still not off %v after Shutdown (the harness's OS honours graceful shutdown)", shutdownWithin)
		}
		wantDriverPower(t, d, bmc.PowerOff)
	})
	t.Run("twice_is_once", func(t *testing.T) {
		setPower(t, h, bmc.PowerOn)
		for i := range 2 {
			if err := d.Shutdown(t.Context()); err != nil {
				t.Fatalf("Shutdown #%d: %v", i+1, err)
			}
		}
		if !waitPower(t, h, bmc.PowerOff, shutdownWithin) {
			t.Fatalf("server still not off %v after Shutdown", shutdownWithin)
		}
	})
	t.Run("already_off_returns_nil", func(t *testing.T) {
		setPower(t, h, bmc.PowerOff)
		if err := d.Shutdown(t.Context()); err != nil {
			t.Fatalf("Shutdown on a server that is off: %v, want nil", err)
		}
		wantPower(t, h, bmc.PowerOff, "Shutdown")
	})
	t.Run("ignored_by_OS_then_PowerOff", func(t *testing.T) {
		if _, ok := h.(ShutdownIgnorer); !ok {
			t.Skip("harness cannot make the OS ignore shutdown (no bmctest.ShutdownIgnorer)")
		}
		// A server of its own: an OS that ignores shutdown stays so.
		h, d := s.setup(t, bmc.PowerOn)
		ig := h.(ShutdownIgnorer)
		if err := ig.IgnoreShutdown(t.Context()); err != nil {
			t.Fatalf("harness: IgnoreShutdown: %v", err)
		}
		if err := d.Shutdown(t.Context()); err != nil {
			t.Fatalf("Shutdown ignored by the OS: %v, want nil (it only delivers the request)", err)
		}
		time.Sleep(200 * time.Millisecond)
		wantPower(t, h, bmc.PowerOn, "a Shutdown the OS ignored")
		if err := d.PowerOff(t.Context()); err != nil {
			t.Fatalf("PowerOff after ignored Shutdown: %v", err)
		}
		wantPower(t, h, bmc.PowerOff, "PowerOff")
	})
}

func (s *suite) testNMI(t *testing.T) {
	// One server for the group: each subtest sets the power state it
	// starts from.
	h, d := s.setup(t, "")
	supported := true
	t.Run("server_on_nil_or_unsupported", func(t *testing.T) {
		setPower(t, h, bmc.PowerOn)
		err := d.NMI(t.Context())
		switch {
		case err == nil:
		case errors.Is(err, bmc.ErrUnsupported):
			supported = false
			t.Logf("NMI unsupported: %v", err)
		default:
			t.Fatalf("NMI on a server that is on: %v, want nil or ErrUnsupported", err)
		}
		if p, err := h.Power(t.Context()); err != nil || p == bmc.PowerUnknown {
			t.Errorf("after NMI the harness reads power %q, %v", p, err)
		}
	})
	t.Run("server_off_is_conflict", func(t *testing.T) {
		setPower(t, h, bmc.PowerOff)
		err := d.NMI(t.Context())
		switch {
		case errors.Is(err, bmc.ErrConflict):
		case !supported && errors.Is(err, bmc.ErrUnsupported):
		default:
			t.Errorf("NMI on a server that is off: %v, want ErrConflict", err)
		}
		wantPower(t, h, bmc.PowerOff, "NMI")
	})
}

func (s *suite) testSetBootDevice(t *testing.T) {
	type setting struct {
		dev        bmc.BootDevice
		persistent bool
	}
	check := func(t *testing.T, h Harness, want setting) {
		t.Helper()
		r, ok := h.(BootDeviceReader)
		if !ok {
			return
		}
		dev, p, err := r.BootDevice(t.Context())
		if err != nil {
			t.Fatalf("harness: BootDevice: %v", err)
		}
		if dev != want.dev || p != want.persistent {
			t.Errorf("server boots next from %s (persistent %v), want %s (persistent %v)", dev, p, want.dev, want.persistent)
		}
	}
	// One server for all: each subtest sets the boot device it checks.
	h, d := s.setup(t, bmc.PowerOff)
	for _, c := range []setting{{bmc.BootDisk, true}, {bmc.BootPXE, false}, {bmc.BootDisk, false}} {
		t.Run(fmt.Sprintf("%s_persistent_%v_twice_is_once", c.dev, c.persistent), func(t *testing.T) {
			for i := range 2 {
				err := d.SetBootDevice(t.Context(), c.dev, c.persistent)
				if c.dev == bmc.BootPXE && errors.Is(err, bmc.ErrUnsupported) {
					t.Skipf("BMC cannot select %s: %v", c.dev, err)
				}
				if err != nil {
					t.Fatalf("SetBootDevice(%s, %v) #%d: %v", c.dev, c.persistent, i+1, err)
				}
				check(t, h, c)
			}
		})
	}
	t.Run("unknown_device_is_invalid", func(t *testing.T) {
		if err := d.SetBootDevice(t.Context(), bmc.BootDisk, true); err != nil {
			t.Fatalf("SetBootDevice(disk): %v", err)
		}
		for _, dev := range []bmc.BootDevice{"", "floppy", "DISK "} {
			if err := d.SetBootDevice(t.Context(), dev, false); !errors.Is(err, bmc.ErrInvalid) {
				t.Errorf("SetBootDevice(%q): %v, want ErrInvalid", dev, err)
			}
		}
		check(t, h, setting{bmc.BootDisk, true})
	})
}

func (s *suite) testEvents(t *testing.T) {
	t.Run("cursor_unchanged_without_new_records", func(t *testing.T) {
		_, d := s.setup(t, "")
		evs, cur, err := d.Events(t.Context(), "")
		if err != nil {
			t.Fatalf(`Events(""): %v`, err)
		}
		checkEvents(t, evs)
		evs, next, err := d.Events(t.Context(), cur)
		if err != nil {
			t.Fatalf("Events(%q): %v", cur, err)
		}
		if len(evs) != 0 || next != cur {
			t.Errorf("Events(%q) with no new records = %d records, cursor %q; want none and the same cursor", cur, len(evs), next)
		}
	})
	t.Run("new_records_oldest_first", func(t *testing.T) {
		h, d := s.setup(t, "")
		el := eventLogger(t, h)
		_, cur, err := d.Events(t.Context(), "")
		if err != nil {
			t.Fatalf(`Events(""): %v`, err)
		}
		addEvents(t, el, 1)
		evs, cur1, err := d.Events(t.Context(), cur)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		if len(evs) != 1 || cur1 == cur {
			t.Fatalf("after one new record Events(%q) = %d records, cursor %q; want 1 and a new cursor", cur, len(evs), cur1)
		}
		checkEvents(t, evs)
		addEvents(t, el, 2)
		evs2, cur2, err := d.Events(t.Context(), cur1)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		if len(evs2) != 2 || cur2 == cur1 {
			t.Fatalf("after two new records Events(%q) = %d records, cursor %q; want 2 and a new cursor", cur1, len(evs2), cur2)
		}
		checkEvents(t, evs2)
		if evs2[0].ID == evs[0].ID || evs2[1].ID == evs[0].ID {
			t.Errorf("Events returned record %q again", evs[0].ID)
		}
		// From the beginning: everything, the three new records last.
		all, _, err := d.Events(t.Context(), "")
		if err != nil {
			t.Fatalf(`Events(""): %v`, err)
		}
		var ids []string
		for _, e := range all {
			ids = append(ids, e.ID)
		}
		want := []string{evs[0].ID, evs2[0].ID, evs2[1].ID}
		if len(ids) < 3 || !slices.Equal(ids[len(ids)-3:], want) {
			t.Errorf(`Events("") ids = %v, want them to end with %v (oldest first)`, ids, want)
		}
	})
	t.Run("cleared_log_restarts_from_beginning", func(t *testing.T) {
		h, d := s.setup(t, "")
		el := eventLogger(t, h)
		addEvents(t, el, 3)
		_, cur, err := d.Events(t.Context(), "")
		if err != nil {
			t.Fatalf(`Events(""): %v`, err)
		}
		if err := el.ClearEvents(t.Context()); err != nil {
			t.Fatalf("harness: ClearEvents: %v", err)
		}
		addEvents(t, el, 1)
		evs, _, err := d.Events(t.Context(), cur)
		if err != nil {
			t.Fatalf("Events(%q) after the log was cleared: %v, want the new records", cur, err)
		}
		if len(evs) == 0 {
			t.Errorf("Events(%q) after the log was cleared and one record added: none, want it", cur)
		}
		checkEvents(t, evs)
	})
}

func eventLogger(t *testing.T, h Harness) EventLogger {
	t.Helper()
	el, ok := h.(EventLogger)
	if !ok {
		t.Skip("harness cannot write the event log (no bmctest.EventLogger)")
	}
	return el
}

func addEvents(t *testing.T, el EventLogger, n int) {
	t.Helper()
	for range n {
		if err := el.AddEvent(t.Context()); err != nil {
			t.Fatalf("harness: AddEvent: %v", err)
		}
	}
}

// checkEvents checks what every record must have: an ID unique in the
// batch, and times that do not go backwards.
func checkEvents(t *testing.T, evs []bmc.Event) {
	t.Helper()
	seen := map[string]bool{}
	var last time.Time
	for i, e := range evs {
		if e.ID == "" {
			t.Errorf("record %d has no ID", i)
		}
		if seen[e.ID] {
			t.Errorf("record ID %q appears twice", e.ID)
		}
		seen[e.ID] = true
		if !e.Time.IsZero() {
			if e.Time.Before(last) {
				t.Errorf("record %q at %v is older than the one before it (%v): want oldest first", e.ID, e.Time, last)
			}
			last = e.Time
		}
	}
}

func (s *suite) testDumpInProgress(t *testing.T) {
	t.Run("fresh_server_is_not_dumping", func(t *testing.T) {
		_, d := s.setup(t, bmc.PowerOn)
		dr, ok := d.(bmc.DumpReporter)
		if !ok {
			t.Skip("driver does not implement the optional bmc.DumpReporter")
		}
		dumping, err := dr.DumpInProgress(t.Context())
		if err != nil {
			t.Fatalf("DumpInProgress: %v", err)
		}
		if dumping {
			t.Errorf("DumpInProgress on a server that got no NMI = true, want false")
		}
	})
}

func (s *suite) testTransient(t *testing.T) {
	t.Run("failed_request_changes_nothing_and_retry_succeeds", func(t *testing.T) {
		h, d := s.setup(t, bmc.PowerOff)
		f, ok := h.(TransientFailer)
		if !ok {
			t.Skip("harness cannot make a request fail (no bmctest.TransientFailer)")
		}
		if err := f.FailNext(t.Context()); err != nil {
			t.Fatalf("harness: FailNext: %v", err)
		}
		if err := d.PowerOn(t.Context()); !errors.Is(err, bmc.ErrTransient) {
			t.Fatalf("PowerOn with the BMC failing: %v, want ErrTransient", err)
		}
		wantPower(t, h, bmc.PowerOff, "a PowerOn that failed")
		if err := d.PowerOn(t.Context()); err != nil {
			t.Fatalf("PowerOn retried: %v", err)
		}
		wantPower(t, h, bmc.PowerOn, "PowerOn retried")
	})
}

// doneContexts returns a cancelled context and one whose deadline has
// passed, with the error each must produce.
func doneContexts(t *testing.T) []struct {
	name string
	ctx  context.Context
	want error
} {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	t.Cleanup(cancel2)
	return []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"deadline_exceeded", expired, context.DeadlineExceeded},
	}
}

func (s *suite) testContext(t *testing.T) {
	t.Run("cancelled_mid_request_PowerOn", func(t *testing.T) {
		h, d := s.setup(t, bmc.PowerOff)
		st, ok := h.(Staller)
		if !ok {
			t.Skip("harness cannot hold a request (no bmctest.Staller)")
		}
		if conformance.CancelMidRequest(t, st, "PowerOn", d.PowerOn) {
			wantPower(t, h, bmc.PowerOff, "a PowerOn cancelled mid-request without ErrOutcomeUnknown")
		}
	})
	for _, dc := range doneContexts(t) {
		t.Run(dc.name, func(t *testing.T) {
			// One server for all: each subtest sets the power state
			// it starts from.
			h, d := s.setup(t, "")
			t.Run("reads", func(t *testing.T) {
				setPower(t, h, bmc.PowerOn)
				conformance.CheckDone(t, "PowerState", dc.want, func() error {
					_, err := d.PowerState(dc.ctx)
					return err
				})
				conformance.CheckDone(t, "Events", dc.want, func() error {
					_, _, err := d.Events(dc.ctx, "")
					return err
				})
				if dr, ok := d.(bmc.DumpReporter); ok {
					conformance.CheckDone(t, "DumpInProgress", dc.want, func() error {
						_, err := dr.DumpInProgress(dc.ctx)
						return err
					})
				}
				if pr, ok := d.(bmc.PowerRestorer); ok {
					conformance.CheckDone(t, "PowerRestorePolicy", dc.want, func() error {
						_, err := pr.PowerRestorePolicy(dc.ctx)
						return err
					})
				}
			})
			t.Run("SetPowerRestorePolicy_changes_nothing", func(t *testing.T) {
				pr, ok := d.(bmc.PowerRestorer)
				if !ok {
					t.Skip("driver does not implement the optional bmc.PowerRestorer")
				}
				before := restorePolicy(t, pr)
				for _, p := range restorePolicies {
					if p == before {
						continue
					}
					if conformance.CheckDone(t, "SetPowerRestorePolicy", dc.want, func() error {
						return pr.SetPowerRestorePolicy(dc.ctx, p)
					}) {
						return // the outcome is unknown: nothing to compare
					}
					wantRestorePolicy(t, h, pr, before, "a SetPowerRestorePolicy with a done context")
				}
			})
			t.Run("PowerOn_changes_nothing", func(t *testing.T) {
				setPower(t, h, bmc.PowerOff)
				if !conformance.CheckDone(t, "PowerOn", dc.want, func() error { return d.PowerOn(dc.ctx) }) {
					wantPower(t, h, bmc.PowerOff, "a PowerOn with a done context")
				}
			})
			t.Run("PowerOff_changes_nothing", func(t *testing.T) {
				setPower(t, h, bmc.PowerOn)
				if !conformance.CheckDone(t, "PowerOff", dc.want, func() error { return d.PowerOff(dc.ctx) }) {
					wantPower(t, h, bmc.PowerOn, "a PowerOff with a done context")
				}
			})
			t.Run("Shutdown_changes_nothing", func(t *testing.T) {
				setPower(t, h, bmc.PowerOn)
				if !conformance.CheckDone(t, "Shutdown", dc.want, func() error { return d.Shutdown(dc.ctx) }) {
					time.Sleep(100 * time.Millisecond)
					wantPower(t, h, bmc.PowerOn, "a Shutdown with a done context")
				}
			})
			t.Run("NMI", func(t *testing.T) {
				setPower(t, h, bmc.PowerOn)
				conformance.CheckDone(t, "NMI", dc.want, func() error { return d.NMI(dc.ctx) })
			})
			t.Run("SetBootDevice_changes_nothing", func(t *testing.T) {
				setPower(t, h, bmc.PowerOff)
				if err := d.SetBootDevice(t.Context(), bmc.BootDisk, true); err != nil {
					t.Fatalf("SetBootDevice: %v", err)
				}
				unknown := conformance.CheckDone(t, "SetBootDevice", dc.want, func() error {
					return d.SetBootDevice(dc.ctx, bmc.BootDisk, false)
				})
				if r, ok := h.(BootDeviceReader); ok && !unknown {
					dev, p, err := r.BootDevice(t.Context())
					if err != nil {
						t.Fatalf("harness: BootDevice: %v", err)
					}
					if dev != bmc.BootDisk || !p {
						t.Errorf("a SetBootDevice with a done context changed the boot device to %s (persistent %v)", dev, p)
					}
				}
			})
		})
	}
}

func (s *suite) testConcurrency(t *testing.T) {
	// One server for the group: each subtest sets the power state it
	// starts from.
	h, d := s.setup(t, "")
	t.Run("parallel_PowerOn_then_PowerOff", func(t *testing.T) {
		setPower(t, h, bmc.PowerOff)
		parallel(t, "PowerOn", func(int) error { return d.PowerOn(t.Context()) })
		wantPower(t, h, bmc.PowerOn, fmt.Sprintf("%d parallel PowerOn", workers))
		parallel(t, "PowerOff", func(int) error { return d.PowerOff(t.Context()) })
		wantPower(t, h, bmc.PowerOff, fmt.Sprintf("%d parallel PowerOff", workers))
	})
	t.Run("parallel_reads_and_settings", func(t *testing.T) {
		setPower(t, h, bmc.PowerOn)
		parallel(t, "mixed", func(i int) error {
			switch i % 3 {
			case 0:
				p, err := d.PowerState(t.Context())
				if err == nil && p != bmc.PowerOn {
					err = fmt.Errorf("PowerState = %s while the server is on", p)
				}
				return err
			case 1:
				_, _, err := d.Events(t.Context(), "")
				return err
			default:
				return d.SetBootDevice(t.Context(), bmc.BootDisk, true)
			}
		})
		wantPower(t, h, bmc.PowerOn, "parallel reads")
	})
}

// parallel runs call on workers goroutines at once and fails the test with
// every error, in goroutine order.
func parallel(t *testing.T, what string, call func(i int) error) {
	t.Helper()
	for i, err := range conformance.Parallel(workers, call) {
		if err != nil {
			t.Errorf("%s from %d goroutines: goroutine %d: %v", what, workers, i, err)
		}
	}
}

// restorePolicies are the policies the suite sets.
var restorePolicies = []bmc.RestorePolicy{bmc.RestoreAlwaysOff, bmc.RestoreAlwaysOn, bmc.RestorePrevious}

func powerRestorer(t *testing.T, d bmc.BMC) bmc.PowerRestorer {
	t.Helper()
	pr, ok := d.(bmc.PowerRestorer)
	if !ok {
		t.Skip("driver does not implement the optional bmc.PowerRestorer")
	}
	return pr
}

// restorePolicy reads the policy through the driver.
func restorePolicy(t *testing.T, pr bmc.PowerRestorer) bmc.RestorePolicy {
	t.Helper()
	p, err := pr.PowerRestorePolicy(t.Context())
	if err != nil {
		t.Fatalf("PowerRestorePolicy: %v", err)
	}
	if p == "" {
		t.Fatal(`PowerRestorePolicy = "", want the policy the BMC reports`)
	}
	return p
}

// wantRestorePolicy checks the policy the driver reports and, with a
// RestorePolicyReader, the one the BMC holds.
func wantRestorePolicy(t *testing.T, h Harness, pr bmc.PowerRestorer, want bmc.RestorePolicy, after string) {
	t.Helper()
	if got := restorePolicy(t, pr); got != want {
		t.Errorf("after %s PowerRestorePolicy = %q, want %q", after, got, want)
	}
	if r, ok := h.(RestorePolicyReader); ok {
		got, err := r.RestorePolicy(t.Context())
		if err != nil {
			t.Fatalf("harness: RestorePolicy: %v", err)
		}
		if got != want {
			t.Errorf("after %s the BMC's policy is %q, want %q", after, got, want)
		}
	}
}

func (s *suite) testPowerRestorePolicy(t *testing.T) {
	// One server for the group: each subtest starts from the policy the
	// one before left.
	h, d := s.setup(t, bmc.PowerOff)
	pr := powerRestorer(t, d)
	t.Run("reads_what_the_BMC_holds", func(t *testing.T) {
		p := restorePolicy(t, pr)
		wantRestorePolicy(t, h, pr, p, "reading it")
	})
	t.Run("setting_the_current_policy_returns_nil", func(t *testing.T) {
		p := restorePolicy(t, pr)
		for i := range 2 {
			if err := pr.SetPowerRestorePolicy(t.Context(), p); err != nil {
				t.Fatalf("SetPowerRestorePolicy(%q) #%d, the current policy: %v, want nil", p, i+1, err)
			}
		}
		wantRestorePolicy(t, h, pr, p, "setting the current policy")
	})
	t.Run("sets_each_policy_twice_is_once", func(t *testing.T) {
		accepted := 0
		for _, p := range restorePolicies {
			before := restorePolicy(t, pr)
			err := pr.SetPowerRestorePolicy(t.Context(), p)
			switch {
			case err == nil:
				accepted++
				if err := pr.SetPowerRestorePolicy(t.Context(), p); err != nil {
					t.Errorf("SetPowerRestorePolicy(%q) again: %v, want nil", p, err)
				}
				wantRestorePolicy(t, h, pr, p, fmt.Sprintf("SetPowerRestorePolicy(%q)", p))
			case errors.Is(err, bmc.ErrUnsupported):
				t.Logf("the BMC refuses %q: %v", p, err)
				wantRestorePolicy(t, h, pr, before, fmt.Sprintf("a refused SetPowerRestorePolicy(%q)", p))
			default:
				t.Errorf("SetPowerRestorePolicy(%q): %v, want nil or ErrUnsupported", p, err)
			}
		}
		t.Logf("%d of %d policies accepted", accepted, len(restorePolicies))
	})
	t.Run("unknown_policy_is_invalid", func(t *testing.T) {
		before := restorePolicy(t, pr)
		for _, p := range []bmc.RestorePolicy{"", "AlwaysOff", "off", "always-off ", "last-state"} {
			if err := pr.SetPowerRestorePolicy(t.Context(), p); !errors.Is(err, bmc.ErrInvalid) {
				t.Errorf("SetPowerRestorePolicy(%q): %v, want ErrInvalid", p, err)
			}
		}
		wantRestorePolicy(t, h, pr, before, "invalid SetPowerRestorePolicy calls")
	})
}
