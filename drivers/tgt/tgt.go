// Package tgt is a storage.DiskMapper for the Linux SCSI target framework
// (tgtd, Debian package tgt), driven through its tgtadm command.
//
// Import it to wire a tgt-served iSCSI SAN (labs, small sites, CI) into a
// coldstandby Orchestrator:
//
//	m, err := tgt.New(tgt.WithControlPort(0)) // the tgtd started without -C
//	if err != nil {
//		return err
//	}
//	// pass m wherever a storage.DiskMapper is wanted
//
// # Volumes
//
// A VolumeID is the target's iSCSI name and a data LUN number of that
// target, separated by a slash: "iqn.2026-11.org.example:boot-r1-01/1".
// The driver never creates or deletes targets or LUNs; it only binds and
// unbinds initiator names (tgtadm --op bind/unbind --initiator-name).
//
// # Masking model
//
// tgt controls access per target, not per LUN: an initiator whose name is
// bound to a target sees every LUN of that target, at the LUN numbers the
// target gives them. Therefore:
//
//   - Map(volume, initiators, lun) binds the initiators to the volume's
//     target. lun must equal the volume's LUN number in its target; any
//     other value is ErrConflict (tgt cannot renumber a LUN per host).
//   - When the target has more data LUNs, they become visible too, and
//     Unmap of any of them hides the whole target. Mappings always reports
//     exactly what an initiator can see.
//   - The contract's rule that a host sees each LUN number at most once
//     is enforced across targets: binding a target whose LUN numbers
//     collide with another target the initiator already sees is
//     ErrConflict.
//   - A target that also has address ACLs ("ALL", "10.0.0.0/8") admits
//     any initiator from those addresses, whatever its name. Masking by
//     name cannot isolate it, so Map refuses such targets (ErrConflict)
//     and Mappings does not count address ACLs.
//   - For the same reason Unmap refuses (ErrConflict, changing nothing)
//     to "hide" a volume of such a target: unbinding the names would not.
//   - Unmap also closes the live sessions (I_T nexuses) of the unmapped
//     initiators to the target, because tgt checks ACLs only at login.
//
// Initiator names are bound in their normalised (lower-case) form; RFC 3720
// section 3.2.6.2 makes iSCSI names case-insensitive and initiators send
// them lower-cased. Only iSCSI initiators can be mapped.
//
// tgtadm changes tgtd's running state only: a tgtd restarted from
// /etc/tgt/targets.conf comes back with the ACLs written there. Keep that
// file in step (tgt-admin --dump) or have the failover's journal re-apply
// the masking after a restart.
//
// Every call runs tgtadm once or a few times; calls of one Mapper are
// serialised so that the check and the bind of Map are atomic with respect
// to each other. Other tgtadm users are not coordinated with.
package tgt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coldstandby/coldstandby/storage"
)

var _ storage.DiskMapper = (*Mapper)(nil)

// MaxLUN is the highest host LUN number the storage contract allows.
const MaxLUN = 16383

// Mapper is a storage.DiskMapper for one tgtd. Make it with New; it is
// safe for concurrent use.
type Mapper struct {
	tgtadm  string
	control int // tgtd control port (-C); -1 for tgtadm's default
	log     *slog.Logger

	mu sync.Mutex // serialises every call that reads then writes
}

// Option configures a Mapper.
type Option func(*Mapper) error

// WithTgtadm sets the tgtadm program (a path or a name looked up in PATH).
// The default is "tgtadm".
func WithTgtadm(program string) Option {
	return func(m *Mapper) error {
		if program == "" {
			return fmt.Errorf("tgt: empty tgtadm program: %w", storage.ErrInvalid)
		}
		m.tgtadm = program
		return nil
	}
}

// WithControlPort selects the tgtd instance by its control port number,
// the N of `tgtd -C N` (tgtadm -C N). The default is tgtadm's own default,
// the daemon started without -C (port 0).
func WithControlPort(n int) Option {
	return func(m *Mapper) error {
		if n < 0 {
			return fmt.Errorf("tgt: control port %d: %w", n, storage.ErrInvalid)
		}
		m.control = n
		return nil
	}
}

// WithLogger sets the logger for debug records of each tgtadm run. The
// default discards.
func WithLogger(l *slog.Logger) Option {
	return func(m *Mapper) error {
		if l == nil {
			return fmt.Errorf("tgt: nil logger: %w", storage.ErrInvalid)
		}
		m.log = l
		return nil
	}
}

// New returns a Mapper. It fails when tgtadm cannot be found (install
// Debian package tgt); it does not contact tgtd, so it succeeds while tgtd
// is down, and each call then fails with ErrTransient.
func New(opts ...Option) (*Mapper, error) {
	m := &Mapper{
		tgtadm:  "tgtadm",
		control: -1,
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, err
		}
	}
	path, err := exec.LookPath(m.tgtadm)
	if err != nil {
		return nil, fmt.Errorf("tgt: %s not found (install Debian package tgt): %w", m.tgtadm, err)
	}
	m.tgtadm = path
	return m, nil
}

// ParseVolumeID splits a VolumeID into target name and LUN number. An
// error wraps storage.ErrNotFound: a malformed ID names no volume.
func ParseVolumeID(v storage.VolumeID) (targetName string, lunNum int, err error) {
	s := string(v)
	i := strings.LastIndexByte(s, '/')
	if i <= 0 || i == len(s)-1 {
		return "", 0, fmt.Errorf("tgt: volume %q: want TARGET-NAME/LUN: %w", s, storage.ErrNotFound)
	}
	n, perr := strconv.Atoi(s[i+1:])
	if perr != nil || n < 0 || n > MaxLUN {
		return "", 0, fmt.Errorf("tgt: volume %q: LUN %q is not a number in 0..%d: %w", s, s[i+1:], MaxLUN, storage.ErrNotFound)
	}
	return s[:i], n, nil
}

// Volume returns the VolumeID of LUN lunNum of the target named targetName.
func Volume(targetName string, lunNum int) storage.VolumeID {
	return storage.VolumeID(targetName + "/" + strconv.Itoa(lunNum))
}

// Mappings implements storage.DiskMapper: every data LUN of every target
// that one of initiators is bound to by name. Non-iSCSI initiators see
// nothing.
func (m *Mapper) Mappings(ctx context.Context, initiators []storage.Initiator) ([]storage.Mapping, error) {
	if err := checkInitiators(initiators, false); err != nil {
		return nil, fmt.Errorf("tgt: mappings: %w", err)
	}
	targets, err := m.show(ctx)
	if err != nil {
		return nil, fmt.Errorf("tgt: mappings of %s: %w", names(initiators), err)
	}
	want := map[storage.Initiator]bool{}
	for _, in := range initiators {
		want[in] = true
	}
	seen := map[storage.VolumeID]bool{}
	var out []storage.Mapping
	for i := range targets {
		t := &targets[i]
		if !boundAny(t, want) {
			continue
		}
		for _, n := range t.dataLUNs() {
			v := Volume(t.Name, n)
			if !seen[v] {
				seen[v] = true
				out = append(out, storage.Mapping{Volume: v, LUN: n})
			}
		}
	}
	sortMappings(out)
	return out, nil
}

// Map implements storage.DiskMapper by binding each initiator name to the
// volume's target. See the package doc for the rules tgt imposes.
func (m *Mapper) Map(ctx context.Context, volume storage.VolumeID, initiators []storage.Initiator, lunNum int) error {
	op := fmt.Sprintf("tgt: map %s to %s", volume, names(initiators))
	if lunNum < 0 || lunNum > MaxLUN {
		return fmt.Errorf("%s: LUN %d out of range 0..%d: %w", op, lunNum, MaxLUN, storage.ErrInvalid)
	}
	if err := checkInitiators(initiators, true); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	tname, vlun, err := ParseVolumeID(volume)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	targets, err := m.show(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	t := find(targets, tname)
	if t == nil || !t.hasDataLUN(vlun) {
		return fmt.Errorf("%s: no such target and LUN: %w", op, storage.ErrNotFound)
	}
	if lunNum != vlun {
		return fmt.Errorf("%s: target %s serves this volume as LUN %d, not %d (tgt LUN numbers are per target): %w",
			op, t.Name, vlun, lunNum, storage.ErrConflict)
	}
	if addr := addressACLs(t); len(addr) > 0 {
		return fmt.Errorf("%s: target %s also admits initiators by address (%s), so masking by name cannot isolate it: %w",
			op, t.Name, strings.Join(addr, ", "), storage.ErrConflict)
	}
	mine := t.dataLUNs()
	var toBind []storage.Initiator
	for _, in := range initiators {
		if bound(t, in) != "" {
			continue
		}
		for j := range targets {
			o := &targets[j]
			if o == t || bound(o, in) == "" {
				continue
			}
			for _, n := range o.dataLUNs() {
				if slices.Contains(mine, n) {
					return fmt.Errorf("%s: %s already sees %s at LUN %d: %w",
						op, in, Volume(o.Name, n), n, storage.ErrConflict)
				}
			}
		}
		if !slices.Contains(toBind, in) {
			toBind = append(toBind, in)
		}
	}
	for i, in := range toBind {
		if err := m.mutate(ctx, "target", "bind", t.TID, "--initiator-name", in.String()); err != nil {
			// Nothing may stay changed on error: undo the binds of this
			// call, under a context that survives the caller's.
			if undoErr := m.undoBinds(ctx, t.TID, toBind[:i]); undoErr != nil {
				return fmt.Errorf("%s: bind %s: %w (and undoing earlier binds failed: %v; outcome unknown)",
					op, in, errors.Join(err, storage.ErrOutcomeUnknown), undoErr)
			}
			return fmt.Errorf("%s: bind %s: %w", op, in, err)
		}
		m.log.DebugContext(ctx, "bound initiator", "driver", "tgt", "target", t.Name, "initiator", in.String())
	}
	return nil
}

func (m *Mapper) undoBinds(ctx context.Context, tid int, done []storage.Initiator) error {
	if len(done) == 0 {
		return nil
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	var errs []error
	for _, in := range done {
		if err := m.mutate(uctx, "target", "unbind", tid, "--initiator-name", in.String()); err != nil {
			errs = append(errs, fmt.Errorf("unbind %s: %w", in, err))
		}
	}
	return errors.Join(errs...)
}

// Unmap implements storage.DiskMapper by unbinding each initiator name
// from the volume's target and then closing the initiators' live sessions
// to that target. It hides every LUN of the target (see the package doc).
func (m *Mapper) Unmap(ctx context.Context, volume storage.VolumeID, initiators []storage.Initiator) error {
	op := fmt.Sprintf("tgt: unmap %s from %s", volume, names(initiators))
	if err := checkInitiators(initiators, false); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	tname, vlun, err := ParseVolumeID(volume)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	targets, err := m.show(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	t := find(targets, tname)
	if t == nil || !t.hasDataLUN(vlun) {
		return fmt.Errorf("%s: no such target and LUN: %w", op, storage.ErrNotFound)
	}
	if addr := addressACLs(t); len(addr) > 0 && slices.ContainsFunc(initiators, func(in storage.Initiator) bool { return in.Kind() == storage.ISCSI }) {
		// Unbinding the names would leave the initiators admitted by
		// address: the volume would stay visible while Unmap said nil.
		return fmt.Errorf("%s: target %s also admits initiators by address (%s), so unbinding names cannot hide it: %w",
			op, t.Name, strings.Join(addr, ", "), storage.ErrConflict)
	}
	drop := map[storage.Initiator]bool{}
	for _, in := range initiators {
		if in.Kind() != storage.ISCSI || drop[in] {
			continue
		}
		drop[in] = true
		// Unbind every spelling bound for this initiator (tgt compares
		// names byte-wise, so "IQN.X" and "iqn.x" may both be there).
		for _, acl := range t.ACLs {
			if a, err := storage.ParseIQN(acl); err == nil && a == in {
				if err := m.mutate(ctx, "target", "unbind", t.TID, "--initiator-name", acl); err != nil {
					return fmt.Errorf("%s: unbind %s: %w", op, acl, err)
				}
				m.log.DebugContext(ctx, "unbound initiator", "driver", "tgt", "target", t.Name, "initiator", acl)
			}
		}
	}
	for _, nx := range t.Nexuses {
		in, err := storage.ParseIQN(nx.Initiator)
		if err != nil || !drop[in] {
			continue
		}
		for _, cid := range nx.Connections {
			err := m.mutate(ctx, "conn", "delete", t.TID, "--sid", strconv.Itoa(nx.SID), "--cid", strconv.Itoa(cid))
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("%s: close session %d of %s: %w", op, nx.SID, in, err)
			}
			m.log.DebugContext(ctx, "closed session", "driver", "tgt", "target", t.Name, "initiator", in.String(), "sid", nx.SID)
		}
	}
	return nil
}

// show runs `tgtadm --op show` and parses it.
func (m *Mapper) show(ctx context.Context) ([]target, error) {
	out, err := m.run(ctx, false, "--lld", "iscsi", "--mode", "target", "--op", "show")
	if err != nil {
		return nil, err
	}
	ts, err := parseShow(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("parse tgtadm show output: %v: %w", err, storage.ErrTransient)
	}
	return ts, nil
}

// mutate runs a changing tgtadm operation on target tid.
func (m *Mapper) mutate(ctx context.Context, mode, op string, tid int, extra ...string) error {
	args := append([]string{"--lld", "iscsi", "--mode", mode, "--op", op, "--tid", strconv.Itoa(tid)}, extra...)
	_, err := m.run(ctx, true, args...)
	return err
}

// run executes tgtadm and classifies its failure. A mutation whose
// process was started and then killed by ctx wraps ErrOutcomeUnknown.
func (m *Mapper) run(ctx context.Context, mutation bool, args ...string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.control >= 0 {
		args = append([]string{"-C", strconv.Itoa(m.control)}, args...)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, m.tgtadm, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// After ctx kills tgtadm, do not wait for children that may hold
	// its output open (a wrapper script, a hung helper).
	cmd.WaitDelay = 250 * time.Millisecond
	err := cmd.Run()
	m.log.DebugContext(ctx, "tgtadm", "driver", "tgt", "args", args, "err", err)
	if err == nil {
		return stdout.Bytes(), nil
	}
	if cerr := ctx.Err(); cerr != nil {
		if mutation && cmd.Process != nil {
			return nil, fmt.Errorf("tgtadm %s interrupted: %w", strings.Join(args, " "), errors.Join(cerr, storage.ErrOutcomeUnknown))
		}
		return nil, fmt.Errorf("tgtadm interrupted: %w", cerr)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		// The program could not be started at all.
		return nil, fmt.Errorf("run %s: %v: %w", m.tgtadm, err, storage.ErrTransient)
	}
	msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "tgtadm:"))
	return nil, m.classify(ee.ExitCode(), msg, strings.Join(args, " "))
}

// classify maps tgtadm's exit status and message (usr/tgtadm_error.h in
// tgt: every management error exits 22 with a message; ENOTCONN 107 when
// the daemon is not listening) to an error kind.
func (m *Mapper) classify(code int, msg, args string) error {
	lower := strings.ToLower(msg)
	switch {
	case code == 107 || strings.Contains(lower, "failed to send request") || strings.Contains(lower, "can't connect") ||
		strings.Contains(lower, "not connected") || strings.Contains(lower, "connection refused"):
		port := "default"
		if m.control >= 0 {
			port = strconv.Itoa(m.control)
		}
		return fmt.Errorf("tgtd is not running or not listening on control port %s (tgtadm %s: %s): %w",
			port, args, msg, storage.ErrTransient)
	case strings.Contains(lower, "can't find"), strings.Contains(lower, "does not exist"),
		strings.Contains(lower, "no such"):
		return fmt.Errorf("tgtadm %s: %s: %w", args, msg, storage.ErrNotFound)
	case strings.Contains(lower, "already exists"):
		return fmt.Errorf("tgtadm %s: %s: %w", args, msg, storage.ErrConflict)
	}
	return fmt.Errorf("tgtadm %s: exit %d: %s: %w", args, code, msg, storage.ErrTransient)
}

// undoTimeout bounds the rollback of a failed Map, which runs after the
// caller's context may have ended.
const undoTimeout = 10 * time.Second

func find(ts []target, name string) *target {
	for i := range ts {
		if strings.EqualFold(ts[i].Name, name) {
			return &ts[i]
		}
	}
	return nil
}

// bound returns the ACL entry that names in on t, or "".
func bound(t *target, in storage.Initiator) string {
	for _, acl := range t.ACLs {
		if a, err := storage.ParseIQN(acl); err == nil && a == in {
			return acl
		}
	}
	return ""
}

func boundAny(t *target, set map[storage.Initiator]bool) bool {
	for _, acl := range t.ACLs {
		if a, err := storage.ParseIQN(acl); err == nil && set[a] {
			return true
		}
	}
	return false
}

// addressACLs returns the ACL entries that are not initiator names.
func addressACLs(t *target) []string {
	var out []string
	for _, acl := range t.ACLs {
		if _, err := storage.ParseIQN(acl); err != nil {
			out = append(out, acl)
		}
	}
	return out
}

func checkInitiators(ins []storage.Initiator, mapping bool) error {
	if len(ins) == 0 {
		return fmt.Errorf("no initiators: %w", storage.ErrInvalid)
	}
	for _, in := range ins {
		if in.IsZero() {
			return fmt.Errorf("zero initiator: %w", storage.ErrInvalid)
		}
		if mapping && in.Kind() != storage.ISCSI {
			return fmt.Errorf("initiator %s is %s; tgt masks iSCSI initiators only: %w", in, in.Kind(), storage.ErrInvalid)
		}
	}
	return nil
}

func names(ins []storage.Initiator) string {
	s := make([]string, len(ins))
	for i, in := range ins {
		s[i] = in.String()
	}
	return strings.Join(s, ",")
}

func sortMappings(ms []storage.Mapping) {
	slices.SortFunc(ms, func(a, b storage.Mapping) int {
		if a.LUN != b.LUN {
			return a.LUN - b.LUN
		}
		return strings.Compare(string(a.Volume), string(b.Volume))
	})
}
